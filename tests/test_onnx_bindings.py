"""The ONNX runtimes as bindings (adapters/onnx_bindings.py): canonical case -> ONNX node -> node_meaning
round trips, real values against the reference, the measured dtype tables, and the runtime defects
recorded in specs/expectations.yaml (asserted to still fail, so a fixed one is noticed)."""

from __future__ import annotations

from functools import cache
from types import MappingProxyType

import numpy as np
import pytest

from upconform.adapters import NativeCall, Unsupported, get
from upconform.adapters import onnx_bindings as ob
from upconform.canonical import Case, case_tensors, expected_output, freeze, op_info
from upconform.harness.compare import compare
from upconform.harness.spec import default_spec_paths, load_files

onnx = pytest.importorskip("onnx")

RUNTIMES = {"onnxruntime": "onnxruntime", "openvino": "openvino", "onnx.reference": "onnx"}
OP_TYPES = ("Resize", "ConvTranspose", "DepthToSpace", "SpaceToDepth", "MaxUnpool")


@cache
def suite() -> list[Case]:
    cases, _ = load_files(default_spec_paths())
    return cases


def _binding(runtime: str, op_type: str):
    pytest.importorskip(RUNTIMES[runtime])
    return get(f"{runtime}.{op_type}")


def _node(op_type: str, args: dict) -> tuple[object, dict]:
    """A NodeProto as an exporter writes it: attributes, constant inputs by name, optional ones empty."""
    from onnx import helper

    attrs = {k: v for k, v in args.items() if k not in ob.CONSTANT_INPUTS.get(op_type, {}).values()}
    consts, names = {}, ["x"] + (["w"] if op_type == "ConvTranspose" else []) + (["i"] if op_type == "MaxUnpool" else [])
    for pos, key in sorted(ob.CONSTANT_INPUTS.get(op_type, {}).items()):
        while len(names) < pos:
            names.append("")
        if key in args:
            consts[f"c_{key}"] = np.asarray(args[key], np.int64 if key in ("sizes", "output_shape") else np.float32)
            names.append(f"c_{key}")
        else:
            names.append("")
    while names[-1] == "":
        names.pop()
    return helper.make_node(op_type, names, ["y"], **attrs), consts


