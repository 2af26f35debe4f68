"""TensorFlow's compiled (XLA) and litert (TFLiteConverter + LiteRT) paths: real calls agree with the
reference and the eager call; the attribute audit reads the converted flatbuffer back and catches an
exported attribute that means another case; refusals are unsupported with the ops named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path as FsPath

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from upconform.adapters import Unsupported, framework, get  # noqa: E402
from upconform.adapters import base as adapters_base  # noqa: E402
from upconform.harness.runner import check, run_cases  # noqa: E402
from upconform.harness.spec import load_text  # noqa: E402

ROOT = FsPath(__file__).resolve().parents[1]

SPEC = """
cases:
  - id: bilinear_half_pixel
    op: resize
    params: {mode: linear, coordinate_transformation_mode: half_pixel, sizes: [1, 3, 10, 14]}
    shapes: {x: [1, 3, 5, 7]}
    dtypes: [float32]
    bindings: [tf.compat.v1.image.resize_bilinear, keras.layers.UpSampling2D, tf.image.resize]
  - id: conv_s2_same_bias
    op: conv_transpose
    params: {strides: 2, auto_pad: SAME_UPPER}
    shapes: {x: [1, 4, 5, 6], w: [4, 3, 3, 3], b: [3]}
    dtypes: [float32]
    bindings: [tf.nn.conv2d_transpose, keras.layers.Conv2DTranspose]
  - id: d2s_r2
    op: pixel_shuffle
    params: {upscale_factor: 2, mode: DCR}
    shapes: {x: [1, 8, 3, 4]}
    input: arange
    dtypes: [float32]
    bindings: [tf.nn.depth_to_space]
  - id: repeat_h2
    op: repeat
    params: {repeats: [2, 1]}
    shapes: {x: [1, 2, 3, 4]}
    input: arange
    dtypes: [float32]
    bindings: [tf.repeat]
"""

NAMES = ["tf.compat.v1.image.resize_bilinear", "keras.layers.UpSampling2D", "tf.image.resize", "tf.nn.conv2d_transpose",
         "keras.layers.Conv2DTranspose", "tf.nn.depth_to_space", "tf.repeat"]


def _cases(text: str = SPEC):
    return load_text(text, "t.yaml")[0]


def test_tensorflow_declares_compiled_and_litert_paths():
    fw = framework("tensorflow")
    assert fw.path_names()[:3] == ("eager", "compiled", "litert")  # then keras_jax, keras_torch (test_keras_backends)
    assert fw.path("compiled").name == "compiled"


def test_compiled_runs_real_calls_and_matches_reference_and_eager():
    results = run_cases(_cases(), NAMES, paths=["compiled"])
    assert len(results) == 7
    for r in results:
        assert str(r.outcome) == "pass", (r.case_id, r.binding, r.reason)
        assert r.vs_eager and r.vs_eager["ok"], (r.case_id, r.binding, r.vs_eager)
        assert r.timing["build_s"] > 0 and "compile_s" in r.timing and r.audit is None


def test_litert_runs_real_calls_matches_and_audits():
    pytest.importorskip("ai_edge_litert")
    results = {(r.case_id.split("/")[1].split("[")[0], r.binding): r for r in run_cases(_cases(), NAMES, paths=["litert"])}
    for r in results.values():
        assert str(r.outcome) == "pass", (r.case_id, r.binding, r.reason)
        assert r.vs_eager and r.vs_eager["ok"]
        assert r.timing["convert_s"] > 0 and r.timing["ops"]
    # one builtin op carries the operator: its attributes mean what the eager call means
    for key, op in [(("bilinear_half_pixel", "tf.compat.v1.image.resize_bilinear"), "RESIZE_BILINEAR"),
                    (("bilinear_half_pixel", "keras.layers.UpSampling2D"), "RESIZE_BILINEAR"),
                    (("conv_s2_same_bias", "tf.nn.conv2d_transpose"), "TRANSPOSE_CONV"),
                    (("conv_s2_same_bias", "keras.layers.Conv2DTranspose"), "TRANSPOSE_CONV"),
                    (("d2s_r2", "tf.nn.depth_to_space"), "DEPTH_TO_SPACE")]:
        a = results[key].audit
        assert a["status"] == "same" and op in a["nodes"], (key, a)
    a = results[("bilinear_half_pixel", "tf.compat.v1.image.resize_bilinear")].audit
    assert a["attributes"] == {"op": "RESIZE_BILINEAR", "size": [10, 14], "align_corners": False,
                               "half_pixel_centers": True}
    # tf.repeat becomes generic ops: no single-op reading, and the numbers are still compared
    a = results[("repeat_h2", "tf.repeat")].audit
    assert a["status"] == "unreadable" and "TILE" in a["reason"]


def _flip_half_pixel_centers(model: bytes) -> bytes:
    """The same flatbuffer with every RESIZE_BILINEAR's half_pixel_centers flipped."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(model, 0))
    flipped = 0
    for op in m.subgraphs[0].operators:
        if isinstance(op.builtinOptions, s.ResizeBilinearOptionsT):
            op.builtinOptions.halfPixelCenters = not op.builtinOptions.halfPixelCenters
            flipped += 1
    assert flipped == 1
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_attribute_audit_catches_a_flipped_exported_attribute(monkeypatch):
    pytest.importorskip("ai_edge_litert")
    from upconform.adapters.tf_paths import TfLiteRT

    class Planted(TfLiteRT):
        """Converts honestly, then exports RESIZE_BILINEAR with half_pixel_centers flipped."""

        def prepare(self, binding, call, tensors, device="cpu"):
            state = super().prepare(binding, call, tensors, device)
            return super().prepare_model(_flip_half_pixel_centers(state["model"]), state, tensors)

    # a 1x1 input: every coordinate convention gives the same numbers, so only the audit can tell
    (case,) = _cases("""
op: resize
cases:
  - {id: one_pixel, params: {mode: linear, coordinate_transformation_mode: half_pixel, sizes: [1, 2, 3, 4]},
     shapes: {x: [1, 2, 1, 1]}, dtypes: [float32]}
""")
    from upconform.canonical import case_tensors, expected_output

    tensors = case_tensors(case)
    expected = expected_output(case, tensors)
    name = "tf.compat.v1.image.resize_bilinear"
    right = check(case, name, tensors, expected, path="litert")
    assert str(right.outcome) == "pass" and right.audit["status"] == "same"
    monkeypatch.setitem(adapters_base._PATHS, ("tensorflow", "litert"), Planted())
    wrong = check(case, name, tensors, expected, path="litert")
    assert str(wrong.outcome) == "fail" and wrong.check == "attributes", wrong.reason
    assert "coordinate_transformation_mode" in wrong.reason and "'half_pixel' (eager)" in wrong.reason
    assert wrong.audit["attributes"]["half_pixel_centers"] is False
    assert wrong.vs_eager["ok"]  # the numbers agree; the exported graph means another case


