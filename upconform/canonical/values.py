"""Plain and frozen spec values, and the per-axis integer expansion used by every operator record.

Example:
    >>> per_axis(2, 3, default=1), per_axis(None, 2, default=0), per_axis([1, 4], 2, default=1)
    ([2, 2, 2], [0, 0], [1, 4])
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def plain(v: Any) -> Any:
    """Frozen spec values (mappingproxy, tuples, numpy scalars) -> plain JSON-able Python.

    Example:
        >>> plain(MappingProxyType({"a": (1, 2)}))
        {'a': [1, 2]}
    """
    if isinstance(v, Mapping):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "item") and hasattr(v, "dtype") and getattr(v, "ndim", None) == 0:
        return v.item()
    return v


def freeze(v: Any) -> Any:
    """Plain spec values -> read-only ones (mappingproxy, tuples), the inverse of :func:`plain`.

    Example:
        >>> freeze({"a": [1, 2]})["a"]
        (1, 2)
    """
    if isinstance(v, Mapping):
        return MappingProxyType({k: freeze(x) for k, x in v.items()})
    if isinstance(v, list):
        return tuple(freeze(x) for x in v)
    return v


def per_axis(v: Any, k: int, *, default: Any = None, cast: Any = int) -> list[Any]:
    """One value per spatial axis from None (``default``), a scalar (every axis) or a sequence, each
    passed through ``cast``: the one expansion every spec field and native argument goes through.

    Example:
        >>> per_axis(1.5, 2, cast=float)
        [1.5, 1.5]
    """
    if v is None:
        return [default] * k
    if isinstance(v, (list, tuple)):
        return [cast(x) for x in v]
    return [cast(v)] * k
