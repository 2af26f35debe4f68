"""Reports rendered from results.json: HTML (escaping, sections, browser), JUnit, history,
regression comparison, export, and the pytest plugin."""

from __future__ import annotations

import ast
import json
import re
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from upconform.adapters import get
from upconform.harness.outcome import Outcome
from upconform.harness.runner import run_cases
from upconform.harness.spec import load_text
from upconform.harness.stats import mann_whitney_u
from upconform.reports import history, html, junit
from upconform.reports.regress import compare_runs, format_comparison, provenance_changes

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
op: repeat
defaults: {shapes: {x: [1, 2, 64, 64]}, input: arange}
cases:
  - {id: ok, params: {repeats: 2}}
  - {id: also_ok, params: {repeats: [2, 2]}}
  - {id: offset, params: {repeats: 3}}
  - {id: boom, params: {repeats: 4}}
  - {id: never, params: {repeats: 5}}
"""


@pytest.fixture(scope="module")
def fake(fake_bindings):
    return get("fake.repeat")


def _run(fake, *, offset=0.0):
    fake.offset = offset
    try:
        cases, _ = load_text(SPEC, "s.yaml")
        res = run_cases(cases, ["fake.repeat"], max_repeats=7, timing_budget_s=1.0)
    finally:
        fake.offset = 0.0
    return {"schema_version": 1, "provenance": {"torch": "x"}, "results": [r.to_json() for r in res],
            "discrepancies": []}


def _timed(data, factor=1.0):
    """The run's results with fixed timing samples (1.00-1.06 ms, times ``factor``): comparisons and
    trends are judged on data, not on this machine's wall clock (timings belong in `make bench`)."""
    out = json.loads(json.dumps(data))
    for r in out["results"]:
        if r.get("timing", {}).get("samples_s"):
            samples = [factor * (1.0 + 0.01 * i) * 1e-3 for i in range(7)]
            r["timing"].update(samples_s=samples, median_s=samples[3], repeats=7)
    return out


def test_junit_one_testcase_per_check(fake):
    root = ET.fromstring(junit.to_junit(_run(fake)))
    cases = root.findall(".//testcase")
    assert len(cases) == 5
    by = {c.get("name"): c for c in cases}
    assert by["repeat/offset[float32]"].find("failure") is not None
    assert "mismatched elements" in by["repeat/offset[float32]"].find("failure").text
    assert by["repeat/boom[float32]"].find("error") is not None
    assert "cannot repeat by 5" in by["repeat/never[float32]"].find("skipped").get("message")
    assert by["repeat/ok[float32]"].find("*") is None


def test_html_escapes_everything_from_results(fake):
    data = _run(fake)
    evil = "<script>alert(1)</script>"
    data["results"][2]["case_id"] = evil
    data["results"][2]["reason"] = evil
    data["provenance"]["cpu"] = evil
    page = html.render(data)
    assert evil not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for section in ("provenance", "summary", "matrix", "details", "discrepancies", "performance", "unsupported"):
        assert f'id="{section}"' in page
    assert "<svg" in page  # real charts, inline
    assert 'src="http' not in page and "href=\"http" not in page.replace('href="https://example', "")


def _section(page: str, name: str) -> str:
    """The text of one ``<section id=name>`` of the page."""
    start = page.index(f'<section id="{name}">')
    return page[start:page.index("</section>", start)]


def _discrepancy(id_: str, agree: bool) -> dict:
    calls = [{"binding": "fake.a", "args": {"k": 1}, "canonical": {"m": 1}, "conforms": True,
              "max_abs_err_vs_reference": 0.0},
             {"binding": "fake.b", "args": {"k": 2}, "canonical": {"m": 2}, "conforms": False,
              "max_abs_err_vs_reference": 0.5}]
    return {"id": id_, "op": "repeat", "description": f"about {id_}", "shape": [1, 1, 2, 2], "dtype": "float32",
            "source": "d.yaml:1", "calls": calls,
            "pairs": [{"a": 0, "b": 1, "max_abs_diff": 0.0 if agree else 0.5, "agree": agree,
                       "differing_params": {"m": [1, 2]}}]}


