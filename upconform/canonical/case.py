"""A canonical case: frozen, with a stable id, an explicit seed and its normal form computed once.

Example:
    >>> from types import MappingProxyType as M
    >>> c = Case(id="repeat/x2[float32]", op="repeat", name="x2", dtype="float32", params=M({"repeats": 2}),
    ...          shapes=M({"x": (1, 1, 3)}))
    >>> dict(c.normal)
    {'repeats': (2,)}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .registry import normalize
from .tolerances import Tolerance
from .values import freeze, plain

# the kinds of check a case asks each binding for: its output, and its gradients (vector-Jacobian product)
CHECK_KINDS = ("forward", "backward")
FORWARD, BACKWARD = CHECK_KINDS


@dataclass(frozen=True)
class Case:
    """One check's canonical description (before a binding is chosen); ``id`` is stable.

    ``normal`` is the normal form of ``params`` for ``shapes`` (read-only), computed at construction
    when not given: every binding and the reference read it, nobody recomputes it.
    """

    id: str
    op: str
    name: str
    dtype: str
    params: Mapping[str, Any]
    shapes: Mapping[str, tuple[int, ...]]
    generator: str = "normal"
    generator_args: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    bindings: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None  # eager, compiled, onnx, litert, ...; None: eager only
    # which checks each binding runs: "forward" (the output) and/or "backward" (the gradients, issue 12)
    checks: tuple[str, ...] = ("forward",)
    tolerance: Tolerance | None = None
    # the gradients' tolerance where it must differ from the output's (a gradient sums other terms), with
    # its reason; None: the output's
    backward_tolerance: Tolerance | None = None
    source: str = "<memory>"
    normal: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        bad = [c for c in self.checks if c not in CHECK_KINDS]
        if bad or not self.checks:
            raise ValueError(f"checks: {list(self.checks)!r} must be a non-empty list of {list(CHECK_KINDS)}")
        if self.normal is None:
            object.__setattr__(self, "normal", freeze(normalize(self.op, self.params, self.shapes)))

    def normal_form(self) -> dict[str, Any]:
        """A fresh, plain (mutable) copy of the normal form."""
        return plain(self.normal)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "op": self.op, "dtype": self.dtype, "params": plain(self.params),
            "shapes": {k: list(v) for k, v in self.shapes.items()}, "input": self.generator,
            "input_args": dict(self.generator_args), "seed": self.seed, "source": self.source,
            **({"paths": list(self.paths)} if self.paths else {}),
            **({"checks": list(self.checks)} if self.checks != ("forward",) else {}),
        }
