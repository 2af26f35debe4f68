"""Discrepancy reports that speak up: outcomes and exit codes, expectations on calls, errors relative
to the input range, the tolerance scaled by the input's magnitude, mismatch classification,
deprecation marks, the HTML verdict, and the README's example spec."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from upconform.canonical import DEFAULT_TOLERANCES, OPS, for_magnitude, normalize
from upconform.cli import main
from upconform.harness import expectations as exp
from upconform.harness.compare import compare
from upconform.harness.discrepancy import call_outcome, input_stats, run_discrepancy, summary_lines
from upconform.harness.results import load_results
from upconform.harness.runner import deprecation
from upconform.harness.spec import Discrepancy, SpecError, load_text
from upconform.reports import html

ROOT = Path(__file__).resolve().parents[1]

# fake.repeat (tests/fake_bindings.py): repeats [2] is right, [3] is off by 0.5, [4] raises
RAISING = "op: repeat\ndiscrepancies:\n  - id: boom\n    shape: [1, 2, 3]\n    input: arange\n    calls:\n" + \
          "".join("      - {binding: fake.repeat, args: {repeats: [4]}}\n" for _ in range(7))


def _run(tmp_path, spec_text, *extra, expectations=None, capsys=None):
    spec = tmp_path / "d.yaml"
    spec.write_text(spec_text)
    none = tmp_path / "none.yaml"
    ex = expectations or none
    rc = main(["run", str(spec), "--binding", "fake.repeat", "--no-isolation", "--no-history", "--out",
               str(tmp_path / "out"), "--expectations", str(ex), *extra])
    out = capsys.readouterr().out if capsys else ""
    return rc, out, load_results(tmp_path / "out" / "results.json")


def test_every_call_raising_exits_1_and_speaks(fake_bindings, tmp_path, capsys):
    rc, out, data = _run(tmp_path, RAISING, capsys=capsys)
    assert rc == 1
    [rep] = data["discrepancies"]
    assert [c["outcome"] for c in rep["calls"]] == ["error"] * 7
    assert "framework" not in out.splitlines()[0]  # no empty check table when only discrepancy reports ran
    assert "repeat/boom: input [1, 2, 3] float32 arange, range 5" in out
    assert out.count("raised: RuntimeError: fake.repeat exploded") == 14  # each call's summary and its bad line
    assert "0 checks, 1 discrepancy reports (7 calls, 7 with a bad outcome)" in out
    page = (tmp_path / "out" / "index.html").read_text()
    verdict = page[page.index('id="verdict"'):page.index('id="summary"')]
    assert "7 discrepancy calls with a bad outcome" in verdict and "No bad outcome" not in verdict
    assert "every supported check passed" not in page
    assert "No check failed, but 7 discrepancy calls have a bad outcome" in page


def test_an_expectation_covers_discrepancy_calls(fake_bindings, tmp_path, capsys):
    known = tmp_path / "known.yaml"
    known.write_text("- binding: fake.repeat\n  cases: ['repeat/boom']\n  outcome: error\n  reason: it explodes\n")
    rc, out, data = _run(tmp_path, RAISING, expectations=known, capsys=capsys)
    assert rc == 0, out
    assert {c["outcome"] for c in data["discrepancies"][0]["calls"]} == {"xfail"}
    assert "known: it explodes" in out
    # an entry for the wrong outcome covers nothing; calls: narrows an entry to positions in the report
    known.write_text("- binding: fake.repeat\n  cases: ['repeat/boom']\n  outcome: fail\n  reason: r\n")
    assert _run(tmp_path, RAISING, expectations=known)[0] == 1
    known.write_text("- binding: fake.repeat\n  cases: ['repeat/boom']\n  calls: [0, 6]\n  reason: r\n")
    rc, _, data = _run(tmp_path, RAISING, expectations=known)
    assert rc == 1
    assert [c["outcome"] for c in data["discrepancies"][0]["calls"]] == ["xfail"] + ["error"] * 5 + ["xfail"]


def test_expectation_calls_never_match_a_check_and_are_validated(tmp_path):
    e = exp.Expectation("b", ("resize/*",), None, "any", "r", "", {}, None, (1,))
    assert e.matches("resize/d", "b", "float32", call=1) and not e.matches("resize/d", "b", "float32", call=0)
    assert not e.matches("resize/d[float32]", "b", "float32")  # a check
    bad = tmp_path / "bad.yaml"
    bad.write_text("- binding: b\n  cases: ['x']\n  reason: r\n  calls: [one]\n")
    with pytest.raises(SpecError, match=r"bad.yaml:4: \[0\].calls: expected a list of call positions"):
        exp.load(bad)


def test_a_call_that_raises_is_an_error_whatever_it_means():
    assert str(call_outcome({"canonical": None, "unsupported_reason": "no reading", "error": "E: x"})) == "error"
    assert str(call_outcome({"canonical": None, "unsupported_reason": "no reading", "error": None})) == "unsupported"
    assert str(call_outcome({"canonical": None, "error": "crash: signal 11"})) == "crash"


def test_errors_relative_to_the_input_range(fake_bindings, tmp_path, capsys):
    spec = ("op: repeat\ndiscrepancies:\n  - id: offset\n    shape: [1, 2, 3]\n    input: arange\n    calls:\n"
            "      - {binding: fake.repeat, args: {repeats: [2]}}\n      - {binding: fake.repeat, args: {repeats: [3]}}\n")
    rc, out, data = _run(tmp_path, spec, capsys=capsys)
    [rep] = data["discrepancies"]
    assert rc == 1 and rep["input_range"] == 5.0 and rep["input_magnitude"] == 5.0  # arange 0..5
    ok, off = rep["calls"]
    assert ok["outcome"] == "pass" and ok["max_err_vs_range"] == 0.0
    # repeats [3] claims repeats 3 and adds 0.5: 0.5 / 5 of the range
    assert off["outcome"] == "fail" and off["max_abs_err_vs_reference"] == 0.5
    assert off["max_err_vs_range"] == pytest.approx(0.1)
    assert "does not conform (max |err| 0.5 = 10% of the input range" in out
    [pair] = rep["pairs"]
    assert pair["max_diff_vs_range"] is None or pair["max_abs_diff"] is None  # output shapes differ (x2 vs x3)
    assert "output shapes differ" in pair["note"] and "worst pair #0 vs #1: output shapes differ" in out
    page = (tmp_path / "out" / "index.html").read_text()
    assert "10%" in page and "range 5" in page


def test_input_stats_over_finite_values():
    assert input_stats(np.array([[-2.0, 0.5, np.nan, 3.0]])) == (5.0, 3.0)
    assert input_stats(np.array([np.inf])) == (0.0, 0.0)


class Canned:
    """An executor whose calls return the reference of one meaning, offset or shifted as asked."""

    def __init__(self, op, meaning):
        self.op, self.meaning = op, meaning

    def call(self, binding, kind, payload, timeout=None):  # noqa: ANN001, ARG002
        y = OPS[self.op].expected(payload["tensors"], self.meaning)
        a = payload["args"]
        y = np.roll(y, a.get("shift", 0), axis=3) + a.get("offset", 0.0)
        return {"canonical": self.meaning, "unsupported_reason": None, "error": None,
                "output": y.astype(payload["tensors"]["x"].dtype)}


def _repeat_report(executor, calls, gen="constant", args=None, shape=(1, 1, 4, 6)):
    d = Discrepancy(id="repeat/canned", op="repeat", shape=shape, calls=tuple(calls), generator=gen,
                    generator_args=args or {})
    return run_discrepancy(d, executor)


def test_the_tolerance_scales_with_the_magnitude_of_the_data():
    meaning = normalize("repeat", {"repeats": 1}, {"x": (1, 1, 4, 6)})
    calls = [{"binding": "fake", "args": {}}, {"binding": "fake", "args": {"offset": 5e-5}}]
    big = _repeat_report(Canned("repeat", meaning), calls, args={"value": 10.0})
    small = _repeat_report(Canned("repeat", meaning), calls, args={"value": 1.0})
    # the same absolute difference (5e-5): float32 rounding at magnitude 10, a real difference at 1
    assert big["calls"][1]["max_abs_err_vs_reference"] == pytest.approx(5e-5, rel=0.05)
    assert small["calls"][1]["max_abs_err_vs_reference"] == pytest.approx(5e-5, rel=0.05)
    assert big["calls"][1]["outcome"] == "pass" and big["pairs"][0]["agree"]
    assert small["calls"][1]["outcome"] == "fail" and not small["pairs"][0]["agree"]
    assert big["tolerance"]["atol"] == pytest.approx(1e-4) and "max|x| = 10" in big["tolerance"]["reason"]
    assert small["tolerance"] == DEFAULT_TOLERANCES["float32"].to_json()
    # the table is a floor, uint8 keeps its one step, and compare is the entry point that applies it
    assert for_magnitude("float32", 0.25) == DEFAULT_TOLERANCES["float32"]
    assert for_magnitude("uint8", 255.0) == DEFAULT_TOLERANCES["uint8"]
    e = np.full(4, 10.0)
    assert compare(np.float32(e + 5e-5), e, "float32", for_magnitude("float32", 10.0)).ok
    assert not compare(np.float32(e + 5e-5), e, "float32").ok


def test_a_shifted_call_and_pair_are_classified_shifted():
    meaning = normalize("repeat", {"repeats": 1}, {"x": (1, 1, 4, 6)})
    rep = _repeat_report(Canned("repeat", meaning), [{"binding": "fake", "args": {}},
                                                     {"binding": "fake", "args": {"shift": 1}}], gen="arange")
    call = rep["calls"][1]
    assert call["outcome"] == "fail" and call["classification"]["kind"] == "shifted"
    assert "+1 pixel along axis 3" in call["classification"]["detail"] and len(call["diff_map"]) == 4
    [pair] = rep["pairs"]
    assert not pair["agree"] and pair["classification"]["kind"] == "shifted" and pair["diff_map"]
    assert "mismatch: shifted" in "\n".join(summary_lines(rep))
    page = html.render({"results": [], "discrepancies": [rep], "provenance": {}})
    section = page[page.index('id="discrepancies"'):]
    assert "<b>shifted</b>" in section and section.count("<svg") == 2  # the call's and the pair's heatmaps


def test_deprecation_marks_are_declared_and_printed():
    assert "tf.image.resize(..., method='bicubic')" in deprecation("tf.compat.v1.image.resize_bicubic")
    assert "interpolate" in deprecation("torch.nn.UpsamplingBilinear2d")
    assert deprecation("tf.image.resize") == "" and deprecation("no.such.binding") == ""
    call = {"binding": "tf.compat.v1.image.resize_area", "args": {"size": [2, 2]}, "canonical": None,
            "unsupported_reason": "r", "outcome": "unsupported", "deprecated": deprecation("tf.compat.v1.image.resize_area")}
    rep = {"id": "resize/d", "shape": [1, 1, 4, 4], "dtype": "float32", "input": {"generator": "uniform"},
           "input_range": 1.0, "tolerance": {"rtol": 1.3e-6, "atol": 1e-5}, "calls": [call], "pairs": []}
    text = "\n".join(summary_lines(rep))
    assert "tf.compat.v1.image.resize_area(size=[2, 2]) [deprecated: TF1 compatibility API" in text
    check = {"case_id": "resize/c[float32]", "op": "resize", "binding": "tf.compat.v1.image.resize_area",
             "framework": "tensorflow", "outcome": "fail", "reason": "r", "native_call": "f(x)",
             "deprecated": call["deprecated"], "dtype": "float32"}
    page = html.render({"results": [check], "discrepancies": [rep], "provenance": {}})
    assert page[page.index('id="details"'):].count("method=&#39;area&#39;") >= 2  # the check and the call


@pytest.mark.torch
@pytest.mark.tensorflow
def test_torch_bicubic_float32_rounding_passes_and_the_tf_table_does_not():
    from upconform.harness.spec import load_files

    _, discs = load_files([ROOT / "specs" / "discrepancies.yaml"])
    d = next(x for x in discs if x.id == "resize/bicubic_align_corners_v1_port")
    rep = run_discrepancy(d, expectations=exp.load(ROOT / "specs" / "expectations.yaml"))
    torch_call, tf_call = rep["calls"]
    err = torch_call["max_abs_err_vs_reference"]
    # float32 coordinates at 333 pixels: over the table's atol, within it scaled by max|x| of N(0, 1) data
    assert DEFAULT_TOLERANCES["float32"].atol < err < rep["tolerance"]["atol"] and 4 < rep["input_magnitude"] < 5
    assert torch_call["outcome"] == "pass" and torch_call["canonical"]["coordinate_transformation_mode"] == "align_corners"
    assert tf_call["outcome"] == "xfail" and tf_call["max_abs_err_vs_reference"] > 1e-3  # the 1024-entry table
    assert tf_call["deprecated"] and tf_call["expectation"]["calls"] == [1]
    assert not rep["pairs"][0]["agree"] and rep["pairs"][0]["differing_params"] == {}


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = text[text.index("<!-- discrepancy-example -->"):]
    return re.search(r"```yaml\n(.*?)```", block, re.S).group(1)


def test_readme_example_is_a_valid_spec():
    _, discs = load_text(_readme_example(), "my_port.yaml")
    assert [d.id for d in discs] == ["resize/bilinear_port", "conv_transpose/deconv_same"]
    assert discs[1].weight_shape == (4, 2, 3, 3) and discs[0].generator == "normal"


@pytest.mark.torch
@pytest.mark.tensorflow
def test_readme_example_runs(tmp_path):
    spec = tmp_path / "my_port.yaml"
    spec.write_text(_readme_example())
    p = subprocess.run([sys.executable, "-m", "upconform", "run", str(spec), "--no-history", "--out",
                        str(tmp_path / "out"), "--jobs", "2"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "0 checks, 2 discrepancy reports (5 calls, 0 with a bad outcome)" in out
    assert "tf.compat.v1.image.resize_bilinear(size=[17, 17], align_corners=True) [deprecated:" in out
    assert "means mode=linear, coordinate_transformation_mode=align_corners" in out
    assert "differ in coordinate_transformation_mode align_corners -> half_pixel" in out
    assert "mismatch: shifted" in out and "% of the input range" in out
    data = load_results(tmp_path / "out" / "results.json")
    assert all(c["outcome"] == "pass" for d in data["discrepancies"] for c in d["calls"])
    page = (tmp_path / "out" / "index.html").read_text()
    assert "deprecated</span>" in page and "<b>shifted</b>" in page
