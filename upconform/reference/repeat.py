"""Nearest copy-upsampling by an integer factor per spatial axis ("unsampling").

    y[n, c, i_1, ..., i_k] = x[n, c, floor(i_1 / r_1), ..., floor(i_k / r_k)]

Source: the unpooling-by-repetition of FCN / U-Net decoders; equals ONNX Resize with
mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor" at integer
scales, and keras.layers.UpSampling2D(interpolation="nearest").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import as_float64, per_axis_ints


def repeat(x: Any, *, repeats: int | Sequence[int]) -> np.ndarray:
    """Repeat every element ``repeats[i]`` times along spatial axis ``i``; float64 out.

    Example:
        >>> repeat(np.array([[[1.0, 2.0]]]), repeats=2).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
    """
    y = as_float64(x)
    r = per_axis_ints("repeats", repeats, y.ndim - 2, default=1, minimum=1)
    for axis, k in enumerate(r, start=2):
        if k != 1:
            y = np.repeat(y, k, axis=axis)
    return y