def test_verdict_opens_the_page_with_bad_outcomes_discrepancies_and_new_findings(fake):
    data = _run(fake)
    data["results"][1].update(outcome="xpass", reason="expected to fail (old bug) but passed",
                              expectation={"reason": "old bug", "issue": "https://example.org/1", "versions": {},
                                           "outcome": "fail"})
    data["discrepancies"] = [_discrepancy("repeat/disagree", False), _discrepancy("repeat/agree", True)]
    page = html.render(data)
    positions = [page.index(f'id="{s}"') for s in ("verdict", "summary", "matrix", "details", "provenance")]
    assert positions == sorted(positions)  # the verdict first, the provenance last
    verdict = _section(page, "verdict")
    for r in data["results"]:
        shown = r["case_id"] in verdict
        assert shown == Outcome(r["outcome"]).bad, r["outcome"]
    assert "fake.repeat exploded" in verdict and "mismatched elements" in verdict  # reasons of error, fail
    assert verdict.index("repeat/boom[float32]") < verdict.index("repeat/disagree") < verdict.index("https://example.org/1")
    assert "repeat/agree" not in verdict and "1 more report agrees" in verdict
    assert 'href="#check-2"' in verdict and 'id="check-2"' in _section(page, "details")  # links to its detail
    v = html.build_verdict(data)
    assert [f["case_id"] for f in v["findings"]] == ["repeat/also_ok[float32]"] and not v["ok"]
    assert [d["id"] for d in v["discrepancies"]] == ["repeat/disagree"]


def test_verdict_of_a_clean_run():
    data = {"results": [{"case_id": "c", "op": "o", "binding": "m.f", "framework": "m", "outcome": o, "reason": ""}
                        for o in ("pass", "xfail", "unsupported")], "discrepancies": [], "provenance": {}}
    v = html.build_verdict(data)
    assert v["ok"] and not v["bad"] and not v["findings"]
    assert "No bad outcome" in _section(html.render(data), "verdict")


def test_provenance_is_folded_away(fake):
    page = html.render(_run(fake))
    prov = _section(page, "provenance")
    assert re.match(r'<section id="provenance"><details>\s*<summary><h2>Provenance</h2></summary>', prov)
    assert "<details open" not in prov and prov.index("<td>torch</td>") < prov.index("</details>")


def _matrix_data() -> dict:
    def r(case, binding, outcome, reason=""):
        return {"case_id": case, "op": "o", "binding": binding, "framework": "x", "outcome": outcome, "reason": reason}

    return {"results": [r("c1", "x.conv1d_t", "pass"), r("c1", "x.conv2d_t", "unsupported", "2-D only"),
                        r("c2", "x.conv1d_t", "unsupported", "1-D only"), r("c2", "x.conv2d_t", "fail", "off by one"),
                        r("c1", "x.pool2d", "pass"), r("c2", "x.pool2d", "unsupported", "no"),
                        r("c1", "x.never3d", "unsupported", "no"), r("c2", "x.never3d", "unsupported", "no")],
            "discrepancies": [], "provenance": {}}


def test_matrix_folds_the_1d_2d_3d_variants_of_one_api():
    [table] = html.build_matrix(_matrix_data())["tables"]
    assert table["columns"] == ["x.conv{1,2}d_t", "x.pool2d"]  # a lone 2d keeps its name; never3d never ran
    rows = dict(table["rows"])
    assert [c["label"] for c in rows["c1"]] == ["pass", "pass"]  # the variant that ran the case
    assert rows["c2"][0]["label"] == "FAIL" and rows["c2"][0]["css"] == "bad"
    assert rows["c2"][0]["title"] == "x.conv2d_t: off by one" and rows["c2"][1]["label"] == "-"
    page = html.render(_matrix_data())
    assert "<th>x.conv{1,2}d_t</th>" in page and "<th>x.conv1d_t</th>" not in page and "<th>x.pool2d</th>" in page
    assert 'id="filter"' in page and 'class="mx"' in page


