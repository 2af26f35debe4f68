"""Shared checks for the reference operators (numpy and the standard library only).

Example:
    >>> check_enum("mode", "linear", ("nearest", "linear"))
    'linear'
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

# Dtype names accepted besides numpy's own floating kinds (ml_dtypes registers these with numpy).
_EXTRA_FLOAT_NAMES = frozenset({"bfloat16", "float8_e4m3fn", "float8_e5m2"})


def check_enum(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming parameter, value and set.

    Example:
        >>> check_enum("nearest_mode", "floor", ("floor", "ceil"))
        'floor'
    """
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {list(allowed)}")
    return value


def as_float64(x: Any, *, name: str = "x", allow_uint8: bool = True, min_ndim: int = 3) -> np.ndarray:
    """Convert an (N, C, *spatial) array of a real float dtype (or uint8) to float64.

    Example:
        >>> as_float64(np.zeros((1, 1, 2), np.float32)).dtype
        dtype('float64')
    """
    arr = np.asarray(x)
    dt = arr.dtype
    ok = np.issubdtype(dt, np.floating) or dt.name in _EXTRA_FLOAT_NAMES
    if allow_uint8 and dt == np.uint8:
        ok = True
    if not ok:
        allowed = "a real float dtype" + (" or uint8" if allow_uint8 else "")
        raise TypeError(f"{name}: dtype {dt} is not supported; expected {allowed}")
    if arr.ndim < min_ndim or arr.ndim > 5:
        raise ValueError(
            f"{name}: expected shape (N, C, *spatial) with 1 to 3 spatial axes, got shape {arr.shape}"
        )
    return arr.astype(np.float64, copy=False)


def per_axis_ints(name: str, value: Any, nspatial: int, *, default: int, minimum: int) -> tuple[int, ...]:
    """Expand an int or a per-spatial-axis sequence to a tuple of ``nspatial`` ints >= ``minimum``.

    Example:
        >>> per_axis_ints("strides", 2, 2, default=1, minimum=1)
        (2, 2)
    """
    if value is None:
        out = (default,) * nspatial
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value),) * nspatial
    else:
        seq = list(value)
        if len(seq) != nspatial:
            raise ValueError(f"{name}: expected {nspatial} values (one per spatial axis), got {seq}")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in seq):
            raise TypeError(f"{name}: expected integers, got {seq}")
        out = tuple(int(v) for v in seq)
    if any(v < minimum for v in out):
        raise ValueError(f"{name}: every value must be >= {minimum}, got {list(out)}")
    return out


