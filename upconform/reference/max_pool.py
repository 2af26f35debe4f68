"""Max pooling with argmax indices, the companion that produces max_unpool's indices.

    out_i = floor((L_in + pad_begin + pad_end - ((k - 1) * d + 1)) / s) + 1   (ceil with ceil_mode;
            then, as PyTorch and ONNX do, a last window that starts past L_in + pad_begin is dropped)
    values[..., o] = max over taps t of x[..., o * s - pad_begin + t * d]

Indices flatten each (n, c) plane of the *input* row-major (PyTorch's max_pool2d convention;
ONNX MaxPool's ``storage_order=0`` additionally counts n and c). Ties: the first maximum in
row-major window order wins. NaN: a NaN counts as larger than every number and the first NaN in
the window wins (numpy's argmax rule); PyTorch's CPU kernel also propagates NaN but may point at a
later NaN in the window. Padding never wins (it is -inf).
Sources: ONNX MaxPool; torch.nn.MaxPool2d docs (output size and ceil_mode rule).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import as_float64, per_axis_ints, split_pads


def pool_output_size(in_len: int, k: int, s: int, d: int, pb: int, pe: int, ceil_mode: bool) -> int:
    """Output length of one pooled axis (PyTorch / ONNX formula).

    Example:
        >>> pool_output_size(5, 2, 2, 1, 0, 0, True)
        3
    """
    eff = (k - 1) * d + 1
    span = in_len + pb + pe - eff
    if span < 0:
        raise ValueError(f"kernel_shape: effective kernel {eff} is larger than the padded input {in_len + pb + pe}")
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= in_len + pb:
        out -= 1
    return out


def max_pool(
    x: Any,
    *,
    kernel_shape: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    dilations: int | Sequence[int] | None = None,
    ceil_mode: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(values, indices)`` of a max pooling; values float64, indices int64.

    Example:
        >>> v, i = max_pool(np.array([[[1.0, 3, 2, 0]]]), kernel_shape=2, strides=2)
        >>> v.tolist(), i.tolist()
        ([[[3.0, 2.0]]], [[[1, 2]]])
    """
    xf = as_float64(x)
    n, c, *sp = xf.shape
    k = len(sp)
    ks = per_axis_ints("kernel_shape", kernel_shape, k, default=1, minimum=1)
    st = per_axis_ints("strides", strides, k, default=1, minimum=1)
    dl = per_axis_ints("dilations", dilations, k, default=1, minimum=1)
    pb, pe = split_pads(pads, k)
    for i in range(k):
        if max(pb[i], pe[i]) >= (ks[i] - 1) * dl[i] + 1:
            raise ValueError(f"pads: {list(pb + pe)} must be smaller than the effective kernel on every axis")
    outs = [pool_output_size(sp[i], ks[i], st[i], dl[i], pb[i], pe[i], bool(ceil_mode)) for i in range(k)]
    need = [(outs[i] - 1) * st[i] + (ks[i] - 1) * dl[i] + 1 for i in range(k)]
    right = [max(need[i] - sp[i] - pb[i], 0) for i in range(k)]
    width = [(0, 0), (0, 0)] + [(pb[i], right[i]) for i in range(k)]
    xp = np.pad(xf, width, constant_values=-np.inf)
    flat = np.arange(int(np.prod(sp)), dtype=np.int64).reshape(sp)
    fp = np.pad(flat, width[2:], constant_values=-1)

    def window(a: np.ndarray, tap: tuple[int, ...]) -> np.ndarray:
        sl = tuple(slice(tap[i] * dl[i], tap[i] * dl[i] + (outs[i] - 1) * st[i] + 1, st[i]) for i in range(k))
        return a[(Ellipsis, *sl)]

    taps = list(itertools.product(*[range(v) for v in ks]))
    vals = np.stack([window(xp, t) for t in taps])  # (taps, N, C, *out), row-major window order
    best = np.argmax(vals, axis=0)  # first maximum; NaN counts as the maximum
    values = np.take_along_axis(vals, best[None], axis=0)[0]
    idx_taps = np.stack([window(fp, t) for t in taps])  # (taps, *out)
    idx_taps = np.broadcast_to(idx_taps[:, None, None], vals.shape)
    indices = np.take_along_axis(idx_taps, best[None], axis=0)[0]
    return values, indices.astype(np.int64)
