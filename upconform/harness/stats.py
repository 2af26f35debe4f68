"""The statistics of timings, in one place: the median, quantiles, the IQR and the order-statistic
confidence interval of the median (standard library), and
the two-sample decision of ``upconform compare`` (SciPy's Mann-Whitney U test, imported on first use so
that framework workers do not load SciPy), and the paired comparisons of the report's performance section
(the ratio of two bindings' times on the same case with a bootstrap interval, the geometric mean of such
ratios over cases with a t interval).

Example:
    >>> median([3.0, 1.0, 2.0, 10.0]), iqr([1.0, 2.0, 3.0, 4.0, 5.0])
    (2.5, 2.0)
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple


def median(values: Sequence[float]) -> float:
    """The usual median (the mean of the two middle values for an even count); ValueError if empty.

    Example:
        >>> median([4, 1, 3, 2])
        2.5
    """
    if not len(values):
        raise ValueError("median of no values")
    return float(statistics.median(values))


def quantile(values: Sequence[float], q: float) -> float:
    """Quantile ``q`` in [0, 1], interpolated linearly between order statistics (NumPy's default
    ``np.percentile`` method; ``quantile(v, 0.5) == median(v)``); ValueError if empty.

    Example:
        >>> quantile([1, 2, 3, 4], 0.25)
        1.75
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} is outside [0, 1]")
    s = sorted(float(v) for v in values)
    if not s:
        raise ValueError("quantile of no values")
    z = (len(s) - 1) * q
    j = math.floor(z)
    return s[j] if j == len(s) - 1 else s[j] + (z - j) * (s[j + 1] - s[j])


def iqr(values: Sequence[float]) -> float:
    """Interquartile range: ``quantile(values, 0.75) - quantile(values, 0.25)``.

    Example:
        >>> iqr([1, 2, 3, 4])
        1.5
    """
    return quantile(values, 0.75) - quantile(values, 0.25)


def _binom_cdf(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2)."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def median_ci(samples: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """A distribution-free confidence interval of the median: the order statistics ``[x(k), x(n+1-k)]``
    with the largest ``k`` whose coverage ``1 - 2 P(B <= k - 1)``, B ~ Binomial(n, 1/2), is at least
    ``level``; returns ``(lo, hi, coverage)``. Fewer than 6 samples cannot reach 95 %: then it is the range
    ``[min, max]`` with its lower coverage (93.75 % for 5, 75 % for 3).

    Example:
        >>> median_ci([5.0, 1.0, 2.0, 3.0, 4.0, 6.0, 7.0, 8.0, 9.0])
        (2.0, 8.0, 0.9609375)
        >>> median_ci([1.0, 2.0, 3.0])
        (1.0, 3.0, 0.75)
    """
    s = sorted(samples)
    n = len(s)
    if not n:
        raise ValueError("median_ci of no samples")
    k = 1
    while k + 1 <= (n + 1) // 2 and 1 - 2 * _binom_cdf(k, n) >= level:
        k += 1
    return s[k - 1], s[n - k], 1 - 2 * _binom_cdf(k - 1, n)


def min_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value an exact rank test can give for samples of sizes ``n1`` and ``n2``:
    ``2 / C(n1 + n2, n1)``, reached when every value of one sample lies below every value of the other.

    Example:
        >>> min_p_value(3, 3), round(min_p_value(5, 5), 4)
        (0.1, 0.0079)
    """
    return min(1.0, 2 / math.comb(n1 + n2, n1)) if n1 and n2 else 1.0


class MannWhitney(NamedTuple):
    """A two-sided Mann-Whitney U test: its p-value and the method SciPy used."""

    p_value: float
    method: str  # "exact" or "asymptotic"


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> MannWhitney:
    """Two-sided Mann-Whitney U test by ``scipy.stats.mannwhitneyu``.

    The p-value is exact (``method="exact"``, the exact null distribution of U) when there are no
    ties and one sample has at most 8 values, as SciPy's ``method="auto"`` chooses. With ties the exact
    distribution does not apply (SciPy does not correct it for ties), and with two larger samples it is
    slow: then the normal approximation with tie and continuity corrections (``"asymptotic"``) is used.

    Example:
        >>> mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        MannWhitney(p_value=0.007936507936507936, method='exact')
    """
    from scipy.stats import mannwhitneyu

    if not len(a) or not len(b):
        return MannWhitney(1.0, "exact")
    ties = len(set(a) | set(b)) < len(a) + len(b)
    method = "exact" if not ties and min(len(a), len(b)) <= 8 else "asymptotic"
    p = float(mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)
    return MannWhitney(p, method)