def split_pads(pads: Any, nspatial: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Split ONNX ``pads`` ``[b_1..b_k, e_1..e_k]`` into (begins, ends); None means zeros.

    Example:
        >>> split_pads([1, 0, 2, 1], 2)
        ((1, 0), (2, 1))
    """
    if pads is None:
        return (0,) * nspatial, (0,) * nspatial
    seq = list(pads)
    if len(seq) != 2 * nspatial:
        raise ValueError(
            f"pads: expected {2 * nspatial} values [begin_1..begin_k, end_1..end_k], got {seq}"
        )
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in seq):
        raise TypeError(f"pads: expected integers, got {seq}")
    if any(v < 0 for v in seq):
        raise ValueError(f"pads: every value must be >= 0, got {seq}")
    return tuple(int(v) for v in seq[:nspatial]), tuple(int(v) for v in seq[nspatial:])


# Below this many output elements a single call is faster than splitting the work.
_PARALLEL_MIN_ELEMENTS = 1 << 18
# Each tile of planes aims at this many elements (1 MiB of float64), so that the intermediates of the
# operations on a tile stay in the cache instead of streaming through memory once per operation.
_TILE_ELEMENTS = 1 << 17
_POOL: ThreadPoolExecutor | None = None


def _threads() -> int:
    env = os.environ.get("UPCONFORM_REFERENCE_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(os.cpu_count() or 1, 8))


def leading_tiles(n: int, c: int, plane: int, *, free: Sequence[int] = (0, 1),
                  threads: int | None = None) -> list[tuple[slice, slice]]:
    """Split the (N, C) planes into tiles of about ``_TILE_ELEMENTS / plane`` planes each (``plane``: the
    elements one plane occupies at its largest), along the axes in ``free`` only, and into at least as
    many tiles as there are ``threads`` (default: the reference's thread count) when the planes allow it.

    Example:
        >>> leading_tiles(2, 3, 1 << 16)
        [(slice(0, 1, None), slice(0, 2, None)), (slice(0, 1, None), slice(2, 3, None)), \
(slice(1, 2, None), slice(0, 2, None)), (slice(1, 2, None), slice(2, 3, None))]
    """
    whole = slice(None)
    threads = _threads() if threads is None else threads
    per = max(1, _TILE_ELEMENTS // max(plane, 1))
    if 1 in free and 0 in free:
        per = min(per, -(-n * c // threads))
        if per >= c:
            step = per // c
            return [(slice(i, min(i + step, n)), whole) for i in range(0, n, step)]
        return [(slice(i, i + 1), slice(j, min(j + per, c))) for i in range(n) for j in range(0, c, per)]
    if 1 in free:
        per = min(per, -(-c // threads))
        return [(whole, slice(j, min(j + per, c))) for j in range(0, c, per)]
    if 0 in free:
        per = min(per, -(-n // threads))
        return [(slice(i, min(i + per, n)), whole) for i in range(0, n, per)]
    return [(whole, whole)]


def run_tiles(tiles: Sequence[Any], work: Callable[[Any], None]) -> None:
    """Call ``work`` on every tile: the calling thread and ``threads - 1`` pool threads each take the
    next tile not yet taken until none is left (one hand-off per thread, not per tile, and a thread
    slowed by other load simply takes fewer tiles). The first exception is raised once all stop.

    Example:
        >>> seen = []; run_tiles([1, 2, 3], seen.append); sorted(seen)
        [1, 2, 3]
    """
    global _POOL
    threads = min(_threads(), len(tiles))
    if threads < 2:
        for t in tiles:
            work(t)
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(1, _threads() - 1), thread_name_prefix="upconform-ref")
    pending = iter(tiles)
    lock = threading.Lock()
    failed: list[BaseException] = []

    def drain() -> None:
        while not failed:
            with lock:
                t = next(pending, _DONE)
            if t is _DONE:
                return
            try:
                work(t)
            except BaseException as e:  # noqa: BLE001 - re-raised in the calling thread below
                failed.append(e)

    futures = [_POOL.submit(drain) for _ in range(threads - 1)]
    drain()
    for f in futures:
        f.result()
    if failed:
        raise failed[0]


_DONE = object()
# Largest scratch buffer kept per thread and name (4 MiB of float64): tiles are about 1 MiB, so only a
# call on very large planes allocates afresh. Kept at most: 5 names (resize 3, conv_transpose 2) x 4 MiB
# per thread that ran a tile.
_SCRATCH_MAX_ELEMENTS = 1 << 19
_LOCAL = threading.local()


def scratch(name: str, shape: Sequence[int]) -> np.ndarray:
    """An uninitialised float64 array of ``shape`` backed by this thread's buffer ``name``, kept between
    calls, so that the intermediates of every tile reuse memory that is already mapped and likely in the
    cache rather than a fresh allocation. The array is valid until the same thread asks for ``name``
    again; never return it to a caller.

    Example:
        >>> a = scratch("doc", (2, 3)); b = scratch("doc", (3,)); bool(np.shares_memory(a, b))
        True
    """
    size = math.prod(shape)
    if size > _SCRATCH_MAX_ELEMENTS:
        return np.empty(tuple(shape))
    bufs = getattr(_LOCAL, "bufs", None)
    if bufs is None:
        bufs = _LOCAL.bufs = {}
    buf = bufs.get(name)
    if buf is None or buf.size < size:
        buf = bufs[name] = np.empty(max(size, 1024))
    return buf[:size].reshape(shape)


def parallel_over_leading(
    x: np.ndarray, out_shape: Sequence[int], busy_axes: Sequence[int], fn: Callable[..., Any], *,
    into: bool = False,
) -> np.ndarray:
    """Run ``fn`` on tiles of ``x``'s (N, C) planes, split along axes 0 and 1 where ``fn`` leaves them
    alone, in threads; each tile small enough for its intermediates to stay in the cache. ``into``:
    ``fn(part, out_part)`` writes its result into its tile of the output instead of returning it.

    numpy releases the GIL inside ``take``, ``matmul`` and ufuncs, so independent tiles run in
    parallel; every element is still computed by the same float64 operations as in one call.
    ``UPCONFORM_REFERENCE_THREADS=1`` runs the tiles one after another.

    Example:
        >>> float(parallel_over_leading(np.ones((1, 2, 3)), (1, 2, 3), [2], lambda a: a * 2).sum())
        12.0
    """
    free = [a for a in (0, 1) if a not in busy_axes]
    total = int(np.prod(out_shape))
    n, c = x.shape[0], x.shape[1]
    planes = (n if 0 in free else 1) * (c if 1 in free else 1)
    if not free or total < _PARALLEL_MIN_ELEMENTS or planes < 2:
        tiles = [(slice(None), slice(None))]
    else:
        tiles = leading_tiles(n, c, max(total, x.size) // planes, free=free)
    if len(tiles) == 1 and not into:
        return fn(x)
    out = np.empty(tuple(out_shape))

    def work(tile: tuple[slice, slice]) -> None:
        if into:
            fn(x[tile], out[tile])
        else:
            out[tile] = fn(x[tile])

    run_tiles(tiles, work)
    return out
