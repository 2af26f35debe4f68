"""The one dtype tolerance table, and the tolerance type a per-case override uses (with its reason).

Example:
    >>> DEFAULT_TOLERANCES["float32"].rtol
    1.3e-06
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Tolerance:
    """``|actual - expected| <= atol + rtol * |expected|``; ``reason`` is set for overrides."""

    rtol: float
    atol: float
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# PyTorch's torch.testing.assert_close defaults per dtype; uint8 allows one step of rounding.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float16": Tolerance(rtol=1e-3, atol=1e-5),
    "bfloat16": Tolerance(rtol=1.6e-2, atol=1e-5),
    "float32": Tolerance(rtol=1.3e-6, atol=1e-5),
    "float64": Tolerance(rtol=1e-7, atol=1e-7),
    "uint8": Tolerance(rtol=0.0, atol=1.0),
}


def for_magnitude(dtype: str, magnitude: float, base: Tolerance | None = None) -> Tolerance:
    """The dtype's tolerance with ``atol`` scaled by the data's magnitude, for inputs that are not the
    suite's (discrepancy reports run the user's shapes and generators).

    ``magnitude`` is max |x| over the finite input values. Float rounding grows with the size of the
    values a kernel combines, not only with the size of the result (a bicubic tap sum of values near
    +-4 can land near 0), so a floating dtype allows ``atol * max(1, magnitude) + rtol * |expected|``:
    on data within [-1, 1] that is the table's tolerance, never stricter. uint8 keeps its one step.

    Example:
        >>> for_magnitude("float32", 4.0).atol, for_magnitude("float32", 0.5).atol, for_magnitude("uint8", 255.0).atol
        (4e-05, 1e-05, 1.0)
    """
    tol = base or DEFAULT_TOLERANCES[dtype]
    if dtype == "uint8" or not magnitude > 1.0 or magnitude == float("inf"):
        return tol
    reason = f"atol scaled by the input's magnitude max|x| = {magnitude:.3g}"
    return Tolerance(rtol=tol.rtol, atol=tol.atol * magnitude, reason=tol.reason + "; " + reason if tol.reason else reason)
