"""Backward checks of the TensorFlow and Keras bindings (issue 12): tf.GradientTape around each binding's own
native call gives gradients, in canonical layout and the framework's dtype, that (1) are the adjoint of the
binding's own forward (<y, c> = <x, dx>, and <w, dw> for a transposed convolution, plus <b, db> for a bias)
and (2) agree with the reference vector-Jacobian product (OpInfo.gradients). What has no gradient is
Unsupported with the reason; TF 2.21's Conv3D SAME offset bug shows up as a wrong conv3d_transpose input
gradient under a right forward."""

from __future__ import annotations

from types import MappingProxyType as M
from typing import Any

import numpy as np
import pytest

from upconform.adapters import NativeCall, Unsupported, get
from upconform.canonical import Case, case_tensors, freeze, generate, op_info
from upconform.canonical.dtypes import np_dtype

pytest.importorskip("tensorflow")

# |error| / (sum of |terms| of the same sum) allowed per dtype: float64 to rounding, float32 to a few ULPs,
# half precision to the accumulation of a few dozen rounded terms
REL = {"float64": 1e-12, "float32": 1e-5, "float16": 4e-3, "bfloat16": 3e-2}


def _case(op: str, params: dict[str, Any], shapes: dict[str, tuple[int, ...]], dtype: str,
          generator: str = "normal") -> Case:
    return Case(id=f"t/{op}[{dtype}]", op=op, name="t", dtype=dtype, params=freeze(params), shapes=M(shapes),
                generator=generator, seed=5)


def _cotangent(shape: tuple[int, ...], dtype: str, seed: int = 11) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np_dtype(dtype))


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(np.float64)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(_f64(a) * _f64(b)))


