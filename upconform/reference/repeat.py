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


def repeat_vjp(x: Any, cotangent: Any, *, repeats: int | Sequence[int], absolute: bool = False) -> np.ndarray:
    """The vector-Jacobian product of :func:`repeat` with respect to ``x``, float64: every input
    element receives the sum of the cotangent over the block of its copies,

        x_bar[n, c, j_1, ..., j_k] = sum_{o_a < r_a} y_bar[n, c, j_1 * r_1 + o_1, ..., j_k * r_k + o_k]

    (the cotangent reshaped to (N, C, L_1, r_1, ..., L_k, r_k) and summed over the r axes).
    ``absolute``: the same sums of ``|y_bar|``.

    Example:
        >>> repeat_vjp(np.zeros((1, 1, 2)), np.array([[[1.0, 2.0, 3.0, 4.0]]]), repeats=2).tolist()
        [[[3.0, 7.0]]]
    """
    xf = as_float64(x)
    n, c, *sp = xf.shape
    r = per_axis_ints("repeats", repeats, len(sp), default=1, minimum=1)
    g = np.asarray(cotangent, dtype=np.float64)
    expected = (n, c, *[v * k for v, k in zip(sp, r)])
    if g.shape != expected:
        raise ValueError(f"cotangent: shape {g.shape} differs from the output shape {expected}")
    if absolute:
        g = np.abs(g)
    blocks = g.reshape(n, c, *[v for pair in zip(sp, r) for v in pair])  # explicit sizes: N or C may be 0
    return blocks.sum(axis=tuple(3 + 2 * a for a in range(len(sp))))
