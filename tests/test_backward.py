"""Backward checks in the harness: identity, verdicts, tolerance scale, expectations, reports, discrepancy
gradients. The framework is the planted numpy binding of tests/fake_bindings.py (its gradient is the
block sum of the cotangent; ``grad_scale`` plants a gradient-only fault)."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from upconform.adapters import get
from upconform.canonical import cotangent, expected_gradients
from upconform.harness import expectations as exp
from upconform.harness.compare import compare
from upconform.harness.results import check_key, check_label
from upconform.harness.runner import run_cases
from upconform.harness.spec import SpecError, load_text
from upconform.reports import history, junit
from upconform.reports.regress import compare_runs

SPEC = """\
op: repeat
defaults: {shapes: {x: [1, 2, 3, 4]}, checks: [forward, backward], dtypes: [float32, float64]}
cases:
  - {id: ok, params: {repeats: 2}}
  - {id: offset, params: {repeats: 3}}
  - {id: boom, params: {repeats: 4}}
  - {id: ints, params: {repeats: 2}, dtypes: [uint8]}
  - {id: half, params: {repeats: 2}, dtypes: [float16]}
  - {id: forward_only, params: {repeats: 2}, checks: [forward]}
"""


@pytest.fixture(scope="module")
def fake(fake_bindings):
    return "fake.repeat"


def _by_key(results):
    return {(r.case_id, r.direction): r for r in results}


def test_backward_checks_are_checks_of_their_own(fake):
    cases, _ = load_text(SPEC, "bw.yaml")
    res = run_cases(cases, [fake])
    by = _by_key(res)
    assert len(res) == len({(r.case_id, r.binding, r.path, r.direction) for r in res})
    ok = by[("repeat/ok[float32]", "backward")]
    assert ok.outcome == "pass" and ok.gradients["x"]["ok"] and ok.metrics["grad"] == "x"
    assert ok.timing["repeats"] >= 1 and check_label(ok.to_json()) == "fake.repeat [backward]"
    assert check_key(ok.to_json()) == ("repeat/ok[float32]", fake, "eager", "backward")
    # repeats 3: both the output (+0.5) and the gradient (x1.5) are wrong, each in its own check
    off = by[("repeat/offset[float64]", "backward")]
    assert off.outcome == "fail" and off.reason.startswith("d/dx: mismatched elements")
    assert "gradient with respect to x" in off.message and "direction='backward'" in off.repro
    assert by[("repeat/offset[float64]", "forward")].outcome == "fail"
    boom = by[("repeat/boom[float32]", "backward")]
    assert boom.outcome == "error" and "backward exploded" in boom.reason
    assert by[("repeat/ints[uint8]", "backward")].outcome == "unsupported"
    assert "uint8" in by[("repeat/ints[uint8]", "backward")].reason
    assert by[("repeat/ints[uint8]", "forward")].outcome == "pass"
    half = by[("repeat/half[float16]", "backward")]
    assert half.outcome == "unsupported" and "no gradient in float16" in half.reason
    assert ("repeat/forward_only[float32]", "backward") not in by


def test_a_gradient_only_fault_fails_backward_and_passes_forward(fake):
    cases, _ = load_text(SPEC, "bw.yaml")
    b = get(fake)
    b.grad_scale = 1.0 + 1e-4
    try:
        by = _by_key(run_cases([c for c in cases if c.id == "repeat/ok[float32]"], [fake]))
    finally:
        b.grad_scale = 1.0
    assert by[("repeat/ok[float32]", "forward")].outcome == "pass"
    bw = by[("repeat/ok[float32]", "backward")]
    assert bw.outcome == "fail" and bw.check == "values" and bw.metrics["mismatch_count"] > 0


def test_reference_gradient_of_repeat_is_the_block_sum():
    cases, _ = load_text(SPEC, "bw.yaml")
    c = next(c for c in cases if c.id == "repeat/ok[float64]")
    y = cotangent(c, (1, 2, 6, 8))
    g = expected_gradients(c, {"x": np.zeros((1, 2, 3, 4))}, y.astype(np.float64))["x"]
    assert g[0, 1, 2, 3] == pytest.approx(y[0, 1, 4:6, 6:8].sum(), abs=1e-15)


def test_gradient_tolerance_follows_the_terms_of_a_sum_that_cancels():
    # expected 0 = 1e4 - 1e4 in float32: an error of a few float32 ULPs of 1e4 fails against |expected| alone
    # and is within rtol of the sum of |terms|
    actual, expected = np.float32([2e-3]), np.array([0.0])
    assert not compare(actual, expected, "float32").ok
    c = compare(actual, expected, "float32", scale=np.array([2e4]))
    assert c.ok
    assert not compare(np.float32([1.0]), expected, "float32", scale=np.array([2e4])).ok


def test_expectations_name_their_direction(fake, tmp_path):
    cases, _ = load_text(SPEC, "bw.yaml")
    only = [c for c in cases if c.id == "repeat/offset[float32]"]
    backward_entry = exp.Expectation(fake, ("repeat/offset*",), None, "fail", "known gradient bug", "", {},
                                     checks=("backward",))
    by = _by_key(run_cases(only, [fake], expectations=[backward_entry]))
    assert by[("repeat/offset[float32]", "backward")].outcome == "xfail"
    assert by[("repeat/offset[float32]", "forward")].outcome == "fail"  # a gradient entry says nothing of forward
    f = tmp_path / "e.yaml"
    f.write_text(f"- binding: {fake}\n  cases: 'repeat/*'\n  reason: r\n  checks: [sideways]\n")
    with pytest.raises(SpecError, match=r"e.yaml:4: \[0\].checks: 'sideways' is not one of \['forward', 'backward'\]"):
        exp.load(f)
    f.write_text(f"- binding: {fake}\n  cases: 'repeat/*'\n  reason: r\n  checks: [backward]\n")
    assert exp.load(f)[0].checks == ("backward",)


def test_spec_checks_are_validated_with_file_and_line():
    bad = "op: repeat\ncases:\n  - {id: a, params: {repeats: 2}, shapes: {x: [1, 1, 2]}, checks: [forward, sideways]}\n"
    with pytest.raises(SpecError) as e:
        load_text(bad, "bad.yaml")
    assert "bad.yaml:3" in str(e.value) and "checks" in str(e.value) and "sideways" in str(e.value)


def test_reports_history_and_compare_keep_the_direction(fake, tmp_path):
    cases, _ = load_text(SPEC, "bw.yaml")
    results = [r.to_json() for r in run_cases(cases, [fake])]
    data = {"schema_version": 3, "provenance": {}, "results": results}
    root = ET.fromstring(junit.to_junit(data))
    classes = {c.get("classname") for c in root.findall(".//testcase")}
    assert {"fake.repeat", "fake.repeat [backward]"} <= classes
    db = tmp_path / "h.sqlite"
    history.append(db, data, "r.json")
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT direction, count(*) FROM checks GROUP BY direction").fetchall()
    assert dict(rows) == {"forward": sum(r["direction"] == "forward" for r in results),
                          "backward": sum(r["direction"] == "backward" for r in results)}
    # a verdict change in a backward check is reported as that check's, not the forward one's
    new = json.loads(json.dumps(data))
    r = next(r for r in new["results"] if r["case_id"] == "repeat/ok[float32]" and r["direction"] == "backward")
    r["outcome"] = "fail"
    ch = compare_runs(data, new)
    assert [(c["case_id"], c["direction"], c["label"]) for c in ch["outcome_changes"]] == [
        ("repeat/ok[float32]", "backward", "fake.repeat [backward]")]
    assert ch["regressions"] == 1


def test_discrepancy_reports_compare_gradients(fake):
    text = """\