class Decision(NamedTuple):
    """Whether two samples differ, the p-value of the rank test, and the rule that decided."""

    differ: bool
    p_value: float
    rule: str  # "mann-whitney exact", "mann-whitney asymptotic" or "separated ranges"


def samples_differ(a: Sequence[float], b: Sequence[float], *, alpha: float = 0.05) -> Decision:
    """Do samples ``a`` and ``b`` come from different distributions? A rule that can decide at any size.

    When the sizes let the test reach ``alpha`` (``min_p_value(len(a), len(b)) < alpha``: 3 vs 5,
    4 vs 4 and larger at alpha = 0.05), they differ when the Mann-Whitney p-value is below ``alpha``.
    When they do not (3 vs 3: the smallest two-sided p-value is 0.1, so p < 0.05 can never happen),
    they differ when their ranges do not overlap (every value of one sample is below every value of
    the other). That is the most extreme outcome such samples allow, i.e. the exact test at the level
    ``min_p_value`` (0.1 for 3 vs 3), not at ``alpha``; for 3 values the range is a 75 % confidence
    interval of the median. asv falls back likewise, but on 99 % intervals of the medians (wider
    than the range for so few values), so this rule is the more permissive one: callers pair it with
    a size threshold (``compare_runs``: a median ratio beyond ``max_slowdown`` and a minimum difference).

    Example:
        >>> samples_differ([1.0, 1.1, 1.2], [3.0, 3.3, 3.6])
        Decision(differ=True, p_value=0.1, rule='separated ranges')
    """
    test = mann_whitney_u(a, b)
    if min_p_value(len(a), len(b)) < alpha:
        return Decision(test.p_value < alpha, test.p_value, f"mann-whitney {test.method}")
    separated = len(a) > 0 and len(b) > 0 and (max(a) < min(b) or max(b) < min(a))
    return Decision(separated, test.p_value, "separated ranges")


# ------------------------------------------------------------------------------------ paired ratios

class PairedRatio(NamedTuple):
    """One case timed by two bindings: ``median(a) / median(b)`` and its confidence interval (None when
    either side has fewer than two samples: one sample says nothing about its spread)."""

    case_id: str
    ratio: float
    low: float | None
    high: float | None
    n_a: int
    n_b: int


def ratio_ci(a: Sequence[float], b: Sequence[float], *, level: float = 0.95, resamples: int = 1000,
             seed: int = 0) -> tuple[float, float | None, float | None]:
    """``median(a) / median(b)`` with a percentile-bootstrap interval: each side resampled with
    replacement ``resamples`` times (a fixed ``seed``: the same samples give the same interval), the
    ratio of the resampled medians, its ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. With
    3 to 5 samples a side the interval is coarse (it cannot be wider than the ranges allow) and its
    coverage approximate. The interval is (None, None) when a side has fewer than two samples.

    Example:
        >>> r, lo, hi = ratio_ci([2.0, 2.1, 1.9, 2.0], [1.0, 1.05, 0.95, 1.0])
        >>> r, lo <= r <= hi, 1.8 < lo and hi < 2.3
        (2.0, True, True)
    """
    ratio = median(a) / median(b)
    if len(a) < 2 or len(b) < 2:
        return ratio, None, None
    import numpy as np

    ia, ib = _resample_indices(len(a), len(b), resamples, seed)
    ma = _row_medians(np.asarray(a, dtype=np.float64)[ia])
    mb = _row_medians(np.asarray(b, dtype=np.float64)[ib])
    lo, hi = np.quantile(ma / mb, [(1 - level) / 2, (1 + level) / 2])
    return ratio, float(lo), float(hi)


