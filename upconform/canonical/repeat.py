"""Nearest repeat by integer factors per spatial axis (``torch.repeat_interleave``, ``tf.repeat``,
``UpSampling2D(interpolation="nearest")``); the reference is :func:`upconform.reference.repeat`.

Example:
    >>> REPEAT.normal_form({"repeats": 2}, {"x": (1, 1, 3, 3)})
    {'repeats': [2, 2]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import reference
from .opinfo import OpInfo, Shapes
from .values import per_axis


def normalize(p: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    return {"repeats": per_axis(p["repeats"], len(shapes["x"]) - 2, default=1)}


def output_shape(n: Mapping[str, Any], shapes: Shapes) -> tuple[int, ...]:
    x = tuple(shapes["x"])
    return (*x[:2], *(v * r for v, r in zip(x[2:], n["repeats"])))


REPEAT = OpInfo("repeat", family="repeat", reference=reference.repeat, normalize=normalize, output_shape=output_shape)
