"""``upconform matrix``: the cross-version report on recorded results (planted verdict, error and timing
changes are each reported once, identical runs report nothing, the newer side decides the exit status),
pins, matrix files, constraints merging, installer errors, and a real environment build that fails
with the installer's one-line reason.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from upconform import cli
from upconform.harness.results import load_results
from upconform.harness.spec import SpecError
from upconform.matrix import (
    Environment,
    MatrixError,
    env_from_pins,
    installer_error,
    load_matrix_file,
    merged_constraints,
    parse_pin,
    setup_extras,
)
from upconform.reports.matrix import build_matrix, error_share, newer_side, to_html, to_markdown, to_text
from upconform.session import Options, Session

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict:
    """A real run (repeat and pixel_shuffle under PyTorch, forward and backward), recorded to results.json."""
    pytest.importorskip("torch")
    out = tmp_path_factory.mktemp("recorded")
    s = Session(Options(specs=[str(ROOT / "specs/repeat.yaml"), str(ROOT / "specs/pixel_shuffle.yaml")],
                        frameworks=["torch"], isolation=False, out=out, history=None, discrepancies=False,
                        expectations=str(ROOT / "specs/expectations.yaml")))
    s.run(progress=False)
    return load_results(out / "results.json")


def _bump(data: dict, dist: str, version: str) -> dict:
    new = copy.deepcopy(data)
    for dists in new["provenance"]["frameworks"].values():
        if dist in dists:
            dists[dist] = version
    return new


def _planted(base: dict) -> tuple[dict, dict[str, tuple]]:
    """A copy of ``base`` with torch one minor version newer and three planted changes."""
    new = _bump(base, "torch", "99.1.0")
    rs = new["results"]
    passing = [r for r in rs if r["outcome"] == "pass" and r["direction"] == "forward"
               and len((r.get("timing") or {}).get("samples_s") or []) >= 5]
    v, e, t = passing[0], passing[1], passing[2]
    v["outcome"], v["reason"] = "fail", "planted: mismatched elements"
    e["metrics"]["tol_used"] = (e["metrics"].get("tol_used") or 0.0) + 0.5
    t["timing"]["samples_s"] = [x * 3 + 1e-3 for x in t["timing"]["samples_s"]]
    t["timing"]["median_s"] = sorted(t["timing"]["samples_s"])[len(t["timing"]["samples_s"]) // 2]
    key = lambda r: (r["case_id"], r["binding"], r["path"], r["direction"])  # noqa: E731
    return new, {"verdict": key(v), "error": key(e), "timing": key(t)}


def _key(c: dict) -> tuple:
    return c["case_id"], c["binding"], c["path"], c["direction"]


def test_identical_runs_report_nothing(recorded):
    assert len(recorded["results"]) > 50 and all("tol_used" in r["metrics"] for r in recorded["results"]
                                                  if r["outcome"] == "pass")
    m = build_matrix([("a", recorded), ("b", copy.deepcopy(recorded))])
    assert m["changes"] == [] and m["exit_status"] == 0
    assert m["pairs"][0]["counts"] == {"verdict": 0, "error": 0, "timing": 0, "discrepancy": 0}
    assert "nothing changed" in to_text(m)
    assert len(m["checks"]) == len(recorded["results"])


def test_planted_verdict_error_and_timing_changes_are_each_reported_once(recorded):
    new, planted = _planted(recorded)
    m = build_matrix([("old", recorded), ("new", new)])
    by_kind = {k: [c for c in m["changes"] if c["kind"] == k] for k in ("verdict", "error", "timing")}
    assert {k: [_key(c) for c in v] for k, v in by_kind.items()} == {k: [v] for k, v in planted.items()}
    verdict = by_kind["verdict"][0]
    assert (verdict["from"], verdict["to"], verdict["worse_in_newer"]) == ("pass", "fail", True)
    assert (verdict["from_env"], verdict["to_env"]) == ("old", "new")
    assert by_kind["error"][0]["to"] - by_kind["error"][0]["from"] == pytest.approx(0.5)
    assert by_kind["timing"][0]["ratio"] > 2.5 and by_kind["timing"][0]["p_value"] < 0.05
    pair = m["pairs"][0]
    assert pair["versions"]["torch"][1] == "99.1.0" and pair["newer"] == "new" and pair["newer_by"] == "versions"
    assert m["worse_in_newer"] == 1 and m["exit_status"] == 1
    assert all(c["version_changed"] for c in m["changes"]) and pair["changed_frameworks"] == ["torch"]
    # the same changes with another framework's version bumped instead: the machine's noise, said as such
    noise = build_matrix([("old", recorded), ("new", _bump(_bump(new, "torch", "2.13.0+cpu"), "onnx", "99.0"))])
    assert noise["changes"] and not any(c["version_changed"] for c in noise["changes"])
    assert noise["pairs"][0]["unchanged_frameworks"] == {"verdict": 1, "error": 1, "timing": 1}
    assert "[same version]" in to_text(noise) and "the noise" in to_markdown(noise)
    assert m["changes"][0]["kind"] == "verdict"  # what changed comes first, verdicts first
    text, md, page = to_text(m), to_markdown(m), to_html(m)
    for k in planted.values():
        assert k[0] in text and k[0] in md and k[0] in page
    assert "WORSE pass -> fail" in text and "torch 2.13.0+cpu -> 99.1.0" in text.replace("torch 2.13.0 ", "")


def test_a_verdict_worse_on_the_older_side_does_not_fail_the_matrix(recorded):
    """The newer side is decided by versions, not by the order: tensorflow 2.20 -> 2.21 read backwards."""
    new, _ = _planted(recorded)
    older = _bump(new, "torch", "1.0.0")  # the changed run is now the older one
    m = build_matrix([("base", recorded), ("old", older)])
    v = [c for c in m["changes"] if c["kind"] == "verdict"][0]
    assert v["worse"] and not v["worse_in_newer"] and m["pairs"][0]["newer"] == "base" and m["exit_status"] == 0
    # the same change read the other way round: the baseline failed, the newer one passes: fixed
    m2 = build_matrix([("old", older), ("base", recorded)])
    v2 = [c for c in m2["changes"] if c["kind"] == "verdict"][0]
    assert v2["better"] and not v2["worse_in_newer"] and m2["exit_status"] == 0


def test_a_fixed_known_discrepancy_is_not_a_regression(recorded):
    base = copy.deepcopy(recorded)
    r = next(r for r in base["results"] if r["outcome"] == "pass")
    r["outcome"] = "xfail"
    new = _bump(recorded, "torch", "99.1.0")
    nr = next(x for x in new["results"] if _key(x) == _key(r))
    nr["outcome"] = "xpass"
    m = build_matrix([("a", base), ("b", new)])
    v = [c for c in m["changes"] if c["kind"] == "verdict"]
    assert len(v) == 1 and v[0]["better"] and not v[0]["worse_in_newer"] and m["exit_status"] == 0


def test_newer_side_and_error_share():
    assert newer_side({"tensorflow-cpu": ["2.21.0", "2.20.0"]}) == (-1, "versions")
    assert newer_side({"torch": ["2.13.0+cpu", "2.14.1"]}) == (1, "versions")
    assert newer_side({"x": ["1.10.0", "1.9.2"]}) == (-1, "versions")  # numbers, not strings
    assert newer_side({"x": ["2.0.0rc1", "2.0.0"]}) == (1, "versions")
    assert newer_side({})[1].startswith("matrix order")
    assert error_share({"outcome": "unsupported", "metrics": {"tol_used": 3.0}}) is None
    assert error_share({"outcome": "fail", "metrics": {"tol_used": 3.0}}) == 3.0


def test_pins_and_constraints():
    assert parse_pin(" torch == 2.14.1 ") == ("torch", "2.14.1")
    for bad in ("torch", "torch>=2.1", "torch==", "==2.1", "torch==2.1; python_version<'3'"):
        with pytest.raises(MatrixError, match="is not a pin"):
            parse_pin(bad)
    assert env_from_pins("torch==2.14.1,Tensorflow_CPU==2.20.0") == Environment(
        "torch-2.14.1+Tensorflow_CPU-2.20.0", ("torch==2.14.1", "Tensorflow_CPU==2.20.0"))
    base = (ROOT / "constraints.txt").read_text()
    merged = merged_constraints(base, ["tensorflow_cpu==2.20.0", "newpkg==1.0"])
    lines = merged.splitlines()
    assert "tensorflow_cpu==2.20.0" in lines and "tensorflow-cpu==2.21.0" not in lines and lines[-1] == "newpkg==1.0"
    assert "torch==2.13.0" in lines and not any(ln.startswith("#") for ln in lines)
    assert merged_constraints(base, []) == merged_constraints(base + "\n# a comment\n", [])


def test_setup_extras_match_the_makefile():
    make = (ROOT / "Makefile").read_text()
    listed = re.search(r"-e '\.\[([^\]]+)\]'", make).group(1).split(",")
    assert tuple(listed) == setup_extras()


def test_matrix_file_errors_name_file_line_and_field(tmp_path):
    f = tmp_path / "m.yaml"
    f.write_text("environments:\n  - name: a\n    python: /usr/bin/python3\n  - name: b\n    pins: [torch>=2]\n"
                 "  - name: c\n    colour: red\n")
    with pytest.raises(SpecError) as e:
        load_matrix_file(f)
    msg = str(e.value)
    assert f"{f}:5: environments[1].pins[0]: 'torch>=2' is not a pin" in msg
    assert f"{f}:7: environments[2].colour: unknown field" in msg
    f.write_text("environments:\n  - name: pinned\n    python: ../bin/python\n  - name: t\n    pins: [torch==2.14.1]\n")
    mf = load_matrix_file(f)
    assert mf.environments[0].python == os.path.abspath(tmp_path / "../bin/python")
    assert mf.environments[1].pins == ("torch==2.14.1",)
    shipped = load_matrix_file(ROOT / "matrix.yaml")
    assert [e.name for e in shipped.environments][0] == "pinned" and len(shipped.environments) >= 3


def test_installer_errors_come_down_to_one_line():
    pip = ("Looking in indexes: x\nERROR: Could not find a version that satisfies the requirement torch==9.9.9 "
           "(from versions: 2.13.0)\nERROR: No matching distribution found for torch==9.9.9\n")
    assert installer_error(pip) == "No matching distribution found for torch==9.9.9"
    conflict = ("ERROR: Cannot install torch==2.15.0 because these package versions have conflicting dependencies.\n\n"
                "The conflict is caused by:\n    The user requested torch==2.15.0\n"
                "    The user requested (constraint) torch<=2.14.1\n\nTo fix this you could try to:\n"
                "1. loosen the range\n\nERROR: ResolutionImpossible: for help visit https://pip.pypa.io\n")
    assert installer_error(conflict) == ("Cannot install torch==2.15.0 because these package versions have conflicting "
                                         "dependencies. (The user requested torch==2.15.0; The user requested "
                                         "(constraint) torch<=2.14.1)")
    uv = ("  × No solution found when resolving dependencies:\n  ╰─▶ Because there is no version of torch==9.9.9 "
          "and you require torch==9.9.9, we can conclude that your requirements are unsatisfiable.\n")
    assert installer_error(uv).startswith("No solution found when resolving dependencies: Because there is no version")


def test_cli_report_of_recorded_runs(recorded, tmp_path, capsys):
    new, planted = _planted(recorded)
    a, b = tmp_path / "a.json", tmp_path / "b"
    a.write_text(json.dumps(recorded))
    b.mkdir()
    (b / "results.json").write_text(json.dumps(new))
    assert cli.main(["matrix", "--results", f"pinned={a}", "--results", f"newer={b}", "--out", str(tmp_path / "m")]) == 1
    out = capsys.readouterr().out
    assert "1 verdicts (1 worse in the newer)" in out and planted["verdict"][0] in out
    m = json.loads((tmp_path / "m" / "matrix.json").read_text())
    assert m["exit_status"] == 1 and m["environments"][1]["results"] == str(b / "results.json")
    assert (tmp_path / "m" / "index.html").read_text().count("<tr>") > 3
    assert cli.main(["matrix", "--results", f"x={a}", "--results", f"y={a}", "--out", str(tmp_path / "m2")]) == 0
    assert cli.main(["matrix", "--results", f"x={a}", "--out", str(tmp_path / "m3")]) == 2
    assert cli.main(["matrix", "--results", "nonsense", "--results", f"y={a}", "--out", str(tmp_path / "m4")]) == 2


def test_cli_usage_errors(tmp_path, capsys):
    assert cli.main(["matrix", "--env", "torch>=2", "--out", str(tmp_path)]) == 2
    assert "is not a pin" in capsys.readouterr().err
    assert cli.main(["matrix", "--no-base", "--env", "torch==2.14.1", "--out", str(tmp_path)]) == 2
    assert "two environments or more" in capsys.readouterr().err


def test_an_unknown_version_is_the_installers_one_line_error(tmp_path):
    """A real environment build (venv + pip, no extras): pip cannot find the version; exit 2, one line,
    no traceback, nothing left in the cache."""
    cache = tmp_path / "cache"
    p = subprocess.run([sys.executable, "-m", "upconform", "matrix", "--no-base", "--env", "numpy==0.0.1",
                        "--env", "numpy==0.0.2", "--extras", "", "--installer", "pip", "--cache", str(cache),
                        "--out", str(tmp_path / "out"), "--no-history"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 2, p.stderr
    err = [ln for ln in p.stderr.splitlines() if ln.startswith("upconform:")]
    assert err == ["upconform: matrix: environment numpy-0.0.1: pip failed: No matching distribution found for "
                   "numpy==0.0.1"], p.stderr
    assert "Traceback" not in p.stderr
    assert not [x for x in cache.iterdir() if not x.name.endswith(".lock")]


@pytest.mark.slow
def test_the_shipped_matrix_builds_runs_and_compares(tmp_path):
    """make matrix, narrowed to pixel_shuffle: the environments of matrix.yaml are built (or taken from the
    cache), each runs the suite, and the report knows which side of each pair is newer."""
    p = subprocess.run([sys.executable, "-m", "upconform", "matrix", "--file", str(ROOT / "matrix.yaml"),
                        str(ROOT / "specs/pixel_shuffle.yaml"), "--framework", "torch", "--framework", "tensorflow",
                        "--no-discrepancies", "--no-history", "--jobs", "2", "--out", str(tmp_path)],
                       capture_output=True, text=True, cwd=ROOT, timeout=3600)
    assert p.returncode in (0, 1), p.stderr[-3000:]
    m = json.loads((tmp_path / "matrix.json").read_text())
    envs = {e["name"]: e for e in m["environments"]}
    assert envs["torch-2.14.1"]["versions"]["torch"]["torch"].startswith("2.14.1")
    assert envs["tensorflow-cpu-2.20.0"]["versions"]["tensorflow"]["tensorflow-cpu"] == "2.20.0"
    assert len({e["checks"] for e in m["environments"]}) == 1 and m["environments"][0]["checks"] > 100
    pairs = {p["to"]: p for p in m["pairs"]}
    assert pairs["torch-2.14.1"]["newer"] == "torch-2.14.1" and "torch" in pairs["torch-2.14.1"]["versions"]
    assert pairs["tensorflow-cpu-2.20.0"]["newer"] == "pinned"
    assert m["exit_status"] == p.returncode


def test_run_flags_are_passed_to_every_environment():
    args = cli.build_parser().parse_args(["matrix", "specs/resize.yaml", "--framework", "torch", "-k", "cubic",
                                          "--checks", "backward", "--jobs", "2", "--no-discrepancies",
                                          "--executor", "ray", "--address", "auto", "--env", "torch==2.14.1"])
    assert cli._run_args(args) == ["specs/resize.yaml", "--framework", "torch", "--checks", "backward", "-k", "cubic",
                                   "--jobs", "2", "--no-discrepancies", "--executor", "ray", "--address", "auto"]
