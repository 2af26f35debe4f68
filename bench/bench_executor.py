"""`make bench` (BENCH_EXECUTOR=0 skips it): the Ray executor's overhead on the default suite. Runs
`upconform run --no-history --jobs 2` with the local executor and with `--executor ray` (a fresh local
Ray instance each time, its start-up inside the measured time), interleaved, then Ray's start-up
alone (ray.init to a first actor answering) and whether both runs give every check the same outcome.

Example:
    .venv/bin/python bench/bench_executor.py --repeat 2
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from upconform.harness.results import load_results
from upconform.harness.stats import median


def run_suite(out: Path, extra: list[str], jobs: int) -> tuple[float, dict[str, Any], int]:
    """Wall seconds of the whole command, its results.json, its exit code."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "upconform", "run", "--no-history", "--jobs", str(jobs), "--out",
                        str(out), *extra], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if not (out / "results.json").exists():
        raise SystemExit(f"upconform run {' '.join(extra)} wrote no results.json (exit {p.returncode}):\n"
                         f"{p.stderr[-3000:]}")
    return wall, load_results(out / "results.json"), p.returncode


def outcomes(data: dict[str, Any]) -> dict[tuple[str, str, str, str], str]:
    return {(r["case_id"], r["binding"], r.get("path") or "eager", r.get("direction") or "forward"): r["outcome"]
            for r in data["results"]}


def call_outcomes(data: dict[str, Any]) -> dict[tuple[str, int], Any]:
    """A discrepancy call's outcomes: forward, backward."""
    return {(d["id"], i): (c.get("outcome"), (c.get("backward") or {}).get("outcome"))
            for d in data.get("discrepancies", []) for i, c in enumerate(d.get("calls", []))}


def ray_startup() -> dict[str, float]:
    """Seconds to import Ray, to start a local instance as the executor does, for a first actor to
    answer, and to shut the instance down."""
    t0 = time.perf_counter()
    import ray

    from upconform.harness.ray_executor import UpconformWorker, start_ray

    t1 = time.perf_counter()
    start_ray(ray, None)
    t2 = time.perf_counter()
    actor = ray.remote(UpconformWorker).options(num_cpus=0).remote("none", [], 1, None, {}, None)
    ray.get(actor.ping.remote())
    t3 = time.perf_counter()
    ray.shutdown()
    t4 = time.perf_counter()
    return {"import": t1 - t0, "init": t2 - t1, "first_actor": t3 - t2, "shutdown": t4 - t3}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs of each executor, interleaved (default 1)")
    ap.add_argument("--jobs", type=int, default=2, help="--jobs of both runs (default 2, as `make run`)")
    ap.add_argument("--out", help="keep the runs' outputs here (default: a temporary folder)")
    args = ap.parse_args()
    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="upconform-bench-executor-"))
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    last: dict[str, dict[str, Any]] = {}
    codes: dict[str, int] = {}
    for rep in range(args.repeat):
        order = ["local", "ray"] if rep % 2 == 0 else ["ray", "local"]
        for name in order:
            extra = ["--executor", "ray"] if name == "ray" else []
            wall, data, code = run_suite(root / f"{name}-{rep + 1}", extra, args.jobs)
            walls[name].append(wall)
            last[name], codes[name] = data, code
            print(f"run {rep + 1} {name:5s}: {wall:6.1f} s wall, {data['duration_s']:6.1f} s in the run "
                  f"(exit {code})", file=sys.stderr)
    start = ray_startup()
    loc, ray_ = median(walls["local"]), median(walls["ray"])
    print()
    print(f"default suite, upconform run --no-history --jobs {args.jobs} ({args.repeat} run(s) each, interleaved; "
          "median)")
    print(f"{'local s':>9s} {'ray s':>9s} {'overhead s':>11s} {'overhead %':>11s}")
    print(f"{loc:9.1f} {ray_:9.1f} {ray_ - loc:11.1f} {100 * (ray_ - loc) / loc:11.1f}")
    if args.repeat > 1:
        print("each run: local " + ", ".join(f"{w:.1f}" for w in walls["local"]) + "; ray "
              + ", ".join(f"{w:.1f}" for w in walls["ray"]))
    print(f"Ray start-up alone: import {start['import']:.1f} s, ray.init {start['init']:.1f} s, first actor "
          f"answering {start['first_actor']:.1f} s (ray.init to first actor {start['init'] + start['first_actor']:.1f} s); "
          f"shutdown {start['shutdown']:.1f} s")
    a, b = outcomes(last["local"]), outcomes(last["ray"])
    differ = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    print(f"checks: {len(a)} local, {len(b)} ray; {len(differ)} with a different outcome")
    for k in differ[:20]:
        print(f"  {' :: '.join(k)}: local {a.get(k)}, ray {b.get(k)}")
    ca, cb = call_outcomes(last["local"]), call_outcomes(last["ray"])
    print(f"discrepancy calls: {len(ca)} local, {len(cb)} ray; "
          f"{sum(ca.get(k) != cb.get(k) for k in ca.keys() | cb.keys())} with a different verdict")
    ray_flags = last["ray"]["provenance"]["flags"].get("ray") or {}
    starts = {k: v.get("starts") for k, v in (ray_flags.get("actors") or {}).items()}
    print(f"Ray actors started: {sum(s or 0 for s in starts.values())} for {len(starts)} workers; "
          f"{ray_flags.get('evictions', 0)} killed to make room; exit codes local {codes['local']}, ray {codes['ray']}")
    print(f"(outputs in {root})")


if __name__ == "__main__":
    main()
