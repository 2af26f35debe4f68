"""PyTorch's compiled (torch.compile) and onnx (torch.onnx.export + ONNX Runtime) paths: real calls
against the reference and the eager call, the attribute audit (a planted wrong attribute fails the
check "attributes"), dtype refusals, and the shared exporter registry giving the public function's graph."""

from __future__ import annotations

import pytest

from upconform.adapters import Unsupported, base, get
from upconform.adapters.torch_bindings import FRAMEWORK
from upconform.harness.runner import run_cases
from upconform.harness.spec import load_text

pytest.importorskip("torch")

INTERP = "torch.nn.functional.interpolate"


def _cases(body: str) -> list:
    return load_text(body)[0]


def _onnx_deps() -> None:
    for mod in ("onnxscript", "onnx", "onnxruntime"):
        pytest.importorskip(mod)


def test_paths_registered() -> None:
    assert FRAMEWORK.path_names() == ("eager", "compiled", "onnx")
    onnx = FRAMEWORK.path("onnx")
    assert (onnx.module, onnx.extra) == ("onnxscript", "export")


def test_onnx_supports_refuses_what_onnxruntime_lacks() -> None:
    onnx = FRAMEWORK.path("onnx")
    cases = {c.id: c for c in _cases(
        "defaults: {shapes: {x: [1, 2, 4, 6]}}\ncases:\n"
        "  - {id: lin, op: resize, params: {mode: linear, sizes: [1, 2, 8, 12]}, dtypes: [float64, bfloat16, uint8]}\n"
        "  - {id: area, op: resize, params: {mode: adaptive_avg, sizes: [1, 2, 2, 3]}, dtypes: [float64]}\n"
        "  - {id: ps, op: pixel_unshuffle, params: {downscale_factor: 2}, dtypes: [float64]}\n")}
    b = get(INTERP)

    def why(case_id: str, binding: str = INTERP) -> Unsupported | None:
        c = cases[case_id]
        bb = get(binding)
        return onnx.supports(bb, bb.to_native(c), c)

    assert "no float64 kernel for the exported Resize" in why("resize/lin[float64]").reason
    assert "bfloat16" in why("resize/lin[bfloat16]").reason
    assert why("resize/lin[uint8]") is None
    assert why("resize/area[float64]") is None  # lowered to Gathers and sums, which take float64
    assert why("pixel_unshuffle/ps[float64]", "torch.nn.functional.pixel_unshuffle") is None
    assert b.name == INTERP


def test_read_graph_without_a_single_operator_node() -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    from upconform.adapters.torch_paths import read_graph

    g = helper.make_graph(
        [helper.make_node("Reshape", ["x", "s1"], ["a"]), helper.make_node("Transpose", ["a"], ["b"], perm=[0, 1, 2]),
         helper.make_node("Reshape", ["b", "s2"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 2, 3])],
        [helper.make_tensor("s1", TensorProto.INT64, [3], [1, 2, 24]),
         helper.make_tensor("s2", TensorProto.INT64, [4], [1, 8, 2, 3])])
    got = read_graph(helper.make_model(g), {"x": (1, 2, 4, 6)}, "pixel_unshuffle")
    assert got["meaning"] is None and got["nodes"] == ["Reshape", "Transpose", "Reshape"]
    assert "Reshape" in got["reason"] and onnx is not None


@pytest.mark.slow
def test_onnx_path_real_calls_match_reference_and_eager() -> None:
    _onnx_deps()
    cases = _cases(
        "defaults: {dtypes: [float32], paths: [onnx]}\ncases:\n"
        "  - {id: lin1x1, op: resize, bindings: [torch.nn.functional.interpolate],\n"
        "     params: {mode: linear, sizes: [1, 2, 1, 1]}, shapes: {x: [1, 2, 5, 7]}}\n"
        "  - {id: ct, op: conv_transpose, bindings: [torch.nn.functional.conv_transpose2d],\n"
        "     params: {strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 1]},\n"
        "     shapes: {x: [1, 2, 4, 5], w: [2, 3, 3, 3]}}\n"
        "  - {id: pu, op: pixel_unshuffle, bindings: [torch.nn.functional.pixel_unshuffle],\n"
        "     params: {downscale_factor: 2}, shapes: {x: [1, 1, 4, 6]}}\n")
    res = run_cases(cases, [INTERP, "torch.nn.functional.conv_transpose2d", "torch.nn.functional.pixel_unshuffle"])
    assert [(r.path, str(r.outcome)) for r in res] == [("onnx", "pass")] * 3
    assert all(r.vs_eager and r.vs_eager["ok"] for r in res)
    lin, ct, pu = res
    # pytorch#79361 / #183523: the dynamo exporter writes half_pixel, as eager computes
    assert lin.audit["status"] == "same" and lin.audit["nodes"] == ["Resize"]
    assert lin.audit["exported"]["coordinate_transformation_mode"] == "half_pixel"
    assert ct.audit["status"] == "same" and ct.audit["nodes"] == ["ConvTranspose"]
    assert pu.audit["status"] == "unreadable" and "Transpose" in pu.audit["reason"]
    assert lin.timing["opset"] == 20 and lin.timing["ops"] == ["Resize"] and lin.timing["export_s"] > 0


