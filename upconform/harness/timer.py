"""The timer of one native call (framework-free: it takes the call and a sync, both without arguments).

The method, in order (README "How a check is timed"):

1. **Warm-up**: one call, synced and timed (``warmup_s``); its output is the one returned (and compared).
2. **Calibration**, once per process and clock (:func:`calibrate`): the clock's resolution (the smallest
   step two successive reads show, at least the nominal one) and the fixed cost of one sample around an
   empty call (two clock reads, an empty call). Per timing, the sync's own cost on an idle device is added.
3. **Sizing**: ``number``, the calls per sample, grown until ``resolution_s + overhead_s`` is below
   ``precision`` (1 %) of a sample with a ``margin`` (1.5x: a later sample may be shorter than the one that
   sized it); the first sample that meets it is kept.
4. **Samples** of ``number`` calls each, the sync called **once per sample, after the inner loop**: with an
   asynchronous device the calls of one sample queue up and overlap with the host's dispatch, so a sample
   measures throughput (what a model doing these calls back to back sees), not one call's latency (that would
   need a sync after every call, and its cost inside every figure). With ``number == 1`` the two coincide.
   A sample's figure is its time divided by ``number`` (per call).
5. **Stopping**: after at least ``min_samples``, as soon as the ``level`` (95 %) confidence interval of
   the median (:func:`.stats.median_ci`: order statistics, distribution-free; 6 samples at least for 95 %) is
   narrower than ``rel_ci`` (5 %) of the median on either side (``stopped == "ci"``); or when ``budget_s``
   is spent (``"budget"``: no sample starts after it, so the last one may end past it, as before this timer;
   the budget wins over ``min_samples``, but one sample is always taken); or at ``max_samples``
   (``"max_samples"``, at most :data:`MAX_SAMPLES`).

Example (a fake clock: the call takes 2**-10 s, nothing else takes any time):
    >>> now = [0.0]
    >>> def call():
    ...     now[0] += 2**-10
    ...     return 42
    >>> out, t = time_call(call, clock=lambda: now[0], budget_s=1.0, calibration=Calibration(1e-9, 1e-7))
    >>> out, t["number"], t["repeats"], t["median_s"] == 2**-10, t["stopped"]
    (42, 1, 6, True, 'ci')
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from .stats import iqr, median, median_ci

Clock = Callable[[], float]

MAX_SAMPLES = 10  # results.json stores every sample (samples_s): keep them few (the file stays under 5 MB)


class Calibration(NamedTuple):
    """The clock's resolution and the fixed cost of one sample (two clock reads around an empty call)."""

    resolution_s: float
    overhead_s: float


_CALIBRATIONS: dict[Clock, Calibration] = {}


def calibrate(clock: Clock = time.perf_counter) -> Calibration:
    """:func:`measure_calibration` of ``clock``, measured once per process (then cached).

    Example:
        >>> c = calibrate()
        >>> c is calibrate() and 0 < c.resolution_s < 1e-3 and 0 < c.overhead_s < 1e-3
        True
    """
    c = _CALIBRATIONS.get(clock)
    if c is None:
        c = _CALIBRATIONS[clock] = measure_calibration(clock)
    return c


def measure_calibration(clock: Clock = time.perf_counter, *, reads: int = 200) -> Calibration:
    """The resolution: the smallest positive step between two successive reads of ``clock`` (at least
    the nominal resolution of ``time.perf_counter`` when that is the clock; a coarse clock is read until it
    steps). The overhead: the median of ``reads // 4`` samples of an empty call (the clock read twice around it).

    Example:
        >>> c = measure_calibration()
        >>> c.resolution_s >= time.get_clock_info("perf_counter").resolution
        True
    """
    steps: list[float] = []
    prev, n = clock(), 0
    while len(steps) < reads // 10 and n < 100 * reads:
        t = clock()
        n += 1
        if t > prev:
            steps.append(t - prev)
        prev = t
    nominal = time.get_clock_info("perf_counter").resolution if clock is time.perf_counter else 0.0
    resolution = max(min(steps), nominal) if steps else max(nominal, 1e-9)

    def empty() -> None:
        return None

    costs = []
    for _ in range(max(3, reads // 4)):
        t0 = clock()
        empty()
        costs.append(clock() - t0)
    return Calibration(resolution, max(median(costs), 0.0))


def time_call(call: Callable[[], Any], sync: Callable[[], Any] = lambda: None, *, budget_s: float,
              max_samples: int = MAX_SAMPLES, min_samples: int = 5, rel_ci: float = 0.05, level: float = 0.95,
              precision: float = 0.01, margin: float = 1.5, timed: bool = True, clock: Clock = time.perf_counter,
              calibration: Calibration | None = None) -> tuple[Any, dict[str, Any]]:
    """Warm up, size, sample and stop as the module docstring says; returns the warm-up's output and the
    timing: ``median_s``, ``iqr_s`` (of ``samples_s``, per call), ``repeats`` (the number of samples),
    ``samples_s``, ``warmup_s``, ``framework_s`` (every second spent in the call: warm-up, sizing,
    samples), ``number``, ``ci_s`` ([lo, hi] of the median, :func:`.stats.median_ci` at ``level``),
    ``resolution_s``, ``overhead_s`` (the calibration's, plus the least of 3 idle syncs) and ``stopped`` ("ci", "budget",
    "max_samples"). ``timed=False``: the warm-up only (no samples, ``median_s`` None).

    Example:
        >>> out, t = time_call(lambda: sum(range(100)), budget_s=0.05)
        >>> out, t["repeats"] == len(t["samples_s"]) <= 10, t["stopped"] in ("ci", "budget", "max_samples")
        (4950, True, True)
    """
    max_samples = min(max_samples, MAX_SAMPLES)
    t0 = clock()
    out = call()
    sync()
    warm = clock() - t0
    if not timed or max_samples < 1:
        return out, {"median_s": None, "iqr_s": 0.0, "repeats": 0, "samples_s": [], "warmup_s": warm,
                     "framework_s": warm}
    cal = calibration or calibrate(clock)
    start = clock()
    idle = []
    for _ in range(3):  # the sync on an idle device (its least of 3): paid once per sample
        t = clock()
        sync()
        idle.append(clock() - t)
    overhead = cal.overhead_s + min(idle)
    floor = cal.resolution_s + overhead

    def sample(number: int) -> float:
        t = clock()
        for _ in range(number):
            call()
        sync()
        return clock() - t

    number = 1
    s = spent = sample(1)
    while s * precision < margin * floor:  # too short: more calls per sample (if the budget has room for them)
        more = max(2 * number, math.ceil(number * margin * floor / (precision * max(s, cal.resolution_s))))
        if clock() - start + s * more / number > budget_s:
            break
        number = more
        s = sample(number)
        spent += s
    samples = [s / number]
    stopped = "max_samples"
    while True:
        n = len(samples)
        if n >= min_samples:
            lo, hi, coverage = median_ci(samples, level)
            if coverage >= level and hi - lo <= 2 * rel_ci * median(samples):
                stopped = "ci"
                break
        if n >= max_samples:
            break
        if clock() - start >= budget_s:
            stopped = "budget"
            break
        s = sample(number)
        spent += s
        samples.append(s / number)
    lo, hi, _ = median_ci(samples, level)
    return out, {"median_s": median(samples), "iqr_s": iqr(samples), "repeats": len(samples), "samples_s": samples,
                 "warmup_s": warm, "framework_s": warm + spent, "number": number, "ci_s": [lo, hi],
                 "resolution_s": cal.resolution_s, "overhead_s": overhead, "stopped": stopped}
