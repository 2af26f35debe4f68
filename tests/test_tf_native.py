"""TensorFlow / Keras bindings read native calls as a TF program means them (NHWC unless data_format
says otherwise), refuse what TF rejects, and every fix found by the native search sweep stays fixed."""

from __future__ import annotations

import importlib.util
from types import MappingProxyType as M
from typing import Any

import numpy as np
import pytest

from upconform.adapters import _BUILTIN, NativeCall, Unsupported, get
from upconform.canonical import Case, freeze, generate, op_info
from upconform.harness.compare import compare

TF_BINDINGS = sorted(n for n in _BUILTIN if _BUILTIN[n][0] == "tf_bindings")


def _run(name: str, args: dict[str, Any], shapes: dict[str, tuple[int, ...]], op: str,
         dtype: str = "float32", gen: str = "normal") -> tuple[Any, np.ndarray, np.ndarray | None]:
    """(meaning, native output, reference output of that meaning or None)."""
    b = get(name)
    meaning = b.from_native(args, shapes, op=op)
    tensors = {"x": generate(gen, {}, shapes["x"], dtype, 0)}
    tensors.update(op_info(op).extra_tensors(shapes, dtype, 0))
    out = b.run(NativeCall(name, args), tensors)
    expected = None if isinstance(meaning, Unsupported) else op_info(op).expected(tensors, meaning)
    return meaning, out, expected


def _round_trip(name: str, meaning: dict[str, Any], shapes: dict[str, tuple[int, ...]], op: str) -> dict[str, Any]:
    params = {k: v for k, v in meaning.items() if k not in op_info(op).derived}
    case = Case(id="t", op=op, name="t", dtype="float32", params=freeze(params), shapes=M(shapes))
    call = get(name).to_native(case)
    assert isinstance(call, NativeCall), call
    get(name).check_args(call.args)  # to_native emits only arguments the API takes
    return get(name).from_native(dict(call.args), shapes, op=op)


# ------------------------------------------------------------------------------ declarations


@pytest.mark.parametrize("name", TF_BINDINGS)
def test_native_args_declared_and_misspelling_rejected(name):
    b = get(name)
    assert b.native_args, name
    with pytest.raises(TypeError, match="unknown argument"):
        b.check_args({"data_formt": "NHWC"})
    with pytest.raises(TypeError):
        b.from_native({"data_formt": "NHWC"}, {"x": (1, 1, 2, 2), "w": (1, 1, 1, 1)}, op=b.ops[0])


@pytest.mark.parametrize("name", TF_BINDINGS)
def test_search_space_draws_are_explained_or_refused(name):
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, Phase, given, settings

    b = get(name)

    def check_op(op: str) -> None:
        strategy = b.search_space(op)
        assert strategy is not None, (name, op)

        @settings(max_examples=15, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(strategy)
        def check(ex: dict[str, Any]) -> None:
            assert set(ex) == {"args", "shapes", "dtype"}
            assert len(ex["shapes"]["x"]) >= 3
            b.check_args(ex["args"])
            meaning = b.from_native(ex["args"], ex["shapes"], op=op)
            assert isinstance(meaning, dict) or (isinstance(meaning, Unsupported) and meaning.reason)

        check()

    for op in b.ops:
        check_op(op)


# ------------------------------------------------------------------------------ NHWC reading

needs_tf = pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="tensorflow is not installed")


@needs_tf
def test_tf_repeat_axis_1_is_h():
    meaning, out, expected = _run("tf.repeat", {"repeats": 2, "axis": 1}, {"x": (1, 2, 3, 4)}, "repeat", gen="arange")
    assert meaning == {"repeats": [2, 1]} and out.shape == (1, 2, 6, 4)
    assert compare(out, expected, "float32").ok
    assert get("tf.repeat").from_native({"repeats": 2, "axis": -2}, {"x": (1, 2, 3, 4)}) == {"repeats": [1, 2]}
    assert _round_trip("tf.repeat", meaning, {"x": (1, 2, 3, 4)}, "repeat") == meaning


