"""The Ray executor (``upconform run --executor ray``): check by check the outcomes of local worker
processes, a crash or a hang as the check's outcome with the actor replaced, an interrupted run that
keeps every finished check and resumes, and one-line usage errors. One local Ray instance (2 CPUs)
serves the module's in-process tests."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from upconform.harness.results import load_results
from upconform.session import Interrupted, Options, Session, UsageError

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (pip install 'upconform[ray]')")
pytestmark = pytest.mark.ray
# actors import upconform from this checkout and the tests' adapters (fake_bindings) through PYTHONPATH
PYTHONPATH = os.pathsep.join([str(ROOT), str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])])

FAKE_SPEC = """op: repeat
defaults: {shapes: {x: [1, 2, 3]}, input: arange}
cases:
  - {id: a, params: {repeats: 2}}
  - {id: fails, params: {repeats: 3}}
  - {id: raises, params: {repeats: 4}}
  - {id: refused, params: {repeats: 5}}
  - {id: exits, params: {repeats: 6}}
  - {id: b, params: {repeats: 2}}
  - {id: segv, params: {repeats: 7}}
  - {id: hangs, params: {repeats: 8}}
  - {id: c, params: {repeats: 2}}
"""

RESIZE_SPEC = """op: resize
defaults: {dtypes: [float32, float16], shapes: {x: [1, 2, 5, 7]}, input: normal, seed: 7, checks: [forward, backward]}
cases:
  - id: "{mode}_{coordinate_transformation_mode}"
    params: {sizes: [1, 2, 9, 12]}
    matrix:
      mode: [linear, cubic]
      coordinate_transformation_mode: [half_pixel, align_corners, asymmetric]
  - id: "nearest_{nearest_mode}"
    params: {mode: nearest, coordinate_transformation_mode: asymmetric, sizes: [1, 2, 10, 14]}
    input: arange
    matrix:
      nearest_mode: [floor, round_prefer_ceil]
"""


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance of 2 CPUs for the module (start-up costs seconds). An executor finds it
    initialised and keeps it: it is not the executor's own, so its actors ask for ``threads`` CPUs."""
    if not HAS_RAY:
        pytest.skip("Ray is not installed (pip install 'upconform[ray]')")
    import ray

    from upconform.harness.ray_executor import RAY_ENV, restore_env, start_ray

    before = {k: os.environ.get(k) for k in RAY_ENV}
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = PYTHONPATH  # the instance's workers inherit it
    try:
        start_ray(ray, None, num_cpus=2)
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old
    yield ray
    ray.shutdown()
    restore_env(before)  # later tests' subprocesses see the environment they would have seen


def _outcomes(data: dict) -> dict[tuple[str, str, str, str], str]:
    return {(r["case_id"], r["binding"], r["path"], r["direction"]): r["outcome"] for r in data["results"]}


def _run(tmp_path: Path, name: str, **kw) -> dict:
    o = Options(out=tmp_path / name, history=None, discrepancies=False, timing_budget=0.0, **kw)
    return Session(o).run(progress=False)


