"""Paired comparisons and scaling benchmarks (issue 15): the per-case ratio of two bindings' medians with
its bootstrap interval, the geometric mean per op with its t interval, which records pair (same case,
eager, forward, both timed), the log-log slope, the bandwidth line, the bench specs (kept out of the
default suite, within the memory budget), the report's tables and charts, and a tiny `upconform bench`."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
from scipy.stats import t as student_t

from upconform.adapters import get
from upconform.harness.bench import bandwidth_time, case_sizes, fit_slope, measure_bandwidth, scaling_points
from upconform.harness.budget import over_budget
from upconform.harness.spec import default_spec_paths, load_files
from upconform.harness.stats import geometric_mean_ci, paired_ratios, paired_table, ratio_ci
from upconform.reports import html

TRUE = {"c1": 2.0, "c2": 3.0, "c3": 4.0, "c4": 2.5, "c5": 5.0, "c6": 3.5}  # tf / torch per case


def _rec(case: str, binding: str, samples: list[float] | None, *, op: str = "resize", path: str = "eager",
         direction: str = "forward", framework: str | None = None) -> dict:
    timing = {"samples_s": samples, "median_s": statistics.median(samples)} if samples else {}
    return {"case_id": case, "op": op, "binding": binding, "framework": framework or binding.split(".")[0],
            "path": path, "direction": direction, "outcome": "pass" if samples else "unsupported", "timing": timing}


def _recorded() -> list[dict]:
    """Hand-made records: torch.f and tf.g on six cases with known ratios (medians exactly base and
    ratio * base), plus records that must not pair."""
    rs = []
    for k, (case, ratio) in enumerate(TRUE.items()):
        base = 1e-4 * (k + 1)
        rs.append(_rec(case, "torch.f", [base * 0.98, base, base * 1.03, base * 1.01, base * 0.99]))
        rs.append(_rec(case, "tf.g", [ratio * base * f for f in (1.02, 0.97, 1.0, 1.01, 0.995)]))
    rs += [_rec("only_torch", "torch.f", [1e-4, 1e-4, 1e-4]),  # unpaired: tf.g did not run it
           _rec("only_tf", "tf.g", [9e-4, 9e-4, 9e-4]),
           _rec("c7", "torch.f", [1e-4, 1e-4, 1e-4]), _rec("c7", "tf.g", None),  # tf.g unsupported: no samples
           _rec("c1", "tf.g", [1.0, 1.0, 1.0], path="onnx"),  # another path
           _rec("c2", "tf.g", [1.0, 1.0, 1.0], direction="backward")]  # another direction
    return rs


def test_paired_ratios_are_the_ratios_of_medians_on_common_cases_only():
    pairs = paired_ratios(_recorded(), "tf.g", "torch.f")
    assert [p.case_id for p in pairs] == sorted(TRUE)  # no only_torch, only_tf, c7; onnx/backward ignored
    for p in pairs:
        assert p.ratio == pytest.approx(TRUE[p.case_id], rel=1e-12)
        assert p.n_a == p.n_b == 5
        assert p.low <= TRUE[p.case_id] <= p.high  # the interval holds the truth...
        assert 0.9 * TRUE[p.case_id] < p.low and p.high < 1.1 * TRUE[p.case_id]  # ...and is as narrow as the noise
    # the other way round is the reciprocal
    back = paired_ratios(_recorded(), "torch.f", "tf.g")
    assert [b.ratio for b in back] == pytest.approx([1 / p.ratio for p in pairs], rel=1e-12)


def test_one_sample_has_no_interval_and_the_bootstrap_is_deterministic():
    assert ratio_ci([2.0], [1.0, 1.1]) == (pytest.approx(2 / 1.05), None, None)
    a, b = [3.0, 3.3, 2.9, 3.1], [1.0, 1.2, 0.9]
    assert ratio_ci(a, b) == ratio_ci(a, b)
    r, lo, hi = ratio_ci(a, b)
    assert r == pytest.approx(3.05 / 1.0) and lo < r < hi
    # the bootstrap can only pick medians the samples allow: the interval is within the extreme ratios
    assert min(a) / max(b) <= lo and hi <= max(a) / min(b)


def test_geometric_mean_and_its_interval_over_cases():
    ratios = list(TRUE.values())
    g = geometric_mean_ci(ratios)
    logs = np.log(ratios)
    assert g.ratio == pytest.approx(math.exp(logs.mean()), rel=1e-12)
    assert g.n == 6
    half = student_t.ppf(0.975, 5) * logs.std(ddof=1) / math.sqrt(6)
    assert (g.low, g.high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)), rel=1e-12)
    one = geometric_mean_ci([3.0])
    assert one.ratio == pytest.approx(3.0) and (one.low, one.high, one.n) == (None, None, 1)
    assert geometric_mean_ci([2.0, 2.0, 2.0])[:3] == pytest.approx((2.0, 2.0, 2.0))
    with pytest.raises(ValueError):
        geometric_mean_ci([])


def test_the_interval_covers_a_known_ratio_under_noise():
    """30 cases, each binding 5 samples with lognormal noise, the true ratio 1.7 on every case: the
    geometric mean's interval holds 1.7 and most per-case intervals do."""
    rng = np.random.default_rng(15)
    rs = []
    for k in range(30):
        base = 10 ** rng.uniform(-5, -2)
        rs.append(_rec(f"c{k}", "torch.f", list(base * np.exp(rng.normal(0, 0.05, 5)))))
        rs.append(_rec(f"c{k}", "tf.g", list(1.7 * base * np.exp(rng.normal(0, 0.05, 5)))))
    row = paired_table(rs, anchor_framework="torch")["resize"]["rows"][0]
    g = row["geomean"]
    assert g.n == 30 and g.low < 1.7 < g.high and g.high / g.low < 1.1
    covered = sum(p.low <= 1.7 <= p.high for p in row["pairs"])
    assert covered >= 24  # 95 % nominal; the bootstrap of 5-sample medians is a little optimistic
    assert row["slower"] == 30 and row["faster"] == 0