def test_refusals_are_unsupported_with_the_ops_named():
    (case,) = _cases("""
op: resize
cases:
  - id: bicubic
    params: {mode: cubic, cubic_coeff_a: -0.5, exclude_outside: 1, coordinate_transformation_mode: half_pixel,
             sizes: [1, 2, 6, 8]}
    shapes: {x: [1, 2, 3, 4]}
    dtypes: [float32]
""")
    b = get("tf.image.resize")
    call = b.to_native(case)
    why = framework("tensorflow").path("compiled").supports(b, call, case)
    assert isinstance(why, Unsupported) and "ResizeBicubic" in why.reason and "XLA" in why.reason
    pytest.importorskip("ai_edge_litert")
    why = framework("tensorflow").path("litert").supports(b, call, case)
    assert isinstance(why, Unsupported) and "ResizeBicubic" in why.reason and "SELECT_TF_OPS" in why.reason


def test_converter_refusal_reads_select_and_custom_ops():
    from upconform.adapters.tf_paths import converter_refusal

    msg = ("Some ops in the model are custom ops\nCustom ops: ResizeArea\nDetails:\n"
           "\ttf.ResizeArea(tensor<1x5x7x3xf32>, tensor<2xi32>) -> (tensor<1x3x4x3xf32>) : {}\n"
           "TF Select ops: FloorDiv, MaxPoolWithArgmax\n")
    why = converter_refusal(msg)
    assert "ResizeArea are neither" in why and "FloorDiv, MaxPoolWithArgmax have no TFLite builtin" in why
    assert "ResizeArea(tensor<1x5x7x3xf32>, tensor<2xi32>)" in why
    assert converter_refusal("something else went wrong") is None


def test_litert_refuses_bfloat16_and_float64_with_reasons():
    pytest.importorskip("ai_edge_litert")
    cases = _cases("""
op: pixel_shuffle
cases:
  - {id: d2s, params: {upscale_factor: 2, mode: DCR}, shapes: {x: [1, 4, 2, 3]}, input: arange,
     dtypes: [bfloat16, float64]}
""")
    b = get("tf.nn.depth_to_space")
    p = framework("tensorflow").path("litert")
    reasons = {c.dtype: p.supports(b, b.to_native(c), c) for c in cases}
    assert "bfloat16" in reasons["bfloat16"].reason
    assert "DepthToSpace" in reasons["float64"].reason and "SELECT_TF_OPS" in reasons["float64"].reason


@pytest.mark.slow
def test_export_spec_runs_clean(tmp_path):
    """specs/export_tf.yaml through the CLI: every check passes, is unsupported with a reason, or is a
    known discrepancy (exit 0)."""
    pytest.importorskip("ai_edge_litert")
    p = subprocess.run([sys.executable, "-m", "upconform", "run", str(ROOT / "specs/export_tf.yaml"), "--out",
                        str(tmp_path / "out"), "--no-history"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-3000:]


def test_litert_output_layout_is_canonical():
    pytest.importorskip("ai_edge_litert")
    from upconform.adapters.tf_paths import TfLiteRT

    out = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    assert TfLiteRT().to_canonical(out, {"last": True}).shape == (2, 5, 3, 4)
    assert TfLiteRT().to_canonical(out, {"last": False}).shape == (2, 3, 4, 5)
