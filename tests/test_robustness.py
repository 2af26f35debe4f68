"""The runner survives the frameworks it tests, refuses what it cannot hold, and loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from upconform.harness.results import load_results
from upconform.harness.spec import SpecError, load_text

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}


def upconform(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "upconform", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env or ENV, timeout=timeout)


def _spec(tmp_path, cases: str, name="s.yaml") -> Path:
    p = tmp_path / name
    p.write_text("op: repeat\ndefaults: {shapes: {x: [1, 2, 3]}, input: arange}\ncases:\n" + cases)
    return p


def _results(out: Path) -> dict:
    return {(r["case_id"], r["binding"]): r for r in load_results(out / "results.json")["results"]}


def test_crash_and_timeout_are_outcomes_and_nothing_else_is_lost(tmp_path):
    spec = _spec(tmp_path, "  - {id: a, params: {repeats: 2}}\n  - {id: exits, params: {repeats: 6}}\n"
                           "  - {id: b, params: {repeats: 3}}\n  - {id: segv, params: {repeats: 7}}\n"
                           "  - {id: hangs, params: {repeats: 8}}\n  - {id: c, params: {repeats: 2}}\n")
    out = tmp_path / "out"
    p = upconform("run", str(spec), "--adapter", "fake_bindings:BINDINGS", "--binding", "fake.crashy",
                  "--timeout", "3", "--out", str(out), "--no-history", "--expectations", str(tmp_path / "none"))
    assert p.returncode == 1, p.stderr
    r = _results(out)
    oc = {k[0]: v["outcome"] for k, v in r.items()}
    assert oc == {"repeat/a[float32]": "pass", "repeat/exits[float32]": "crash", "repeat/b[float32]": "pass",
                  "repeat/segv[float32]": "crash", "repeat/hangs[float32]": "timeout", "repeat/c[float32]": "pass"}
    assert "exited with code 3" in r[("repeat/exits[float32]", "fake.crashy")]["reason"]
    assert "SIGSEGV" in r[("repeat/segv[float32]", "fake.crashy")]["reason"]
    assert "no answer within 3 s" in r[("repeat/hangs[float32]", "fake.crashy")]["reason"]
    assert len((out / "results.jsonl").read_text().splitlines()) == 6


def test_memory_budget_refuses_without_allocating(tmp_path):
    spec = _spec(tmp_path, "  - {id: huge, params: {repeats: 4}, shapes: {x: [64, 512, 1024, 1024]}}\n")
    t0 = time.perf_counter()
    p = upconform("run", str(spec), "--binding", "torch.repeat_interleave", "--out", str(tmp_path / "o"),
                  "--no-history")
    assert p.returncode == 2
    assert f"{spec}:4: shapes: repeat/huge[float32] needs about" in p.stderr and "MiB" in p.stderr
    assert time.perf_counter() - t0 < 60 and not (tmp_path / "o" / "results.json").exists()


def _interrupt_then_resume(tmp_path, n_cases: int, run_args: list[str], n_checks: int, at_least: int):
    """Start a run, SIGTERM it once ``at_least`` checks are on disk, check it says how to resume (exit 130, no
    traceback), resume it; returns (checks done before the stop, the finished results.json)."""
    cases = "".join(f"  - {{id: c{i}, params: {{repeats: 2}}}}\n" for i in range(n_cases))
    spec = _spec(tmp_path, cases)
    out = tmp_path / "out"
    env = {**ENV, "UPCONFORM_FAKE_SLEEP": "0.1"}
    args = ["run", str(spec), *run_args, "--out", str(out), "--no-history", "--timing-budget", "0", "--expectations",
            str(tmp_path / "none")]
    proc = subprocess.Popen([sys.executable, "-m", "upconform", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    jsonl = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < at_least):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    done = len(jsonl.read_text().splitlines())
    assert at_least <= done < n_checks and not (out / "results.json").exists()
    p = upconform(*args, "--resume", str(out), env=env)
    assert p.returncode == 0, p.stderr
    data = load_results(out / "results.json")
    assert len(data["results"]) == n_checks and {r["outcome"] for r in data["results"]} == {"pass"}
    assert len(jsonl.read_text().splitlines()) == n_checks  # only the missing checks ran again
    return done, data


def test_interrupted_run_resumes_and_completes(tmp_path):
    done, data = _interrupt_then_resume(tmp_path, 30, ["--adapter", "fake_bindings:BINDINGS", "--binding",
                                                       "fake.crashy"], n_checks=30, at_least=5)
    assert data["provenance"]["flags"]["resumed_checks"] == done


def test_interrupted_parallel_run_stops_cleanly_and_resumes(tmp_path):
    """--jobs 2: SIGTERM while two frameworks' checks are in flight in two lanes; the run says how to
    resume (exit 130, no traceback from the lanes and the closing workers), and the resumed run completes."""
    done, data = _interrupt_then_resume(
        tmp_path, 20, ["--adapter", "fake_bindings:BINDINGS", "--adapter", "path_bindings", "--binding", "fake.crashy",
                       "--binding", "fakepath.repeat", "--jobs", "2"], n_checks=40, at_least=6)
    assert data["provenance"]["flags"]["resumed_checks"] == done and data["provenance"]["flags"]["jobs"] == 2


@pytest.mark.torch
def test_shards_merge_to_the_unsharded_run(tmp_path):
    spec = ROOT / "specs" / "pixel_shuffle.yaml"
    common = ["--framework", "torch", "--no-history", "--no-discrepancies", "--timing-budget", "0"]
    full, s1, s2, merged = (tmp_path / n for n in ("full", "s1", "s2", "merged"))
    assert upconform("run", str(spec), *common, "--out", str(full)).returncode == 0
    assert upconform("run", str(spec), *common, "--shard", "1/2", "--out", str(s1)).returncode == 0
    assert upconform("run", str(spec), *common, "--shard", "2/2", "--out", str(s2)).returncode == 0
    a, b = _results(s1), _results(s2)
    assert a and b and not (a.keys() & b.keys())
    p = upconform("merge", str(s1), str(s2), "--out", str(merged), "--no-history")
    assert p.returncode == 0, p.stderr
    m, f = _results(merged), _results(full)
    assert {k: v["outcome"] for k, v in m.items()} == {k: v["outcome"] for k, v in f.items()}
    assert (merged / "index.html").exists() and (merged / "junit.xml").exists()


def test_outputs_stay_in_the_output_directory(tmp_path):
    spec = _spec(tmp_path, "  - {id: ..., params: {repeats: 2}}\n  - {id: ..x, params: {repeats: 2}}\n")
    out = tmp_path / "deep" / "out"
    p = upconform("run", str(spec), "--adapter", "fake_bindings:BINDINGS", "--binding", "fake.repeat", "--out",
                  str(out), "--no-history", "--no-isolation")
    assert p.returncode == 0, p.stderr
    written = {q.relative_to(tmp_path) for q in tmp_path.rglob("*") if q.is_file()}
    assert written == {Path("s.yaml"), *(Path("deep/out") / n for n in
                                         ("results.json", "results.jsonl", "index.html", "junit.xml"))}


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=True),
                         st.text(max_size=12))
yaml_trees = st.recursive(yaml_scalars, lambda ch: st.lists(ch, max_size=4) | st.dictionaries(
    st.sampled_from(["op", "cases", "id", "params", "shapes", "x", "w", "mode", "dtypes", "matrix", "defaults",
                     "input", "seed", "tolerance", "bindings", "discrepancies", "calls", "repeats", "sizes"])
    | st.text(max_size=6), ch, max_size=5), max_leaves=20)


@given(st.one_of(st.text(max_size=300), yaml_trees.map(lambda t: json.dumps(t)),
                 yaml_trees.map(lambda t: "op: resize\ncases:\n  - " + json.dumps(t))))
def test_garbage_specs_give_located_errors_never_tracebacks(text):
    try:
        load_text(text, "g.yaml")
    except SpecError as e:
        assert e.problems
        for f, line, _field, msg in e.problems:
            assert f == "g.yaml" and isinstance(line, int) and line >= 1 and msg


def test_cuda_device_when_available(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    spec = _spec(tmp_path, "  - {id: a, params: {repeats: 2}}\n")
    p = upconform("run", str(spec), "--binding", "torch.repeat_interleave", "--device", "cuda", "--out",
                  str(tmp_path / "o"), "--no-history")
    assert p.returncode == 0, p.stderr
    [r] = _results(tmp_path / "o").values()
    assert r["device"] == "cuda" and r["outcome"] == "pass"
