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