@pytest.mark.parametrize("args, why", [
    ({"repeats": 2}, "flattened"), ({"repeats": 2, "axis": 3}, "C"), ({"repeats": 2, "axis": 0}, "N"),
    ({"repeats": 2, "axis": [1]}, "int"), ({"repeats": [1, 2, 1], "axis": 1}, "per-element"),
    ({"repeats": 0, "axis": 1}, "0"),
])
@needs_tf
def test_tf_repeat_refuses_what_is_not_a_spatial_repeat(args, why):
    r = get("tf.repeat").from_native(args, {"x": (1, 2, 3, 4)})
    assert isinstance(r, Unsupported) and why in r.reason


@needs_tf
def test_tf_repeat_to_native_emits_nhwc_single_axis():
    case = Case(id="t", op="repeat", name="t", dtype="float32", params=freeze({"repeats": [1, 3]}),
                shapes=M({"x": (1, 2, 3, 4)}))
    assert get("tf.repeat").to_native(case).args == {"repeats": 3, "axis": 2}
    both = Case(id="t", op="repeat", name="t", dtype="float32", params=freeze({"repeats": [2, 3]}),
                shapes=M({"x": (1, 2, 3, 4)}))
    assert isinstance(get("tf.repeat").to_native(both), Unsupported)


@needs_tf
def test_data_format_channels_first_and_4_element_forms():
    meaning, out, expected = _run("keras.layers.UpSampling2D", {"size": [2, 3], "interpolation": "bilinear",
                                                                "data_format": "channels_first"},
                                  {"x": (1, 3, 4, 5)}, "resize")
    assert out.shape == (1, 3, 8, 15) and compare(out, expected, "float32").ok
    meaning, out, expected = _run("tf.nn.max_pool_with_argmax", {"ksize": [1, 2, 2, 1], "strides": [1, 2, 2, 1],
                                                                 "padding": "VALID"}, {"x": (2, 3, 4, 6)}, "max_unpool")
    assert meaning["kernel_shape"] == [2, 2] and compare(out, expected, "float32").ok
    r = get("tf.nn.max_pool_with_argmax").from_native({"ksize": [2, 2, 2, 1], "strides": 2, "padding": "VALID"},
                                                      {"x": (1, 1, 4, 4)})
    assert isinstance(r, Unsupported) and "batch" in r.reason
    meaning, out, expected = _run("keras.ops.depth_to_space", {"block_size": 2, "data_format": "channels_first"},
                                  {"x": (1, 8, 2, 3)}, "pixel_shuffle", gen="arange")
    assert out.shape == (1, 2, 4, 6) and compare(out, expected, "float32").ok
    r = get("tf.nn.depth_to_space").from_native({"block_size": 2, "data_format": "NCHW"}, {"x": (1, 8, 2, 3)})
    assert isinstance(r, Unsupported) and "CPU" in r.reason


# ------------------------------------------------------------------------------ fixes


@needs_tf
def test_upsampling2d_bicubic_is_tf_bicubic_exact_at_factor_2():
    shapes = {"x": (1, 3, 5, 6)}
    meaning, out, expected = _run("keras.layers.UpSampling2D", {"size": 2, "interpolation": "bicubic"}, shapes,
                                  "resize")
    assert (meaning["mode"], meaning["cubic_coeff_a"], meaning["exclude_outside"]) == ("cubic", -0.5, True)
    assert meaning["coordinate_transformation_mode"] == "half_pixel"
    assert np.abs(out - expected).max() < 1e-5  # fractions 1/4, 3/4 are table entries
    assert _round_trip("keras.layers.UpSampling2D", meaning, shapes, "resize") == meaning
    # factor 3: the 1024-entry coefficient table (specs/expectations.yaml)
    _, out3, exp3 = _run("keras.layers.UpSampling2D", {"size": 3, "interpolation": "bicubic"}, shapes, "resize")
    assert 1e-5 < np.abs(out3 - exp3).max() < 3e-3


