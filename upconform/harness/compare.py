"""The one comparison entry point: shape, dtype, NaN/Inf positions, then values. The tolerance
table (:data:`DEFAULT_TOLERANCES`) lives in the canonical layer and is re-exported here.

Example:
    >>> c = compare(np.float32([1, 2]), np.array([1.0, 2.0]), "float32")
    >>> c.ok, c.check
    (True, 'values')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..canonical import DEFAULT_TOLERANCES, Tolerance, np_dtype, spacing


@dataclass
class Comparison:
    """What the comparison found. ``check`` names the first check that failed ('values' if none)."""

    ok: bool
    check: str
    message: str
    metrics: dict[str, Any] = field(default_factory=dict)


def _fmt_index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def compare(actual: np.ndarray, expected: np.ndarray, dtype: str, tolerance: Tolerance | None = None,
            *, max_listed: int = 5, scale: np.ndarray | None = None) -> Comparison:
    """Compare a framework output (canonical layout) with the float64 reference.

    Checks in a fixed order: shape, dtype (the case dtype), NaN/Inf positions, values within
    ``tolerance`` (the dtype's default when None): ``|actual - expected| <= atol + rtol * |expected|``, or
    with ``scale`` (a gradient: per element, the sum of the absolute values of the terms that the
    expected value sums) ``atol + rtol * max(|expected|, scale)``, since the rounding of a sum follows its
    terms, not its possibly cancelled result. Metrics: max abs / rel / ULP error (ULP of
    ``dtype``), mismatch count and fraction, worst index with actual and expected values.

    Example:
        >>> compare(np.float32([1, 3]), np.array([1.0, 2.0]), "float32").message.splitlines()[0]
        'mismatched elements: 1 / 2 (50.0%)'
    """
    tol = tolerance or DEFAULT_TOLERANCES[dtype]
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        return Comparison(False, "shape", f"shape mismatch: actual {actual.shape}, expected {expected.shape}")
    want = np_dtype(dtype)
    if actual.dtype != want:
        return Comparison(False, "dtype", f"dtype mismatch: actual {actual.dtype}, expected {want} (the input dtype)")
    a = actual.astype(np.float64)
    e = np.asarray(expected, dtype=np.float64)
    a_nan, e_nan = np.isnan(a), np.isnan(e)
    a_inf, e_inf = np.isinf(a), np.isinf(e)
    bad_nonfinite = (a_nan != e_nan) | (a_inf != e_inf) | (a_inf & e_inf & (np.sign(a) != np.sign(e)))
    if bad_nonfinite.any():
        idx = np.unravel_index(int(np.flatnonzero(bad_nonfinite)[0]), a.shape)
        n = int(bad_nonfinite.sum())
        return Comparison(
            False, "nonfinite",
            f"NaN/Inf positions differ at {n} element(s); first at {_fmt_index(idx)}: "
            f"actual {a[idx]!r}, expected {e[idx]!r}",
            {"mismatch_count": n, "total": int(a.size), "mismatch_fraction": n / max(a.size, 1)},
        )
    finite = np.isfinite(e)
    with np.errstate(invalid="ignore"):  # inf - inf at matching infinities: masked out just below
        diff = np.where(finite, np.abs(a - e), 0.0)
    mag = np.abs(np.where(finite, e, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(mag > 0, diff / mag, np.where(diff > 0, np.inf, 0.0))
    with np.errstate(over="ignore"):  # diff / the smallest subnormal spacing can overflow to inf
        ulp = diff / spacing(np.where(finite, e, 0.0), dtype)
    if scale is not None:
        mag = np.maximum(mag, np.where(finite, np.abs(np.asarray(scale, dtype=np.float64)), 0.0))
    allowed = tol.atol + tol.rtol * mag
    mismatch = diff > allowed
    n_bad = int(mismatch.sum())
    total = int(a.size)
    metrics: dict[str, Any] = {
        "max_abs_err": float(diff.max()) if total else 0.0,
        "max_rel_err": float(rel.max()) if total else 0.0,
        "max_ulp": float(ulp.max()) if total else 0.0,
        "mismatch_count": n_bad,
        "total": total,
        "mismatch_fraction": n_bad / total if total else 0.0,
    }
    # the share of the tolerance the worst element used (1.0: at the limit), for cross-version reports
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(allowed > 0, diff / allowed, np.where(diff > 0, np.inf, 0.0))
    metrics["tol_used"] = float(f"{float(used.max()):.4g}") if total else 0.0
    if total:
        # worst = largest excess over the allowed error (the largest abs error when all pass)
        score = np.where(mismatch, diff - allowed, -np.inf) if n_bad else diff
        w = np.unravel_index(int(np.argmax(score)), a.shape)
        metrics.update(worst_index=[int(i) for i in w], worst_actual=float(a[w]), worst_expected=float(e[w]))
    if n_bad == 0:
        return Comparison(True, "values", "all elements within tolerance", metrics)
    lines = [f"mismatched elements: {n_bad} / {total} ({100.0 * n_bad / total:.1f}%)"]
    for flat in np.flatnonzero(mismatch)[:max_listed]:
        i = np.unravel_index(int(flat), a.shape)
        lines.append(f"  at {_fmt_index(i)}: actual {a[i]:.9g}, expected {e[i]:.9g}")
    lines.append(
        f"worst: abs {metrics['max_abs_err']:.3g}, rel {metrics['max_rel_err']:.3g}, {metrics['max_ulp']:.3g} ULP "
        f"({dtype}); allowed atol {tol.atol:g} + rtol {tol.rtol:g} * "
        + ("max(|expected|, sum of |terms|)" if scale is not None else "|expected|")
    )
    metrics["first_mismatches"] = [
        {"index": [int(v) for v in np.unravel_index(int(f), a.shape)], "actual": float(a.reshape(-1)[f]),
         "expected": float(e.reshape(-1)[f])}
        for f in np.flatnonzero(mismatch)[:max_listed]
    ]
    return Comparison(False, "values", "\n".join(lines), metrics)
