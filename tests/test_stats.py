"""upconform.harness.stats: the one median/quantile/IQR (against NumPy), the Mann-Whitney U test
(against SciPy's exact and asymptotic p-values) and the decision rule of ``upconform compare`` on
small samples. Fixed sample lists only: nothing here reads a clock."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from upconform.harness.runner import run_cases
from upconform.harness.spec import load_text
from upconform.harness.stats import iqr, mann_whitney_u, median, min_p_value, quantile, samples_differ
from upconform.reports.regress import compare_runs

SAMPLES = [[1.0], [2.0, 1.0], [3.0, 1.0, 2.0], [0.4, 0.1, 0.3, 0.2], [5.0, 1.0, 4.0, 2.0, 3.0],
           [1e-3, 1.2e-3, 0.9e-3, 5e-3, 1.1e-3, 1.05e-3, 0.95e-3], [2.0, 2.0, 1.0, 3.0, 3.0, 3.0]]


@pytest.mark.parametrize("v", SAMPLES)
def test_median_quantile_iqr_match_numpy(v):
    assert median(v) == pytest.approx(float(np.median(v)), rel=1e-15)
    for q in (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0):
        assert quantile(v, q) == pytest.approx(float(np.percentile(v, 100 * q)), rel=1e-12)
    q25, q75 = np.percentile(v, [25, 75])
    assert iqr(v) == pytest.approx(float(q75 - q25), rel=1e-12, abs=1e-18)


def test_median_is_the_usual_one():
    assert median([1, 2, 3, 4]) == 2.5  # not the upper middle value (3) nor the lower (2)
    assert median([7]) == 7.0 and isinstance(median([7]), float)
    with pytest.raises(ValueError):
        median([])
    with pytest.raises(ValueError):
        quantile([1.0], 1.5)


def _no_ties(n: int, seed: int, shift: float = 0.0) -> list[float]:
    return [float(x) + shift for x in np.random.default_rng(seed).normal(1.0, 0.1, n)]


@pytest.mark.parametrize("n1", range(3, 9))
@pytest.mark.parametrize("n2", range(3, 9))
def test_exact_p_values_are_scipys(n1, n2):
    for seed, shift in ((n1 * 10 + n2, 0.0), (n1 * 10 + n2 + 100, 0.12), (n1 * 10 + n2 + 200, 0.5)):
        a, b = _no_ties(n1, seed), _no_ties(n2, seed + 1000, shift)
        t = mann_whitney_u(a, b)
        assert t.method == "exact"
        assert t.p_value == scipy_p(a, b, "exact")
    # complete separation is the smallest p-value the sizes allow
    a, b = _no_ties(n1, 1), _no_ties(n2, 2, shift=10.0)
    assert mann_whitney_u(a, b).p_value == pytest.approx(min_p_value(n1, n2), rel=1e-12)
    assert min_p_value(n1, n2) == pytest.approx(2 / math.comb(n1 + n2, n1))


def scipy_p(a: list[float], b: list[float], method: str) -> float:
    return float(mannwhitneyu(a, b, alternative="two-sided", method=method).pvalue)


def test_ties_and_large_samples_use_the_asymptotic_test():
    a, b = [1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]
    t = mann_whitney_u(a, b)
    assert t.method == "asymptotic" and t.p_value == scipy_p(a, b, "asymptotic")
    a, b = _no_ties(12, 1), _no_ties(12, 2, shift=0.05)
    t = mann_whitney_u(a, b)
    assert t.method == "asymptotic" and t.p_value == scipy_p(a, b, "asymptotic")
    assert mann_whitney_u([], [1.0]).p_value == 1.0


def test_min_p_value():
    assert min_p_value(3, 3) == pytest.approx(0.1)  # so p < 0.05 is out of reach for 3 vs 3
    assert min_p_value(3, 4) == pytest.approx(2 / 35)
    assert min_p_value(4, 4) == pytest.approx(2 / 70) and min_p_value(4, 4) < 0.05
    assert min_p_value(0, 5) == 1.0


BASE3 = [1.00e-3, 1.05e-3, 1.10e-3]


def test_decision_rule_decides_a_clear_slowdown_on_three_samples():
    d = samples_differ(BASE3, [3 * t for t in BASE3])
    assert d.differ and d.rule == "separated ranges" and d.p_value == pytest.approx(0.1)
    assert samples_differ([3 * t for t in BASE3], BASE3).differ  # and a speed-up
    # the Mann-Whitney test alone could not have said so at alpha = 0.05
    assert scipy_p(BASE3, [3 * t for t in BASE3], "exact") > 0.05


def test_decision_rule_stays_quiet_on_identical_or_overlapping_samples():
    assert not samples_differ(BASE3, BASE3).differ
    assert not samples_differ(BASE3, [1.02e-3, 1.04e-3, 1.06e-3]).differ
    assert not samples_differ(BASE3, [1.06e-3, 2.0e-3, 3.0e-3]).differ  # ranges overlap by one value
    assert not samples_differ(BASE3, [1.10e-3, 2.0e-3, 3.0e-3]).differ  # a tie at the boundary is an overlap


def test_decision_rule_uses_the_test_once_it_can_reach_alpha():
    base = [1.0, 1.1, 1.2, 1.3, 1.4]
    d = samples_differ(base, [2.0, 2.1, 2.2, 2.3, 2.4])
    assert d.differ and d.rule == "mann-whitney exact" and d.p_value == pytest.approx(2 / 252)
    d = samples_differ(base, [1.05, 1.15, 1.25, 1.35, 1.45])  # interleaved: p = 0.69
    assert not d.differ and d.rule == "mann-whitney exact"
    assert not samples_differ(base, base).differ
    # alpha decides which rule applies: 3 vs 4 at alpha = 0.1 can reach it (2/35 < 0.1)
    assert samples_differ(BASE3, [2.0e-3, 2.1e-3, 2.2e-3, 2.3e-3], alpha=0.1).rule == "mann-whitney exact"
    assert samples_differ(BASE3, [2.0e-3, 2.1e-3, 2.2e-3, 2.3e-3], alpha=0.05).rule == "separated ranges"


def _result(samples: list[float], case: str = "c") -> dict:
    return {"case_id": case, "binding": "b", "outcome": "pass", "timing": {"samples_s": samples}}


def test_compare_runs_on_three_samples():
    base = {"results": [_result(BASE3)]}
    slow = compare_runs(base, {"results": [_result([3 * t for t in BASE3])]})
    [s] = slow["slowdowns"]
    assert s["ratio"] == pytest.approx(3.0) and s["rule"] == "separated ranges" and slow["regressions"] == 1
    fast = compare_runs(base, {"results": [_result([t / 3 for t in BASE3])]})
    assert len(fast["speedups"]) == 1 and fast["regressions"] == 0
    for quiet in (BASE3, [1.0e-3, 1.6e-3, 4.0e-3]):  # identical; median x1.5 but ranges overlap
        c = compare_runs(base, {"results": [_result(quiet)]})
        assert not c["slowdowns"] and not c["speedups"] and c["regressions"] == 0
    # separated but below the ratio threshold: not a slowdown
    assert not compare_runs(base, {"results": [_result([1.2e-3, 1.21e-3, 1.22e-3])]})["slowdowns"]


def test_worker_timing_uses_the_one_median(fake_bindings):
    """The worker's ``median_s``/``iqr_s`` are the stats functions of its own ``samples_s`` (no clock read here)."""
    cases, _ = load_text("op: repeat\ncases:\n  - {id: ok, params: {repeats: 2}, shapes: {x: [1, 1, 4, 4]}}\n", "s.yaml")
    [r] = run_cases(cases, ["fake.repeat"], max_repeats=6, timing_budget_s=1.0)
    t = r.to_json()["timing"]
    assert set(t) >= {"median_s", "iqr_s", "repeats", "samples_s", "warmup_s", "framework_s"}
    assert t["repeats"] == len(t["samples_s"]) == 6
    assert t["median_s"] == median(t["samples_s"]) and t["iqr_s"] == iqr(t["samples_s"])
