"""Sub-pixel convolution's rearrangement: PixelShuffle / depth_to_space and their inverses.

For k spatial axes and factor r, the input has C * r**k channels. The two channel orders:

    CRD (PyTorch pixel_shuffle):   in channel = c * r**k + (o_1 * r**(k-1) + ... + o_k)
    DCR (TF depth_to_space):       in channel = (o_1 * r**(k-1) + ... + o_k) * C + c

and ``y[n, c, h_1 * r + o_1, ..., h_k * r + o_k] = x[n, in channel, h_1, ..., h_k]``.
Sources: torch.nn.PixelShuffle docs; ONNX DepthToSpace (mode DCR / CRD); Shi et al. 2016.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ._common import as_float64, check_enum

MODES = ("CRD", "DCR")


def _factor(name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


def pixel_shuffle(x: Any, *, upscale_factor: int, mode: str = "CRD") -> np.ndarray:
    """Move channel blocks of ``upscale_factor**k`` into space; float64 out.

    Example:
        >>> pixel_shuffle(np.arange(4.0).reshape(1, 4, 1, 1), upscale_factor=2).tolist()
        [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    check_enum("mode", mode, MODES)
    r = _factor("upscale_factor", upscale_factor)
    xf = as_float64(x)
    n, cin, *sp = xf.shape
    k = len(sp)
    block = r**k
    if cin % block:
        raise ValueError(f"upscale_factor: channels {cin} are not divisible by {r}**{k} = {block}")
    c = cin // block
    # Loop over the r**k sub-pixel offsets (taps), each a strided copy of one channel block.
    y = np.empty((n, c, *[s * r for s in sp]))
    blocks = xf.reshape(n, c, block, *sp) if mode == "CRD" else xf.reshape(n, block, c, *sp).swapaxes(1, 2)
    for j, offs in enumerate(itertools.product(range(r), repeat=k)):
        y[(slice(None), slice(None), *[slice(o, None, r) for o in offs])] = blocks[:, :, j]
    return y


def pixel_unshuffle(x: Any, *, downscale_factor: int, mode: str = "CRD") -> np.ndarray:
    """Inverse of :func:`pixel_shuffle`: move ``r x r`` spatial blocks into channels.

    Example:
        >>> pixel_unshuffle(np.arange(4.0).reshape(1, 1, 2, 2), downscale_factor=2)[0, :, 0, 0].tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    check_enum("mode", mode, MODES)
    r = _factor("downscale_factor", downscale_factor)
    xf = as_float64(x)
    n, c, *sp = xf.shape
    k = len(sp)
    if any(s % r for s in sp):
        raise ValueError(f"downscale_factor: spatial shape {sp} is not divisible by {r}")
    inner = [s // r for s in sp]
    t = xf.reshape(n, c, *[v for h in inner for v in (h, r)])  # n, c, h_1, o_1, ..., h_k, o_k
    hs = [2 + 2 * j for j in range(k)]
    os_ = [3 + 2 * j for j in range(k)]
    perm = [0, 1] + os_ + hs if mode == "CRD" else [0] + os_ + [1] + hs
    return np.ascontiguousarray(t.transpose(perm)).reshape(n, c * r**k, *inner)


def pixel_shuffle_vjp(x: Any, cotangent: Any, *, upscale_factor: int, mode: str = "CRD",
                      absolute: bool = False) -> np.ndarray:
    """The vector-Jacobian product of :func:`pixel_shuffle` with respect to ``x``, float64. The
    forward is a permutation, so its adjoint is the inverse permutation: :func:`pixel_unshuffle` of
    the cotangent with the same factor and channel order (``x_bar[n, in channel, h] =
    y_bar[n, c, h * r + o]``, the module docstring's map read backwards). ``absolute``: of ``|y_bar|``.

    Example:
        >>> pixel_shuffle_vjp(np.zeros((1, 4, 1, 1)), np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
        ...                   upscale_factor=2)[0, :, 0, 0].tolist()
        [1.0, 2.0, 3.0, 4.0]
    """
    check_enum("mode", mode, MODES)
    r = _factor("upscale_factor", upscale_factor)
    xf = as_float64(x)
    n, cin, *sp = xf.shape
    block = r ** len(sp)
    if cin % block:
        raise ValueError(f"upscale_factor: channels {cin} are not divisible by {r}**{len(sp)} = {block}")
    g = _cotangent(cotangent, (n, cin // block, *[s * r for s in sp]), absolute)
    return pixel_unshuffle(g, downscale_factor=r, mode=mode)


def pixel_unshuffle_vjp(x: Any, cotangent: Any, *, downscale_factor: int, mode: str = "CRD",
                        absolute: bool = False) -> np.ndarray:
    """The vector-Jacobian product of :func:`pixel_unshuffle` with respect to ``x``, float64: the
    inverse permutation, :func:`pixel_shuffle` of the cotangent with the same factor and channel
    order. ``absolute``: of ``|y_bar|``.

    Example:
        >>> pixel_unshuffle_vjp(np.zeros((1, 1, 2, 2)), np.arange(4.0).reshape(1, 4, 1, 1), downscale_factor=2).tolist()
        [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    check_enum("mode", mode, MODES)
    r = _factor("downscale_factor", downscale_factor)
    xf = as_float64(x)
    n, c, *sp = xf.shape
    if any(s % r for s in sp):
        raise ValueError(f"downscale_factor: spatial shape {sp} is not divisible by {r}")
    g = _cotangent(cotangent, (n, c * r ** len(sp), *[s // r for s in sp]), absolute)
    return pixel_shuffle(g, upscale_factor=r, mode=mode)


def _cotangent(cotangent: Any, shape: tuple[int, ...], absolute: bool) -> np.ndarray:
    g = np.asarray(cotangent, dtype=np.float64)
    if g.shape != shape:
        raise ValueError(f"cotangent: shape {g.shape} differs from the output shape {shape}")
    return np.abs(g) if absolute else g
