"""The statistics of timings, in one place: the median, quantiles, the IQR and the order-statistic
confidence interval of the median (standard library), and
the two-sample decision of ``upconform compare`` (SciPy's Mann-Whitney U test, imported on first use so
that framework workers do not load SciPy).

Example:
    >>> median([3.0, 1.0, 2.0, 10.0]), iqr([1.0, 2.0, 3.0, 4.0, 5.0])
    (2.5, 2.0)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import NamedTuple


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
