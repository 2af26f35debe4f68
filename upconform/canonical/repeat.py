"""Nearest repeat by integer factors per spatial axis (``torch.repeat_interleave``, ``tf.repeat``,
``UpSampling2D(interpolation="nearest")``); the reference is :func:`upconform.reference.repeat`.

Example:
    >>> REPEAT.normal_form({"repeats": 2}, {"x": (1, 1, 3, 3)})
    {'repeats': [2, 2]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import reference
from .opinfo import OpInfo, Shapes
from .values import per_axis


def normalize(p: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    return {"repeats": per_axis(p["repeats"], len(shapes["x"]) - 2, default=1)}


def output_shape(n: Mapping[str, Any], shapes: Shapes) -> tuple[int, ...]:
    x = tuple(shapes["x"])
    return (*x[:2], *(v * r for v, r in zip(x[2:], n["repeats"])))


def vjp(tensors: Mapping[str, np.ndarray], kw: Mapping[str, Any], cotangent: np.ndarray,
        absolute: bool) -> dict[str, np.ndarray]:
    """Block sums of the cotangent (:func:`upconform.reference.repeat_vjp`)."""
    return {"x": reference.repeat_vjp(tensors["x"], cotangent, **kw, absolute=absolute)}


REPEAT = OpInfo("repeat", family="repeat", reference=reference.repeat, normalize=normalize, output_shape=output_shape,
                search_space=lambda: search_space(), vjp=vjp)


def search_space() -> Any:
    """Canonical repeat cases for ``upconform search``."""
    from hypothesis import strategies as st

    @st.composite
    def draw(d: Any) -> dict[str, Any]:
        k = d(st.integers(1, 3))
        x = (d(st.integers(1, 2)), d(st.integers(1, 3)), *[d(st.integers(1, 6)) for _ in range(k)])
        return {"params": {"repeats": [d(st.integers(1, 4)) for _ in range(k)]}, "shapes": {"x": x},
                "dtype": d(st.sampled_from(["float32", "float64", "float16", "uint8"]))}

    return draw()
