"""The timer (upconform/harness/timer.py): against functions of known cost on the real clock, and its
sizing, stopping and syncing exactly, on a fake clock that only the timed call moves."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from scipy.stats import binom

from upconform.harness.stats import iqr, median, median_ci
from upconform.harness.timer import MAX_SAMPLES, Calibration, calibrate, time_call

UNIT = 2.0**-10  # about 1 ms, exact in binary: sums of it are exact, so the fake-clock assertions are too
CAL = Calibration(resolution_s=2.0**-24, overhead_s=2.0**-22)  # floor 5 * 2**-24, about 0.3 us


class FakeClock:
    """A clock that only the timed call moves (by its costs, in turn), and a log of calls and syncs."""

    def __init__(self, costs: list[float]) -> None:
        self.now, self.events = 0.0, []
        self._costs: Iterator[float] = iter(costs * 1000)

    def __call__(self) -> float:
        return self.now

    def call(self) -> str:
        self.now += next(self._costs)
        self.events.append("c")
        return "out"

    def sync(self) -> None:
        self.events.append("s")


def test_a_sleep_is_measured_at_its_length():
    """time.sleep(2 ms) on the real clock: the per-call median is within [1.0, 1.3] x 2 ms (a sleep never
    ends early; the tolerance is for a loaded machine's wake-up latency: the best of three attempts)."""
    for _ in range(3):
        _, t = time_call(lambda: time.sleep(2e-3), budget_s=0.1)
        assert t["number"] == 1 and t["repeats"] >= 5
        assert 2e-3 <= t["median_s"] and t["ci_s"][0] <= t["median_s"] <= t["ci_s"][1]
        if t["median_s"] <= 1.3 * 2e-3:
            break
    assert t["median_s"] <= 1.3 * 2e-3


def test_a_busy_loop_agrees_with_a_direct_measurement():
    """A pure-Python loop of fixed length (about 0.3 ms): the timer's median per call agrees within
    [0.7, 1.4]x with the median of 51 calls each timed directly by perf_counter (taken before and after).
    A timer that mis-divides by its calls per sample, or times the wrong thing, is off by 2x or more; a
    loaded machine can move one attempt by 30 %, so the best of three attempts is judged."""
    def busy() -> int:
        return sum(range(10000))

    def direct() -> float:
        times = []
        for _ in range(51):
            t0 = time.perf_counter()
            busy()
            times.append(time.perf_counter() - t0)
        return median(times)

    ratios = []
    for _ in range(3):
        before = direct()
        out, t = time_call(busy, budget_s=0.1)
        after = direct()
        assert out == 49995000 and t["repeats"] >= 6
        ratios.append(t["median_s"] / (0.5 * (before + after)))
        if 0.7 <= ratios[-1] <= 1.4:
            break
    assert 0.7 <= ratios[-1] <= 1.4, ratios


def test_a_one_microsecond_function_gets_enough_calls_per_sample():
    """A call of about 1 us: several calls per sample, so that resolution + overhead are under 1 % of
    each sample; the samples are per call."""
    def tiny() -> int:
        return sum(range(20))

    _, t = time_call(tiny, budget_s=0.05)
    assert t["number"] > 1
    t0 = time.perf_counter()  # the per-call figure, against a direct block of calls
    for _ in range(20000):
        tiny()
    block = (time.perf_counter() - t0) / 20000
    assert 0.33 * block <= t["median_s"] <= 3.0 * block, (t["median_s"], block)
    assert t["resolution_s"] + t["overhead_s"] < 0.01 * t["median_s"] * t["number"]
    assert 1e-8 < t["median_s"] < 1e-4 and t["repeats"] == len(t["samples_s"]) <= MAX_SAMPLES


def test_calibration_is_measured_once_per_process():
    c = calibrate()
    assert calibrate() is c
    assert time.get_clock_info("perf_counter").resolution <= c.resolution_s < 1e-4 and 0 < c.overhead_s < 1e-4


def test_sizing_picks_the_calls_per_sample_exactly():
    """A call of 2**-20 s (about 1 us) with a floor of 5 * 2**-24 s: one sample of 1 call is too short, so
    number = ceil(1.5 * floor / (1 % of it)) = 47 (a margin of 1.5), the first sample long enough; it is kept."""
    clock = FakeClock([2.0**-20])
    out, t = time_call(clock.call, clock.sync, budget_s=1.0, clock=clock, calibration=CAL)
    assert out == "out" and t["number"] == 47
    assert t["samples_s"] == [2.0**-20] * 6 and t["stopped"] == "ci"
    assert (CAL.resolution_s + CAL.overhead_s) < 0.01 * 47 * 2.0**-20
    assert t["resolution_s"] == CAL.resolution_s and t["overhead_s"] == CAL.overhead_s  # the sync costs 0 here
    # every call counted: warm-up, the sizing sample of 1, and 6 samples of 47
    assert t["framework_s"] == (1 + 1 + 6 * 47) * 2.0**-20 and t["warmup_s"] == 2.0**-20


def test_sync_is_called_once_per_sample_after_its_calls():
    clock = FakeClock([2.0**-20])
    _, t = time_call(clock.call, clock.sync, budget_s=1.0, clock=clock, calibration=CAL)
    n = t["number"]
    # warm-up (call, sync), the idle syncs (3), the sizing sample of 1, then each sample: n calls and one sync
    assert "".join(clock.events) == "cs" + "sss" + "cs" + ("c" * n + "s") * t["repeats"]


def test_a_stable_call_stops_on_the_confidence_interval():
    """Constant cost: the 95 % interval of the median is [c, c] once it exists (6 samples)."""
    clock = FakeClock([UNIT])
    _, t = time_call(clock.call, clock.sync, budget_s=1.0, clock=clock, calibration=CAL)
    assert t == {"median_s": UNIT, "iqr_s": 0.0, "repeats": 6, "samples_s": [UNIT] * 6, "warmup_s": UNIT,
                 "framework_s": 7 * UNIT, "number": 1, "ci_s": [UNIT, UNIT], "resolution_s": CAL.resolution_s,
                 "overhead_s": CAL.overhead_s, "stopped": "ci"}
    # a little noise (within +-1.6 % of the median) still stops at 6
    clock = FakeClock([UNIT, 1.015625 * UNIT, 0.984375 * UNIT])
    _, t = time_call(clock.call, clock.sync, budget_s=1.0, clock=clock, calibration=CAL)
    assert t["stopped"] == "ci" and t["repeats"] == 6


def test_a_noisy_call_runs_to_the_budget_or_to_max_samples():
    """Costs alternating 1 and 2 units: the interval of the median never narrows to 5 %. With a budget
    of 13 units the samples stop where the next would overrun it; with a large one, at MAX_SAMPLES."""
    clock = FakeClock([UNIT, 2 * UNIT])
    _, t = time_call(clock.call, clock.sync, budget_s=13 * UNIT, clock=clock, calibration=CAL)
    # after warm-up (1 unit) the samples cost 2, 1, 2, 1, ... units; none starts once 13 are spent
    spent = t["framework_s"] - t["warmup_s"]
    assert t["stopped"] == "budget" and t["samples_s"] == [2 * UNIT, UNIT] * 4 + [2 * UNIT]
    assert spent == 14 * UNIT and t["median_s"] == 2 * UNIT
    assert t["ci_s"] == [UNIT, 2 * UNIT]
    clock = FakeClock([UNIT, 2 * UNIT])
    _, t = time_call(clock.call, clock.sync, budget_s=1e6, clock=clock, calibration=CAL)
    assert t["stopped"] == "max_samples" and t["repeats"] == MAX_SAMPLES == len(t["samples_s"])
    assert t["median_s"] == median(t["samples_s"]) and t["iqr_s"] == iqr(t["samples_s"])


def test_the_budget_wins_over_the_minimum_but_one_sample_is_always_taken():
    clock = FakeClock([UNIT])
    _, t = time_call(clock.call, clock.sync, budget_s=2.5 * UNIT, clock=clock, calibration=CAL)
    assert t["stopped"] == "budget" and t["repeats"] == 3  # the third starts at 2 units, ends past 2.5
    _, t = time_call(clock.call, clock.sync, budget_s=0.0, clock=clock, calibration=CAL)
    assert t["stopped"] == "budget" and t["repeats"] == 1 and t["ci_s"] == [UNIT, UNIT]


def test_an_untimed_call_runs_once():
    clock = FakeClock([UNIT])
    out, t = time_call(clock.call, clock.sync, budget_s=1.0, timed=False, clock=clock, calibration=CAL)
    assert out == "out" and clock.events == ["c", "s"]
    assert t == {"median_s": None, "iqr_s": 0.0, "repeats": 0, "samples_s": [], "warmup_s": UNIT,
                 "framework_s": UNIT}


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 8, 9, 10, 15])
def test_median_ci_is_the_order_statistic_interval_of_its_coverage(n):
    """[x(k), x(n+1-k)] covers the median with probability 1 - 2 P(B <= k-1), B ~ Binomial(n, 1/2) (SciPy):
    the largest k that keeps it >= 95 %, or the range when no k does."""
    xs = [float(i) for i in range(n, 0, -1)]
    lo, hi, coverage = median_ci(xs)
    k = int(lo)
    assert hi == n + 1 - k and coverage == pytest.approx(1 - 2 * binom.cdf(k - 1, n, 0.5))
    wider = k + 1 <= (n + 1) // 2 and 1 - 2 * binom.cdf(k, n, 0.5) >= 0.95
    assert not wider and (coverage >= 0.95 or k == 1)
    assert math.isclose(coverage, 1 - 2**(1 - n)) if k == 1 else coverage >= 0.95


def test_the_results_file_keeps_a_timing_and_computes_its_statistics_again():
    """results.json (schema 4) writes the samples and leaves out what they give (median, IQR, repeats,
    the interval of the median): read back, each is the rounded samples' own."""
    from upconform.harness.results import TIMING_DIGITS, compact, lean_timing, load_results, round_sig

    clock = FakeClock([UNIT, 2 * UNIT, 3 * UNIT])
    _, t = time_call(clock.call, clock.sync, budget_s=1e6, clock=clock, calibration=CAL)
    r = {"case_id": "c", "op": "o", "binding": "b", "framework": "f", "dtype": "float32", "outcome": "pass",
         "timing": t}
    c = compact({"results": [r]})
    keys = c["shapes"][c["results"][0]["t"][0]]
    assert {"=median_s", "=iqr_s", "=repeats", "=ci_s", "number", "stopped", "resolution_s"} <= set(keys)
    back = load_results(c)["results"][0]["timing"]
    assert back == lean_timing(t) and back["samples_s"] == round_sig(t["samples_s"], TIMING_DIGITS)
    assert back["ci_s"] == list(median_ci(back["samples_s"])[:2]) and back["stopped"] == "max_samples"