def _node_shapes(case: Case, op_type: str) -> dict:
    if op_type != "MaxUnpool":
        return dict(case.shapes)
    n = case.normal_form()
    x, k = case.shapes["x"], len(case.shapes["x"]) - 2
    pooled = [(x[2 + i] + n["pads"][i] + n["pads"][k + i] - n["kernel_shape"][i]) // n["strides"][i] + 1 for i in range(k)]
    return {"x": (*x[:2], *pooled)}  # MaxUnpool's own input is the pooled tensor


@pytest.mark.parametrize("op_type", OP_TYPES)
def test_round_trip_through_a_node(op_type):
    """Every float32 default-suite case that onnx.reference's binding expresses: to_native -> NodeProto ->
    node_meaning gives the case's normal form (in the text's readings)."""
    b = get(f"onnx.reference.{op_type}")
    n_checked = 0
    for case in suite():
        if case.op not in b.ops or case.op == "repeat" or case.dtype != "float32":
            continue
        call = b.to_native(case)
        if isinstance(call, Unsupported):
            assert call.reason
            continue
        node, consts = _node(op_type, dict(call.args))
        got = ob.node_meaning(node, consts, _node_shapes(case, op_type))
        assert not isinstance(got, Unsupported), (case.id, got)
        op, meaning = got
        want = {k: v for k, v in case.normal_form().items() if k not in ("weight_convention", "index_plane")}
        meaning = {k: v for k, v in meaning.items() if k not in ("weight_convention", "index_plane")}
        if op_type == "MaxUnpool":  # the pooling input stands for the default shape: compare the operator's meaning
            want.pop("output_shape"), meaning.pop("output_shape")
        assert (op, meaning) == (case.op, want), case.id
        n_checked += 1
    assert n_checked > 0


def test_round_trip_hypothesis_draws():
    hyp = pytest.importorskip("hypothesis")
    b = get("onnx.reference.Resize")

    @hyp.settings(max_examples=60, deadline=None, derandomize=True)
    @hyp.given(op_info("resize").search_space())
    def check(ex):
        try:
            case = Case(id="r", op="resize", name="r", dtype="float32", params=freeze(ex["params"]),
                        shapes=MappingProxyType({k: tuple(v) for k, v in ex["shapes"].items()}))
        except ValueError:
            return
        call = b.unsupported_reading(case) or b.to_native(case)
        if isinstance(call, Unsupported):
            return
        node, consts = _node("Resize", dict(call.args))
        got = ob.node_meaning(node, consts, case.shapes)
        n = {k: v for k, v in case.normal_form().items() if k != "integer_rounding"}
        assert got == ("resize", n)

    check()


def test_node_meaning_reads_exporter_nodes():
    """What torch.onnx.export writes: empty roi (name or tensor), empty scales with sizes, defaults left out."""
    from onnx import helper

    shapes = {"input": (1, 3, 4, 5)}
    node = helper.make_node("Resize", ["input", "roi", "scales", "sizes"], ["out"], mode="linear",
                            coordinate_transformation_mode="pytorch_half_pixel")
    consts = {"roi": np.zeros(0, np.float32), "scales": np.zeros(0, np.float32), "sizes": np.array([1, 3, 8, 10])}
    op, n = ob.node_meaning(node, consts, shapes)
    assert op == "resize" and n["sizes"] == [1, 3, 8, 10] and n["coordinate_transformation_mode"] == "half_pixel"
    node = helper.make_node("Resize", ["input", "", "scales"], ["out"], mode="nearest")
    op, n = ob.node_meaning(node, {"scales": np.array([1, 1, 2, 2], np.float32)}, shapes)
    assert n == {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "sizes": [1, 3, 8, 10],
                 "nearest_mode": "round_prefer_floor"}
    node = helper.make_node("Resize", ["input", "", "scales"], ["out"], mode="cubic")  # cubic_coeff_a -0.75 default
    assert ob.node_meaning(node, {"scales": np.array([1, 1, 0.6, 1], np.float32)}, shapes)[1]["cubic_coeff_a"] == -0.75
    node = helper.make_node("Resize", ["input", "", ""], ["out"])
    assert isinstance(ob.node_meaning(node, {}, shapes), Unsupported)
    node = helper.make_node("DepthToSpace", ["input"], ["out"], blocksize=2, mode="CRD")
    assert ob.node_meaning(node, {}, {"input": (1, 8, 2, 2)}) == ("pixel_shuffle", {"upscale_factor": 2, "mode": "CRD"})
    node = helper.make_node("ConvTranspose", ["input", "weight", "bias"], ["out"], strides=[2, 2], pads=[1, 1, 1, 1],
                            output_padding=[1, 1], kernel_shape=[3, 3])
    op, n = ob.node_meaning(node, {}, {"input": (1, 4, 5, 6), "weight": (4, 2, 3, 3), "bias": (2,)})
    assert op == "conv_transpose" and n["output_spatial"] == [10, 12]
    node = helper.make_node("MaxUnpool", ["p", "i", "shape"], ["out"], kernel_shape=[2, 2], strides=[2, 2])
    op, n = ob.node_meaning(node, {"shape": np.array([1, 3, 5, 5])}, {"p": (1, 3, 2, 2)})
    assert op == "max_unpool" and n["output_shape"] == [5, 5] and "index_plane" not in n


@cache
def _runtimes_available() -> tuple[str, ...]:
    import importlib.util

    return tuple(r for r, m in RUNTIMES.items() if importlib.util.find_spec(m) is not None)


def _check(binding, case):
    call = binding.unsupported_reading(case) or binding.to_native(case)
    if isinstance(call, Unsupported):
        return "unsupported"
    tensors = case_tensors(case)
    got = binding.run(call, tensors)
    return "pass" if compare(got, expected_output(case, tensors), case.dtype, case.tolerance).ok else "fail"


REPRESENTATIVE = ["resize/linear_half_pixel_to_2x3x10x14[float32]", "resize/cubic_a075_half_pixel_to_2x3x10x14[float32]",
                  "resize/nearest_asymmetric_floor_to_2x3x8x11[uint8]", "repeat/repeat2d_2x3[float32]",
                  "conv_transpose/s2_k4_pads_0x1x2x0[float32]", "conv_transpose/auto_pad_SAME_UPPER_s2_k4x3x3x3[float32]",
                  "conv_transpose/auto_pad_SAME_LOWER_s2_k4x3x4x4[float32]", "conv_transpose/conv1d_same_upper_s2[float32]",
                  "pixel_shuffle/shuffle_DCR_r2[float32]", "pixel_shuffle/shuffle_CRD_r3[float32]",
                  "pixel_unshuffle/unshuffle_DCR_r2[float32]", "max_unpool/k2_s2_output_shape_8x10[float32]",
                  "max_unpool/k3_s2_overlap_pads_1x1x1x1[float32]"]


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_runtime_values_on_representative_cases(runtime):
    pytest.importorskip(RUNTIMES[runtime])
    by_id = {c.id: c for c in suite()}
    outcomes = {}
    for cid in REPRESENTATIVE:
        case = by_id[cid]
        op_type = {"resize": "Resize", "repeat": "Resize", "conv_transpose": "ConvTranspose",
                   "pixel_shuffle": "DepthToSpace", "pixel_unshuffle": "SpaceToDepth", "max_unpool": "MaxUnpool"}[case.op]
        if f"{runtime}.{op_type}" not in ob_names():
            continue
        outcomes[cid] = _check(get(f"{runtime}.{op_type}"), case)
    # onnx.reference reads MaxUnpool indices in the default plane: these cases (an output_shape) are refused
    allowed = {"unsupported"} if runtime == "onnx.reference" else set()
    bad = {k: v for k, v in outcomes.items() if v != "pass" and not (k.startswith("max_unpool") and v in allowed)}
    assert not bad, bad
    assert sum(v == "pass" for v in outcomes.values()) >= 8


@cache
def ob_names() -> frozenset[str]:
    from upconform.adapters import _BUILTIN

    return frozenset(n for n, (m, _) in _BUILTIN.items() if m == "onnx_bindings")


# the recorded defects, each with a case that must still fail (expectations.yaml says why)
DEFECTS = [
    ("onnxruntime.Resize", "resize/nearest_half_pixel_floor_to_2x3x1x1[float32]", "fail"),
    ("onnxruntime.Resize", "resize/linear_align_corners_to_2x3x8x11[uint8]", "fail"),
    ("onnxruntime.Resize", "resize/cubic_uint8_final_to_1x3x17x23[uint8]", "error"),
    ("openvino.Resize", "resize/nearest_asymmetric_round_prefer_ceil_to_2x3x3x4[float32]", "fail"),
    ("openvino.Resize", "resize/linear_antialias_to_1x2x5x4[float32]", "fail"),
    ("openvino.Resize", "resize/cubic_a05_exclude_half_pixel_to_2x3x3x4[float32]", "fail"),
    ("onnx.reference.Resize", "resize/cubic_a075_asymmetric_to_2x3x3x4[float64]", "fail"),
    ("onnx.reference.ConvTranspose", "conv_transpose/groups_2_s2[float32]", "error"),
    ("onnx.reference.ConvTranspose", "conv_transpose/output_shape_10x12[float32]", "error"),
    ("onnx.reference.MaxUnpool", "max_unpool/k2x2_s1x1[float32]", "fail"),
]


@pytest.mark.parametrize("name, case_id, outcome", DEFECTS, ids=[f"{d[0]}:{d[1]}" for d in DEFECTS])
def test_known_defects_still_fail(name, case_id, outcome):
    pytest.importorskip(RUNTIMES[name.rsplit(".", 1)[0]])
    case = next(c for c in suite() if c.id == case_id)
    try:
        got = _check(get(name), case)
    except Exception:  # noqa: BLE001 - the runtime raises: that is the defect
        got = "error"
    assert got == outcome


def test_openvino_round_prefer_ceil_tie_half_pixel():
    """openvino#36023 reproduces (half_pixel, 20 -> 6: x = 14.5 gives 14); onnxruntime#28291 does not (15)."""
    x = np.arange(20, dtype=np.float32).reshape(1, 1, 1, 20)
    args = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_ceil",
            "sizes": [1, 1, 1, 6]}
    want = [1, 5, 8, 11, 15, 18]  # (i + 0.5) * 20 / 6 - 0.5: 1.1667, 4.5, 7.8333, 11.1667, 14.5, 17.8333
    for runtime, ok in (("onnxruntime", True), ("openvino", False), ("onnx.reference", True)):
        if runtime not in _runtimes_available():
            continue
        b = get(f"{runtime}.Resize")
        got = b.run(NativeCall(b.name, args), {"x": x}).ravel().tolist()
        assert (got == want) is ok, (runtime, got)


