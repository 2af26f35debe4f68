"""ONNX ConvTranspose (opset 21) in float64, in both of its textbook forms.

Output length per spatial axis (ONNX):

    full  = s * (L_in - 1) + output_padding + (k - 1) * d + 1
    L_out = full - pad_begin - pad_end                        (auto_pad NOTSET with pads)
    L_out = output_shape, or L_in * s for SAME_UPPER/LOWER; then total = full - L_out and
            SAME_UPPER: pad_begin = total // 2, pad_end = total - total // 2
            otherwise:  pad_begin = total - total // 2, pad_end = total // 2
    (a negative total grows the output at the end with positions no tap reaches: bias only,
     as TensorFlow's conv2d_transpose does when output_shape exceeds the full size)

Two independent implementations:

* ``weight_convention="transposed"``, w of shape (C_in, C_out/group, *k), the adjoint form that
  PyTorch, ONNX and TensorFlow compute: every input pixel scatters ``x * w`` into the output,
  ``y_full[o, s * i + d * t] += x[c, i] * w[c, o, t]``, then ``y = y_full[pad_begin : pad_begin + L_out]``.
* ``weight_convention="direct"``, w of shape (C_out, C_in/group, *k), the zero-insertion form:
  insert s - 1 zeros between input pixels, pad d * (k - 1) - pad_begin before and what reaches L_out
  after, and cross-correlate with w: ``y[o, p] = sum_{c, t} w[o, c, t] * z[c, p + d * t]``.

They are the same operator once the kernel is rotated 180 degrees and its channel axes swapped
(:func:`transposed_to_direct`). Sources: https://onnx.ai/onnx/operators/onnx__ConvTranspose.html;
Dumoulin & Visin, "A guide to convolution arithmetic for deep learning" (2016), section 4.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import (
    as_float64,
    check_enum,
    leading_tiles,
    per_axis_ints,
    scratch,
    split_pads,
)

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
WEIGHT_CONVENTIONS = ("transposed", "direct")


def transposed_to_direct(w: Any, *, group: int = 1) -> np.ndarray:
    """Convert (C_in, C_out/g, *k) adjoint weights to (C_out, C_in/g, *k) zero-insertion weights.

    Rotates every kernel by 180 degrees and swaps the channel axes within each group. The map is
    its own inverse up to the group reshaping (see :func:`direct_to_transposed`).

    Example:
        >>> transposed_to_direct(np.arange(4.0).reshape(1, 1, 4))[0, 0].tolist()
        [3.0, 2.0, 1.0, 0.0]
    """
    w = np.asarray(w)
    cin, cog, *k = w.shape
    if cin % group:
        raise ValueError(f"group: C_in {cin} is not divisible by group {group}")
    g = w.reshape(group, cin // group, cog, *k).swapaxes(1, 2)
    g = np.flip(g, axis=tuple(range(3, 3 + len(k))))
    return np.ascontiguousarray(g).reshape(group * cog, cin // group, *k)


def direct_to_transposed(w: Any, *, group: int = 1) -> np.ndarray:
    """Inverse of :func:`transposed_to_direct`: (C_out, C_in/g, *k) to (C_in, C_out/g, *k).

    Example:
        >>> direct_to_transposed(np.arange(4.0).reshape(1, 1, 4))[0, 0].tolist()
        [3.0, 2.0, 1.0, 0.0]
    """
    w = np.asarray(w)
    cout, cig, *k = w.shape
    if cout % group:
        raise ValueError(f"group: C_out {cout} is not divisible by group {group}")
    g = w.reshape(group, cout // group, cig, *k).swapaxes(1, 2)
    g = np.flip(g, axis=tuple(range(3, 3 + len(k))))
    return np.ascontiguousarray(g).reshape(group * cig, cout // group, *k)


def conv_transpose_geometry(
    in_sizes: Sequence[int],
    kernel: Sequence[int],
    *,
    strides: Any = None,
    pads: Any = None,
    output_padding: Any = None,
    dilations: Any = None,
    auto_pad: str = "NOTSET",
    output_shape: Sequence[int] | None = None,
) -> tuple[list[int], list[int]]:
    """Resolve ONNX padding rules to ``(pad_begin, L_out)`` per spatial axis.

    Example:
        >>> conv_transpose_geometry([4], [3], strides=2, auto_pad="SAME_UPPER")
        ([0], [8])
    """
    check_enum("auto_pad", auto_pad, AUTO_PADS)
    k = len(in_sizes)
    st = per_axis_ints("strides", strides, k, default=1, minimum=1)
    dl = per_axis_ints("dilations", dilations, k, default=1, minimum=1)
    op = per_axis_ints("output_padding", output_padding, k, default=0, minimum=0)
    pb, pe = split_pads(pads, k)
    full = [st[i] * (in_sizes[i] - 1) + op[i] + (kernel[i] - 1) * dl[i] + 1 for i in range(k)]
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if output_shape is not None:
            target = [int(v) for v in output_shape]
            if len(target) == k + 2:
                target = target[2:]
            if len(target) != k:
                raise ValueError(f"output_shape: expected {k} spatial values, got {list(output_shape)}")
        else:
            target = [in_sizes[i] * st[i] for i in range(k)]
        begins = []
        for i in range(k):
            total = max(full[i] - target[i], 0)
            begins.append(total // 2 if auto_pad == "SAME_UPPER" else total - total // 2)
        outs = target
    elif auto_pad == "VALID":
        begins, outs = [0] * k, full
    else:
        begins = list(pb)
        outs = [full[i] - pb[i] - pe[i] for i in range(k)]
    if any(v < 1 for v in outs):
        raise ValueError(f"pads: output spatial shape {outs} is empty (full size {full}, pads {list(pb + pe)})")
    return begins, outs


def conv_transpose(
    x: Any,
    w: Any,
    b: Any = None,
    *,
    strides: int | Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    output_padding: int | Sequence[int] | None = None,
    dilations: int | Sequence[int] | None = None,
    group: int = 1,
    auto_pad: str = "NOTSET",
    output_shape: Sequence[int] | None = None,
    weight_convention: str = "transposed",
) -> np.ndarray:
    """Transposed convolution with ONNX semantics, computed in float64.

    Example:
        >>> conv_transpose(np.ones((1, 1, 2)), np.ones((1, 1, 3)), strides=2).tolist()
        [[[1.0, 1.0, 2.0, 1.0, 1.0]]]
    """
    xf, wf, cout, st, dl, begins, outs = _setup(x, w, strides, pads, output_padding, dilations, group, auto_pad,
                                                output_shape, weight_convention)
    nsp = xf.ndim - 2
    if weight_convention == "transposed":
        y = _scatter_form(xf, wf, group, st, dl, begins, outs)
    else:
        y = _zero_insertion_form(xf, wf, group, st, dl, begins, outs)
    if b is not None:
        bf = _bias(b, cout)
        y += bf.reshape(1, cout, *([1] * nsp))
    return y


def conv_transpose_vjp(
    x: Any,
    w: Any,
    cotangent: Any,
    b: Any = None,
    *,
    strides: int | Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    output_padding: int | Sequence[int] | None = None,
    dilations: int | Sequence[int] | None = None,
    group: int = 1,
    auto_pad: str = "NOTSET",
    output_shape: Sequence[int] | None = None,
    weight_convention: str = "transposed",
    absolute: bool = False,
) -> dict[str, np.ndarray]:
    """The vector-Jacobian product of :func:`conv_transpose`: ``{"x", "w"}`` (and ``"b"`` when a
    bias is given), the gradients of ``<conv_transpose(x, w, b), cotangent>``, float64.

    With the cotangent placed on the full output, ``G[o, q] = y_bar[o, q - pad_begin]`` (zero outside
    the kept window), the forward ``y_full[o, s * i + d * t] += x[c, i] * w[c, o, t]`` gives

        x_bar[c, i]    = sum_{o, t} w[c, o, t] * G[o, s * i + d * t]   (a strided, dilated correlation
                                                                        of y_bar with w: the convolution
                                                                        that conv_transpose is the adjoint of)
        w_bar[c, o, t] = sum_{n, i} x[n, c, i] * G[n, o, s * i + d * t]
        b_bar[o]       = sum_{n, spatial} y_bar[n, o, ...]

    within each group. ``weight_convention="direct"`` weights are a permutation of the transposed
    ones (:func:`direct_to_transposed`), so their gradient is the inverse permutation
    (:func:`transposed_to_direct`) of the transposed weights' gradient. ``absolute``: the same sums
    over ``|x|``, ``|w|`` and ``|y_bar|``. Sources: ONNX ConvTranspose; Dumoulin & Visin (2016),
    section 4 (transposed convolution as the gradient of convolution).

    Example:
        >>> g = conv_transpose_vjp(np.ones((1, 1, 2)), np.array([[[1.0, 2.0, 3.0]]]), np.array([[[1.0, 0, 0, 0, 1]]]),
        ...                        strides=2)
        >>> g["x"].tolist(), g["w"].tolist()
        ([[[1.0, 3.0]]], [[[1.0, 0.0, 1.0]]])
    """
    xf, wf, cout, st, dl, begins, outs = _setup(x, w, strides, pads, output_padding, dilations, group, auto_pad,
                                                output_shape, weight_convention)
    if weight_convention == "direct":
        wf = direct_to_transposed(wf, group=group)
    n = xf.shape[0]
    g = np.asarray(cotangent, dtype=np.float64)
    if g.shape != (n, cout, *outs):
        raise ValueError(f"cotangent: shape {g.shape} differs from the output shape {(n, cout, *outs)}")
    if absolute:
        xf, wf, g = np.abs(xf), np.abs(wf), np.abs(g)
    gx, gw = _scatter_adjoint(xf, wf, g, group, st, dl, begins, outs)
    if weight_convention == "direct":
        gw = transposed_to_direct(gw, group=group)
    out = {"x": gx, "w": gw}
    if b is not None:
        _bias(b, cout)
        out["b"] = g.sum(axis=(0, *range(2, g.ndim)))
    return out


def _setup(x: Any, w: Any, strides: Any, pads: Any, output_padding: Any, dilations: Any, group: int, auto_pad: str,
           output_shape: Any, weight_convention: str) -> tuple[np.ndarray, np.ndarray, int, tuple[int, ...],
                                                               tuple[int, ...], list[int], list[int]]:
    """Validated float64 x and w, C_out, strides, dilations, and the crop (pad_begin, L_out) per axis."""
    check_enum("weight_convention", weight_convention, WEIGHT_CONVENTIONS)
    check_enum("auto_pad", auto_pad, AUTO_PADS)
    xf = as_float64(x)
    wf = as_float64(w, name="w")
    n, cin, *sp = xf.shape
    nsp = len(sp)
    if wf.ndim != xf.ndim:
        raise ValueError(f"w: expected {xf.ndim} dimensions for a {nsp}-D convolution, got shape {wf.shape}")
    if not isinstance(group, (int, np.integer)) or group < 1 or cin % group:
        raise ValueError(f"group: {group!r} must be a positive divisor of C_in = {cin}")
    kernel = list(wf.shape[2:])
    if weight_convention == "transposed":
        if wf.shape[0] != cin:
            raise ValueError(f"w: transposed weights are (C_in, C_out/group, *k); shape {wf.shape} vs C_in {cin}")
        cout = wf.shape[1] * group
    else:
        if wf.shape[1] * group != cin or wf.shape[0] % group:
            raise ValueError(
                f"w: direct weights are (C_out, C_in/group, *k); shape {wf.shape} vs C_in {cin}, group {group}"
            )
        cout = wf.shape[0]
    st = per_axis_ints("strides", strides, nsp, default=1, minimum=1)
    dl = per_axis_ints("dilations", dilations, nsp, default=1, minimum=1)
    begins, outs = conv_transpose_geometry(
        sp, kernel, strides=st, pads=pads, output_padding=output_padding, dilations=dl,
        auto_pad=auto_pad, output_shape=output_shape,
    )
    return xf, wf, cout, st, dl, begins, outs


def _bias(b: Any, cout: int) -> np.ndarray:
    bf = np.asarray(b, dtype=np.float64)
    if bf.shape != (cout,):
        raise ValueError(f"b: expected shape ({cout},), got {bf.shape}")
    return bf


def _scatter_adjoint(x: np.ndarray, w: np.ndarray, g: np.ndarray, group: int, st: Sequence[int], dl: Sequence[int],
                     begins: list[int], outs: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`_scatter_form` for x and (transposed) w: the cotangent is placed on the
    full output, each tap's strided window of it is gathered (``cols``, the transpose of the forward's
    scatter), then one GEMM per group contracts it with w (for x) or with x (for w)."""
    n, cin, *sp = x.shape
    nsp = len(sp)
    cig, cog, *kernel = w.shape[0] // group, w.shape[1], *w.shape[2:]
    ntap = int(np.prod(kernel))
    span = [st[i] * (sp[i] - 1) + (kernel[i] - 1) * dl[i] + 1 for i in range(nsp)]
    length = [max(span[i], begins[i] + outs[i]) for i in range(nsp)]
    full = np.zeros((n, group * cog, *length))
    full[(slice(None), slice(None), *[slice(begins[i], begins[i] + outs[i]) for i in range(nsp)])] = g
    cols = np.empty((n, group * cog, ntap, *sp))
    for j, t in enumerate(itertools.product(*[range(v) for v in kernel])):
        # cols[..., t, i] = G[..., s * i + d * t]: the forward's scatter read backwards
        sl = tuple(slice(t[i] * dl[i], t[i] * dl[i] + st[i] * (sp[i] - 1) + 1, st[i]) for i in range(nsp))
        cols[:, :, j] = full[(slice(None), slice(None), *sl)]
    npix = int(np.prod(sp))
    gx = np.empty((n, cin, *sp))
    gw = np.empty(w.shape)
    for gi in range(group):
        cg = cols[:, gi * cog:(gi + 1) * cog].reshape(n, cog * ntap, npix)  # (N, Cout_g * K, P)
        xg = x[:, gi * cig:(gi + 1) * cig].reshape(n, cig, npix)  # (N, Cin_g, P)
        wg = w[gi * cig:(gi + 1) * cig].reshape(cig, cog * ntap)  # (Cin_g, Cout_g * K)
        gx[:, gi * cig:(gi + 1) * cig] = np.matmul(wg, cg).reshape(n, cig, *sp)
        gw[gi * cig:(gi + 1) * cig] = np.tensordot(xg, cg, axes=([0, 2], [0, 2])).reshape(cig, cog, *kernel)
    return gx, gw