def test_fold_bindings_is_a_rule_on_names():
    assert html.fold_bindings(["a.f1d", "a.f2d", "a.f3d", "b.g2d"]) == {
        "a.f1d": "a.f{1,2,3}d", "a.f2d": "a.f{1,2,3}d", "a.f3d": "a.f{1,2,3}d", "b.g2d": "b.g2d"}
    assert set(html.fold_bindings(["m.Conv1DT", "m.Conv2DT"]).values()) == {"m.Conv{1,2}DT"}
    assert set(html.fold_bindings(["m.conv1d_t", "m.conv2d_t"]).values()) == {"m.conv{1,2}d_t"}
    same = ["v1.resize", "v2.resize", "m.x2dd", "m.x3dd", "m.k12d", "m.k13d", "m.f2d", "n.f3d"]
    assert html.fold_bindings(same) == {n: n for n in same}  # no 1d/2d/3d marker, or the names differ elsewhere


def test_templates_are_package_data():
    from jinja2 import PackageLoader

    assert isinstance(html.ENV.loader, PackageLoader) and html.ENV.autoescape is True
    package = ROOT / "upconform"
    page = html.render({"results": [], "discrepancies": [], "provenance": {}})
    css = (package / "reports" / "templates" / "report.css").read_text()
    assert css.strip() in page  # inlined, not linked
    assert "<link" not in page and "<script src" not in page
    shipped = {p for p in (package / "reports" / "templates").rglob("*") if p.is_file()}
    assert {"report.html.j2", "report.css", "report.js", "verdict.html.j2"} <= {p.name for p in shipped}
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["upconform"]
    declared = {p for pattern in patterns for p in package.glob(pattern)}
    assert shipped <= declared, sorted(str(p) for p in shipped - declared)


def test_rendering_leaves_pyplot_alone(fake, tmp_path):
    data = _run(fake)
    assert any(r.get("diff_map") for r in data["results"])  # a heatmap, bar charts and trend charts get drawn
    (tmp_path / "r.json").write_text(json.dumps(data))
    db = tmp_path / "h.sqlite"
    history.append(db, _timed(data), "a.json")
    history.append(db, _timed(data, factor=2.0), "b.json")
    code = f"""
import json, sys
import matplotlib
fonttype = matplotlib.rcParams["svg.fonttype"]
from upconform.reports import html
page = html.render(json.loads(open({str(tmp_path / "r.json")!r}).read()), {str(db)!r})
assert page.count("<svg") >= 3 and 'id="trends"' in page
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert matplotlib.rcParams["svg.fonttype"] == fonttype, "rcParams changed"
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_junit_elements_come_from_the_outcome_type():
    data = {"results": [{"case_id": f"c/{o}", "op": "o", "binding": "m.f", "framework": "m", "outcome": o.value,
                         "reason": f"because {o}"} for o in Outcome], "provenance": {}}
    root = ET.fromstring(junit.to_junit(data))
    by = {c.get("name"): c for c in root.iter("testcase")}
    for o in Outcome:
        children = [e.tag for e in by[f"c/{o}"]]
        assert children == ([o.junit] if o.junit else []), o
    [suite] = root.iter("testsuite")
    assert {k: int(suite.get(k)) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": len(Outcome), "failures": 2, "errors": 3, "skipped": 2}


def test_reports_name_no_framework():
    """Outside the adapters no code line names a framework (docstrings and comments aside)."""
    words = re.compile(r"\b(torch|tensorflow|keras|tf|jax|onnx)\b", re.IGNORECASE)
    reports = ROOT / "upconform" / "reports"
    for path in [reports / "html.py", reports / "charts.py", reports / "junit.py"]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant):
                body.pop(0)  # the docstring
        assert not words.search(ast.unparse(tree)), path
    for path in (reports / "templates").rglob("*"):
        if path.is_file():
            text = re.sub(r"\{#.*?#\}|/\*.*?\*/|^//.*$", "", path.read_text(), flags=re.S | re.M)
            assert not words.search(text), path


def test_compare_catches_injected_regressions_and_stays_quiet(fake):
    base = _timed(_run(fake))
    same = _timed(_run(fake))
    quiet = compare_runs(base, same)
    assert quiet["regressions"] == 0 and not quiet["outcome_changes"] and not quiet["error_growth"]
    worse = _timed(_run(fake, offset=0.25))  # numeric regression: ok -> fail, and the offset case grows
    c = compare_runs(base, worse)
    changed = {(x["case_id"], x["from"], x["to"]) for x in c["outcome_changes"]}
    assert ("repeat/ok[float32]", "pass", "fail") in changed
    assert c["regressions"] >= 1
    slow = _timed(base, factor=3.0)  # every sample three times slower
    s = compare_runs(base, slow)
    assert {x["case_id"] for x in s["slowdowns"]} == {"repeat/ok[float32]", "repeat/also_ok[float32]",
                                                        "repeat/offset[float32]"}
    assert all(x["ratio"] == pytest.approx(3.0) for x in s["slowdowns"])
    assert s["regressions"] == 3 and not s["outcome_changes"]
    slightly = _timed(base, factor=1.1)  # below the 1.25 slowdown ratio: not a regression
    assert compare_runs(base, slightly)["regressions"] == 0


def test_mann_whitney_u():
    """SciPy's test now (tests/test_stats.py compares exact p-values for 3..8 samples)."""
    from scipy.stats import mannwhitneyu

    assert mann_whitney_u([1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]).p_value > 0.9
    assert mann_whitney_u([1, 2, 3, 4, 5, 6, 7], [10, 11, 12, 13, 14, 15, 16]).p_value < 0.01
    a, b = [1, 2, 3, 4, 5, 6, 7], [10, 11, 12, 13, 14, 15, 16]
    assert mann_whitney_u(a, b).p_value == mannwhitneyu(a, b, alternative="two-sided", method="exact").pvalue