# (binding, op, params, shapes, dtype): representative cases of every TF and Keras binding
W = {"x": (2, 3, 5, 6), "w": (3, 2, 3, 3)}
WB = {**W, "b": (2,)}
CASES: list[tuple[str, str, dict[str, Any], dict[str, tuple[int, ...]], str]] = [
    # tf.image.resize: nearest (float64), bilinear up/down, antialias (scale_and_translate), bicubic
    ("tf.image.resize", "resize", {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                                   "nearest_mode": "round_prefer_ceil", "sizes": [2, 3, 8, 11]}, {"x": (2, 3, 5, 7)},
     "float64"),
    ("tf.image.resize", "resize", {"mode": "linear", "sizes": [2, 3, 9, 11]}, {"x": (2, 3, 5, 7)}, "float32"),
    ("tf.image.resize", "resize", {"mode": "linear", "sizes": [2, 3, 3, 4]}, {"x": (2, 3, 5, 7)}, "float32"),
    ("tf.image.resize", "resize", {"mode": "linear", "antialias": True, "exclude_outside": True,
                                   "sizes": [1, 2, 5, 4]}, {"x": (1, 2, 13, 17)}, "float32"),
    ("tf.image.resize", "resize", {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": True,
                                   "sizes": [2, 3, 8, 11]}, {"x": (2, 3, 5, 7)}, "float32"),
    # tf.compat.v1: every (align_corners, half_pixel_centers) reading
    ("tf.compat.v1.image.resize_nearest_neighbor", "resize",
     {"mode": "nearest", "coordinate_transformation_mode": "align_corners", "nearest_mode": "round_prefer_ceil",
      "sizes": [2, 3, 9, 4]}, {"x": (2, 3, 5, 7)}, "float64"),
    ("tf.compat.v1.image.resize_nearest_neighbor", "resize",
     {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor",
      "sizes": [2, 3, 11, 3]}, {"x": (2, 3, 5, 7)}, "float64"),
    ("tf.compat.v1.image.resize_nearest_neighbor", "resize",
     {"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn", "nearest_mode": "floor",
      "sizes": [2, 3, 3, 12]}, {"x": (2, 3, 5, 7)}, "float16"),
    ("tf.compat.v1.image.resize_bilinear", "resize",
     {"mode": "linear", "coordinate_transformation_mode": "align_corners", "sizes": [2, 3, 9, 4]},
     {"x": (2, 3, 5, 7)}, "float32"),
    ("tf.compat.v1.image.resize_bilinear", "resize",
     {"mode": "linear", "coordinate_transformation_mode": "asymmetric", "sizes": [2, 3, 8, 11]},
     {"x": (2, 3, 5, 7)}, "float32"),
    ("tf.compat.v1.image.resize_bicubic", "resize",
     {"mode": "cubic", "coordinate_transformation_mode": "align_corners", "cubic_coeff_a": -0.75,
      "sizes": [2, 3, 8, 11]}, {"x": (2, 3, 5, 7)}, "float32"),
    # crop_and_resize: a box reaching outside the image (extrapolation: the linear part is compared)
    ("tf.image.crop_and_resize", "resize",
     {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "axes": [2, 3], "sizes": [4, 6],
      "roi": [-0.25, 0.5, 1.25, 1.0], "extrapolation_value": -1.5}, {"x": (2, 3, 5, 7)}, "float32"),
    ("tf.image.crop_and_resize", "resize",
     {"mode": "nearest", "nearest_mode": "round_prefer_ceil", "coordinate_transformation_mode": "tf_crop_and_resize",
      "axes": [2, 3], "sizes": [5, 6], "roi": [0.2, 0.1, 0.7, 0.9]}, {"x": (2, 3, 5, 7)}, "float32"),
    # Keras resizes on the TensorFlow backend
    ("keras.layers.UpSampling2D", "repeat", {"repeats": [2, 3]}, {"x": (2, 3, 4, 5)}, "float64"),
    ("keras.layers.UpSampling2D", "resize", {"mode": "linear", "scales": [1, 1, 2, 2]}, {"x": (2, 3, 4, 5)},
     "float32"),
    ("keras.ops.image.resize", "resize", {"mode": "linear", "antialias": True, "exclude_outside": True,
                                          "sizes": [1, 2, 6, 9]}, {"x": (1, 2, 13, 17)}, "float32"),
    ("keras.layers.Resizing", "resize", {"mode": "linear", "sizes": [2, 3, 7, 4]}, {"x": (2, 3, 5, 7)}, "float32"),
    # transposed convolutions: SAME with strides, VALID, explicit pads, bias, the direct (rotated) kernel form
    ("tf.nn.conv2d_transpose", "conv_transpose", {"strides": 2, "auto_pad": "SAME_UPPER"}, WB, "float64"),
    ("tf.nn.conv2d_transpose", "conv_transpose", {"strides": 2, "pads": [1, 0, 1, 2]}, W, "float64"),
    ("tf.nn.conv2d_transpose", "conv_transpose", {"strides": [2, 3], "pads": [1, 1, 0, 0],
                                                  "weight_convention": "direct"}, {**W, "w": (2, 3, 3, 3)},
     "float64"),
    ("tf.nn.conv1d_transpose", "conv_transpose", {"strides": 3}, {"x": (2, 3, 5), "w": (3, 2, 4), "b": (2,)},
     "float64"),
    ("tf.nn.conv3d_transpose", "conv_transpose", {"strides": 2, "auto_pad": "SAME_UPPER"},
     {"x": (1, 2, 3, 4, 3), "w": (2, 3, 3, 2, 3)}, "float64"),
    ("tf.nn.atrous_conv2d_transpose", "conv_transpose", {"dilations": 2, "auto_pad": "SAME_UPPER"}, WB, "float64"),
    ("keras.layers.Conv2DTranspose", "conv_transpose", {"strides": 2, "auto_pad": "SAME_UPPER"}, WB, "float64"),
    ("keras.layers.Conv2DTranspose", "conv_transpose", {"strides": 3, "weight_convention": "direct"},
     {"x": (1, 3, 4, 5), "w": (2, 3, 2, 3), "b": (2,)}, "float32"),
    ("keras.ops.conv_transpose", "conv_transpose", {"strides": 2, "auto_pad": "SAME_UPPER"},
     {"x": (2, 3, 5), "w": (3, 2, 3), "b": (2,)}, "float64"),
    ("keras.ops.conv_transpose", "conv_transpose", {"strides": 2}, {"x": (1, 2, 3, 2, 3), "w": (2, 2, 3, 3, 2)},
     "float64"),
    ("tf.nn.conv2d_transpose", "conv_transpose", {"strides": 2, "auto_pad": "SAME_UPPER"}, WB, "bfloat16"),
    # pixel shuffle (DCR) both ways
    ("tf.nn.depth_to_space", "pixel_shuffle", {"upscale_factor": 2, "mode": "DCR"}, {"x": (2, 8, 3, 4)}, "float64"),
    ("tf.nn.space_to_depth", "pixel_unshuffle", {"downscale_factor": 3, "mode": "DCR"}, {"x": (2, 2, 6, 9)},
     "float64"),
    ("keras.ops.depth_to_space", "pixel_shuffle", {"upscale_factor": 3, "mode": "DCR"}, {"x": (1, 18, 2, 3)},
     "bfloat16"),
    ("keras.ops.space_to_depth", "pixel_unshuffle", {"downscale_factor": 2, "mode": "DCR"}, {"x": (2, 3, 4, 6)},
     "float64"),
    # max_pool_with_argmax + scatter: the gradient with respect to the pooled values
    ("tf.nn.max_pool_with_argmax", "max_unpool", {"kernel_shape": 2, "strides": 2}, {"x": (2, 3, 6, 8)}, "float64"),
    ("tf.nn.max_pool_with_argmax", "max_unpool", {"kernel_shape": 2, "strides": 2, "pads": [0, 0, 1, 1]},
     {"x": (1, 2, 5, 7)}, "float16"),
    # repeat
    ("tf.repeat", "repeat", {"repeats": [1, 3]}, {"x": (2, 3, 4, 5)}, "float64"),
    ("tf.repeat", "repeat", {"repeats": [2]}, {"x": (2, 3, 5)}, "bfloat16"),
    ("keras.ops.repeat", "repeat", {"repeats": [1, 1, 2]}, {"x": (1, 2, 3, 4, 2)}, "float16"),
]
IDS = [f"{b}-{op}-{i}-{dt}" for i, (b, op, _, _, dt) in enumerate(CASES)]