def _scatter_form(x: np.ndarray, w: np.ndarray, group: int, st: Sequence[int], dl: Sequence[int],
                  begins: list[int], outs: list[int]) -> np.ndarray:
    """``y_full[n, o, s * i + d * t] += sum_c x[n, c, i] * w[c, o, t]``, cropped by pad_begin.

    Per tile of output channels, one GEMM per group gives every tap's products ``cols[n, o, t, i]``;
    then the taps are added into the output (col2im: a loop over kernel taps, never pixels).

    Output o on axis a gets tap t from input i when o = off + s * i, off = d * t - pad_begin: the outputs
    o = r + s * m of one residue r form a *phase*, a dense grid m that receives only the taps with
    off = r (mod s), each shifted by m_t = (off - r) / s. A phase is summed in a buffer whose inner axes
    are as wide as the inputs padded with zeros (x is padded before the GEMM), so that every tap's whole
    block of products is one contiguous run of that buffer, added with one call; the buffer's window
    [0, L_grid) is then copied into the phase's strided slice of the output. Taps are added in kernel
    order, as the full-size sum adds them, so every output is the same sum of the GEMM's products in
    the same order; the padding adds only exact zeros (its products are set to 0 when w is not finite,
    where they would be NaN). The tiles run one after another: each GEMM already uses the BLAS's
    threads.
    """
    n, cin, *sp = x.shape
    nsp = len(sp)
    cig, cog, *kernel = w.shape[0] // group, w.shape[1], *w.shape[2:]
    ntap = int(np.prod(kernel))
    out = np.empty((n, group * cog, *outs))
    if out.size == 0:
        return out
    taps = list(itertools.product(*[range(v) for v in kernel]))
    phases = []  # (output slices of the phase, its grid, [(tap, grid index of input 0 per axis)])
    for r in itertools.product(*[range(min(st[a], outs[a])) for a in range(nsp)]):
        grid = [(outs[a] - r[a] + st[a] - 1) // st[a] for a in range(nsp)]
        members = []
        for j, t in enumerate(taps):
            off = [t[a] * dl[a] - begins[a] for a in range(nsp)]  # the output index of input 0
            if not any((off[a] - r[a]) % st[a] for a in range(nsp)):
                members.append((j, [(off[a] - r[a]) // st[a] for a in range(nsp)]))
        phases.append((tuple(slice(r[a], None, st[a]) for a in range(nsp)), grid, members))
    # One buffer layout for every phase: grid index m sits at m - base; the extent covers the grid and
    # every tap's landing range [m_t, m_t + L_in). Inner axes of x are padded to that extent.
    shifts = [m for _, _, members in phases for _, m in members]
    base = [min([0] + [m[a] for m in shifts]) for a in range(nsp)]
    ext = [max([grid[a] for _, grid, _ in phases] + [m[a] + sp[a] for m in shifts]) - base[a] for a in range(nsp)]
    inner = [sp[0], *ext[1:]]  # the padded input: its first axis is not padded
    padded = inner != list(sp)
    if padded:
        xp = np.zeros((n, cin, *inner))
        xp[(slice(None), slice(None), *[slice(0, v) for v in sp])] = x
    else:
        xp = x
    strides_flat = [int(np.prod(ext[a + 1:], dtype=np.int64)) for a in range(nsp)]  # of the buffer's axes
    row = strides_flat[0]  # the flat stride of the first axis
    flat = sp[0] * row
    size = (ext[0] + 1) * row  # one more row: a tap's zero padding may run past the last
    xs = xp.reshape(n, group, cig, flat)  # explicit sizes: N or C may be 0
    ws = w.reshape(group, cig, cog, ntap)
    zero_padding = padded and not np.isfinite(w).all()  # 0 * inf would put NaN into the padding

    def products(tile: tuple[slice, slice]) -> np.ndarray:
        """cols[n, o, t, flat] for the tile's images and output channels (o counted across groups)."""
        nn, cc = range(n)[tile[0]], range(group * cog)[tile[1]]
        cols = scratch("conv_transpose.cols", (len(nn), len(cc) * ntap, flat))
        for g in range(cc.start // cog, -(-cc.stop // cog)) if len(cc) else ():
            lo, hi = max(cc.start, g * cog), min(cc.stop, (g + 1) * cog)  # the group's channels in the tile
            wg = ws[g, :, lo - g * cog:hi - g * cog].reshape(cig, (hi - lo) * ntap)  # (Cin_g, Cout_t * K)
            # one GEMM, all taps of these channels, written in place (a basic slice: a view)
            np.matmul(wg.T, xs[tile[0], g], out=cols[:, (lo - cc.start) * ntap:(hi - cc.start) * ntap])
        cols = cols.reshape(len(nn), len(cc), ntap, flat)
        if zero_padding:
            grid_view = cols.reshape(len(nn), len(cc), ntap, *inner)
            for a in range(1, nsp):
                grid_view[(slice(None),) * (3 + a) + (slice(sp[a], None),)] = 0.0
        return cols

    def work(tile: tuple[slice, slice]) -> None:
        o, c = out[tile], products(tile)
        for where, grid, members in phases:
            buf = scratch("conv_transpose.phase", (*o.shape[:2], size))
            buf.fill(0.0)
            for j, m in members:  # y[..., s * i + d * t - pad_begin] += cols[..., t, i], a whole tap at once
                start = sum((m[a] - base[a]) * strides_flat[a] for a in range(nsp))
                buf[:, :, start:start + flat] += c[:, :, j]
            window = buf[:, :, :ext[0] * row].reshape(*o.shape[:2], *ext)
            o[(slice(None), slice(None), *where)] = window[
                (slice(None), slice(None), *[slice(-base[a], -base[a] + grid[a]) for a in range(nsp)])]

    # The tiles run one after another in this thread: each GEMM is already spread over the BLAS's own
    # threads, and tiles in threads of our own as well would ask for more threads than there are cores.
    for tile in leading_tiles(n, group * cog, max(int(np.prod(outs)), ntap * flat), threads=1):
        work(tile)
    return out


def _zero_insertion_form(x: np.ndarray, w: np.ndarray, group: int, st: Sequence[int], dl: Sequence[int],
                         begins: list[int], outs: list[int]) -> np.ndarray:
    n, cin, *sp = x.shape
    nsp = len(sp)
    cout, cig, *kernel = w.shape
    cog = cout // group
    dilated = [(sp[i] - 1) * st[i] + 1 for i in range(nsp)]
    z = np.zeros((n, cin, *dilated))
    z[(slice(None), slice(None), *[slice(None, None, s) for s in st])] = x
    # Pad (or crop, when negative) so that correlating with the dilated kernel yields L_out.
    before = [(kernel[i] - 1) * dl[i] - begins[i] for i in range(nsp)]
    after = [outs[i] + (kernel[i] - 1) * dl[i] - before[i] - dilated[i] for i in range(nsp)]
    z = np.pad(z, [(0, 0), (0, 0)] + [(max(b, 0), max(a, 0)) for b, a in zip(before, after)])
    z = z[(slice(None), slice(None), *[slice(max(-b, 0), z.shape[2 + i] - max(-a, 0))
                                       for i, (b, a) in enumerate(zip(before, after))])]
    y = np.zeros((n, cout, *outs))
    for t in itertools.product(*[range(v) for v in kernel]):
        sl = tuple(slice(t[i] * dl[i], t[i] * dl[i] + outs[i]) for i in range(nsp))
        window = z[(slice(None), slice(None), *sl)]
        for g in range(group):
            wt = w[(slice(g * cog, (g + 1) * cog), slice(None), *t)]  # (Cout_g, Cin_g)
            y[:, g * cog:(g + 1) * cog] += np.einsum("oc,nc...->no...", wt, window[:, g * cig:(g + 1) * cig])
    return y