def test_index_plane_readings_by_experiment():
    """MaxUnpool with a non-default output_shape: ONNX Runtime reads indices in the output plane (the default
    reading), onnx.reference in the default plane (index_plane: default_shape), as each binding declares."""
    case = next(c for c in suite() if c.id == "max_unpool/k2_s2_output_shape_8x10[float32]")
    if "onnxruntime" in _runtimes_available():
        assert _check(get("onnxruntime.MaxUnpool"), case) == "pass"
    ref = get("onnx.reference.MaxUnpool")
    assert isinstance(ref.to_native(case), Unsupported)
    # a pooling input of the default shape (6x8), so every index lies in the default plane
    other = Case(id="m", op="max_unpool", name="m", dtype="float32", shapes=freeze({"x": (2, 3, 6, 8)}), seed=3,
                 params=freeze({"kernel_shape": [2, 2], "strides": [2, 2], "output_shape": [7, 9],
                                "index_plane": "default_shape"}))
    assert _check(ref, other) == "pass"


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_dtype_table_is_measured(runtime):
    """Each op type runs in the dtypes of DTYPES and fails (or gives another dtype) in the others."""
    pytest.importorskip(RUNTIMES[runtime])
    from upconform.canonical import np_dtype

    x_shapes = {"Resize": (1, 4, 2, 2), "ConvTranspose": (1, 4, 2, 2), "DepthToSpace": (1, 4, 2, 2),
                "SpaceToDepth": (1, 1, 4, 4), "MaxUnpool": (1, 1, 4, 4)}
    args = {"Resize": {"mode": "linear", "scales": [1.0, 1.0, 2.0, 2.0]}, "ConvTranspose": {"strides": [2, 2]},
            "DepthToSpace": {"blocksize": 2}, "SpaceToDepth": {"blocksize": 2},
            "MaxUnpool": {"kernel_shape": [2, 2], "strides": [2, 2]}}
    for op_type, dts in ob.DTYPES[runtime].items():
        for dt in ("float32", "float64", "float16", "bfloat16", "uint8"):
            if dt == "uint8" and op_type in ("ConvTranspose", "MaxUnpool"):
                continue  # no uint8 in the schema (and no uint8 case in the canonical vocabulary)
            x = np.ones(x_shapes[op_type]).astype(np_dtype(dt))
            tensors = {"x": x, **({"w": np.ones((4, 2, 3, 3)).astype(np_dtype(dt))} if op_type == "ConvTranspose" else {})}
            b = ob._FRAMEWORKS and [c for c in vars(ob).values() if isinstance(c, type) and getattr(c, "op_type", "") ==
                                    op_type and getattr(c, "framework", "") == runtime]
            binding = b[0]()
            try:
                y = binding.run(NativeCall(binding.name, args[op_type]), tensors)
                runs = y.dtype == x.dtype
            except Exception:  # noqa: BLE001
                runs = False
            if dt == "float64" and runtime == "openvino" and op_type in ("Resize", "ConvTranspose"):
                runs = False  # runs, but in float32 precision (the table's reason)
            assert runs == (dt in dts), (runtime, op_type, dt)


