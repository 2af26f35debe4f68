"""Verdicts, comparison, expectations, discrepancy reports and the CLI, end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from upconform.harness import expectations as exp
from upconform.harness.compare import compare
from upconform.harness.discrepancy import run_discrepancy
from upconform.harness.results import load_results
from upconform.harness.runner import run_cases
from upconform.harness.spec import load_text

ROOT = Path(__file__).resolve().parents[1]
FAKE_SPEC = """\
op: repeat
defaults: {shapes: {x: [1, 2, 3]}, input: arange}
cases:
  - {id: ok, params: {repeats: 2}}
  - {id: offset, params: {repeats: 3}}
  - {id: boom, params: {repeats: 4}}
  - {id: never, params: {repeats: 5}}
"""


@pytest.fixture(scope="module")
def fake(fake_bindings):
    assert fake_bindings == ["fake.repeat", "fake.crashy"]
    return "fake.repeat"


def test_every_outcome(fake):
    cases, _ = load_text(FAKE_SPEC, "fake.yaml")
    by_id = {r.case_id: r for r in run_cases(cases, [fake])}
    assert by_id["repeat/ok[float32]"].outcome == "pass"
    off = by_id["repeat/offset[float32]"]
    assert off.outcome == "fail" and off.check == "values"
    assert off.metrics["max_abs_err"] == pytest.approx(0.5) and off.metrics["mismatch_fraction"] == 1.0
    assert "repeat/offset[float32] on fake.repeat" in off.message and "reproduce(" in off.message
    boom = by_id["repeat/boom[float32]"]
    assert boom.outcome == "error" and "fake.repeat exploded" in boom.reason
    never = by_id["repeat/never[float32]"]
    assert never.outcome == "unsupported" and "cannot repeat by 5" in never.reason
    assert by_id["repeat/ok[float32]"].timing["repeats"] >= 1


def test_expectations_turn_fail_into_xfail_and_pass_into_xpass(fake):
    cases, _ = load_text(FAKE_SPEC, "fake.yaml")
    expectations = [
        exp.Expectation("fake.repeat", ("repeat/offset*",), None, "fail", "known offset", "https://example.invalid/1", {}),
        exp.Expectation("fake.repeat", ("repeat/ok*",), None, "any", "was broken once", "", {}),
    ]
    by_id = {r.case_id: r for r in run_cases(cases, [fake], expectations=expectations)}
    assert by_id["repeat/offset[float32]"].outcome == "xfail"
    assert by_id["repeat/offset[float32]"].expectation["issue"] == "https://example.invalid/1"
    assert by_id["repeat/ok[float32]"].outcome == "xpass"
    assert by_id["repeat/boom[float32]"].outcome == "error"  # no entry for it


def test_compare_checks_in_order():
    e = np.array([1.0, np.nan, 3.0])
    assert compare(np.zeros(2, np.float32), e, "float32").check == "shape"
    assert compare(np.zeros(3, np.float64), e, "float32").check == "dtype"
    c = compare(np.float32([1, 2, 3]), e, "float32")
    assert c.check == "nonfinite" and "[1]" in c.message
    ok = compare(np.float32([1, np.nan, 3]), e, "float32")
    assert ok.ok
    c = compare(np.float16([1, np.nan, 3.01]), e, "float16")
    assert not c.ok and c.metrics["max_ulp"] == 5.0  # float16(3.01) = 3 + 5 * 2**-9
    assert c.metrics["worst_index"] == [2]


def test_uint8_allows_one_step():
    assert compare(np.uint8([3, 5]), np.array([3.4, 4.0]), "uint8").ok
    assert not compare(np.uint8([3, 7]), np.array([3.4, 5.0]), "uint8").ok


@pytest.mark.torch
@pytest.mark.tensorflow
def test_discrepancy_report_explains_a_trap():
    from upconform.harness.spec import load_files

    _, discs = load_files([ROOT / "specs" / "discrepancies.yaml"])
    d = next(x for x in discs if x.id == "resize/bicubic_port_x2")
    rep = run_discrepancy(d)
    assert [c["conforms"] for c in rep["calls"]] == [True, True]
    assert rep["calls"][0]["canonical"]["cubic_coeff_a"] == -0.75
    pair = rep["pairs"][0]
    assert not pair["agree"] and pair["max_abs_diff"] > 1e-2
    assert pair["differing_params"] == {"cubic_coeff_a": [-0.75, -0.5], "exclude_outside": [False, True]}


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "upconform", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


@pytest.mark.torch
def test_cli_run_writes_results(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("op: pixel_shuffle\ncases:\n  - {id: r2, params: {upscale_factor: 2}, shapes: {x: [1, 8, 2, 3]}}\n")
    p = _cli("run", str(spec), "--framework", "torch", "--out", str(tmp_path / "out"), "--expectations",
             str(tmp_path / "none.yaml"))
    assert p.returncode == 0, p.stderr
    data = load_results(tmp_path / "out" / "results.json")
    assert data["schema_version"] == 4 and data["provenance"]["torch"].startswith("2.")
    [r] = [r for r in data["results"] if r["binding"] == "torch.nn.functional.pixel_shuffle"]
    assert r["outcome"] == "pass" and r["case_id"] == "pixel_shuffle/r2[float32]"
    assert set(r["metrics"]) >= {"max_abs_err", "max_rel_err", "max_ulp", "mismatch_fraction"}
    assert r["timing"]["median_s"] > 0
    assert "torch" in p.stdout and "pixel_shuffle" in p.stdout


def test_cli_validate_reports_file_line_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("op: resize\ncases:\n  - id: a\n    params: {mode: bilnear}\n    shapes: {x: [1, 1, 2]}\n")
    p = _cli("validate", str(bad))
    assert p.returncode == 2
    assert f"{bad}:4: cases[0].params.mode: 'bilnear' is not one of" in p.stderr
    assert "Traceback" not in p.stderr


def test_cli_validate_default_suite():
    p = _cli("validate")
    assert p.returncode == 0, p.stderr


@pytest.mark.torch
@pytest.mark.tensorflow
def test_cli_explain():
    p = _cli("explain", "torch.nn.functional.interpolate", "scale_factor=2", "mode=bicubic", "align_corners=false")
    assert p.returncode == 0, p.stderr
    assert "cubic_coeff_a: -0.75" in p.stdout
    assert "no exact port; closest:" in p.stdout  # TF's bicubic is a = -0.5: measured, not "none"
    assert "tf.image.resize(x, size=[16, 16], method='bicubic')  (parameters differ (cubic_coeff_a -0.75 -> -0.5" \
        in p.stdout
    p = _cli("explain", "tf.image.resize", "size=[16,16]", "method=bilinear")
    assert "exact: torch.nn.functional.interpolate(x, size=[16, 16], mode='bilinear', align_corners=False)" in p.stdout


@pytest.mark.torch
def test_repro_snippet_runs(monkeypatch, capsys):
    from upconform.harness.runner import repro_snippet
    from upconform.harness.spec import load_files

    monkeypatch.chdir(ROOT)
    cases, _ = load_files(["specs/pixel_shuffle.yaml"])
    case = next(c for c in cases if c.id == "pixel_shuffle/shuffle_CRD_r2[float32]")
    exec(repro_snippet(case, "torch.nn.functional.pixel_shuffle"), {})  # noqa: S102 - our own snippet
    assert "all elements within tolerance" in capsys.readouterr().out


def test_unsupported_checks_are_decided_without_a_worker(fake, tmp_path):
    """An isolated run asks no worker about a check its translation rejects: no process starts for it,
    and the verdict is the one the worker would give."""
    from upconform.harness.runner import unsupported_here
    from upconform.harness.workers import Isolated

    cases, _ = load_text(FAKE_SPEC, "fake.yaml")
    never = [c for c in cases if c.id == "repeat/never[float32]"]
    assert unsupported_here(never[0], "fake.repeat") == "fake.repeat cannot repeat by 5"
    ex = Isolated(["fake_bindings:BINDINGS"], threads=1, log_dir=tmp_path)
    try:
        [r] = run_cases(never, ["fake.repeat"], executor=ex)
        assert r.outcome == "unsupported" and r.reason == "fake.repeat cannot repeat by 5"
        assert ex.workers == {}  # nothing was started for it
        [ok] = run_cases([c for c in cases if c.id == "repeat/ok[float32]"], ["fake.repeat"], executor=ex)
        assert ok.outcome == "pass" and set(ex.workers) == {"fake"}
    finally:
        ex.close()


def test_own_suite_framework_takes_only_the_cases_that_name_it(tmp_path):
    """A framework with suite="own" (per-shape compilation) skips the generic cases in a run that did not
    name it, and takes every case when --framework or --binding names it."""
    from upconform.adapters import load_adapter
    from upconform.harness.runner import checks_for
    from upconform.session import own_suite

    assert load_adapter("fake_bindings:OWN_SUITE") == ["ownfw.repeat"]
    cases, _ = load_text(FAKE_SPEC.replace("  - {id: never, params: {repeats: 5}}\n",
                                           "  - {id: named, params: {repeats: 2}, bindings: [ownfw.repeat]}\n"),
                         "fake.yaml")
    names = ["fake.repeat", "ownfw.repeat"]
    own = own_suite(None, None, names)
    assert own == ["ownfw"]
    generic, named = cases[0], cases[-1]
    assert checks_for(generic, names, None, own) == [("fake.repeat", "eager", "forward")]
    assert checks_for(named, names, None, own) == [("ownfw.repeat", "eager", "forward")]
    assert own_suite(None, ["ownfw"], names) == [] and own_suite(["ownfw.repeat"], None, names) == []
    assert ("ownfw.repeat", "eager", "forward") in checks_for(generic, names, None, own_suite(None, ["ownfw"], names))


def test_an_untimed_framework_runs_each_call_once_and_reports_no_time():
    """Framework(timed=False): the output is still checked, but the call is not repeated and no median is
    made up (reports and regressions skip it); a timed framework repeats as configured."""
    from upconform.adapters import load_adapter

    assert load_adapter("fake_bindings:UNTIMED") == ["untimedfw.repeat"]
    cases, _ = load_text(FAKE_SPEC, "fake.yaml")
    ok = [c for c in cases if c.id == "repeat/ok[float32]"]
    [r] = run_cases(ok, ["untimedfw.repeat"], max_repeats=5, timing_budget_s=1.0)
    assert r.outcome == "pass" and r.timing["repeats"] == 0 and r.timing["median_s"] is None
    assert r.timing["warmup_s"] > 0
    [t] = run_cases(ok, ["fake.repeat"], max_repeats=5, timing_budget_s=1.0)
    assert t.timing["repeats"] == 5 and t.timing["median_s"] > 0