@needs_ray
@pytest.mark.torch
@pytest.mark.tensorflow
def test_same_outcomes_as_local_worker_processes(ray_instance, tmp_path):
    """pixel_shuffle.yaml and a resize spec on PyTorch and TensorFlow, forward and backward: every check's
    outcome under Ray is the local run's. Threads 2 on the 2-CPU instance: one actor fits at a time,
    so the second lane's actor is placed by killing the first (its lane done)."""
    pytest.importorskip("torch")
    pytest.importorskip("tensorflow")
    resize = tmp_path / "resize_small.yaml"
    resize.write_text(RESIZE_SPEC)
    common = dict(specs=[str(ROOT / "specs" / "pixel_shuffle.yaml"), str(resize)], frameworks=["torch", "tensorflow"],
                  checks=["forward", "backward"], expectations=ROOT / "specs" / "expectations.yaml", threads=2)
    local = _run(tmp_path, "local", **common)
    ray_run = _run(tmp_path, "ray", executor="ray", **common)
    a, b = _outcomes(local), _outcomes(ray_run)
    assert len(a) == len(b) == 512 + 16 * 26
    assert {k for k in a if a[k] != b[k]} == set()
    counts = {o: list(a.values()).count(o) for o in set(a.values())}
    assert counts["pass"] > 200 and counts["unsupported"] > 200 and counts.get("xfail", 0) + counts.get("fail", 0) > 0
    assert {r["direction"] for r in ray_run["results"] if r["outcome"] == "pass"} == {"forward", "backward"}
    flags = ray_run["provenance"]["flags"]
    assert (flags["executor"], flags["address"], flags["jobs"]) == ("ray", None, 1)
    actors = flags["ray"]["actors"]
    assert set(actors) == {"torch", "tensorflow"} and all(v["starts"] == 1 for v in actors.values())
    assert flags["ray"]["evictions"] == 1  # the first lane's actor made room for the second's
    assert sorted(p.name for p in (tmp_path / "ray" / "logs").glob("*.log")) == ["tensorflow.log", "torch.log"]


def _fake_spec(tmp_path: Path) -> Path:
    p = tmp_path / "fake.yaml"
    p.write_text(FAKE_SPEC)
    return p


@needs_ray
def test_a_binding_that_kills_its_actor_is_a_crash_and_nothing_else_is_lost(ray_instance, tmp_path, fake_bindings):
    """fake.crashy exits (os._exit(3)), segfaults and hangs on chosen cases: those checks are crash, crash and
    timeout, naming the actor; every other check has the local run's outcome (pass, fail, error,
    unsupported), the actor replaced each time (later checks of the framework pass)."""
    common = dict(specs=[str(_fake_spec(tmp_path))], bindings=["fake.repeat", "fake.crashy"], expectations=None,
                  adapters=["fake_bindings:BINDINGS"], timeout=3.0, threads=1)
    local = _run(tmp_path, "local", **common)
    ray_run = _run(tmp_path, "ray", executor="ray", **common)
    assert _outcomes(ray_run) == _outcomes(local)
    oc = {(k[0].split("/")[1].split("[")[0], k[1]): v for k, v in _outcomes(ray_run).items()}
    assert oc == {**{(c, b): "pass" for c in "abc" for b in ("fake.repeat", "fake.crashy")},
                  ("fails", "fake.repeat"): "fail", ("fails", "fake.crashy"): "pass",
                  ("raises", "fake.repeat"): "error", ("raises", "fake.crashy"): "pass",
                  ("refused", "fake.repeat"): "unsupported", ("refused", "fake.crashy"): "pass",
                  ("exits", "fake.repeat"): "pass", ("exits", "fake.crashy"): "crash",
                  ("segv", "fake.repeat"): "pass", ("segv", "fake.crashy"): "crash",
                  ("hangs", "fake.repeat"): "pass", ("hangs", "fake.crashy"): "timeout"}
    reasons = {r["case_id"]: r["reason"] for r in ray_run["results"] if r["binding"] == "fake.crashy"}
    for case in ("repeat/exits[float32]", "repeat/segv[float32]"):
        assert reasons[case].startswith("the fake actor died during this check (pid ")
        assert reasons[case].endswith("); replaced")
    assert "SIGSEGV in its log" in reasons["repeat/segv[float32]"]  # Ray names no signal; the actor's log does
    assert reasons["repeat/hangs[float32]"] == "no answer within 3 s; the fake actor was killed and replaced"
    assert ray_run["provenance"]["flags"]["ray"]["actors"]["fake"]["starts"] == 4  # first, after exits, segv, hangs
    assert len((tmp_path / "ray" / "results.jsonl").read_text().splitlines()) == 18


