"""Shared checks for the reference operators (numpy and the standard library only).

Example:
    >>> check_enum("mode", "linear", ("nearest", "linear"))
    'linear'
"""

from __future__ import annotations

from collections.abc import Sequence
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
    return arr.astype(np.float64)


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
