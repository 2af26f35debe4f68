"""Why `make bench` measures PyTorch under OMP_WAIT_POLICY=PASSIVE: the reference's time on linear resize
(1x32x128x128 -> 256x256) alone, and interleaved with PyTorch's under libgomp's default wait policy,
with PyTorch on one thread, under OMP_WAIT_POLICY=PASSIVE and under GOMP_SPINCOUNT=0, each setting in a
fresh process (libgomp reads them at start-up). Medians of 20 pairs.

Example:
    .venv/bin/python bench/bench_omp_spin.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

SETTINGS = [  # (label, environment changes, PyTorch threads; None: reference alone)
    ("reference alone", {}, None),
    ("PyTorch with 2 threads, libgomp default", {}, 2),
    ("PyTorch with 1 thread", {}, 1),
    ("OMP_WAIT_POLICY=PASSIVE", {"OMP_WAIT_POLICY": "PASSIVE"}, 2),
    ("GOMP_SPINCOUNT=0", {"GOMP_SPINCOUNT": "0"}, 2),
]


def child(threads: int) -> None:
    """Print the medians (ms) of the reference and of PyTorch (0 when threads is 0), interleaved."""
    import torch
    import torch.nn.functional as F

    from upconform import reference as R

    x = np.random.default_rng(0).normal(size=(1, 32, 128, 128))
    xt = torch.tensor(x, dtype=torch.float32)

    def ref() -> object:
        return R.resize(x, sizes=[1, 32, 256, 256], mode="linear")

    def tor() -> object:
        return F.interpolate(xt, size=(256, 256), mode="bilinear", align_corners=False)

    other = tor if threads else (lambda: None)
    if threads:
        torch.set_num_threads(threads)
    ref()
    other()
    tr, to = [], []
    for _ in range(20):
        t0 = time.perf_counter()
        ref()
        tr.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        other()
        to.append(time.perf_counter() - t0)
    print(f"{np.median(tr) * 1e3:.2f} {np.median(to) * 1e3 if threads else 0:.2f}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
        return
    print(f"{'setting':42s} {'reference ms':>13s} {'PyTorch ms':>11s}")
    for label, changes, threads in SETTINGS:
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
        env.update(changes)
        out = subprocess.run([sys.executable, __file__, "--child", str(threads or 0)], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        ref_ms, tor_ms = float(out[0]), float(out[1])
        print(f"{label:42s} {ref_ms:13.2f} {tor_ms if threads else float('nan'):11.2f}")


if __name__ == "__main__":
    main()