def _grads(name: str, case: Case, cot_seed: int = 11) -> tuple[Any, dict[str, np.ndarray], np.ndarray,
                                                                 dict[str, np.ndarray], np.ndarray]:
    """(native call, canonical tensors, canonical output, gradients, cotangent) of a case on a binding."""
    b = get(name)
    call = b.to_native(case)
    assert isinstance(call, NativeCall), call
    assert b.backward_unsupported(case) is None
    t = case_tensors(case)
    y = b.run(call, t)
    cot = _cotangent(y.shape, case.dtype, cot_seed)
    return call, t, y, b.run_backward(call, t, cot), cot


@pytest.mark.parametrize("name,op,params,shapes,dtype", CASES, ids=IDS)
def test_gradients_are_the_adjoint_of_the_forward_and_match_the_reference(name, op, params, shapes, dtype):
    case = _case(op, params, shapes, dtype)
    call, t, y, g, cot = _grads(name, case)
    info = op_info(op)
    names = info.grads(case.shapes)
    assert set(g) == set(names), (sorted(g), names)
    b = get(name)
    for n, v in g.items():
        assert v.dtype == np_dtype(dtype), (n, v.dtype)  # the framework's own dtype, kept
    # (1) the dot-product identity with the binding's own forward, on its linear part
    y_lin = _f64(y)
    if op == "resize":  # crop_and_resize's extrapolation value is a constant term
        y_lin = y_lin - _f64(b.run(call, {**t, "x": np.zeros_like(t["x"])}))
    lhs, scale = _dot(y_lin, cot), float(np.sum(np.abs(y_lin * _f64(cot))))
    db = _dot(t["b"], g["b"]) if "b" in g else 0.0
    if op == "max_unpool":  # <y, c> = <values, d values> (no two values share a position here)
        from upconform.reference import max_pool

        n = case.normal_form()
        values, _ = max_pool(t["x"], kernel_shape=n["kernel_shape"], strides=n["strides"], pads=n["pads"])
        sides = [_dot(values, g["values"])]
    else:
        sides = [_dot(t["x"], g["x"]) + db] + ([_dot(t["w"], g["w"]) + db] if "w" in g else [])
    for rhs in sides:
        assert abs(lhs - rhs) <= REL[dtype] * scale + 1e-300, (lhs, rhs, scale)
    # (2) agreement with the reference vector-Jacobian product, each element against its own scale
    want = info.gradients(t, case.normal_form(), cot)
    scales = info.gradients(t, case.normal_form(), cot, absolute=True)
    table = (name.endswith("resize_bicubic") or params.get("mode") == "cubic")
    for n in names:
        err = np.abs(_f64(g[n]) - want[n]) / np.maximum(scales[n], 1e-300)
        if table:  # TF's bicubic weights come from a 1024-entry table: its forward is off as much
            assert 1e-6 < err.max() < 3e-3, (n, err.max())
        else:
            assert err.max() <= REL[dtype], (n, err.max())


