"""Max unpooling: scatter pooled values back to the positions their indices name.

    y = zeros(N, C, *out);  y[n, c].flat[indices[n, c, ...]] = x[n, c, ...]
    default out_i = (L_in - 1) * stride + kernel - pad_begin - pad_end

Indices flatten each (n, c) plane of the output row-major (PyTorch max_unpool convention; see
:mod:`.max_pool`). Duplicate indices (overlapping pooling windows that picked the same element)
carry equal values; otherwise the last one in row-major order wins.

``index_plane`` names the plane an index is flat in when ``output_shape`` differs from the default
shape (the MaxUnpool text does not say; docs/conventions.md):

    output_shape   flat in the output plane (PyTorch, ONNX Runtime, TensorFlow's scatter)
    default_shape  flat in the default plane, each position kept at its coordinates, the extra
                   rows and columns at the end (onnx.reference; ONNX's backend test
                   test_maxunpool_export_with_output_shape)

Sources: ONNX MaxUnpool; torch.nn.MaxUnpool2d docs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import as_float64, check_enum, per_axis_ints, split_pads

INDEX_PLANES = ("output_shape", "default_shape")


def max_unpool(
    x: Any,
    indices: Any,
    *,
    kernel_shape: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    index_plane: str = "output_shape",
) -> np.ndarray:
    """Place each value of ``x`` at its flat per-plane index in a zero tensor; float64 out.

    Example:
        >>> max_unpool(np.array([[[3.0, 2.0]]]), np.array([[[1, 2]]]), kernel_shape=2, strides=2).tolist()
        [[[0.0, 3.0, 2.0, 0.0]]]
    """
    xf = as_float64(x)
    idx = np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"indices: expected an integer array, got dtype {idx.dtype}")
    if idx.shape != xf.shape:
        raise ValueError(f"indices: shape {idx.shape} differs from x shape {xf.shape}")
    n, c, *sp = xf.shape
    k = len(sp)
    ks = per_axis_ints("kernel_shape", kernel_shape, k, default=1, minimum=1)
    st = per_axis_ints("strides", strides, k, default=1, minimum=1)
    pb, pe = split_pads(pads, k)
    check_enum("index_plane", index_plane, INDEX_PLANES)
    default = [(sp[i] - 1) * st[i] + ks[i] - pb[i] - pe[i] for i in range(k)]
    if output_shape is None:
        out = default
    else:
        o = [int(v) for v in output_shape]
        if len(o) == k + 2:
            if o[:2] != [n, c]:
                raise ValueError(f"output_shape: {o} must keep N, C = {[n, c]}")
            o = o[2:]
        if len(o) != k:
            raise ValueError(f"output_shape: expected {k + 2} (full) or {k} (spatial) values, got {list(output_shape)}")
        out = o
    if any(v < 1 for v in out):
        raise ValueError(f"output_shape: spatial output {out} must be positive")
    plane = int(np.prod(out))
    npix = int(np.prod(sp))
    flat = idx.reshape(n, c, npix).astype(np.int64)  # explicit sizes: N or C may be 0
    if index_plane == "default_shape" and out != default:
        if any(v < 1 for v in default):
            raise ValueError(f"index_plane: the default shape {default} is empty")
        dplane = int(np.prod(default))
        if ((flat < 0) | (flat >= dplane)).any():
            raise ValueError(f"indices: outside the default plane of {dplane} elements (shape {default})")
        coords = np.unravel_index(flat, default)
        if any((cv >= o).any() for cv, o in zip(coords, out)):
            raise ValueError(f"indices: a position of the default shape {default} is outside output_shape {out}")
        flat = np.ravel_multi_index(coords, out).astype(np.int64)
    bad = (flat < 0) | (flat >= plane)
    if bad.any():
        pos = np.unravel_index(int(np.flatnonzero(bad.reshape(-1))[0]), idx.shape)
        raise ValueError(
            f"indices: {int(idx[pos])} at position {tuple(int(p) for p in pos)} is outside the output plane "
            f"of {plane} elements (spatial output {out})"
        )
    y = np.zeros((n, c, plane))
    np.put_along_axis(y, flat, xf.reshape(n, c, npix), axis=2)
    return y.reshape(n, c, *out)
