"""Readings of ambiguous operator text (docs/conventions.md), and the reference fixes that an outside
check of ONNX Runtime's kernel tests found: empty batches and channels, keep_aspect_ratio rounding.

Each reading is checked against an implementation that follows it: ONNX Runtime and
onnx.reference (the `onnx` extra) and PyTorch; those tests skip where the package is missing.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from upconform import reference as R
from upconform.canonical import OPS, Case, case_tensors, expected_output, freeze, normalize

# ----------------------------------------------------------------------------------- empty batches

ZERO_CASES = {  # one parameter set per operator; the shapes get N = 0 or C = 0 below
    "resize": ({"mode": "cubic", "scales": [1, 1, 2, 1.5]}, {"x": (2, 3, 4, 6)}),
    "repeat": ({"repeats": [2, 3]}, {"x": (2, 3, 4, 6)}),
    "max_unpool": ({"kernel_shape": [2, 2], "strides": [2, 2]}, {"x": (2, 3, 4, 6)}),
    "conv_transpose": ({"strides": 2, "pads": [1, 0, 0, 1]}, {"x": (2, 4, 4, 6), "w": (4, 3, 3, 3), "b": (3,)}),
    "pixel_shuffle": ({"upscale_factor": 2, "mode": "DCR"}, {"x": (2, 8, 4, 6)}),
    "pixel_unshuffle": ({"downscale_factor": 2}, {"x": (2, 3, 4, 6)}),
}


def test_every_operator_has_an_empty_batch_case():
    assert set(ZERO_CASES) == set(OPS)


def _case(op, params, shapes):
    return Case(id=f"{op}/c", op=op, name="c", dtype="float32", params=freeze(params), shapes=freeze(shapes))


@pytest.mark.parametrize("op", sorted(ZERO_CASES))
@pytest.mark.parametrize("axis", [0, 1], ids=["N=0", "C=0"])
def test_empty_batch_and_channels(op, axis):
    """N = 0 or C = 0 gives the non-empty case's output shape with that axis 0; conv_transpose with
    C_in = 0 sums nothing, so its output is the bias alone."""
    params, full = ZERO_CASES[op]
    shapes = dict(full)
    shapes["x"] = tuple(0 if i == axis else v for i, v in enumerate(full["x"]))
    if op == "conv_transpose" and axis == 1:
        shapes["w"] = (0, *full["w"][1:])
    case = _case(op, params, shapes)
    y = expected_output(case, case_tensors(case))
    assert y.shape == OPS[op].output_shape(case.normal, case.shapes)
    want = list(expected_output(_case(op, params, full), case_tensors(_case(op, params, full))).shape)
    if op == "conv_transpose" and axis == 1:
        b = case_tensors(case)["b"].astype(np.float64)
        assert list(y.shape) == want and np.array_equal(y, np.broadcast_to(b.reshape(1, -1, 1, 1), y.shape))
    else:
        want[axis] = 0
        assert list(y.shape) == want and y.size == 0


# ----------------------------------------------------------------------------------- keep_aspect rounding


def test_keep_aspect_ratio_rounds_halfway_up():
    """2x3 to sizes 3x100, not_larger: scale 3/2, 3 * 3/2 = 4.5 rounds up to 5 (the text; ONNX Runtime
    and onnx.reference), not to even (4)."""
    y = R.resize(np.zeros((1, 1, 2, 3)), sizes=[3, 100], axes=[2, 3], keep_aspect_ratio_policy="not_larger")
    assert y.shape == (1, 1, 3, 5)
    y = R.resize(np.zeros((1, 1, 2, 5)), sizes=[1, 100], axes=[2, 3], keep_aspect_ratio_policy="not_larger")
    assert y.shape == (1, 1, 1, 3)  # scale 1/2: 2.5 -> 3
    y = R.resize(np.zeros((1, 1, 4, 3)), sizes=[6, 1], axes=[2, 3], keep_aspect_ratio_policy="not_smaller")
    assert y.shape == (1, 1, 6, 5)  # scale 3/2: 4.5 -> 5


# ----------------------------------------------------------------------------------- normal forms


def test_integer_align_corners_length_becomes_sizes():
    sh = {"x": (1, 1, 4, 5)}
    p = {"mode": "linear", "scales": [1, 1, 0.6, 0.5], "coordinate_transformation_mode": "align_corners"}
    assert "scales" in normalize("resize", p, sh)
    n = normalize("resize", {**p, "align_corners_length": "integer"}, sh)
    assert n["sizes"] == [1, 1, 2, 2] and "scales" not in n and "align_corners_length" not in n
    x = np.random.default_rng(5).normal(size=sh["x"])
    assert_allclose(R.resize(x, **p, align_corners_length="integer"),
                    R.resize(x, sizes=[1, 1, 2, 2], mode="linear", coordinate_transformation_mode="align_corners"))


def test_readings_stay_in_the_normal_form_only_where_they_matter():
    sh = {"x": (1, 1, 4, 6)}
    php = {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel", "scales": [1, 1, 0.3, 1.5]}
    assert normalize("resize", {**php, "align_corners_length": "integer"}, sh)["align_corners_length"] == "integer"
    assert "align_corners_length" not in normalize("resize", {**php, "align_corners_length": "scaled"}, sh)
    # exact scales: both readings are the same, sizes
    assert "align_corners_length" not in normalize("resize", {**php, "scales": [1, 1, 0.5, 1.5],
                                                              "align_corners_length": "integer"}, sh)
    crop = {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "scales": [1, 1, 0.8, 0.8],
            "roi": [0, 0, 0.2, 0.3, 1, 1, 0.9, 0.8]}
    n = normalize("resize", {**crop, "output_size_rule": "ignore_roi"}, {"x": (1, 1, 8, 10)})
    assert n["output_size_rule"] == "ignore_roi" and "scales" in n
    nearest = {"mode": "nearest", "sizes": [1, 1, 8, 12], "integer_rounding": "per_axis"}
    assert "integer_rounding" not in normalize("resize", nearest, sh)
    assert normalize("resize", {**nearest, "mode": "cubic"}, sh)["integer_rounding"] == "per_axis"


def test_float_inputs_ignore_integer_rounding():
    x = np.random.default_rng(6).normal(size=(1, 2, 5, 7))
    kw = {"sizes": [1, 2, 9, 4], "mode": "cubic"}
    assert_allclose(R.resize(x, integer_rounding="per_axis", **kw), R.resize(x, **kw), atol=0)


def test_per_axis_rounding_saturates_between_passes():
    """A cubic overshoot above 255 after the first pass is clipped before the second: by hand on a
    step edge, the per-axis result differs from rounding once."""
    x = np.zeros((1, 1, 6, 6), np.uint8)
    x[:, :, :, 3:] = 255
    x[:, :, 3:, :] = 255
    kw = {"sizes": [1, 1, 12, 12], "mode": "cubic"}
    final = np.clip(np.floor(R.resize(x, **kw) + 0.5), 0, 255)
    per_axis = R.resize(x, integer_rounding="per_axis", **kw)
    assert per_axis.min() >= 0 and per_axis.max() <= 255 and np.all(per_axis == np.round(per_axis))
    assert np.abs(per_axis - final).max() >= 1


def test_discrepancy_names_the_reading():
    from upconform.harness.discrepancy import differing_params
    from upconform.harness.spec import load_text

    spec = """\