@needs_tf
def test_upsampling2d_area_and_refusals():
    meaning, out, expected = _run("keras.layers.UpSampling2D", {"size": [3, 2], "interpolation": "area"},
                                  {"x": (1, 2, 4, 5)}, "resize")
    assert meaning["mode"] == "area" and compare(out, expected, "float32").ok
    for args in ({"interpolation": "gaussian"}, {"interpolation": "lanczos3"}, {"size": 0},
                 {"data_format": "NCHW"}):
        assert isinstance(get("keras.layers.UpSampling2D").from_native(args, {"x": (1, 1, 3, 3)}), Unsupported)


@needs_tf
def test_image_resize_method_is_case_sensitive_and_preserve_aspect_ratio_is_modelled():
    r = get("tf.image.resize").from_native({"size": [4, 4], "method": "BILINEAR"}, {"x": (1, 1, 2, 2)})
    assert isinstance(r, Unsupported) and "raises" in r.reason
    meaning, out, expected = _run("tf.image.resize", {"size": [6, 5], "preserve_aspect_ratio": True},
                                  {"x": (1, 2, 5, 12)}, "resize")
    assert meaning["sizes"] == [1, 2, 2, 5] and out.shape == (1, 2, 2, 5) and compare(out, expected, "float32").ok


@needs_tf
def test_resize_area_v1_takes_no_half_pixel_centers():
    b = get("tf.compat.v1.image.resize_area")
    case = Case(id="t", op="resize", name="t", dtype="float32", params=freeze({"sizes": [1, 1, 3, 3], "mode": "area"}),
                shapes=M({"x": (1, 1, 7, 7)}))
    call = b.to_native(case)
    assert call.args == {"size": [3, 3]}
    with pytest.raises(TypeError):
        b.check_args({"size": [3, 3], "half_pixel_centers": False})


@needs_tf
def test_conv_transpose_explicit_padding_only_where_tf_takes_it():
    shapes = {"x": (1, 3, 5), "w": (3, 2, 3)}
    r = get("tf.nn.conv1d_transpose").from_native({"output_shape": [1, 9, 2], "strides": 2,
                                                   "padding": [[0, 0], [1, 1], [0, 0]]}, shapes)
    assert isinstance(r, Unsupported)  # TF: "Expected string for argument 'padding'"
    shapes2 = {"x": (1, 3, 4, 5), "w": (3, 2, 3, 3)}
    bad = get("tf.nn.conv2d_transpose").from_native(
        {"output_shape": [1, 9, 11, 2], "strides": 2, "padding": [[0, 0], [1, 1], [1, 1], [0, 0]]}, shapes2)
    assert isinstance(bad, Unsupported)  # TF: "Size of out_backprop doesn't match computed"
    meaning, out, expected = _run("tf.nn.conv2d_transpose", {"output_shape": [1, 7, 9, 2], "strides": [1, 2, 2, 1],
                                                             "padding": [[0, 0], [1, 1], [1, 1], [0, 0]]}, shapes2,
                                  "conv_transpose")
    assert meaning["pads"][:2] == [1, 1] and compare(out, expected, "float32").ok
    wrong_c = get("tf.nn.conv2d_transpose").from_native({"output_shape": [1, 7, 9, 3], "strides": 2,
                                                         "padding": "SAME"}, shapes2)
    assert isinstance(wrong_c, Unsupported)
    with pytest.raises(TypeError, match="strides"):
        get("tf.nn.conv2d_transpose").from_native({"output_shape": [1, 8, 10, 2]}, shapes2)


