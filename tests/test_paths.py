"""Paths in the data model: a check is (case, binding, path); compiled and exported paths are judged
against the reference like eager calls, and an export's attributes are audited against the eager
call's meaning. Uses tests/path_bindings.py (a third-party framework with planted faults)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from upconform.harness import expectations as exp
from upconform.harness.results import load_results
from upconform.harness.runner import audit_verdict, checks_for, run_cases
from upconform.harness.spec import SpecError, load_text

HERE = Path(__file__).resolve().parent
SPEC = """\
op: repeat
defaults: {shapes: {x: [1, 2, 3]}, input: arange, dtypes: [float32], paths: [eager, exported, compiled]}
cases:
  - {id: ok, params: {repeats: 2}}
  - {id: refused, params: {repeats: 5}}
  - {id: eager_only, params: {repeats: 3}, paths: [eager]}
"""


@pytest.fixture(scope="module")
def paths_fw():
    from upconform.adapters import load_adapter

    sys.path.insert(0, str(HERE))
    assert load_adapter("path_bindings") == ["fakepath.repeat"]
    import path_bindings

    return path_bindings


@pytest.fixture
def exported(paths_fw):
    yield paths_fw.Exported
    paths_fw.Exported.wrong_attribute, paths_fw.Exported.wrong_values = False, 0.0


def _by_key(results):
    return {(r.case_id.split("/")[1].split("[")[0], r.path): r for r in results}


def test_a_case_runs_on_its_paths_and_the_run_can_override_them(paths_fw):
    cases, _ = load_text(SPEC, "p.yaml")
    ok, _, eager_only = cases
    fwd = "forward"
    assert checks_for(ok, ["fakepath.repeat"]) == [("fakepath.repeat", p, fwd) for p in ("eager", "exported", "compiled")]
    assert checks_for(eager_only, ["fakepath.repeat"]) == [("fakepath.repeat", "eager", fwd)]
    assert checks_for(eager_only, ["fakepath.repeat"], ["compiled"]) == [("fakepath.repeat", "compiled", fwd)]
    # a path the binding's framework does not have is not a check (the torch bindings have no "exported")
    assert "exported" not in {p for _, p, _ in checks_for(ok, ["torch.repeat_interleave"])}


def test_paths_pass_with_audit_and_eager_comparison(exported):
    cases, _ = load_text(SPEC, "p.yaml")
    res = _by_key(run_cases(cases, ["fakepath.repeat"]))
    assert {k: str(r.outcome) for k, r in res.items()} == {
        ("ok", "eager"): "pass", ("ok", "exported"): "pass", ("ok", "compiled"): "pass",
        ("refused", "eager"): "pass", ("refused", "exported"): "unsupported", ("refused", "compiled"): "pass",
        ("eager_only", "eager"): "pass"}
    ok = res[("ok", "exported")]
    assert ok.audit["status"] == "same" and ok.audit["nodes"] == ["Repeat"]
    assert ok.vs_eager["ok"] and ok.vs_eager["max_abs_err"] == 0.0
    assert ok.timing["build_s"] >= 0 and ok.timing["ops"] == ["Repeat"] and ok.timing["repeats"] >= 1
    assert res[("ok", "compiled")].audit is None and res[("ok", "eager")].audit is None
    assert "fake exporter has no repeat by 5" in res[("refused", "exported")].reason
    assert "path='exported'" in ok.repro


def test_a_wrong_exported_attribute_fails_even_when_the_values_agree(exported):
    exported.wrong_attribute = True
    cases, _ = load_text(SPEC, "p.yaml")
    r = _by_key(run_cases(cases[:1], ["fakepath.repeat"]))[("ok", "exported")]
    assert str(r.outcome) == "fail" and r.check == "attributes"
    assert r.audit["status"] == "differs" and r.audit["differs"] == {"repeats": [[2], [3]]}
    assert "repeats: [2] (eager) vs [3] (exported)" in r.reason
    assert r.vs_eager["ok"]  # the values agree: only the audit can see it


def test_wrong_exported_values_fail_on_values_and_differ_from_eager(exported):
    exported.wrong_values = 0.5
    cases, _ = load_text(SPEC, "p.yaml")
    res = _by_key(run_cases(cases[:1], ["fakepath.repeat"]))
    r = res[("ok", "exported")]
    assert str(r.outcome) == "fail" and r.check == "values" and r.audit["status"] == "same"
    assert not r.vs_eager["ok"] and r.vs_eager["max_abs_err"] == pytest.approx(0.5)
    assert "[exported]" in r.message and str(res[("ok", "eager")].outcome) == "pass"


def test_expectations_can_name_paths(exported):
    exported.wrong_attribute = True
    cases, _ = load_text(SPEC, "p.yaml")
    known = [exp.Expectation("fakepath.repeat", ("repeat/*",), None, "fail", "exporter bug", "", {}, ("exported",))]
    res = _by_key(run_cases(cases[:1], ["fakepath.repeat"], expectations=known))
    assert str(res[("ok", "exported")].outcome) == "xfail"
    assert str(res[("ok", "eager")].outcome) == "pass"  # not xpass: the entry is for the exported path only
    assert str(res[("ok", "compiled")].outcome) == "pass"


def test_audit_verdict_names_what_cannot_be_read():
    assert audit_verdict({"a": 1}, None) is None
    v = audit_verdict({"a": 1}, {"nodes": ["Reshape", "Transpose"], "meaning": None, "reason": "no single node"})
    assert v["status"] == "unreadable" and v["reason"] == "no single node"
    v = audit_verdict("the API has no canonical meaning", {"nodes": ["Resize"], "meaning": {"a": 1}})
    assert v["status"] == "unreadable" and "eager call has no canonical reading" in v["reason"]


def test_unknown_paths_are_located_errors(paths_fw, tmp_path):
    with pytest.raises(SpecError) as e:
        load_text(SPEC.replace("paths: [eager]", "paths: [eagre]"), "bad.yaml")
    assert "bad.yaml:6: cases[2].paths[0]: unknown path 'eagre'" in str(e.value)
    f = tmp_path / "exp.yaml"
    f.write_text("- {binding: fakepath.repeat, cases: 'repeat/*', reason: r, paths: [exportd]}\n")
    with pytest.raises(SpecError, match="paths.*'exportd' is not one of"):
        exp.load(f)


def test_session_reports_carry_the_path(paths_fw, exported, tmp_path):
    from upconform.reports import html, junit
    from upconform.reports.regress import compare_runs
    from upconform.session import Options, Session

    exported.wrong_attribute = True
    spec = tmp_path / "p.yaml"
    spec.write_text(SPEC)
    db = tmp_path / "h.sqlite"
    data = Session(Options(specs=[str(spec)], bindings=["fakepath.repeat"], isolation=False, expectations=None,
                           out=tmp_path / "out", history=db)).run(progress=False)
    keys = [(r["case_id"], r["path"]) for r in data["results"]]
    assert len(keys) == len(set(keys)) == 7 and data["schema_version"] == 4
    xml = junit.to_junit(data)
    assert 'classname="fakepath.repeat [exported]" name="repeat/ok[float32]"' in xml
    assert 'classname="fakepath.repeat" name="repeat/ok[float32]"' in xml
    with sqlite3.connect(db) as con:
        assert sorted(con.execute("SELECT path, outcome FROM checks WHERE case_id = 'repeat/ok[float32]'")) == [
            ("compiled", "pass"), ("eager", "pass"), ("exported", "fail")]
    page = html.render(data)
    assert 'id="paths"' in page and "Repeat: repeats [2] (eager) -&gt; [3] (exported)" in page
    assert "fakepath.repeat [exported]" in page  # the matrix column and the verdict row
    # compare keys checks by path: the eager and exported checks of one case are different checks
    exported.wrong_attribute = False
    again = Session(Options(specs=[str(spec)], bindings=["fakepath.repeat"], isolation=False, expectations=None,
                            out=tmp_path / "out2", history=None)).run(progress=False)
    c = compare_runs(data, again)
    assert [(o["case_id"], o["path"], o["from"], o["to"]) for o in c["outcome_changes"]] == [
        ("repeat/ok[float32]", "exported", "fail", "pass")]
    assert load_results(tmp_path / "out" / "results.json")["provenance"]["flags"]["paths"] is None


def test_path_option_overrides_and_rejects_unknown(paths_fw, tmp_path):
    from upconform.session import Options, Session, UsageError

    spec = tmp_path / "p.yaml"
    spec.write_text(SPEC)
    s = Session(Options(specs=[str(spec)], bindings=["fakepath.repeat"], paths=["compiled"], isolation=False,
                        expectations=None, out=None))
    assert {p for _, _, p, _ in s.checks()} == {"compiled"} and len(s.checks()) == 3
    s = Session(Options(specs=[str(spec)], bindings=["fakepath.repeat"], paths=["all"], isolation=False,
                        expectations=None, out=None))
    assert {p for _, _, p, _ in s.checks()} == {"eager", "exported", "compiled"}
    with pytest.raises(UsageError, match="--path: unknown"):
        Session(Options(specs=[str(spec)], paths=["nowhere"], expectations=None, out=None))


def test_parallel_lanes_give_the_same_verdicts(paths_fw, fake_bindings, tmp_path):
    """--jobs 2: each framework's checks in their own worker, two at once; same results as one at a time."""
    from upconform.session import Options, Session

    spec = tmp_path / "p.yaml"
    spec.write_text(SPEC)
    opts = dict(specs=[str(spec)], bindings=["fakepath.repeat", "fake.repeat"], expectations=None, history=None,
                adapters=["fake_bindings:BINDINGS", "path_bindings"], progress=None)
    opts.pop("progress")
    one = Session(Options(**opts, out=tmp_path / "one", jobs=1)).run(progress=False)
    two = Session(Options(**opts, out=tmp_path / "two", jobs=2)).run(progress=False)
    key = lambda d: [(r["case_id"], r["binding"], r["path"], r["outcome"]) for r in d["results"]]  # noqa: E731
    assert key(one) == key(two) and len(key(one)) == 10
    assert two["provenance"]["flags"]["jobs"] == 2


def test_an_expectation_without_paths_covers_the_eager_call_only():
    """An eager defect says nothing of an exporter or a compiler: without paths: an entry is eager only;
    paths: [all] covers every path."""
    plain_entry = exp.Expectation("b", ("resize/*",), None, "fail", "r", "", {})
    every = exp.Expectation("b", ("resize/*",), None, "fail", "r", "", {}, ("all",))
    assert plain_entry.matches("resize/x[float32]", "b", "float32", "eager")
    assert not plain_entry.matches("resize/x[float32]", "b", "float32", "onnx")
    assert every.matches("resize/x[float32]", "b", "float32", "onnx") and every.matches("resize/x[float32]", "b",
                                                                                          "float32", "compiled")
