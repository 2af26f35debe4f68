"""results.json (schema 4): the compact file expands to the schema-3 result dicts; older files still load;
the default suite's file stays small."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from upconform.harness.results import (
    METRIC_DIGITS,
    RESULT_DEFAULTS,
    RESULT_FIELDS,
    TIMING_DIGITS,
    compact,
    dumps_lines,
    lean_result,
    load_results,
)
from upconform.harness.runner import Result
from upconform.session import Options, Session

ROOT = Path(__file__).resolve().parents[1]

SPEC = """\
op: repeat
defaults:
  shapes: {x: [1, 2, 3, 4]}
  checks: [forward, backward]
  dtypes: [float32, float16]
  backward_tolerance: {float32: {rtol: 0.001, atol: 0.001, reason: gradients sum}}
cases:
  - {id: ok, params: {repeats: 2}}
  - {id: offset, params: {repeats: 3}}
  - {id: known, params: {repeats: 3}, dtypes: [float32]}
  - {id: boom, params: {repeats: 4}}
  - {id: nope, params: {repeats: 5}}
  - {id: loose, params: {repeats: 2}, tolerance: {float32: {rtol: 0.01, atol: 0.01, reason: loose on purpose}}}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory, fake_bindings_module) -> tuple[dict, Path]:
    """A real in-process run: fake.repeat (pass, fail, xfail, error, unsupported; forward and backward)
    and, where PyTorch is installed, the repeat and pixel_shuffle specs under it (paths off eager
    included); returns the run's own (full) data and its output folder."""
    out = tmp_path_factory.mktemp("lean")
    spec = out / "fake.yaml"
    spec.write_text(SPEC)
    known = out / "known.yaml"
    known.write_text("- {binding: fake.repeat, cases: ['repeat/known*'], outcome: fail, reason: planted offset}\n")
    specs, frameworks = [str(spec)], ["fake"]
    try:
        import torch  # noqa: F401

        specs += [str(ROOT / "specs/repeat.yaml"), str(ROOT / "specs/pixel_shuffle.yaml")]
        frameworks.append("torch")
    except ImportError:
        pass
    s = Session(Options(specs=specs, frameworks=frameworks, isolation=False, out=out, history=None,
                        discrepancies=False, expectations=str(known), timing_budget=0.002))
    return s.run(progress=False), out


@pytest.fixture(scope="module")
def fake_bindings_module() -> list[str]:
    from upconform.adapters import load_adapter

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    return load_adapter("fake_bindings:BINDINGS")


def test_fields_are_the_result_dataclass():
    """The compact form's field list and defaults are ``Result``'s, so that a new field is not lost."""
    assert RESULT_FIELDS == tuple(f.name for f in fields(Result))
    for f in fields(Result):
        if f.name in RESULT_DEFAULTS:
            default = f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc]
            assert RESULT_DEFAULTS[f.name] == default, f.name
        else:
            assert f.default is MISSING and f.default_factory is MISSING, f.name


