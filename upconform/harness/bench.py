"""Scaling benchmarks (``upconform bench``): what a case moves, the machine's memory bandwidth measured
at run time, and the log-log slope of time against bytes.

A bench case's bytes moved are its input tensors (x, and w and b of a transposed convolution; for
max_unpool x is the pooling input) plus its output, at the case's dtype: what a call must at least read
and write once. The bandwidth is that of a large array copy (``numpy.copyto``, best of 3, with as many
threads as each framework was given), counted the same way (bytes read + bytes written), so
``bytes_moved / bandwidth`` is the time a call that only moved its bytes once would take on this machine.

Example:
    >>> fit_slope([1e3, 1e4, 1e5], [2e-6, 2e-5, 2e-4])[0]
    1.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from ..canonical import np_dtype, op_info

AXES = ("spatial", "channels", "batch")  # what a bench case sweeps: the first word of its spec id


def case_sizes(case: Any) -> dict[str, Any]:
    """``{"in": bytes, "out": bytes, "axis": swept axis or ""}`` of a case, from its shapes alone.

    Example:
        >>> from types import SimpleNamespace as S
        >>> case_sizes(S(op="repeat", name="batch_4", normal={"repeats": [2, 2]}, shapes={"x": (4, 3, 8, 8)},
        ...              dtype="float32"))
        {'in': 3072, 'out': 12288, 'axis': 'batch'}
    """
    size = np_dtype(case.dtype).itemsize
    inputs = sum(math.prod(s) for s in case.shapes.values())
    out = math.prod(op_info(case.op).output_shape(case.normal, case.shapes))
    axis = case.name.split("_")[0]
    return {"in": size * inputs, "out": size * out, "axis": axis if axis in AXES else ""}


def measure_bandwidth(nbytes: int = 256 << 20, repeats: int = 3, threads: int = 1) -> float:
    """Bytes per second copied (read + written) between two ``nbytes`` arrays by ``threads`` threads (each
    ``numpy.copyto`` on its own slice; NumPy releases the GIL): the best of ``repeats`` copies, both
    arrays touched before timing.

    Example:
        >>> measure_bandwidth(1 << 20, 2) > 1e8
        True
    """
    import numpy as np

    src = np.ones(nbytes // 8, dtype=np.float64)
    dst = np.zeros_like(src)
    parts = [(d, s) for d, s in zip(np.array_split(dst, threads), np.array_split(src, threads))]
    pool = None
    if threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(threads)
    best = math.inf
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            if pool is None:
                np.copyto(dst, src)
            else:
                list(pool.map(lambda p: np.copyto(*p), parts))
            best = min(best, time.perf_counter() - t)
    finally:
        if pool is not None:
            pool.shutdown()
    return 2 * src.nbytes / best


def bandwidth_time(bytes_moved: float, bandwidth_Bps: float) -> float:
    """Seconds to move ``bytes_moved`` at ``bandwidth_Bps``: the bound a point is drawn against.

    Example:
        >>> bandwidth_time(2e9, 1e10)
        0.2
    """
    return bytes_moved / bandwidth_Bps


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares line through ``(log10 x, log10 y)``: (slope, intercept); ``y = 10**b * x**slope``.
    ValueError with fewer than two distinct ``x``.

    Example:
        >>> fit_slope([1.0, 10.0, 100.0], [3.0, 30.0 * 10, 300.0 * 100])
        (2.0, 0.4771)
    """
    lx = [math.log10(x) for x in xs]
    ly = [math.log10(y) for y in ys]
    if len(set(lx)) < 2:
        raise ValueError("a slope needs two distinct x values")
    mx, my = math.fsum(lx) / len(lx), math.fsum(ly) / len(ly)
    sxx = math.fsum((x - mx) ** 2 for x in lx)
    slope = math.fsum((x - mx) * (y - my) for x, y in zip(lx, ly)) / sxx
    return round(slope, 4), round(my - slope * mx, 4)


class Point(NamedTuple):
    """One timed bench check: the bytes its case moves, its median time, the axis its case sweeps."""

    bytes_moved: int
    seconds: float
    axis: str
    case_id: str


def scaling_points(results: Iterable[Mapping[str, Any]], sizes: Mapping[str, Mapping[str, Any]]
                   ) -> dict[str, dict[str, list[Point]]]:
    """``{op: {binding: [Point, ...]}}`` of the eager forward checks with a median time whose case has
    recorded sizes (``sizes``: ``{case_id: case_sizes(case)}``), points by bytes moved.

    Example:
        >>> r = {"case_id": "c", "op": "o", "binding": "b", "timing": {"median_s": 1e-3}}
        >>> scaling_points([r], {"c": {"in": 10, "out": 40, "axis": "batch"}})
        {'o': {'b': [Point(bytes_moved=50, seconds=0.001, axis='batch', case_id='c')]}}
    """
    out: dict[str, dict[str, list[Point]]] = {}
    for r in results:
        if (r.get("path") or "eager") != "eager" or (r.get("direction") or "forward") != "forward":
            continue
        t = (r.get("timing") or {}).get("median_s")
        s = sizes.get(r["case_id"])
        if not isinstance(t, (int, float)) or not s or t <= 0:
            continue
        out.setdefault(r["op"], {}).setdefault(r["binding"], []).append(
            Point(int(s["in"]) + int(s["out"]), float(t), s.get("axis", ""), r["case_id"]))
    return {op: {b: sorted(ps) for b, ps in sorted(series.items())} for op, series in sorted(out.items())}