def test_compare_provenance_is_generic_over_frameworks():
    old = {"python": "3.11.9", "numpy": "1.26.4", "torch": "2.1.0", "tensorflow": "2.16.1", "keras": "3.0.0"}
    new = {"python": "3.11.9", "numpy": "2.4.6", "torch": "2.13.0+cpu", "tensorflow": "2.21.0",
           "frameworks": {"torch": {"torch": "2.13.0+cpu"}, "tensorflow": {"tensorflow-cpu": "2.21.0", "keras": "3.15.1"},
                          "jax": {"jax": "0.7.0", "jaxlib": "0.7.0"}}}
    assert provenance_changes(old, new) == {
        "numpy": ["1.26.4", "2.4.6"], "jax/jax": [None, "0.7.0"], "jax/jaxlib": [None, "0.7.0"],
        "tensorflow/keras": ["3.0.0", "3.15.1"], "tensorflow/tensorflow": ["2.16.1", None],
        "tensorflow/tensorflow-cpu": [None, "2.21.0"], "torch/torch": ["2.1.0", "2.13.0+cpu"]}
    # the same versions in the old layout and the new one: no change
    assert provenance_changes({"torch": "2.1.0"}, {"frameworks": {"torch": {"torch": "2.1.0"}}}) == {}
    assert provenance_changes(new, new) == {}
    c = compare_runs({"provenance": old, "results": []}, {"provenance": new, "results": []})
    assert c["provenance_changes"]["torch/torch"] == ["2.1.0", "2.13.0+cpu"] and c["regressions"] == 0
    assert "provenance tensorflow/keras: 3.0.0 -> 3.15.1" in format_comparison(c)


def test_history_trends_and_change_points(fake, tmp_path):
    db = tmp_path / "h.sqlite"
    a = _timed(_run(fake))
    assert history.append(db, a, "a.json") == 1
    assert history.append(db, _timed(a, factor=3.0), "b.json") == 2
    runs = history.runs(db)
    assert [r["run_id"] for r in runs] == [1, 2] and runs[0]["n_checks"] == 5
    assert runs[0]["versions"] == {"torch": {"torch": "x"}}  # _run's provenance, in the old layout
    tr = history.trends(db)
    times = tr["time"]["repeat"]
    assert len(times) == 2 and times[1][1] == pytest.approx(3 * times[0][1])
    assert history.change_points(times) == [2]
    page = html.render(a, db)
    assert 'id="trends"' in page