@needs_ray
def test_timeout_then_the_next_call_and_close(ray_instance, fake_bindings):
    """The executor itself: a call past its timeout kills the actor; the next call starts another and
    answers; a handler that raises is an error with its traceback; after close every call is a crash."""
    import numpy as np

    from upconform.harness.ray_executor import RayExecutor
    from upconform.harness.spec import load_text
    from upconform.harness.workers import case_to_wire

    cases, _ = load_text("op: repeat\ndefaults: {shapes: {x: [1, 1, 2]}}\ncases:\n  - {id: h, params: {repeats: 8}}\n"
                         "  - {id: ok, params: {repeats: 2}}\n")
    x = np.arange(2, dtype=np.float32).reshape(1, 1, 2)
    ex = RayExecutor(["fake_bindings:BINDINGS"], threads=1)
    assert not ex.started_ray  # the module's instance stays up
    try:
        t0 = time.perf_counter()
        hang = ex.call("fake.crashy", "check", {"case": case_to_wire(cases[0]), "binding": "fake.crashy",
                                                "tensors": {"x": x}}, timeout=2)
        assert hang == {"status": "timeout", "reason": "no answer within 2 s; the fake actor was killed and replaced"}
        assert time.perf_counter() - t0 < 60
        ok = ex.call("fake.crashy", "check", {"case": case_to_wire(cases[1]), "binding": "fake.crashy",
                                              "tensors": {"x": x}}, timeout=30)
        assert ok["status"] == "ok" and ok["actual"].tolist() == [[[0.0, 0.0, 1.0, 1.0]]]
        assert ok["actual"].flags.writeable
        bad = ex.call("fake.crashy", "nosuch", {}, timeout=30)
        assert bad["status"] == "error" and bad["reason"] == "KeyError: 'nosuch'" and "Traceback" in bad["traceback"]
        assert ex.describe()["actors"]["fake"]["starts"] == 2
    finally:
        ex.close()
    assert ex.call("fake.crashy", "warmup", {"binding": "fake.crashy"}) == {"status": "crash",
                                                                            "reason": "the run was stopped"}
    assert ray_instance.is_initialized()


@needs_ray
def test_interrupt_keeps_finished_checks_and_resume_completes(ray_instance, tmp_path, fake_bindings):
    spec = tmp_path / "many.yaml"
    spec.write_text("op: repeat\ndefaults: {shapes: {x: [1, 2, 3]}, input: arange}\ncases:\n"
                    + "".join(f"  - {{id: c{i}, params: {{repeats: 2}}}}\n" for i in range(12)))
    opts = dict(specs=[str(spec)], bindings=["fake.repeat"], expectations=None, adapters=["fake_bindings:BINDINGS"],
                executor="ray", out=tmp_path / "out", history=None, discrepancies=False, timing_budget=0.0)
    seen = []

    def stop_after_five(r):
        seen.append(r)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as e:
        Session(Options(**opts)).run(progress=False, on_result=stop_after_five)
    jsonl = tmp_path / "out" / "results.jsonl"
    assert e.value.completed == 5 and len(jsonl.read_text().splitlines()) == 5
    assert not (tmp_path / "out" / "results.json").exists()
    data = Session(Options(**opts, resume=True)).run(progress=False)
    assert len(data["results"]) == 12 and {r["outcome"] for r in data["results"]} == {"pass"}
    assert data["provenance"]["flags"]["resumed_checks"] == 5
    assert len(jsonl.read_text().splitlines()) == 12  # only the missing checks ran again


