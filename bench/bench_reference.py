"""`make bench`: reference vs PyTorch (CPU, float32) timings measured interleaved in one process, then the
default suite's wall time and the harness overhead per check, all in one run.

Each workload alternates reference and PyTorch samples in one loop (the first of each pair alternating
too), so that a change in the machine's load hits both; the row prints the ratio of the medians with a
95% confidence interval (paired bootstrap over the sample pairs) and flags it against the 3x target.

The table is measured twice, each time in a fresh process, under two OpenMP wait policies. PyTorch's
CPU kernels run on libgomp, whose idle threads busy-wait after every parallel region (300,000 spins
when OMP_WAIT_POLICY is unset: milliseconds; GCC's libgomp manual, GOMP_SPINCOUNT). Interleaved, that
spin runs during the next reference sample and takes one of the two cores from it. With
OMP_WAIT_POLICY=PASSIVE PyTorch's idle threads sleep at once, and each side is charged only for its own
work: the 3x target is judged on that table. The second table keeps the library's default for
comparison.

Example:
    .venv/bin/python bench/bench_reference.py --repeats 15 --no-suite --no-search
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

from upconform import reference as R
from upconform.harness.stats import median, quantile

TARGET = 3.0  # the bound on reference time / PyTorch time, per workload
# (value of OMP_WAIT_POLICY, or None to leave it unset; what the table means)
POLICIES = {
    "passive": ("PASSIVE", "OMP_WAIT_POLICY=PASSIVE: PyTorch's idle OpenMP threads sleep at once; the target is "
                           "judged on this table"),
    "default": (None, "OMP_WAIT_POLICY unset (libgomp's default: idle threads spin 300,000 times first), for "
                      "comparison"),
}


def interleaved(ref: Callable[[], object], tor: Callable[[], object], repeats: int) -> tuple[list[float], list[float]]:
    """``repeats`` timings of each of ``ref`` and ``tor``, taken in alternation (ref, tor, tor, ref, ...)
    after one warm-up of each.

    Example:
        >>> a, b = interleaved(lambda: None, lambda: None, 3)
        >>> len(a), len(b)
        (3, 3)
    """
    ref()
    tor()
    tr: list[float] = []
    tt: list[float] = []
    for k in range(repeats):
        for which in ((0, 1) if k % 2 == 0 else (1, 0)):
            fn, out = (ref, tr) if which == 0 else (tor, tt)
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return tr, tt


def ratio_ci(tr: list[float], tt: list[float], *, level: float = 0.95, draws: int = 2000,
             seed: int = 0) -> tuple[float, float, float]:
    """Ratio of medians ``median(tr) / median(tt)`` and its ``level`` confidence interval by the
    percentile bootstrap over the pairs ``(tr[k], tt[k])`` (resampled together: a pair shares the
    load it was measured under).

    Example:
        >>> ratio_ci([2.0, 2.0, 2.0], [1.0, 1.0, 1.0])
        (2.0, 2.0, 2.0)
    """
    a, b = np.asarray(tr), np.asarray(tt)
    k = np.random.default_rng(seed).integers(0, len(a), size=(draws, len(a)))
    boot = np.median(a[k], axis=1) / np.median(b[k], axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return median(tr) / median(tt), float(lo), float(hi)


def flag(ratio: float, lo: float, hi: float) -> str:
    """``ok`` / ``>3x`` by the ratio of medians; ``?`` when the confidence interval straddles 3x.

    Example:
        >>> flag(2.0, 1.5, 2.5), flag(2.9, 2.5, 3.4), flag(4.0, 3.5, 4.5)
        ('ok', 'ok?', '>3x')
    """
    word = "ok" if ratio <= TARGET else ">3x"
    return word + ("?" if lo <= TARGET < hi else "")


def blas_threads() -> str:
    """The thread count of the BLAS that NumPy loaded (OpenBLAS, asked through its own C API), or the
    environment variables that set it when that cannot be asked.

    Example:
        >>> isinstance(blas_threads(), str)
        True
    """
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
        for path in sorted(libs):
            lib = ctypes.CDLL(path)
            for sym in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                        "openblas_get_num_threads"):
                if hasattr(lib, sym):
                    return f"{int(getattr(lib, sym)())} (OpenBLAS)"
    except OSError:
        pass
    env = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ}
    return f"unknown ({env or 'no thread variables set'})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15, help="sample pairs per workload")
    ap.add_argument("--policy", choices=[*POLICIES, "both"], default="both",
                    help="OpenMP wait policy of the reference/PyTorch table (module docstring)")
    ap.add_argument("--no-suite", action="store_true", help="skip the default-suite timing")
    ap.add_argument("--no-search", action="store_true", help="skip the search throughput")
    ap.add_argument("--ratios-only", action="store_true", help=argparse.SUPPRESS)  # the child: this process's table
    args = ap.parse_args()
    if args.ratios_only:
        ratios(args.repeats)
        return
    for name in (POLICIES if args.policy == "both" else [args.policy]):
        value, meaning = POLICIES[name]
        env = dict(os.environ)
        if value is None:
            env.pop("OMP_WAIT_POLICY", None)
        else:
            env["OMP_WAIT_POLICY"] = value
        print(f"[{meaning}]", flush=True)
        subprocess.run([sys.executable, __file__, "--ratios-only", "--repeats", str(args.repeats)], env=env,
                       check=True)
        print(flush=True)
    if not args.no_suite:
        suite()
    if not args.no_search:
        search()


def ratios(repeats: int) -> None:
    """The reference/PyTorch table, measured in this process (its OpenMP settings are the caller's)."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 32, 128, 128))
    w = rng.normal(size=(32, 16, 4, 4))
    ps = rng.normal(size=(1, 64, 128, 128))
    xt, wt, pst = (torch.tensor(a, dtype=torch.float32) for a in (x, w, ps))
    rows = [
        ("resize linear 1x32x128x128 -> 256x256",
         lambda: R.resize(x, sizes=[1, 32, 256, 256], mode="linear"),
         lambda: F.interpolate(xt, size=(256, 256), mode="bilinear", align_corners=False)),
        ("resize cubic 1x32x128x128 -> 256x256",
         lambda: R.resize(x, sizes=[1, 32, 256, 256], mode="cubic"),
         lambda: F.interpolate(xt, size=(256, 256), mode="bicubic", align_corners=False)),
        ("resize nearest 1x32x128x128 -> 256x256",
         lambda: R.resize(x, sizes=[1, 32, 256, 256], mode="nearest", coordinate_transformation_mode="asymmetric",
                          nearest_mode="floor"),
         lambda: F.interpolate(xt, size=(256, 256), mode="nearest")),
        ("conv_transpose 1x32x128x128, 32->16 4x4 s2",
         lambda: R.conv_transpose(x, w, strides=2, pads=[1, 1, 1, 1]),
         lambda: F.conv_transpose2d(xt, wt, stride=2, padding=1)),
        ("pixel_shuffle 1x64x128x128 r=2",
         lambda: R.pixel_shuffle(ps, upscale_factor=2),
         lambda: F.pixel_shuffle(pst, 2)),
    ]
    from upconform.reference._common import _threads

    print(f"threads: torch {torch.get_num_threads()} (intra-op), NumPy BLAS {blas_threads()}, reference planes "
          f"{_threads()}; {os.cpu_count()} cores; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; "
          f"reference float64, PyTorch float32 CPU")
    print(f"interleaved in one process: {repeats} sample pairs after one warm-up each; ratio of medians, "
          f"95% CI by paired bootstrap; target <= {TARGET:g}x")
    print(f"{'workload':44s} {'reference ms':>13s} {'torch ms':>10s} {'ratio':>7s} {'95% CI':>13s} {'target':>7s}")
    for name, ref, tor in rows:
        tr, tt = interleaved(ref, tor, repeats)
        ratio, lo, hi = ratio_ci(tr, tt)
        print(f"{name:44s} {median(tr) * 1e3:13.2f} {median(tt) * 1e3:10.2f} {ratio:7.2f} "
              f"{f'[{lo:.2f}, {hi:.2f}]':>13s} {flag(ratio, lo, hi):>7s}", flush=True)


def suite() -> None:
    """Time `upconform run` on the default suite as `make run` runs it (``--jobs 2``: two frameworks at
    once; framework start-up and reports included), the seconds each (framework, path) lane spent, and
    each check's wall time split into framework compute, its share of the reference, and harness
    overhead."""
    import tempfile
    from pathlib import Path

    from upconform.harness.results import load_results

    out = Path(tempfile.mkdtemp(prefix="upconform-bench-"))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "upconform", "run", "--jobs", "2", "--out", str(out), "--no-history"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    data = load_results(out / "results.json")
    res = data["results"]
    over, ran = [], 0
    lanes: dict[str, list[float]] = {}
    for r in res:
        path = r.get("path") or "eager"
        lane = lanes.setdefault(r["framework"] + ("" if path == "eager" else f" [{path}]"), [0, 0.0])
        lane[0] += 1
        lane[1] += (r.get("timing") or {}).get("check_wall_s") or 0.0
        t = r.get("timing") or {}
        if "check_wall_s" not in t:
            continue
        fw = t.get("framework_s") or 0.0
        ran += "framework_s" in t
        over.append(t["check_wall_s"] - fw - (t.get("reference_s") or 0.0))
    med = median(over) if over else float("nan")
    p90 = quantile(over, 0.9) if over else float("nan")
    print()
    print(f"{'default suite (upconform run --jobs 2, isolated workers)':52s} {'value':>12s} {'target':>9s}")
    print(f"{'checks (case x dtype x binding)':52s} {len(res):12d} {'>= 1000':>9s}")
    print(f"{'checks that ran a framework':52s} {ran:12d}")
    print(f"{'wall time, start-up and reports included (s)':52s} {wall:12.1f} {'<= 90':>9s}")
    print(f"{'harness overhead per check, median (ms)':52s} {med * 1e3:12.2f} {'<= 5':>9s}")
    print(f"{'harness overhead per check, 90th percentile (ms)':52s} {p90 * 1e3:12.2f}")
    for name, (n, secs) in sorted(lanes.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name + ': checks, seconds of checks':50s} {n:6d} {secs:5.1f}")
    print(f"(exit code {p.returncode}; results in {out})")


def search() -> None:
    """Search throughput: examples per second per framework (isolated workers, small shapes), the
    torch resize figure against its target of 50/s on 2 cores."""
    from upconform.adapters import get, registry
    from upconform.harness.search import run_search
    from upconform.harness.workers import Isolated

    print()
    print(f"{'upconform search, 200 examples per binding (seed 0)':52s} {'examples/s':>12s} {'target':>9s}")
    by_fw: dict[str, list[tuple[int, float]]] = {}
    executor = Isolated([], 1)
    try:
        # start each framework's worker first: its import is start-up, not search throughput
        for fw in sorted({get(n).framework for n in registry()}):
            first = next(n for n in registry() if get(n).framework == fw)
            run_search([first], executor=executor, max_examples=1)
        rep = run_search(["torch.nn.functional.interpolate"], executor=executor, max_examples=200)
        n, secs = sum(rep.examples.values()), sum(rep.seconds.values())
        print(f"{'torch.nn.functional.interpolate (resize, repeat)':52s} {n / secs:12.0f} {'>= 50':>9s}")
        for name in registry():
            r = run_search([name], executor=executor, max_examples=60)
            by_fw.setdefault(get(name).framework, []).append((sum(r.examples.values()), sum(r.seconds.values())))
    finally:
        executor.close()
    for fw, xs in sorted(by_fw.items()):
        n, secs = sum(a for a, _ in xs), sum(b for _, b in xs)
        print(f"{'all ' + fw + ' bindings':52s} {n / max(secs, 1e-9):12.0f}")


if __name__ == "__main__":
    main()