V0_RUNS = [  # tests/data/history_v0.sqlite, as tests/data/make_history_v0.py wrote it with commit 2845ce8
    (1, "aaaa1111", {"torch": {"torch": "2.1.0"}, "tensorflow": {"tensorflow": "2.16.1"}}, 3, 1),
    (2, "bbbb2222", {"torch": {"torch": "2.2.0"}}, 1, 0),
    (3, "cccc3333", {"torch": {"torch": "2.13.0+cpu"}, "tensorflow": {"tensorflow": "2.21.0"}}, 2, 0),
]


def test_history_v0_database_is_migrated_with_no_row_lost(tmp_path):
    db = tmp_path / "history.sqlite"
    shutil.copy(ROOT / "tests" / "data" / "history_v0.sqlite", db)
    with sqlite3.connect(db) as con:  # the fixture really is the old schema
        assert con.execute("PRAGMA user_version").fetchone()[0] == 0
        assert {"torch", "tensorflow"} <= {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        checks_before = con.execute("SELECT * FROM checks ORDER BY rowid").fetchall()
        runs_before = con.execute("SELECT run_id, time_utc, git_commit, upconform, python, numpy, platform, cpu, "
                                  "threads, device, n_checks, n_bad, results_path FROM runs ORDER BY run_id").fetchall()
    assert len(runs_before) == 3 and len(checks_before) == 6
    runs = history.runs(db)
    assert [(r["run_id"], r["git_commit"], r["versions"], r["n_checks"], r["n_bad"]) for r in runs] == V0_RUNS
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == history.SCHEMA_VERSION == 3
        cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
        assert "versions" in cols and "torch" not in cols and "tensorflow" not in cols
        # version 2 adds checks.path, version 3 checks.direction; older rows read as eager and forward
        assert con.execute("SELECT * FROM checks ORDER BY rowid").fetchall() == [(*r, "eager", "forward")
                                                                                  for r in checks_before]
        assert con.execute("SELECT run_id, time_utc, git_commit, upconform, python, numpy, platform, cpu, threads, "
                           "device, n_checks, n_bad, results_path FROM runs ORDER BY run_id").fetchall() == runs_before
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert history.trends(db)["time"]["resize"] == [(1, pytest.approx(1.5e-3)), (2, pytest.approx(1.1e-3)),
                                                    (3, pytest.approx(1.5e-3))]
    # a new run goes on from there; opening again does not migrate twice
    prov = {"frameworks": {"torch": {"torch": "2.14.0"}, "tensorflow": {"tensorflow-cpu": "2.22.0", "keras": "3.16.0"}},
            "git_commit": "dddd4444"}
    res = [{"case_id": "resize/a[float32]", "binding": "tf.image.resize", "op": "resize", "framework": "tensorflow",
            "dtype": "float32", "outcome": "pass", "metrics": {"max_ulp": 1.0}, "timing": {"median_s": 2e-3}}]
    assert history.append(db, {"provenance": prov, "results": res}, "run4/results.json") == 4
    runs = history.runs(db)
    assert [r["run_id"] for r in runs] == [1, 2, 3, 4] and runs[3]["versions"] == prov["frameworks"]
    table = history.format_runs(runs)
    assert "tensorflow-cpu 2.22.0, keras 3.16.0" in table and "2.16.1" in table and "2.13.0+cpu" in table


def test_history_migration_is_all_or_nothing(tmp_path, monkeypatch):
    db = tmp_path / "history.sqlite"
    shutil.copy(ROOT / "tests" / "data" / "history_v0.sqlite", db)

    def broken(prov):
        raise OSError("disk full, say")

    monkeypatch.setattr(history, "framework_versions", broken)
    with pytest.raises(OSError):
        history.runs(db)
    with sqlite3.connect(db) as con:  # still the old database, whole
        assert con.execute("PRAGMA user_version").fetchone()[0] == 0
        assert "torch" in {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        assert {r[0] for r in con.execute("SELECT name FROM sqlite_master")} == {"runs", "checks", "checks_run",
                                                                                  "sqlite_sequence"}
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 3
    monkeypatch.undo()
    assert [r["run_id"] for r in history.runs(db)] == [1, 2, 3]


def test_history_refuses_a_newer_schema(tmp_path):
    db = tmp_path / "h.sqlite"
    history.append(db, {"provenance": {}, "results": []}, "r.json")
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer"):
        history.runs(db)


def test_cli_history_prints_versions_per_framework(tmp_path):
    db = tmp_path / "history.sqlite"
    shutil.copy(ROOT / "tests" / "data" / "history_v0.sqlite", db)
    r = subprocess.run([sys.executable, "-m", "upconform", "history", "--history", str(db)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    head, *rows = r.stdout.splitlines()[:4]
    assert head.split() == ["run", "time", "(UTC)", "commit", "tensorflow", "torch", "checks", "bad"]
    assert rows[1].split()[2:] == ["bbbb2222", "-", "2.2.0", "1", "0"]


def test_export_csv(fake, tmp_path):
    p = tmp_path / "results.json"
    p.write_text(json.dumps(_run(fake)))
    out = tmp_path / "r.csv"
    r = subprocess.run([sys.executable, "-m", "upconform", "export", str(p), "-o", str(out)], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    import csv

    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and {r["outcome"] for r in rows} == {"pass", "fail", "error", "unsupported"}


@pytest.mark.torch
def test_pytest_plugin_collects_checks(tmp_path):
    spec = tmp_path / "ps.yaml"
    spec.write_text("op: pixel_shuffle\ncases:\n  - {id: r2, params: {upscale_factor: 2}, shapes: {x: [1, 8, 2, 3]}}\n"
                    "  - {id: r2_dcr, params: {upscale_factor: 2, mode: DCR}, shapes: {x: [1, 8, 2, 3]}}\n")
    xml = tmp_path / "j.xml"
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--upconform", str(spec),
                        "--upconform-framework", "torch", "-q", f"--junitxml={xml}", "-rs"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    # the functional binding and the module form (torch.nn.PixelShuffle) each pass CRD and refuse DCR
    assert "2 passed, 2 skipped" in r.stdout
    assert "uses the CRD channel order only" in r.stdout
    names = {tc.get("name") for tc in ET.parse(xml).getroot().iter("testcase")}
    assert "pixel_shuffle/r2[float32]" in names
    classes = {tc.get("classname") for tc in ET.parse(xml).getroot().iter("testcase")}
    assert any(c.endswith("torch.nn.functional.pixel_shuffle") for c in classes)


def _browser():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return exe


@pytest.mark.slow_browser
def test_report_renders_in_a_real_browser(fake, tmp_path):
    exe = _browser()
    from playwright.sync_api import sync_playwright

    data = _run(fake)
    page_path = html.write(data, tmp_path / "index.html")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.resolve().as_uri())
        for section in ("verdict", "provenance", "summary", "matrix", "details", "performance", "unsupported"):
            assert page.locator(f"#{section} h2").is_visible()
        assert not page.locator("#provenance table").is_visible()  # folded away until opened
        page.locator("#provenance summary").click()
        assert page.locator("#provenance table").is_visible()
        assert page.locator("#details details").count() == 2  # offset (fail) and boom (error)
        page.fill("#filter", "offset")
        assert page.locator("table.mx tr:visible").count() == 2  # header + the one case
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_heatmap_is_the_grid_one_pixel_per_cell():
    """The embedded PNG decodes to the grid's shape; the smallest cell takes the bottom colour, the
    largest and Inf/NaN stand-ins (1e300) the top one, and the colour bar says the range."""
    import base64
    import io
    import re

    import matplotlib.image as mi

    from upconform.reports import charts

    g = np.arange(12.0).reshape(3, 4)
    g[1, 2] = 1e300
    svg = charts.heatmaps([g.tolist()], titles=["t"])[0]
    uri = re.search(r'href="data:image/png;base64,([^"]+)"', svg).group(1)
    img = mi.imread(io.BytesIO(base64.b64decode(uri)), format="png")
    assert img.shape == (3, 4, 3)
    assert (img[1, 2] == img[2, 3]).all() and not (img[0, 0] == img[2, 3]).all()
    assert ">Inf/NaN<" in svg and ">0<" in svg and "W (0 to 3)" in svg