def test_opset_loads_everywhere():
    assert ob.OPSET == 28 and onnx.defs.onnx_opset_version() >= ob.OPSET


def test_conv_transpose_output_shape_a_stride_past_the_full_output_has_no_meaning():
    """`make search` found onnxruntime.ConvTranspose(output_shape=[1, 2]) on 1x1 (kernel 1, stride 1)
    raising where the binding claimed pads 0 + output_padding 1: the text's total_padding is -1, pads
    must be >= 0 and output_padding < stride, so the call has no meaning (both runtimes raise)."""
    b = get("onnxruntime.ConvTranspose")
    bad = b.from_native({"kernel_shape": [1, 1], "output_shape": [1, 2]}, {"x": (1, 1, 1, 1), "w": (1, 1, 1, 1)})
    assert isinstance(bad, Unsupported) and "less than the stride" in bad.reason
    bad = b.from_native({"kernel_shape": [1], "strides": [2], "output_shape": [7]}, {"x": (1, 1, 3), "w": (1, 1, 1)})
    assert isinstance(bad, Unsupported)
    ok = b.from_native({"kernel_shape": [1], "strides": [2], "output_shape": [6]}, {"x": (1, 1, 3), "w": (1, 1, 1)})
    assert ok["output_padding"] == [1] and ok["output_spatial"] == [6]  # one row past: output_padding 1 < 2
    case = Case(id="conv_transpose/x[float32]", op="conv_transpose", name="x", dtype="float32",
                params=freeze({"output_shape": [1, 2]}), shapes=freeze({"x": (1, 1, 1, 1), "w": (1, 1, 1, 1)}))
    assert isinstance(b.to_native(case), Unsupported)
    pytest.importorskip("onnxruntime")
    x = {"x": np.ones((1, 1, 3), np.float32), "w": np.ones((1, 1, 1), np.float32)}
    assert b.run(NativeCall(b.name, {"kernel_shape": [1], "strides": [2], "output_shape": [6]}), x).shape == (1, 1, 6)
    feeds = {"X": x["x"], "W": x["w"]}
    run = ob._session("onnxruntime", ob.build_model("ConvTranspose", {"kernel_shape": [1], "strides": [2],
                                                                      "output_shape": [7]}, feeds, (1, 1, 7)))
    with pytest.raises(Exception, match="inconsistent"):  # the runtime itself refuses it
        run(feeds)


