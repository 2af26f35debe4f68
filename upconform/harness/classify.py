"""Name the shape of a mismatch, computed once at run time from the actual and expected arrays.

Classes: ``shifted`` (the whole output matches the reference moved by one pixel along an axis, or
along two axes at once),
``border`` (every mismatch lies on the first or last index of a spatial axis), ``nearest-index``
(nearest resize picked other input pixels: rounding or ties), ``precision`` (within 4 ULP of the
dtype), ``permutation`` (the same values in other places: layout or channel order), ``values``.

Example:
    >>> e = np.arange(8.0).reshape(1, 1, 8)
    >>> classify(np.roll(e, 1, axis=2), e, "float64", params={})["kind"]
    'shifted'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..canonical import DEFAULT_TOLERANCES, Tolerance


def _close(a: np.ndarray, e: np.ndarray, tol: Tolerance) -> np.ndarray:
    return np.abs(a - e) <= tol.atol + tol.rtol * np.abs(e)


def classify(actual: np.ndarray, expected: np.ndarray, dtype: str, *, params: Mapping[str, Any],
             tolerance: Tolerance | None = None, max_ulp: float | None = None) -> dict[str, Any]:
    """``{"kind": ..., "detail": ...}`` for a failing (same-shape) comparison."""
    tol = tolerance or DEFAULT_TOLERANCES[dtype]
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape or a.ndim < 3:
        return {"kind": "shape", "detail": f"actual {a.shape} vs expected {e.shape}"}
    bad = ~_close(a, e, tol)
    axes = [ax for ax in range(2, a.ndim) if a.shape[ax] >= 3]
    # one pixel along one spatial axis, then along two at once (a padding that moves both: conv pads)
    moves = [{ax: s} for ax in axes for s in (1, -1)]
    moves += [{ax: s, bx: t} for i, ax in enumerate(axes) for bx in axes[i + 1:] for s in (1, -1) for t in (1, -1)]
    for move in moves:
        core_a, moved = a, e
        for ax in range(2, a.ndim):
            n = a.shape[ax]
            if ax in move:
                core_a = np.take(core_a, np.arange(1, n - 1), axis=ax)
                moved = np.take(moved, np.arange(1, n - 1) - move[ax], axis=ax)
        if np.all(_close(core_a, moved, tol)):
            shifts = " and ".join(f"{s:+d} pixel along axis {ax}" for ax, s in move.items())
            return {"kind": "shifted", "detail": f"the output is the reference shifted by {shifts}"}
    idx = np.argwhere(bad)
    if len(idx):
        spatial = idx[:, 2:]
        sizes = np.array(a.shape[2:])
        on_border = np.any((spatial == 0) | (spatial == sizes - 1), axis=1)
        if on_border.all() and not bad.all():
            return {"kind": "border", "detail": f"all {len(idx)} mismatches lie on the first/last row or column"}
    if params.get("nearest_mode") is not None:  # a nearest-neighbour normal form
        return {"kind": "nearest-index", "detail": "nearest resize picked other input pixels (rounding or ties)"}
    if max_ulp is not None and max_ulp <= 4:
        return {"kind": "precision", "detail": f"within {max_ulp:.2g} ULP of {dtype}"}
    if np.allclose(np.sort(a, axis=None), np.sort(e, axis=None), rtol=tol.rtol, atol=tol.atol):
        return {"kind": "permutation", "detail": "the same values in other places: layout or channel order"}
    return {"kind": "values", "detail": "values differ beyond the tolerance"}


def diff_map(actual: np.ndarray, expected: np.ndarray, max_side: int = 48) -> list[list[float]] | None:
    """|actual - expected|, max over N and C, for 2-D outputs, pooled down to at most ``max_side``."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape or a.ndim != 4:
        return None
    d = np.nan_to_num(np.abs(a - e), nan=np.inf).max(axis=(0, 1))
    fh = -(-d.shape[0] // max_side)
    fw = -(-d.shape[1] // max_side)
    if fh > 1 or fw > 1:
        h, w = -(-d.shape[0] // fh) * fh, -(-d.shape[1] // fw) * fw
        p = np.zeros((h, w))
        p[: d.shape[0], : d.shape[1]] = d
        d = p.reshape(h // fh, fh, w // fw, fw).max(axis=(1, 3))
    return [[float(v) if np.isfinite(v) else 1e300 for v in row] for row in d]