def test_bicubic_gradient_is_exactly_the_adjoint_of_the_table_forward():
    """The table error is the forward's: TF's ResizeBicubicGrad uses the same table (adjoint to 1e-7)."""
    for name, ctm, a in (("tf.compat.v1.image.resize_bicubic", "asymmetric", -0.75),
                         ("tf.image.resize", "half_pixel", -0.5)):
        p = {"mode": "cubic", "coordinate_transformation_mode": ctm, "cubic_coeff_a": a, "sizes": [1, 2, 11, 4],
             "exclude_outside": a == -0.5}
        case = _case("resize", p, {"x": (1, 2, 6, 9)}, "float32")
        _, t, y, g, cot = _grads(name, case)
        assert abs(_dot(y, cot) - _dot(t["x"], g["x"])) <= 1e-6 * float(np.sum(np.abs(_f64(y) * _f64(cot))))


def test_layout_of_channels_first_native_calls():
    """A native call in channels_first (Keras) reads the cotangent and gives the gradient in NCHW as they are."""
    for name, args, op, shape in (("keras.ops.depth_to_space", {"block_size": 2, "data_format": "channels_first"},
                                   "pixel_shuffle", (1, 8, 2, 3)),
                                  ("keras.ops.space_to_depth", {"block_size": 2, "data_format": "channels_first"},
                                   "pixel_unshuffle", (1, 2, 4, 6))):
        b = get(name)
        meaning = b.from_native(args, {"x": shape}, op=op)
        x = generate("arange", {}, shape, "float64", 0)
        call = NativeCall(name, args)
        y = b.run(call, {"x": x})
        cot = _cotangent(y.shape, "float64")
        g = b.run_backward(call, {"x": x}, cot)["x"]
        np.testing.assert_array_equal(g, op_info(op).gradients({"x": x}, meaning, cot)["x"])


