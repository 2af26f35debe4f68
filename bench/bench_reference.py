"""`make bench`: reference vs PyTorch (CPU, float32) timings side by side, then the default suite's
wall time and the harness overhead per check, all in one run.

Example:
    .venv/bin/python bench/bench_reference.py --repeats 7
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from upconform import reference as R
from upconform.harness.stats import median, quantile


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return median(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-suite", action="store_true", help="skip the default-suite timing")
    args = ap.parse_args()
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
    print(f"threads: torch {torch.get_num_threads()}; reference float64, PyTorch float32 CPU; "
          f"median of {args.repeats} after one warm-up")
    print(f"{'workload':44s} {'reference ms':>13s} {'torch ms':>10s} {'ratio':>7s} {'target':>7s}")
    for name, ref, tor in rows:
        tr = median_time(ref, args.repeats)
        tt = median_time(tor, args.repeats)
        ratio = tr / tt
        print(f"{name:44s} {tr * 1e3:13.2f} {tt * 1e3:10.2f} {ratio:7.2f} {'ok' if ratio <= 3 else '>3x':>7s}")
    if not args.no_suite:
        suite()


def suite() -> None:
    """Time `upconform run` on the default suite (framework start-up included) and split each
    check's wall time into framework compute, its share of the reference, and harness overhead."""
    import json
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    out = Path(tempfile.mkdtemp(prefix="upconform-bench-"))
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "upconform", "run", "--out", str(out), "--no-history"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    data = json.loads((out / "results.json").read_text())
    res = data["results"]
    over, ran = [], 0
    for r in res:
        t = r.get("timing") or {}
        if "check_wall_s" not in t:
            continue
        fw = t.get("framework_s") or 0.0
        ran += "framework_s" in t
        over.append(t["check_wall_s"] - fw - (t.get("reference_s") or 0.0))
    med = median(over) if over else float("nan")
    p90 = quantile(over, 0.9) if over else float("nan")
    print()
    print(f"{'default suite (upconform run, isolated workers)':52s} {'value':>12s} {'target':>9s}")
    print(f"{'checks (case x dtype x binding)':52s} {len(res):12d} {'>= 1000':>9s}")
    print(f"{'checks that ran a framework':52s} {ran:12d}")
    print(f"{'wall time, start-up and reports included (s)':52s} {wall:12.1f} {'<= 120':>9s}")
    print(f"{'harness overhead per check, median (ms)':52s} {med * 1e3:12.2f} {'<= 5':>9s}")
    print(f"{'harness overhead per check, 90th percentile (ms)':52s} {p90 * 1e3:12.2f}")
    print(f"(exit code {p.returncode}; results in {out})")


if __name__ == "__main__":
    main()