def test_paired_table_anchor_rows_and_primary():
    rs = _recorded() + [_rec(c, "torch.m", [2e-4] * 3) for c in ("c1", "c2")]  # a second torch binding
    t = paired_table(rs, anchor_framework="torch")["resize"]
    assert t["anchor"] == "torch.f" and t["anchor_framework"] == "torch" and t["anchor_cases"] == 8
    by = {r["binding"]: r for r in t["rows"]}
    assert set(by) == {"tf.g", "torch.m"}
    assert by["tf.g"]["geomean"].ratio == pytest.approx(math.exp(np.log(list(TRUE.values())).mean()))
    assert by["tf.g"]["geomean"].n == 6 and by["tf.g"]["slower"] == 6 and by["tf.g"]["primary"]
    assert by["torch.m"]["geomean"].n == 2 and by["torch.m"]["primary"]
    # an op PyTorch did not time is anchored on the binding that timed the most cases
    other = paired_table([_rec("a", "x.p", [1.0, 1.0], op="o"), _rec("b", "x.p", [1.0, 1.0], op="o"),
                          _rec("a", "y.q", [3.0, 3.0], op="o")], anchor_framework="torch")["o"]
    assert other["anchor"] == "x.p" and other["rows"][0]["geomean"].ratio == pytest.approx(3.0)


def test_the_report_folds_1d_2d_3d_variants_and_shows_the_paired_table():
    rs = [_rec("ct1", "torch.nn.functional.conv_transpose1d", [1e-5, 1e-5], op="conv_transpose"),
          _rec("ct1", "tf.nn.conv1d_transpose", [4e-5, 4e-5], op="conv_transpose", framework="tensorflow"),
          _rec("ct3", "torch.nn.functional.conv_transpose3d", [1e-4, 1e-4], op="conv_transpose"),
          _rec("ct3", "tf.nn.conv3d_transpose", [4e-4, 4e-4], op="conv_transpose", framework="tensorflow")]
    perf = html.build_performance({"results": rs})
    (t,) = perf["tables"]
    assert t["anchor"] == "torch.nn.functional.conv_transpose{1,3}d"
    (row,) = t["rows"]
    assert (row["binding"], row["n"], row["geomean"]) == ("tf.nn.conv{1,3}d_transpose", 2, "4")
    assert perf["scaling"]["charts"] == []
    page = html.render({"results": rs})
    assert "geometric mean ratio" in page and "tf.nn.conv{1,3}d_transpose" in page


# -------------------------------------------------------------------------------------- scaling