@needs_tf
def test_keras_conv2d_transpose_call_has_filters_and_kernel_size():
    shapes = {"x": (1, 3, 4, 5), "w": (3, 2, 3, 3)}
    meaning, out, expected = _run("keras.layers.Conv2DTranspose", {"filters": 2, "kernel_size": 3, "strides": 2,
                                                                   "padding": "same", "output_padding": 1},
                                  shapes, "conv_transpose")
    assert compare(out, expected, "float32").ok
    case = Case(id="t", op="conv_transpose", name="t", dtype="float32",
                params=freeze({k: v for k, v in meaning.items() if k != "output_spatial"}), shapes=M(shapes))
    call = get("keras.layers.Conv2DTranspose").to_native(case)
    assert call.args["filters"] == 2 and call.args["kernel_size"] == [3, 3]
    with pytest.raises(TypeError, match="filters"):
        get("keras.layers.Conv2DTranspose").from_native({"kernel_size": 3}, shapes)
    r = get("keras.layers.Conv2DTranspose").from_native({"filters": 2, "kernel_size": 3, "strides": 2,
                                                         "output_padding": 2}, shapes)
    assert isinstance(r, Unsupported) and "less than strides" in r.reason


@needs_tf
def test_keras_ops_conv_transpose_does_not_check_output_padding():
    shapes = {"x": (1, 3, 4, 5), "w": (3, 2, 4, 4)}
    meaning, out, expected = _run("keras.ops.conv_transpose", {"strides": 2, "padding": "same", "output_padding": 2},
                                  shapes, "conv_transpose")
    assert meaning["output_spatial"] == [8, 10] and compare(out, expected, "float32").ok


@needs_tf
def test_atrous_conv2d_transpose_is_dilated_stride_1():
    shapes = {"x": (1, 2, 5, 6), "w": (2, 3, 3, 3)}
    for args, outs in (({"output_shape": [1, 9, 10, 3], "rate": 2, "padding": "VALID"}, [9, 10]),
                       ({"output_shape": [1, 5, 6, 3], "rate": 2, "padding": "SAME"}, [5, 6])):
        meaning, out, expected = _run("tf.nn.atrous_conv2d_transpose", args, shapes, "conv_transpose")
        assert meaning["dilations"] == [2, 2] and meaning["output_spatial"] == outs
        assert compare(out, expected, "float32").ok
        assert _round_trip("tf.nn.atrous_conv2d_transpose", meaning, shapes, "conv_transpose") == meaning
    bad = get("tf.nn.atrous_conv2d_transpose").from_native({"output_shape": [1, 10, 10, 3], "rate": 2,
                                                            "padding": "VALID"}, shapes)
    assert isinstance(bad, Unsupported)  # TF raises (space_to_batch / backprop size checks)


@needs_tf
def test_max_unpool_default_output_is_the_input_shape_and_batch_index_is_read():
    shapes = {"x": (2, 3, 3, 10)}
    meaning, out, expected = _run("tf.nn.max_pool_with_argmax", {"ksize": [4, 1], "strides": [4, 3],
                                                                 "padding": "SAME"}, shapes, "max_unpool")
    assert meaning["output_shape"] == [3, 10] and compare(out, expected, "float32").ok
    meaning, out, expected = _run("tf.nn.max_pool_with_argmax", {"ksize": 2, "strides": 2, "padding": "VALID",
                                                                 "include_batch_in_index": True,
                                                                 "output_dtype": "int32"}, {"x": (2, 3, 4, 6)},
                                  "max_unpool")
    assert compare(out, expected, "float32").ok


@pytest.mark.parametrize("name, args", [
    ("keras.ops.image.resize", {"size": [7, 5], "interpolation": "bilinear", "data_format": "channels_first"}),
    ("keras.layers.Resizing", {"height": 7, "width": 5, "interpolation": "nearest"}),
    ("keras.ops.repeat", {"repeats": 2, "axis": 2}),
    ("keras.ops.space_to_depth", {"block_size": 2}),
])
@needs_tf
def test_keras_model_level_forms(name, args):
    op = get(name).ops[0]
    meaning, out, expected = _run(name, args, {"x": (1, 2, 4, 6)}, op)
    assert isinstance(meaning, dict) and compare(out, expected, "float32").ok
    assert _round_trip(name, meaning, {"x": (1, 2, 4, 6)}, op) == meaning