op: resize
discrepancies:
  - id: align_corners_scale_factor
    shape: [1, 1, 4, 5]
    calls:
      - {binding: torch.nn.functional.interpolate, args: {scale_factor: 0.7, mode: bilinear, align_corners: true}}
      - {binding: torch.nn.functional.interpolate, args: {scale_factor: 0.7, mode: bilinear, align_corners: true}}
"""
    _, [d] = load_text(spec)
    assert d.op == "resize"
    a = {"mode": "linear", "align_corners_length": "scaled"}
    b = {"mode": "linear", "align_corners_length": "integer"}
    assert differing_params(a, b) == {"align_corners_length": ["scaled", "integer"]}
    assert "align_corners_length" in OPS["resize"].conventions


def test_discrepancy_report_names_a_pair_that_differs_only_by_a_reading():
    """run_discrepancy on two calls whose meanings differ only in align_corners_length (each computed
    by the reference, so both conform): the pair names the reading; a pair that also differs in the
    mode does not get the note."""
    from upconform.harness.discrepancy import run_discrepancy
    from upconform.harness.spec import Discrepancy

    base = {"mode": "linear", "coordinate_transformation_mode": "align_corners", "scales": [1.0, 1.0, 1.0, 0.6]}
    meanings = {"scaled": normalize("resize", base, {"x": (1, 1, 1, 4)}),
                "integer": normalize("resize", {**base, "align_corners_length": "integer"}, {"x": (1, 1, 1, 4)}),
                "nearest": normalize("resize", {**base, "mode": "nearest"}, {"x": (1, 1, 1, 4)})}

    class Canned:  # an executor whose "framework" computes each meaning with the reference
        def call(self, binding, kind, payload, timeout=None):  # noqa: ANN001, ARG002
            m = meanings[payload["args"]["reading"]]
            return {"canonical": m, "unsupported_reason": None, "error": None,
                    "output": OPS["resize"].expected(payload["tensors"], m).astype(np.float32)}

    calls = tuple({"binding": "fake", "args": {"reading": r}} for r in ("scaled", "integer", "nearest"))
    rep = run_discrepancy(Discrepancy(id="resize/readings", op="resize", shape=(1, 1, 1, 4), calls=calls), Canned())
    assert [c["outcome"] for c in rep["calls"]] == ["pass", "pass", "pass"]
    by = {(p["a"], p["b"]): p for p in rep["pairs"]}
    assert by[(0, 1)]["conventions"] == ["align_corners_length"] and "reading" in by[(0, 1)]["note"]
    assert not by[(0, 1)]["agree"]  # the readings give other numbers
    assert "note" not in by[(0, 2)] or "reading" not in by[(0, 2)]["note"]


# ----------------------------------------------------------------------------------- ONNX Runtime, onnx.reference


def _resize_model(x, *, scales=None, sizes=None, roi=None, axes=None, **attrs):
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.UINT8 if x.dtype == np.uint8 else TensorProto.FLOAT
    inits, names = [], ["X", "roi" if roi is not None else ""]
    if roi is not None:
        inits.append(numpy_helper.from_array(np.array(roi, np.float32), "roi"))
    if scales is not None:
        names.append("scales")
        inits.append(numpy_helper.from_array(np.array(scales, np.float32), "scales"))
    else:
        names += ["", "sizes"]
        inits.append(numpy_helper.from_array(np.array(sizes, np.int64), "sizes"))
    if axes is not None:
        attrs["axes"] = axes
    node = helper.make_node("Resize", names, ["Y"], **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", elem, list(x.shape))],
                              [helper.make_tensor_value_info("Y", elem, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    return model


@pytest.fixture(scope="module")
def onnx_runners():
    ort = pytest.importorskip("onnxruntime")
    ref = pytest.importorskip("onnx.reference")

    def run_ort(model, x):
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"X": x})[0]

    def run_ref(model, x):
        return ref.ReferenceEvaluator(model).run(None, {"X": x})[0]

    return run_ort, run_ref


def test_align_corners_length_readings(onnx_runners):
    run_ort, run_ref = onnx_runners
    x = np.array([[[[1, 2, 3, 4]]]], np.float32)
    for ctm, scale in (("align_corners", 0.6), ("pytorch_half_pixel", 0.3)):
        kw = {"scales": [1, 1, 1, scale], "mode": "linear", "coordinate_transformation_mode": ctm}
        m = _resize_model(x, **kw)
        assert_allclose(run_ort(m, x), R.resize(x, align_corners_length="integer", **kw), atol=1e-6)
        assert_allclose(run_ref(m, x), R.resize(x, align_corners_length="scaled", **kw), atol=1e-6)
        assert np.abs(R.resize(x, align_corners_length="integer", **kw) - R.resize(x, **kw)).max() > 0.5
    # the backend test's expectation: 1 + 3 / (2.4 - 1) = 3.142857
    assert_allclose(R.resize(x, scales=[1, 1, 1, 0.6], mode="linear", coordinate_transformation_mode="align_corners"),
                    [[[[1.0, 3.142857142857143]]]])


def test_output_size_rule_readings(onnx_runners):
    run_ort, run_ref = onnx_runners
    x = np.arange(80, dtype=np.float32).reshape(1, 1, 8, 10)
    kw = {"scales": [1, 1, 0.8, 0.8], "roi": [0, 0, 0.2, 0.3, 1, 1, 0.9, 0.8], "mode": "linear",
          "coordinate_transformation_mode": "tf_crop_and_resize"}
    m = _resize_model(x, **kw)
    ort_y, ref_y = run_ort(m, x), run_ref(m, x)
    assert ort_y.shape == ref_y.shape == (1, 1, 6, 8)  # floor(8 * 0.8), floor(10 * 0.8): the roi is ignored
    assert R.resize(x, **kw).shape == (1, 1, 4, 4)  # the text: floor(8 * 0.7 * 0.8), floor(10 * 0.5 * 0.8)
    assert_allclose(ort_y, R.resize(x, output_size_rule="ignore_roi", align_corners_length="integer", **kw),
                    atol=1e-4)
    assert_allclose(ref_y, R.resize(x, output_size_rule="ignore_roi", **kw), atol=1e-4)


def test_keep_aspect_ratio_rounding_matches_onnx(onnx_runners):
    run_ort, run_ref = onnx_runners
    x = np.zeros((1, 1, 2, 3), np.float32)
    m = _resize_model(x, sizes=[3, 100], axes=[2, 3], keep_aspect_ratio_policy="not_larger", mode="nearest")
    want = R.resize(x, sizes=[3, 100], axes=[2, 3], keep_aspect_ratio_policy="not_larger").shape
    assert run_ort(m, x).shape == run_ref(m, x).shape == want == (1, 1, 3, 5)


def _uint8_pairs(seed, n=8):
    rng = np.random.default_rng(seed)
    for i in range(n):
        x = rng.integers(0, 256, size=(1, 2, int(rng.integers(5, 20)), int(rng.integers(5, 20)))).astype(np.uint8)
        yield x, [1, 2, int(rng.integers(2, 9)), int(rng.integers(2, 9))], ("linear", "cubic")[i % 2]


def test_integer_rounding_readings(onnx_runners):
    """ONNX Runtime's uint8 antialias rounds per axis (within one step of its 22-bit fixed-point
    weights); onnx.reference rounds once."""
    run_ort, run_ref = onnx_runners
    total = exact_per_axis = exact_final_ref = 0
    worst_final = 0.0
    for x, sizes, mode in _uint8_pairs(7):
        kw = {"sizes": sizes, "mode": mode, "antialias": True, "cubic_coeff_a": -0.75}
        m = _resize_model(x, antialias=1, mode=mode, cubic_coeff_a=-0.75, sizes=sizes)
        ort_y, ref_y = run_ort(m, x).astype(np.float64), run_ref(m, x).astype(np.float64)
        per_axis = R.resize(x, integer_rounding="per_axis", **kw)
        final = np.clip(np.floor(R.resize(x, **kw) + 0.5), 0, 255)
        assert np.abs(ort_y - per_axis).max() <= 1
        total += ort_y.size
        exact_per_axis += int((ort_y == per_axis).sum())
        exact_final_ref += int((ref_y == final).sum())
        worst_final = max(worst_final, float(np.abs(ort_y - final).max()))
    assert exact_per_axis / total > 0.98, (exact_per_axis, total)
    assert exact_final_ref / total > 0.98, (exact_final_ref, total)
    assert worst_final > 1  # the readings differ beyond the uint8 tolerance


# ----------------------------------------------------------------------------------- PyTorch


@pytest.mark.torch
def test_torch_align_corners_scale_factor_is_the_integer_reading():
    torch = pytest.importorskip("torch")
    from upconform.adapters import get

    x = np.random.default_rng(8).normal(size=(1, 2, 5, 7))
    args = {"scale_factor": [0.6, 1.3], "mode": "bilinear", "align_corners": True}
    meaning = get("torch.nn.functional.interpolate").from_native(args, {"x": x.shape})
    assert meaning["sizes"] == [1, 2, 3, 9] and "scales" not in meaning
    got = torch.nn.functional.interpolate(torch.tensor(x), **args).numpy()
    assert_allclose(got, R.resize(x, scales=[1, 1, 0.6, 1.3], mode="linear", coordinate_transformation_mode="align_corners",
                                  align_corners_length="integer"), atol=1e-12)
    assert np.abs(got - R.resize(x, scales=[1, 1, 0.6, 1.3], mode="linear",
                                 coordinate_transformation_mode="align_corners")).max() > 1e-2


@pytest.mark.torch
def test_torch_uint8_interpolate_rounds_per_axis():
    torch = pytest.importorskip("torch")
    total = exact = 0
    worst_final = 0.0
    for x, sizes, mode in _uint8_pairs(9, n=10):
        sizes = [sizes[2] * 2 + 1, sizes[3] + 11]  # upsampling too
        tm = {"linear": "bilinear", "cubic": "bicubic"}[mode]
        got = torch.nn.functional.interpolate(torch.from_numpy(x), size=sizes, mode=tm, align_corners=False).numpy()
        kw = {"sizes": [1, 2, *sizes], "mode": mode}
        per_axis = R.resize(x, integer_rounding="per_axis", **kw)
        assert np.abs(got - per_axis).max() <= 1
        total += got.size
        exact += int((got == per_axis).sum())
        worst_final = max(worst_final, float(np.abs(got - np.clip(np.floor(R.resize(x, **kw) + 0.5), 0, 255)).max()))
    assert exact / total > 0.98 and worst_final > 1, (exact, total, worst_final)


def test_maxunpool_index_plane_readings(onnx_runners):
    """MaxUnpool with an output_shape other than the default: ONNX Runtime reads the indices as flat
    positions in the output plane, onnx.reference (and ONNX's backend test) in the default plane."""
    from onnx import TensorProto, helper

    run_ort, run_ref = onnx_runners
    node = helper.make_node("MaxUnpool", ["X", "I", "S"], ["Y"], kernel_shape=[2, 2], strides=[2, 2])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 2, 2]),
         helper.make_tensor_value_info("I", TensorProto.INT64, [1, 1, 2, 2]),
         helper.make_tensor_value_info("S", TensorProto.INT64, [4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 8
    x = np.array([[[[5, 6], [7, 8]]]], np.float32)
    idx = np.array([[[[5, 7], [13, 15]]]], np.int64)
    shape = np.array([1, 1, 5, 5], np.int64)
    import onnxruntime as ort
    from onnx.reference import ReferenceEvaluator

    feeds = {"X": x, "I": idx, "S": shape}
    got_ort = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    got_ref = ReferenceEvaluator(model).run(None, feeds)[0]
    kw = {"kernel_shape": [2, 2], "strides": [2, 2], "output_shape": [1, 1, 5, 5]}
    np.testing.assert_array_equal(got_ort, R.max_unpool(x, idx, **kw))
    np.testing.assert_array_equal(got_ref, R.max_unpool(x, idx, index_plane="default_shape", **kw))
    assert normalize("max_unpool", {"kernel_shape": 2, "strides": 2, "output_shape": [5, 5],
                                    "index_plane": "default_shape"}, {"x": (1, 1, 4, 4)})["index_plane"] == "default_shape"
    assert "index_plane" not in normalize("max_unpool", {"kernel_shape": 2, "strides": 2, "index_plane": "default_shape"},
                                          {"x": (1, 1, 4, 4)})


def test_keep_aspect_normal_form_keeps_the_policy_axes():
    """The policy's one scale drives the coordinates and round(scale * in) the output: the normal form keeps
    the requested sizes on the policy's axes (a full-rank out shape would re-apply it over N and C)."""
    from upconform.canonical import Case, case_tensors, expected_output, op_info

    c = Case(id="resize/k[float32]", op="resize", name="k", dtype="float32",
             params={"mode": "linear", "sizes": [6, 6], "axes": [2, 3], "keep_aspect_ratio_policy": "not_larger"},
             shapes={"x": (2, 3, 5, 7)})
    assert {k: c.normal[k] for k in ("sizes", "axes", "keep_aspect_ratio_policy")} == {
        "sizes": (6, 6), "axes": (2, 3), "keep_aspect_ratio_policy": "not_larger"}
    assert op_info("resize").output_shape(c.normal, c.shapes) == (2, 3, 4, 6)
    t = case_tensors(c)
    want = R.resize(t["x"].astype(np.float64), mode="linear", sizes=[6, 6], axes=[2, 3],
                    keep_aspect_ratio_policy="not_larger")
    np.testing.assert_array_equal(expected_output(c, t), want)
    # with scales the policy means nothing (Resize-19: it applies to sizes only) and is dropped
    s = Case(id="resize/s[float32]", op="resize", name="s", dtype="float32",
             params={"mode": "linear", "scales": [1, 1, 2, 2], "keep_aspect_ratio_policy": "not_larger"},
             shapes={"x": (1, 1, 3, 3)})
    assert "keep_aspect_ratio_policy" not in s.normal and s.normal["sizes"] == (1, 1, 6, 6)