def test_fit_slope_on_synthetic_points():
    xs = [10.0 ** k for k in range(3, 9)]
    assert fit_slope(xs, [3e-9 * x ** 0.8 for x in xs]) == (0.8, round(math.log10(3e-9), 4))
    rng = np.random.default_rng(1)
    noisy = [2e-10 * x * math.exp(rng.normal(0, 0.05)) for x in xs]
    assert fit_slope(xs, noisy)[0] == pytest.approx(1.0, abs=0.03)
    with pytest.raises(ValueError):
        fit_slope([5.0, 5.0], [1.0, 2.0])


def test_bandwidth_line_and_measurement():
    assert bandwidth_time(4e9, 2e10) == pytest.approx(0.2)
    for threads in (1, 2):
        bw = measure_bandwidth(8 << 20, 2, threads)
        assert 1e8 < bw < 1e13  # bytes read + written per second, some machine's


def test_bench_specs_are_out_of_the_default_suite_and_within_budget():
    bench = sorted(p.name for p in default_spec_paths("specs/bench"))
    assert bench == ["conv_transpose.yaml", "max_unpool.yaml", "pixel_shuffle.yaml", "repeat.yaml", "resize.yaml"]
    assert not [p for p in default_spec_paths() if "bench" in p.parts]
    cases, _ = load_files(default_spec_paths("specs/bench"))
    assert not over_budget(cases, 1 << 30)
    assert {c.dtype for c in cases} == {"float32"} and {c.checks for c in cases} == {("forward",)}
    for op in ("resize", "repeat", "conv_transpose", "max_unpool", "pixel_shuffle"):
        names = {b for c in cases if c.op == op for b in c.bindings}
        assert {"torch", "tensorflow"} <= {get(b).framework for b in names}, op
    big = next(c for c in cases if c.id == "resize/spatial_1024[float32]")
    assert case_sizes(big) == {"in": 4 * 3 * 1024 ** 2, "out": 4 * 3 * 2048 ** 2, "axis": "spatial"}
    sizes = {case_sizes(c)["axis"] for c in cases}
    assert sizes == {"spatial", "channels", "batch"}


def test_scaling_points_and_chart():
    rs = [_rec(f"c{k}", "torch.f", [1e-9 * 10 ** k] * 3) for k in (4, 5, 6)]
    rs.append(_rec("c4", "torch.f", [1.0] * 3, path="onnx"))
    sizes = {f"c{k}": {"in": 10 ** k // 4, "out": 3 * 10 ** k // 4, "axis": "spatial"} for k in (4, 5, 6)}
    pts = scaling_points(rs, sizes)["resize"]["torch.f"]
    assert [(p.bytes_moved, p.seconds) for p in pts] == [(10 ** k, pytest.approx(1e-9 * 10 ** k)) for k in (4, 5, 6)]
    data = {"results": rs, "provenance": {"bench": {"bandwidth_Bps": 1e10, "copy_bytes": 1 << 28, "threads": 2,
                                                    "cases": sizes}}}
    sc = html.build_performance(data)["scaling"]
    assert sc["bandwidth"] == "10 GB/s" and len(sc["charts"]) == 1
    svg = sc["charts"][0][1]
    assert "slope 1.00" in svg and "bandwidth bound (10 GB/s)" in svg


def test_upconform_bench_on_a_tiny_spec(tmp_path):
    from upconform.cli import main

    spec = tmp_path / "tiny.yaml"
    spec.write_text("""op: resize
defaults:
  dtypes: [float32]
  params: {mode: linear, coordinate_transformation_mode: half_pixel, scales: [1, 1, 2, 2]}
  bindings: [torch.nn.functional.interpolate, tf.image.resize]
cases:
  - id: spatial_8
    shapes: {x: [1, 3, 8, 8]}
  - id: spatial_32
    shapes: {x: [1, 3, 32, 32]}
""")
    out = tmp_path / "bench"
    assert main(["bench", str(spec), "--out", str(out), "--copy-mib", "8", "--timing-budget", "0.01"]) == 0
    data = json.loads((out / "results.json").read_text())
    bench = data["provenance"]["bench"]
    assert bench["bandwidth_Bps"] > 1e8 and bench["copy_bytes"] == 8 << 20
    assert bench["cases"]["resize/spatial_32[float32]"] == {"in": 4 * 3 * 32 ** 2, "out": 4 * 3 * 64 ** 2,
                                                            "axis": "spatial"}
    page = (out / "index.html").read_text()
    assert "time vs bytes moved" in page and "bandwidth bound" in page and "geometric mean ratio" in page
    assert page.count("slope ") >= 2  # one series per binding