def _close(a, b, digits: int) -> bool:
    """``a`` equals ``b`` up to rounding to ``digits`` significant digits (recursively)."""
    if isinstance(a, float) and isinstance(b, float) and math.isfinite(b):
        return abs(a - b) <= 0.6 * 10.0 ** (1 - digits) * abs(b) + 1e-300
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], digits) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, digits) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def test_a_real_run_round_trips(run):
    data, out = run
    written = json.loads((out / "results.json").read_text())
    assert written["schema_version"] == 4 and "cases" in written and "keys" in written
    loaded = load_results(out / "results.json")
    results = data["results"]
    outcomes = {r["outcome"] for r in results}
    assert {"pass", "fail", "xfail", "error", "unsupported"} <= outcomes
    assert {r["direction"] for r in results} == {"forward", "backward"}
    # exactly the documented rounding of the run's own results, every field in Result's order
    assert loaded["results"] == [lean_result(r) for r in results]
    assert all(list(r)[:len(RESULT_FIELDS)] == list(RESULT_FIELDS) for r in loaded["results"])
    assert {k: v for k, v in loaded.items() if k != "results"} == {k: v for k, v in data.items() if k != "results"}
    for full, lean in zip(results, loaded["results"]):
        for k in RESULT_FIELDS:
            if k == "timing":  # the IQR is the rounded samples': within their rounding
                t, f = dict(lean[k]), dict(full[k])
                if "iqr_s" in f:
                    assert abs(t.pop("iqr_s") - f.pop("iqr_s")) <= 1e-3 * max(f["samples_s"])
                for cal in ("resolution_s", "overhead_s"):  # the timer's calibration: 2 digits
                    if cal in f:
                        assert _close(t.pop(cal), f.pop(cal), 2), (full["case_id"], cal)
                assert _close(t, f, TIMING_DIGITS), (full["case_id"], k)
            elif k in ("metrics", "gradients", "vs_eager") and full["outcome"] == "pass":
                assert _close(lean[k], full[k], METRIC_DIGITS), (full["case_id"], k)
            elif k != "diff_map":
                assert lean[k] == full[k], (full["case_id"], full["binding"], k)
    fail = next(r for r in loaded["results"] if r["outcome"] == "fail" and r["direction"] == "forward")
    assert fail["repro"].startswith("from upconform.harness.repro import reproduce") and fail["diff_map"]
    assert "repro:\n" + fail["repro"] in fail["message"]  # the regenerated snippet is the one the run printed
    xfail = next(r for r in loaded["results"] if r["outcome"] == "xfail")
    assert xfail["expectation"]["reason"] == "planted offset"
    tols = {(r["case_id"], r["direction"]): r["tolerance"] for r in loaded["results"] if r["binding"] == "fake.repeat"}
    assert tols["repeat/loose[float32]", "forward"] == {"rtol": 0.01, "atol": 0.01, "reason": "loose on purpose"}
    assert tols["repeat/ok[float32]", "backward"] == {"rtol": 0.001, "atol": 0.001, "reason": "gradients sum"}
    assert tols["repeat/ok[float32]", "forward"] == {"rtol": 1.3e-06, "atol": 1e-05}
    timed = [r["timing"] for r in loaded["results"] if r["timing"].get("samples_s")]
    from upconform.harness.stats import iqr, median, median_ci

    assert timed and all(t["median_s"] == median(t["samples_s"]) and t["iqr_s"] == iqr(t["samples_s"])
                         and t["repeats"] == len(t["samples_s"]) and t["ci_s"] == list(median_ci(t["samples_s"])[:2])
                         for t in timed)


def test_compact_is_stable_and_small(run):
    """Writing what was read writes the same file (merge re-writes shards without drift); one line per
    result; an unsupported check costs a few dozen bytes."""
    data, out = run
    text = (out / "results.json").read_text()
    c = json.loads(text)
    assert compact(load_results(c)) == c
    lines = text.splitlines()
    start = lines.index(' "results": [')
    assert len(lines) > start + len(data["results"]) and all(lines[start + 1 + i].startswith("  {")
                                                             for i in range(len(data["results"])))
    rows = [json.loads(line.rstrip(",")) for line in lines[start + 1:start + 1 + len(data["results"])]]
    unsupported = [len(json.dumps(r, separators=(",", ":"))) for r, full in zip(rows, data["results"])
                   if full["outcome"] == "unsupported"]
    assert unsupported and max(unsupported) < 90
    full = len(dumps_lines(data).encode())
    assert len(text.encode()) < full / 3