# the shrunk calls of `make search`'s ONNX findings that are runtime behaviours (specs/expectations.yaml)
SEARCH_FOUND = [
    ("onnx.reference.Resize", "resize", {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                                         "nearest_mode": "floor", "sizes": [1, 1, 1]}, [np.inf, 1.0], [3.4028235e38]),
    ("onnx.reference.Resize", "resize", {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                                         "nearest_mode": "floor", "sizes": [1, 1, 1]}, [0.5, np.nan], [np.nan]),
    ("onnxruntime.ConvTranspose", "conv_transpose", {"strides": [2], "kernel_shape": [1], "auto_pad": "SAME_UPPER"},
     [1.0], [1.0]),
    ("onnxruntime.MaxUnpool", "max_unpool", {"kernel_shape": [2], "strides": [2]}, [0.5, np.nan], [0.5, 0.0]),
    ("onnx.reference.MaxUnpool", "max_unpool", {"kernel_shape": [1], "strides": [1]}, [1.0, 2.0], [2.0, 0.0]),
]


@pytest.mark.parametrize("name, op, args, x, got", SEARCH_FOUND, ids=[f"{s[0]}:{i}" for i, s in enumerate(SEARCH_FOUND)])
def test_search_found_behaviours_still_hold(name, op, args, x, got):
    """Each is an expectation (a NaN/Inf rule or a runtime defect); when it stops holding, the entry goes."""
    b = get(name)
    pytest.importorskip("onnx")
    if name.startswith("onnxruntime"):
        pytest.importorskip("onnxruntime")
    xs = np.array(x, np.float32).reshape(1, -1, 1) if name == "onnx.reference.MaxUnpool" else \
        np.array(x, np.float32).reshape(1, 1, -1)
    tensors = {"x": xs}
    if op == "conv_transpose":
        tensors["w"] = np.ones((1, 1, 1), np.float32)
    with np.errstate(all="ignore"):
        out = np.asarray(b.run(NativeCall(name, args), tensors)).ravel()
    np.testing.assert_array_equal(out, np.array(got, np.float32))


def test_max_unpool_whose_windows_reach_past_the_output_has_no_meaning():
    """Kernel 3, stride 3, pads 1 on length 5: the default output has 4 positions, the last window covers
    input position 4, so a maximum there has an index the output cannot hold (found by upconform search:
    ONNX Runtime runs it anyway). With an output_shape that holds it, the call means a case again."""
    from upconform.adapters import Unsupported
    from upconform.adapters.onnx_bindings import args_meaning

    bad = args_meaning("MaxUnpool", {"kernel_shape": [3, 1], "strides": [3, 1], "pads": [1, 0, 1, 0]}, {"x": (1, 2, 5, 1)})
    assert isinstance(bad, Unsupported) and "past the output plane of 4" in bad.reason
    ok = args_meaning("MaxUnpool", {"kernel_shape": [3, 1], "strides": [3, 1], "pads": [1, 0, 1, 0],
                                    "output_shape": [1, 2, 5, 1]}, {"x": (1, 2, 5, 1)})
    assert not isinstance(ok, Unsupported) and ok[0] == "max_unpool"
