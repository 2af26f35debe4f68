"""upconform search: planted bugs are found, shrunk, deduplicated and replayed; known findings are
not new; the search is deterministic for a seed; unknown native arguments are errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from upconform.harness.results import load_results

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
PLANTED = ["--adapter", "planted_bindings:BINDINGS", "--binding", "planted.resize", "--binding", "planted.repeat"]


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "upconform", *args], capture_output=True, text=True, cwd=cwd,
                          env=ENV, timeout=600)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    out = tmp_path_factory.mktemp("search")
    none = out / "none.yaml"
    none.write_text("[]\n")
    p = _cli("search", *PLANTED, "--out", str(out / "a"), "--expectations", str(none), "--seed", "3")
    return out, none, p


def test_search_finds_each_planted_bug_once_and_shrinks_it(planted):
    out, _, p = planted
    assert p.returncode == 1, p.stdout + p.stderr  # new findings
    data = json.loads((out / "a" / "findings.json").read_text())
    by = {f["binding"]: f for f in data["findings"]}
    assert sorted(by) == ["planted.repeat", "planted.resize"] and len(data["findings"]) == 2, data["findings"]
    r = by["planted.resize"]
    # right except for non-integer scales: the shrunk call has one, on at most 4 pixels
    assert r["kind"] == "values" and r["args"]["scale"] != int(r["args"]["scale"])
    assert max(r["shapes"]["x"][2:]) <= 4 and r["canonical"]["mode"] == "nearest"
    rep = by["planted.repeat"]
    # right except on size-1 axes: the shrunk input has one
    assert rep["kind"] == "values" and 1 in rep["shapes"]["x"][2:] and max(rep["shapes"]["x"][2:]) <= 4
    assert all(f["examples"] >= 1 and f["known"] is None for f in data["findings"])
    from upconform.harness.search import KINDS

    assert all(f["kind"].removesuffix("_special") in KINDS for f in data["findings"])
    assert sum(data["examples"].values()) >= 100
    page = (out / "a" / "index.html").read_text()
    assert "planted.resize(x, scale=" in page and "evaluate(" in page  # native call and runnable repro


def test_findings_replay_with_upconform_run(planted):
    out, none, _ = planted
    p = _cli("run", str(out / "a" / "findings.yaml"), "--adapter", "planted_bindings:BINDINGS", "--out",
             str(out / "replay"), "--no-history", "--expectations", str(none))
    assert p.returncode == 1, p.stdout + p.stderr
    data = load_results(out / "replay" / "results.json")
    outcomes = {c["binding"]: c["outcome"] for d in data["discrepancies"] for c in d["calls"]}
    assert outcomes == {"planted.resize": "fail", "planted.repeat": "fail"}
    page = (out / "replay" / "index.html").read_text()
    verdict = page[page.index('id="verdict"'):page.index('id="summary"')]
    assert "planted.resize" in verdict and "planted.repeat" in verdict  # the verdict lists the failing calls


def test_search_is_deterministic_and_known_findings_are_not_new(planted, tmp_path):
    out, none, _ = planted
    again = _cli("search", *PLANTED, "--out", str(tmp_path / "b"), "--expectations", str(none), "--seed", "3")
    first = json.loads((out / "a" / "findings.json").read_text())["findings"]
    second = json.loads((tmp_path / "b" / "findings.json").read_text())["findings"]
    key = lambda f: (f["id"], f["binding"], json.dumps(f["args"]), f["shapes"], f["seed"])  # noqa: E731
    assert sorted(map(key, first)) == sorted(map(key, second)) and again.returncode == 1
    known = tmp_path / "known.yaml"
    known.write_text("".join(f"- binding: {f['binding']}\n  cases: ['{f['op']}/search_*']\n  reason: planted\n"
                             for f in first))
    p = _cli("search", *PLANTED, "--out", str(tmp_path / "c"), "--expectations", str(known), "--seed", "3")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "KNOWN" in p.stdout and "NEW" not in p.stdout


def test_special_values_reach_the_inputs(tmp_path):
    from upconform.canonical import generate

    x = generate("special", {}, (1, 2, 40), "float32", 1)
    assert {"nan", "inf", "-inf"} <= {str(v) for v in x.reshape(-1).tolist()}
    u = generate("special", {}, (1, 2, 40), "uint8", 1)
    assert 0 in u and 255 in u


def test_unknown_native_argument_is_an_error(tmp_path):
    p = _cli("explain", "planted.resize", "scal=2", "--adapter", "planted_bindings:BINDINGS", "--shape", "1,1,4")
    assert p.returncode == 2 and "unknown argument 'scal'; it takes ['scale']" in p.stderr, p.stderr
    spec = tmp_path / "d.yaml"
    spec.write_text("op: resize\ndiscrepancies:\n  - id: d\n    shape: [1, 1, 4]\n    calls:\n"
                    "      - {binding: planted.resize, args: {scal: 2}}\n")
    p = _cli("run", str(spec), "--adapter", "planted_bindings:BINDINGS", "--out", str(tmp_path / "o"), "--no-history")
    assert p.returncode == 2
    assert f"{spec}:6: discrepancies[0].calls[0].args.scal: planted.resize: unknown argument 'scal'" in p.stderr


class _SlowStart:
    """An in-process executor whose worker start (warmup) and first example are slow, as a
    framework's import and first kernel call are."""

    isolated = False

    def __init__(self, startup_s: float, first_s: float) -> None:
        from upconform.harness.workers import InProcess

        self.inner, self.startup_s, self.first_s, self.calls = InProcess(), startup_s, first_s, []

    def framework_of(self, binding):
        return self.inner.framework_of(binding)

    def call(self, binding, kind, payload, timeout=None):
        import time

        self.calls.append(kind)
        if kind == "warmup":
            time.sleep(self.startup_s)
            return {}
        if self.calls.count("explore") == 1:
            time.sleep(self.first_s)
        return self.inner.call(binding, kind, payload, timeout)


def test_start_up_and_first_example_are_not_charged_to_the_share():
    """The first binding of each framework got one example in `make search` (torch interpolate, tf.image.resize):
    the worker's start and the first call ate its share. Both now run outside it."""
    sys.path.insert(0, str(TESTS))
    from upconform.adapters import load_adapter
    from upconform.harness.search import run_search

    load_adapter("planted_bindings:BINDINGS")

    ex = _SlowStart(startup_s=1.0, first_s=1.0)
    rep = run_search(["planted.repeat"], executor=ex, max_examples=30, budget_s=0.6, seed=0)
    assert ex.calls[0] == "warmup" and ex.calls.count("warmup") == 1
    assert rep.startup["planted"] >= 1.0
    assert rep.examples["planted.repeat repeat"] > 1, rep.examples  # before: 1 (2 s spent > 0.6 s share)


def test_budget_left_by_fast_pairs_goes_to_the_later_ones():
    from upconform.harness.search import shares

    even = shares(60, 6, 0, 0)
    assert even == 10
    assert shares(60, 6, 5, 3) == (60 - 5) / 3  # three pairs that took 5 s leave 55 s for three
    assert shares(60, 6, 200, 3) == even / 2  # overruns never starve a pair below half its share