def test_every_field_survives_odd_values():
    """Values off the usual path: a tolerance other than the case's, a device, a repro written by hand, an
    unknown field, NaN written as text, notes, an empty vs_eager, a gradient without figures."""
    base = {f: RESULT_DEFAULTS.get(f) for f in RESULT_FIELDS}
    base.update(case_id="repeat/a[float32]", op="repeat", binding="b", framework="f", dtype="float32",
                outcome="pass", source="specs/x.yaml:4", canonical={"repeats": [2, 2]}, tolerance={"rtol": 1e-6})
    odd = [
        {**base},
        {**base, "tolerance": {"rtol": 0.5}, "device": "cuda", "native": {"r": 2}, "native_call": "b(x, 2)",
         "repro": "print('by hand')", "extra_field": [1, {"a": None}], "notes": ["n1", "n2"],
         "metrics": {"max_ulp": "nan", "total": 0, "mismatch_count": 0, "mismatch_fraction": 0.0}, "vs_eager": {}},
        {**base, "direction": "backward", "path": "onnx", "outcome": "fail", "check": "gradients",
         "gradients": {"x": {"ok": False, "check": "missing"}}, "message": "m", "classification": {"kind": "k"},
         "audit": {"status": "same"}, "timing": {"median_s": None, "samples_s": []}},
        {**base, "outcome": "xpass", "expectation": {"reason": "r"}, "native": {"r": 2}, "native_call": "b(x, 2)",
         "metrics": {"mismatch_count": 1, "total": 3, "mismatch_fraction": 0.25}, "deprecated": "use c"},
    ]
    c = compact({"schema_version": 3, "provenance": {"p": 1}, "results": odd})
    back = load_results(json.loads(dumps_lines(c, tight=True)))
    assert back["results"] == [lean_result(r) for r in odd] and back["provenance"] == {"p": 1}
    assert back["results"][1]["repro"] == "print('by hand')" and back["results"][1]["extra_field"] == [1, {"a": None}]
    assert back["results"][3]["metrics"]["mismatch_fraction"] == 0.25  # not the 1/3 it would be computed as
    assert back["results"][3]["repro"] == "" and c["results"][3]["repro"] == ""  # kept: not the derived snippet
    assert c["results"][0] == {"c": 0, "b": 0, "o": "pass"}


def test_older_files_load_as_they_are(tmp_path):
    old = {"schema_version": 3, "provenance": {}, "results": [{"case_id": "c", "binding": "b", "outcome": "pass"}]}
    p = tmp_path / "results.json"
    p.write_text(json.dumps(old))
    assert load_results(p) == old and load_results(tmp_path) == old  # a file or its folder
    p.write_text('{"schema_version": 4, "cases": [], "results": [{"c": 3, "b": 0}]}')
    with pytest.raises(ValueError, match="broken table"):
        load_results(p)


def test_commands_read_the_compact_file(run, tmp_path):
    """compare, report and merge read the compact file; merge writes one again."""
    data, out = run
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "upconform", "compare", str(out / "results.json"),
                        str(out / "results.json")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert p.returncode == 0 and "regressions: 0" in p.stdout, p.stdout + p.stderr
    from upconform import cli

    assert cli.main(["report", str(out / "results.json"), "-o", str(tmp_path / "r.html")]) == 0
    assert "repeat/offset[float32]" in (tmp_path / "r.html").read_text()
    code = cli.main(["merge", str(out), "--out", str(tmp_path / "m"), "--no-history"])
    assert code == 1  # the planted fail and error
    merged = load_results(tmp_path / "m")
    assert merged["results"] == load_results(out)["results"]


@pytest.mark.slow
def test_the_default_suite_file_is_under_5_mb(tmp_path):
    """The default suite (every installed framework, discrepancy reports included) in under 5 MB."""
    p = subprocess.run([sys.executable, "-m", "upconform", "run", "--jobs", "2", "--no-history", "--out",
                        str(tmp_path)], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode in (0, 1), p.stderr[-2000:]
    size = (tmp_path / "results.json").stat().st_size
    data = load_results(tmp_path / "results.json")
    assert len(data["results"]) > 10_000 and data["discrepancies"]
    assert size < 5_000_000, f"{size} bytes for {len(data['results'])} checks"