@needs_ray
def test_sigterm_through_the_cli_keeps_finished_checks_and_resume_completes(tmp_path):
    """`upconform run --executor ray` with its own local instance: SIGTERM (ray.init replaces the handler;
    the executor puts the session's back) exits 130 with every finished check on disk; --resume completes."""
    spec = tmp_path / "many.yaml"
    spec.write_text("op: repeat\ndefaults: {shapes: {x: [1, 2, 3]}, input: arange}\ncases:\n"
                    + "".join(f"  - {{id: c{i}, params: {{repeats: 2}}}}\n" for i in range(20)))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, "UPCONFORM_FAKE_SLEEP": "0.2"}
    args = [sys.executable, "-m", "upconform", "run", str(spec), "--adapter", "fake_bindings:BINDINGS", "--binding",
            "fake.crashy", "--executor", "ray", "--out", str(out), "--no-history", "--timing-budget", "0",
            "--expectations", str(tmp_path / "none")]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jsonl = out / "results.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 3):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    done = len(jsonl.read_text().splitlines())
    assert 3 <= done < 20 and not (out / "results.json").exists()
    p = subprocess.run([*args, "--resume", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    data = load_results(out / "results.json")
    assert len(data["results"]) == 20 and {r["outcome"] for r in data["results"]} == {"pass"}
    assert data["provenance"]["flags"]["resumed_checks"] == done
    assert data["provenance"]["flags"]["ray"]["address"] == "local"


def _main(argv: list[str], capsys) -> tuple[int, list[str]]:
    from upconform.cli import main

    try:
        code = main(argv)
    except SystemExit as e:  # a usage error found while the session is built
        code = e.code
    return code, capsys.readouterr().err.strip().splitlines()


def test_missing_ray_is_a_one_line_usage_error(monkeypatch, tmp_path, capsys):
    from upconform.harness.ray_executor import RayExecutor, RayUnavailable

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(RayUnavailable, match=r"^--executor ray needs the ray extra: pip install 'upconform\[ray\]'$"):
        RayExecutor([], 1)
    with pytest.raises(UsageError, match="needs the ray extra"):
        Session(Options(specs=[str(_fake_spec(tmp_path))], executor="ray", out=None, expectations=None))
    code, err = _main(["run", str(_fake_spec(tmp_path)), "--executor", "ray", "--out", str(tmp_path / "o"),
                       "--no-history"], capsys)
    assert (code, err) == (2, ["upconform: --executor ray needs the ray extra: pip install 'upconform[ray]'"])
    assert not (tmp_path / "o").exists()


def test_executor_usage_errors_are_one_line(tmp_path, capsys):
    spec = str(_fake_spec(tmp_path))
    code, err = _main(["run", spec, "--executor", "ray", "--no-isolation", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("upconform: --executor ray runs every framework in a "
                                                              "Ray actor: it cannot be combined with --no-isolation")
    code, err = _main(["run", spec, "--address", "auto", "--out", str(tmp_path / "o")], capsys)
    assert (code, err) == (2, ["upconform: --address names a Ray cluster: it needs --executor ray"])
    with pytest.raises(UsageError, match="--executor: 'dask' is not one of local, ray"):
        Session(Options(specs=[spec], executor="dask", out=None, expectations=None))
    assert not (tmp_path / "o").exists()


def test_a_cluster_that_refuses_the_driver_is_one_line_naming_the_token():
    """A cluster with token authentication refuses a driver without its token: the one line says what to set."""
    from upconform.harness.ray_executor import RayUnavailable, start_ray

    class Refusing:
        def init(self, **kw):
            try:
                raise RuntimeError("Failed to connect to GCS. ... RPC error: InvalidAuthToken: Authentication token "
                                   "is missing or incorrect")
            except RuntimeError as e:
                raise ConnectionError(f"Failed to connect to Ray cluster at {kw['address']}") from e

    with pytest.raises(RayUnavailable) as e:
        start_ray(Refusing(), "10.0.0.1:6379")
    assert str(e.value) == ("--address 10.0.0.1:6379: no Ray cluster answered (ConnectionError: Failed to connect to Ray "
                            "cluster at 10.0.0.1:6379); the cluster wants its token: RAY_AUTH_MODE=token and "
                            "RAY_AUTH_TOKEN=... (`ray get-auth-token` where it was started)")