@functools.lru_cache(maxsize=64)
def _resample_indices(n_a: int, n_b: int, resamples: int, seed: int) -> tuple[Any, Any]:
    """The bootstrap's index arrays (resamples x n) for samples of sizes ``n_a`` and ``n_b``: drawn once
    per sizes and seed, so every case of those sizes is resampled alike (and fast)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.integers(0, n_a, (resamples, n_a)), rng.integers(0, n_b, (resamples, n_b))


def _row_medians(x: Any) -> Any:
    """The median of each row (the usual one: the mean of the two middle values for an even count)."""
    import numpy as np

    s = np.sort(x, axis=1)
    n = s.shape[1]
    return s[:, n // 2] if n % 2 else (s[:, n // 2 - 1] + s[:, n // 2]) / 2


class GeoMean(NamedTuple):
    """The geometric mean of ratios over ``n`` cases, with its confidence interval (None for one case)."""

    ratio: float
    low: float | None
    high: float | None
    n: int


def geometric_mean_ci(ratios: Sequence[float], *, level: float = 0.95) -> GeoMean:
    """The geometric mean of positive ratios and a t interval over cases on the log scale:
    ``exp(mean(log r) +- t * sd(log r) / sqrt(n))``. The cases are the units (the spread between cases,
    which includes each case's timing noise, makes the interval); (None, None) for a single case.

    Example:
        >>> g = geometric_mean_ci([2.0, 8.0])
        >>> round(g.ratio, 12), g.n, g.low < 4.0 < g.high
        (4.0, 2, True)
    """
    if not len(ratios):
        raise ValueError("geometric mean of no ratios")
    logs = [math.log(r) for r in ratios]
    n = len(logs)
    mean = math.fsum(logs) / n
    if n < 2:
        return GeoMean(math.exp(mean), None, None, n)
    from scipy.stats import t

    sd = statistics.stdev(logs)
    half = float(t.ppf((1 + level) / 2, n - 1)) * sd / math.sqrt(n)
    return GeoMean(math.exp(mean), math.exp(mean - half), math.exp(mean + half), n)


def timed_samples(results: Sequence[Mapping[str, Any]], label: Callable[[Mapping[str, Any]], str] | None = None
                  ) -> dict[str, dict[str, list[float]]]:
    """``{label: {case_id: samples}}`` of the eager forward checks with timing samples (``label``: what
    names a record, by default its binding). A later record of the same (label, case) is ignored.

    Example:
        >>> timed_samples([{"case_id": "c", "binding": "b", "timing": {"samples_s": [1.0]}},
        ...                {"case_id": "c", "binding": "b", "path": "onnx", "timing": {"samples_s": [2.0]}}])
        {'b': {'c': [1.0]}}
    """
    out: dict[str, dict[str, list[float]]] = {}
    for r in results:
        if (r.get("path") or "eager") != "eager" or (r.get("direction") or "forward") != "forward":
            continue
        s = (r.get("timing") or {}).get("samples_s")
        if not s:
            continue
        out.setdefault(label(r) if label else r["binding"], {}).setdefault(r["case_id"], [float(v) for v in s])
    return out


def paired_ratios(results: Sequence[Mapping[str, Any]], a: str, b: str, *,
                  label: Callable[[Mapping[str, Any]], str] | None = None, level: float = 0.95,
                  seed: int = 0) -> list[PairedRatio]:
    """For every case that ``a`` and ``b`` both timed (same case id, eager path, forward direction, both
    with samples), ``median(a) / median(b)`` with its bootstrap interval (:func:`ratio_ci`), in case order.

    Example:
        >>> rs = [{"case_id": "c", "binding": n, "timing": {"samples_s": s}} for n, s in
        ...       (("a", [2.0, 2.0, 2.0]), ("b", [1.0, 1.0, 1.0]), ("a", [9.0]))]
        >>> paired_ratios(rs + [{"case_id": "d", "binding": "a", "timing": {"samples_s": [1.0]}}], "a", "b")
        [PairedRatio(case_id='c', ratio=2.0, low=2.0, high=2.0, n_a=3, n_b=3)]
    """
    t = timed_samples(results, label)
    return _pairs(t.get(a, {}), t.get(b, {}), level=level, seed=seed)


def _pairs(sa: Mapping[str, Sequence[float]], sb: Mapping[str, Sequence[float]], *, level: float, seed: int
           ) -> list[PairedRatio]:
    out = []
    for case_id in sorted(set(sa) & set(sb)):
        ratio, lo, hi = ratio_ci(sa[case_id], sb[case_id], level=level, seed=seed)
        out.append(PairedRatio(case_id, ratio, lo, hi, len(sa[case_id]), len(sb[case_id])))
    return out


def paired_table(results: Sequence[Mapping[str, Any]], *, anchor_framework: str | None = None,
                 label: Callable[[Mapping[str, Any]], str] | None = None, level: float = 0.95,
                 seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per op, every binding against one anchor binding on the cases both timed.

    The anchor of an op is ``anchor_framework``'s binding (or label) that timed the most of its cases
    (ties: by name); without ``anchor_framework``, or for an op that framework did not time, the binding
    that timed the most. Each
    other binding gets a row: its framework, the paired ratios (binding / anchor: above 1 is slower
    than the anchor), their geometric mean with a t interval over cases (:func:`geometric_mean_ci`),
    how many cases the per-case interval puts above 1 (slower), below 1 (faster) or across 1, and
    ``primary`` for the binding of its framework that covers the most cases (its framework's row).

    Example:
        >>> rs = [{"case_id": c, "op": "o", "binding": b, "framework": b.split(".")[0], "timing": {"samples_s": [t, t]}}
        ...       for c in ("c1", "c2") for b, t in (("torch.f", 1.0), ("tf.g", 2.0 if c == "c1" else 8.0))]
        >>> t = paired_table(rs, anchor_framework="torch")["o"]
        >>> t["anchor"], t["rows"][0]["binding"], round(t["rows"][0]["geomean"].ratio, 9), t["rows"][0]["geomean"].n
        ('torch.f', 'tf.g', 4.0, 2)
    """
    by_op: dict[str, list[Mapping[str, Any]]] = {}
    for r in results:
        by_op.setdefault(r["op"], []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for op in sorted(by_op):
        rs = by_op[op]
        timed = timed_samples(rs, label)
        if len(timed) < 2:
            continue
        fw: dict[str, str] = {}
        for r in rs:
            fw.setdefault(label(r) if label else r["binding"], r.get("framework", ""))
        candidates = [n for n in timed if fw.get(n) == anchor_framework] or list(timed)
        anchor = min(candidates, key=lambda n: (-len(timed[n]), n))
        rows = []
        for name in timed:
            if name == anchor:
                continue
            pairs = _pairs(timed[name], timed[anchor], level=level, seed=seed)
            if not pairs:
                continue
            rows.append({"binding": name, "framework": fw.get(name, ""), "pairs": pairs,
                         "geomean": geometric_mean_ci([p.ratio for p in pairs], level=level),
                         "slower": sum(1 for p in pairs if p.low is not None and p.low > 1),
                         "faster": sum(1 for p in pairs if p.high is not None and p.high < 1),
                         "unsure": sum(1 for p in pairs if p.low is None or p.low <= 1 <= p.high),  # type: ignore[operator]
                         "min": min(p.ratio for p in pairs), "max": max(p.ratio for p in pairs)})
        best: dict[str, dict[str, Any]] = {}
        for row in rows:
            f = row["framework"]
            if f not in best or (len(row["pairs"]), -row["geomean"].ratio) > (len(best[f]["pairs"]),
                                                                               -best[f]["geomean"].ratio):
                best[f] = row
        for row in rows:
            row["primary"] = best[row["framework"]] is row
        rows.sort(key=lambda row: (row["geomean"].ratio, row["binding"]))
        out[op] = {"anchor": anchor, "anchor_framework": fw.get(anchor, ""), "anchor_cases": len(timed[anchor]),
                   "rows": rows}
    return out
