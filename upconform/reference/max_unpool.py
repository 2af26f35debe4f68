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
    n, c, *sp = xf.shape
    flat, out = _output_indices(xf.shape, indices, kernel_shape, strides, pads, output_shape, index_plane)
    y = np.zeros((n, c, int(np.prod(out))))
    np.put_along_axis(y, flat, xf.reshape(n, c, int(np.prod(sp))), axis=2)
    return y.reshape(n, c, *out)


DUPLICATES = ("last_wins", "every")


def max_unpool_vjp(
    x: Any,
    indices: Any,
    cotangent: Any,
    *,
    kernel_shape: int | Sequence[int],
    strides: int | Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    index_plane: str = "output_shape",
    absolute: bool = False,
    duplicates: str = "last_wins",
) -> np.ndarray:
    """The vector-Jacobian product of :func:`max_unpool` with respect to the values ``x`` (the
    indices get none): the cotangent gathered at each value's output position,
    ``x_bar[n, c, j] = y_bar[n, c].flat[indices[n, c, j]]``, float64, the shape of ``x``.

    Where several values name the same position (overlapping pooling windows that picked the same
    element) the forward keeps the last one in row-major order, so the exact adjoint gives that one
    the cotangent and the others 0 (``duplicates="last_wins"``, the default; the winners are found by
    the same assignment the forward does). ``duplicates="every"`` gathers for every one of them, as
    PyTorch's max_unpool backward does (its duplicates carry equal values; the two readings differ
    only there). ``absolute``: the same of ``|y_bar|`` (a gather has no sum to cancel).

    Example:
        >>> max_unpool_vjp(np.zeros((1, 1, 2)), np.array([[[1, 1]]]), np.array([[[10.0, 20.0, 30.0]]]),
        ...                kernel_shape=2, strides=1).tolist()
        [[[0.0, 20.0]]]
    """
    check_enum("duplicates", duplicates, DUPLICATES)
    xf = as_float64(x)
    n, c, *sp = xf.shape
    flat, out = _output_indices(xf.shape, indices, kernel_shape, strides, pads, output_shape, index_plane)
    g = np.asarray(cotangent, dtype=np.float64)
    if g.shape != (n, c, *out):
        raise ValueError(f"cotangent: shape {g.shape} differs from the output shape {(n, c, *out)}")
    if absolute:
        g = np.abs(g)
    plane = int(np.prod(out))
    npix = int(np.prod(sp))
    gx = np.take_along_axis(g.reshape(n, c, plane), flat, axis=2)
    if duplicates == "last_wins":
        # the forward's own assignment, with each value's position j in place of the value: what is left
        # at a position is the j that the forward kept there
        order = np.broadcast_to(np.arange(npix, dtype=np.int64), flat.shape)
        winner = np.full((n, c, plane), -1, dtype=np.int64)
        np.put_along_axis(winner, flat, order, axis=2)
        gx = np.where(np.take_along_axis(winner, flat, axis=2) == order, gx, 0.0)
    return gx.reshape(xf.shape)


def _output_indices(shape: tuple[int, ...], indices: Any, kernel_shape: Any, strides: Any, pads: Any,
                    output_shape: Any, index_plane: str) -> tuple[np.ndarray, list[int]]:
    """Validated indices as flat positions in the output plane, (N, C, P) int64, and the spatial output."""
    idx = np.asarray(indices)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"indices: expected an integer array, got dtype {idx.dtype}")
    if idx.shape != tuple(shape):
        raise ValueError(f"indices: shape {idx.shape} differs from x shape {tuple(shape)}")
    n, c, *sp = shape
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
    return flat, out