def test_onnx_path_native_call_with_recompute_scale_factor() -> None:
    """A native call that no canonical case writes: scale_factor with recompute_scale_factor=True."""
    _onnx_deps()
    import numpy as np

    from upconform.adapters import NativeCall
    from upconform.harness.runner import audit_verdict

    b, onnx = get(INTERP), FRAMEWORK.path("onnx")
    call = NativeCall(INTERP, {"scale_factor": 1.7, "mode": "bilinear", "align_corners": False,
                               "recompute_scale_factor": True})
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 7)).astype(np.float32)
    prepared = onnx.prepare(b, call, {"x": x})
    out = onnx.to_canonical(onnx.execute(prepared), prepared)
    np.testing.assert_allclose(out, b.run(call, {"x": x}), atol=1e-5)
    shapes = {"x": x.shape}
    verdict = audit_verdict(b.from_native(dict(call.args), shapes, op="resize"),
                            onnx.audit(b, call, prepared, shapes, "resize"))
    assert verdict["status"] == "same" and verdict["exported"]["sizes"] == [1, 2, 8, 11]


def _planted() -> base.Path:
    """A planted exporter: the real export, then the Resize node's coordinate_transformation_mode
    rewritten to pytorch_half_pixel (what the TorchScript exporter used to write, pytorch#79361)."""
    from upconform.adapters.torch_paths import Onnx

    class WrongAttribute(Onnx):
        def export(self, module, inputs):  # type: ignore[no-untyped-def]
            model = super().export(module, inputs)
            for node in model.graph.node:
                for a in node.attribute:
                    if node.op_type == "Resize" and a.name == "coordinate_transformation_mode":
                        a.s = b"pytorch_half_pixel"
            return model

    return WrongAttribute()


def test_attribute_audit_catches_a_wrong_exported_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    _onnx_deps()
    # a constant input: every coordinate convention gives the same numbers, so only the audit can tell
    cases = _cases(
        "cases:\n  - {id: lin1x5, op: resize, bindings: [torch.nn.functional.interpolate], dtypes: [float32],\n"
        "     input: constant, paths: [onnx], params: {mode: linear, sizes: [1, 2, 1, 5]}, shapes: {x: [1, 2, 5, 7]}}\n")
    right = run_cases(cases, [INTERP])[0]
    assert str(right.outcome) == "pass" and right.audit["status"] == "same"
    monkeypatch.setitem(base._PATHS, ("torch", "onnx"), _planted())
    wrong = run_cases(cases, [INTERP])[0]
    assert str(wrong.outcome) == "fail" and wrong.check == "attributes"
    assert wrong.audit["differs"] == {"coordinate_transformation_mode": ["half_pixel", "pytorch_half_pixel"]}
    assert "coordinate_transformation_mode" in wrong.reason and wrong.metrics["max_abs_err"] == 0.0


@pytest.mark.slow
def test_shared_registry_exports_the_public_functions_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    _onnx_deps()
    import numpy as np
    from onnx import helper

    from upconform.adapters import NativeCall, torch_paths

    onnx = FRAMEWORK.path("onnx")
    b = get(INTERP)
    x = {"x": np.zeros((1, 2, 5, 7), np.float32)}

    def graph(share: bool, args: dict) -> list:
        monkeypatch.setattr(torch_paths, "SHARE_REGISTRY", share)
        m = onnx.prepare(b, NativeCall(INTERP, args), x).model
        consts = sorted((t.name, t.raw_data) for t in m.graph.initializer)
        return [[(n.op_type, list(n.input), sorted((a.name, str(helper.get_attribute_value(a))) for a in n.attribute))
                 for n in m.graph.node], consts, [o.version for o in m.opset_import]]

    for args in ({"size": [8, 11], "mode": "bicubic"}, {"size": [3, 4], "mode": "area"}):
        assert graph(True, args) == graph(False, args)


def test_compiled_path_real_calls() -> None:
    cases = _cases(
        "defaults: {dtypes: [float32], paths: [eager, compiled]}\ncases:\n"
        "  - {id: ps, op: pixel_shuffle, bindings: [torch.nn.functional.pixel_shuffle],\n"
        "     params: {upscale_factor: 2}, shapes: {x: [1, 8, 3, 5]}}\n")
    res = run_cases(cases, ["torch.nn.functional.pixel_shuffle"])
    assert [(r.path, str(r.outcome)) for r in res] == [("eager", "pass"), ("compiled", "pass")]
    comp = res[1]
    assert comp.vs_eager["ok"] and comp.vs_eager["max_abs_err"] == 0.0
    assert comp.audit is None and comp.timing["backend"] == "inductor" and comp.timing["compile_s"] > 0


@pytest.mark.slow
def test_compiled_path_more_calls() -> None:
    cases = _cases(
        "defaults: {dtypes: [float32], paths: [compiled]}\ncases:\n"
        "  - {id: lin, op: resize, bindings: [torch.nn.functional.interpolate],\n"
        "     params: {mode: linear, sizes: [1, 2, 8, 11]}, shapes: {x: [1, 2, 5, 7]}}\n"
        "  - {id: ct, op: conv_transpose, bindings: [torch.nn.functional.conv_transpose2d],\n"
        "     params: {strides: [2, 2]}, shapes: {x: [1, 2, 4, 5], w: [2, 3, 3, 3]}}\n"
        "  - {id: mu, op: max_unpool, bindings: [torch.nn.functional.max_unpool2d],\n"
        "     params: {kernel_shape: [2, 2], strides: [2, 2]}, shapes: {x: [1, 2, 6, 8]}}\n")
    res = run_cases(cases, [INTERP, "torch.nn.functional.conv_transpose2d", "torch.nn.functional.max_unpool2d"])
    assert [str(r.outcome) for r in res] == ["pass"] * 3 and all(r.vs_eager["ok"] for r in res)