op: repeat
discrepancies:
  - id: grads
    shape: [1, 1, 2, 3]
    checks: [forward, backward]
    calls:
      - {binding: fake.repeat, args: {repeats: [2]}}
      - {binding: fake.repeat, args: {repeats: [2]}}
"""
    from upconform.harness.discrepancy import run_discrepancy, summary_lines

    _, [d] = load_text(text, "d.yaml")
    b = get(fake)
    rep = run_discrepancy(d)
    assert [c["backward"]["outcome"] for c in rep["calls"]] == ["pass", "pass"]
    assert rep["pairs"][0]["backward"]["agree"] and rep["pairs"][0]["backward"]["max_abs_diff"] == 0.0
    b.grad_scale = 1.25  # both calls' gradients are now wrong by the same factor: they agree with each other
    try:
        rep = run_discrepancy(d)
    finally:
        b.grad_scale = 1.0
    assert [c["backward"]["outcome"] for c in rep["calls"]] == ["fail", "fail"]
    assert rep["pairs"][0]["agree"] and rep["pairs"][0]["backward"]["agree"]
    assert any("gradients: fail, do not conform" in line for line in summary_lines(rep))
    # two bindings that agree on the output and not on the gradient: the pair says so
    _, [d2] = load_text(text.rsplit("      - {binding: fake.repeat", 1)[0]
                        + "      - {binding: fake.crashy, args: {repeats: [2]}}\n", "d.yaml")
    b.grad_scale = 1.25
    try:
        rep = run_discrepancy(d2)
    finally:
        b.grad_scale = 1.0
    assert [c["binding"] for c in rep["calls"]] == ["fake.repeat", "fake.crashy"]
    assert [c["backward"]["outcome"] for c in rep["calls"]] == ["fail", "pass"]
    pair = rep["pairs"][0]
    assert pair["agree"] and not pair["backward"]["agree"]
    assert pair["backward"]["note"] == "the calls agree on the output and differ on the gradients: x"


def test_backward_tolerance_applies_to_gradients_only(fake):
    text = SPEC.replace("dtypes: [float32, float64]}", "dtypes: [float32, float64],\n  backward_tolerance: "
                        "{float32: {rtol: 1.0e-3, atol: 1.0e-3, reason: the gradient sums more terms}}}")
    cases, _ = load_text(text, "bw.yaml")
    b = get(fake)
    b.grad_scale = 1.0 + 1e-4  # within 1e-3 relative: passes only with the gradients' own tolerance
    try:
        by = _by_key(run_cases([c for c in cases if c.id in ("repeat/ok[float32]", "repeat/ok[float64]")], [fake]))
    finally:
        b.grad_scale = 1.0
    bw = by[("repeat/ok[float32]", "backward")]
    assert bw.outcome == "pass" and bw.tolerance == {"rtol": 1e-3, "atol": 1e-3, "reason": "the gradient sums more terms"}
    assert by[("repeat/ok[float32]", "forward")].tolerance["rtol"] == 1.3e-6
    assert by[("repeat/ok[float64]", "backward")].outcome == "fail"  # no float64 override: the table's


def test_the_repro_snippet_of_a_backward_failure_runs(fake, tmp_path):
    from upconform.harness.spec import load_files

    spec = tmp_path / "bw.yaml"
    spec.write_text(SPEC)
    cases, _ = load_files([spec])
    [r] = [r for r in run_cases([c for c in cases if c.id == "repeat/offset[float64]"], [fake])
           if r.direction == "backward"]
    assert r.outcome == "fail" and "direction='backward'" in r.repro
    scope: dict = {}
    exec(r.repro.replace("print(comparison.message)", ""), scope)  # the snippet as a user pastes it
    actual, expected, comparison = scope["actual"], scope["expected"], scope["comparison"]
    assert not comparison.ok and comparison.message.startswith("gradient with respect to x: mismatched")
    assert np.allclose(actual, 1.5 * expected)


def test_a_discrepancy_call_without_output_has_no_gradient_verdict(fake):
    from upconform.harness.discrepancy import bad_outcome, run_discrepancy

    text = """\
op: repeat
discrepancies:
  - id: raises
    shape: [1, 1, 2, 3]
    checks: [forward, backward]
    calls:
      - {binding: fake.repeat, args: {repeats: [4]}}
      - {binding: fake.repeat, args: {repeats: [2]}}
"""
    _, [d] = load_text(text, "d.yaml")
    known = exp.Expectation(fake, ("repeat/raises",), None, "error", "it raises", "", {}, calls=(0,))
    rep = run_discrepancy(d, expectations=[known])
    first = rep["calls"][0]
    assert first["outcome"] == "xfail" and first["backward"]["outcome"] == "unsupported"
    assert bad_outcome(first) is None and rep["calls"][1]["backward"]["outcome"] == "pass"
