"""The explicit registry of operators: reference function, tensors, parameters and enums.

Example:
    >>> OPS["resize"].tensors
    ('x',)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import reference
from ..reference.conv_transpose import AUTO_PADS, WEIGHT_CONVENTIONS
from ..reference.pixel_shuffle import MODES as PIXEL_SHUFFLE_MODES
from ..reference.resize import COORDINATE_TRANSFORMATION_MODES, KEEP_ASPECT_RATIO_POLICIES, MODES, NEAREST_MODES


@dataclass(frozen=True)
class OpInfo:
    """One canonical operator: what the spec gives and how the reference computes it."""

    name: str
    reference: Callable[..., np.ndarray]
    tensors: tuple[str, ...]
    optional_tensors: tuple[str, ...] = ()
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    uint8_ok: bool = True

    @property
    def params(self) -> tuple[str, ...]:
        sig = inspect.signature(self.reference)
        return tuple(p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _max_unpool_pipeline(x: np.ndarray, **params: Any) -> np.ndarray:
    """Pool ``x`` (first max wins), then unpool the values at their indices."""
    pool = {k: params[k] for k in ("kernel_shape", "strides", "pads") if params.get(k) is not None}
    values, indices = reference.max_pool(x, **pool)
    return reference.max_unpool(values, indices, **params)


def reference_call(op: str, tensors: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> np.ndarray:
    """Compute the float64 reference output of one canonical call.

    Example:
        >>> reference_call("repeat", {"x": np.ones((1, 1, 2))}, {"repeats": 2}).shape
        (1, 1, 4)
    """
    info = OPS[op]
    if op == "max_unpool":
        return _max_unpool_pipeline(tensors["x"], **params)
    args = [tensors[t] for t in info.tensors] + [tensors.get(t) for t in info.optional_tensors]
    return info.reference(*args, **params)


OPS: dict[str, OpInfo] = {
    "resize": OpInfo(
        "resize", reference.resize, ("x",),
        enums={
            "mode": MODES,
            "coordinate_transformation_mode": COORDINATE_TRANSFORMATION_MODES,
            "nearest_mode": NEAREST_MODES,
            "keep_aspect_ratio_policy": KEEP_ASPECT_RATIO_POLICIES,
        },
    ),
    "repeat": OpInfo("repeat", reference.repeat, ("x",)),
    # max_unpool cases give the *pooling* input x; values and indices come from max_pool.
    "max_unpool": OpInfo("max_unpool", reference.max_unpool, ("x",)),
    "conv_transpose": OpInfo(
        "conv_transpose", reference.conv_transpose, ("x", "w"), ("b",),
        enums={"auto_pad": AUTO_PADS, "weight_convention": WEIGHT_CONVENTIONS}, uint8_ok=False,
    ),
    "pixel_shuffle": OpInfo("pixel_shuffle", reference.pixel_shuffle, ("x",), enums={"mode": PIXEL_SHUFFLE_MODES}),
    "pixel_unshuffle": OpInfo("pixel_unshuffle", reference.pixel_unshuffle, ("x",), enums={"mode": PIXEL_SHUFFLE_MODES}),
}

# Which spec file holds which ops (one file per operator family).
FAMILY = {
    "resize": "resize",
    "repeat": "repeat",
    "max_unpool": "max_unpool",
    "conv_transpose": "conv_transpose",
    "pixel_shuffle": "pixel_shuffle",
    "pixel_unshuffle": "pixel_shuffle",
}