def test_overlapping_unpool_gives_every_duplicate_the_cotangent():
    """Overlapping windows that pick the same element name its position twice: TF's scatter gradient
    (tensor_scatter_nd_update: a gather) gives both values the cotangent, as PyTorch does; the reference's
    exact adjoint of its last-wins forward gives the earlier one 0."""
    from upconform.reference import max_pool, max_unpool_vjp

    case = _case("max_unpool", {"kernel_shape": 3, "strides": 1}, {"x": (1, 2, 5, 6)}, "float64")
    _, t, _, g, cot = _grads("tf.nn.max_pool_with_argmax", case)
    n = case.normal_form()
    kw = {k: n[k] for k in ("kernel_shape", "strides", "pads")}
    values, idx = max_pool(t["x"], **kw)
    every = max_unpool_vjp(values, idx, cot, **kw, output_shape=n["output_shape"], duplicates="every")
    last = max_unpool_vjp(values, idx, cot, **kw, output_shape=n["output_shape"])
    np.testing.assert_array_equal(g["values"], every)
    assert np.sum(g["values"] != last) > 0


@pytest.mark.parametrize("name,op,params", [
    ("tf.image.resize", "resize", {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                                   "nearest_mode": "round_prefer_ceil", "sizes": [1, 1, 4, 4]}),
    ("tf.repeat", "repeat", {"repeats": [1, 2]}),
    ("tf.nn.depth_to_space", "pixel_shuffle", {"upscale_factor": 2, "mode": "DCR"}),
    ("keras.ops.repeat", "repeat", {"repeats": [2, 1]}),
    ("tf.nn.max_pool_with_argmax", "max_unpool", {"kernel_shape": 2, "strides": 2}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_uint8_has_no_gradient(name, op, params):
    shapes = {"x": (1, 4, 2, 2)} if op == "pixel_shuffle" else {"x": (1, 1, 2, 2)}
    case = _case(op, params, shapes, "uint8")
    assert isinstance(get(name).to_native(case), NativeCall)
    bad = get(name).backward_unsupported(case)
    assert isinstance(bad, Unsupported) and bad.reason == "integer tensors have no gradient"


@pytest.mark.parametrize("name", ["tf.image.resize", "tf.compat.v1.image.resize_area", "keras.ops.image.resize",
                                  "keras.layers.Resizing"])
def test_resize_area_has_no_registered_gradient(name):
    case = _case("resize", {"mode": "area", "sizes": [1, 2, 3, 4]}, {"x": (1, 2, 6, 8)}, "float32")
    b = get(name)
    assert isinstance(b.to_native(case), NativeCall)
    bad = b.backward_unsupported(case)
    assert isinstance(bad, Unsupported)
    assert "LookupError: gradient registry has no entry for: ResizeArea" in bad.reason and "2.21" in bad.reason
    # the reason is TensorFlow's own: the tape raises exactly that
    import tensorflow as tf

    x = tf.ones([1, 6, 8, 2])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.image.resize(x, [3, 4], method="area")
    with pytest.raises(LookupError, match="gradient registry has no entry for: ResizeArea"):
        tape.gradient(y, x)


def test_upsampling2d_area_is_unsupported_and_bilinear_is_not():
    b = get("keras.layers.UpSampling2D")
    area = _case("resize", {"mode": "area", "scales": [1, 1, 2, 2]}, {"x": (1, 1, 3, 3)}, "float32")
    linear = _case("resize", {"mode": "linear", "scales": [1, 1, 2, 2]}, {"x": (1, 1, 3, 3)}, "float32")
    assert b.to_native(area).args["interpolation"] == "area"
    assert "ResizeArea" in b.backward_unsupported(area).reason
    assert b.backward_unsupported(linear) is None


def test_conv3d_transpose_input_gradient_is_offset_where_tf_conv3d_same_pads_negative():
    """Finding (TF 2.21, CPU): tf.nn.conv3d_transpose's forward is right, its kernel gradient is right, but
    its input gradient, tf.nn.conv3d(cotangent, SAME), starts its windows late when SAME's total padding
    is <= -2 on an axis (output length - ((input - 1) * stride + kernel) >= 2): Conv3D centres a negative
    padding where Conv2D (and TF's documented SAME) pads 0. 1 -> 3 with stride 3, kernel 1: y = [x, 0, 0],
    so dx = c[0] = 10; TF gives c[1] = 20. The 2-D transposed convolution gives 10."""
    import tensorflow as tf

    x = tf.constant(np.full((1, 1, 1, 1, 1), 2.0))
    f = tf.ones([1, 1, 1, 1, 1], tf.float64)
    c = tf.reshape(tf.constant([10.0, 20.0, 30.0], tf.float64), [1, 3, 1, 1, 1])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y3 = tf.nn.conv3d_transpose(x, f, [1, 3, 1, 1, 1], [1, 3, 1, 1, 1], "SAME")
        y2 = tf.nn.conv2d_transpose(x[:, 0], f[0], [1, 3, 1, 1], [1, 3, 1, 1], "SAME")
    assert tf.reshape(y3, [-1]).numpy().tolist() == [2.0, 0.0, 0.0]
    if tf.__version__.startswith("2.21."):
        assert tape.gradient(y3, x, output_gradients=c).numpy().ravel().tolist() == [20.0]
    assert tape.gradient(y2, x, output_gradients=c[:, 0]).numpy().ravel().tolist() == [10.0]

    # through the binding, against the reference: forward and dw agree, dx does not
    case = _case("conv_transpose", {"strides": [2, 3, 3], "output_shape": [11, 3, 1]},
                 {"x": (1, 2, 6, 1, 1), "w": (2, 3, 1, 1, 1)}, "float64")
    b = get("tf.nn.conv3d_transpose")
    call = b.to_native(case)
    assert call.args["padding"] == "SAME"
    t = case_tensors(case)
    y = b.run(call, t)
    np.testing.assert_allclose(y, op_info("conv_transpose").expected(t, case.normal_form()), rtol=0, atol=1e-12)
    cot = _cotangent(y.shape, "float64")
    g = b.run_backward(call, t, cot)
    want = op_info("conv_transpose").gradients(t, case.normal_form(), cot)
    np.testing.assert_allclose(g["w"], want["w"], rtol=1e-12, atol=1e-12)
    if tf.__version__.startswith("2.21."):
        assert np.abs(g["x"] - want["x"]).max() > 0.5


def test_compiled_path_differentiates_under_xla_and_says_where_xla_cannot():
    """tf.function(jit_compile=True) around the tape: XLA's gradient of conv3d_transpose is the reference's
    where the eager Conv3D kernel's is shifted (stride over kernel, SAME); a gradient op without an XLA
    kernel (ResizeNearestNeighborGrad) is unsupported with its name, before anything runs."""
    from upconform.harness.runner import run_cases
    from upconform.harness.spec import load_text

    cases, _ = load_text("""\
op: conv_transpose
cases:
  - {id: c3, params: {strides: [2, 3, 3], auto_pad: SAME_UPPER}, shapes: {x: [1, 2, 6, 2, 1], w: [2, 3, 1, 1, 1]},
     checks: [backward], paths: [eager, compiled]}
""", "c3.yaml")
    by = {r.path: r for r in run_cases(cases, ["tf.nn.conv3d_transpose"])}
    assert str(by["compiled"].outcome) == "pass" and by["compiled"].gradients["x"]["ok"]
    assert str(by["eager"].outcome) == "fail" and not by["eager"].gradients["x"]["ok"] and by["eager"].gradients["w"]["ok"]
    cases, _ = load_text("""\
op: resize
cases:
  - {id: n, params: {mode: nearest, coordinate_transformation_mode: asymmetric, nearest_mode: floor, scales: [1, 1, 2, 2]},
     shapes: {x: [1, 2, 4, 5]}, checks: [backward], paths: [compiled]}
""", "n.yaml")
    [r] = run_cases(cases, ["tf.compat.v1.image.resize_nearest_neighbor"])
    assert str(r.outcome) == "unsupported" and "ResizeNearestNeighborGrad" in r.reason
