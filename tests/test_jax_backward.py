"""Backward checks of the JAX bindings: jax.vjp through each binding's native call, gradients back in
canonical layout. (1) The dot-product identity with the binding's own float64 forward: every binding is
linear in x (and in w; affine in b), so <f(d), ct> = <d, grad> for any direction d. (2) The reference VJP
(OpInfo.gradients) of each call's meaning, float64 and float32. (3) uint8, dtypes, and the compiled path
(jax.jit of the same jax.vjp). Few shapes: every new shape makes XLA compile."""

from __future__ import annotations

from types import MappingProxyType as M
from typing import Any

import numpy as np
import pytest

from upconform.adapters import NativeCall, Unsupported, framework, get
from upconform.canonical import Case, freeze, generate, op_info
from upconform.canonical.values import plain
from upconform.harness.compare import compare

pytest.importorskip("jax")

DN2 = ["NCHW", "OIHW", "NCHW"]

# (binding, native args, canonical shapes, op): every JAX binding, the readings each one has
CALLS: list[tuple[str, dict[str, Any], dict[str, tuple[int, ...]], str]] = [
    # jax.image.resize: antialias linear downscale (the default), cubic both ways, cubic-pytorch clamped,
    # nearest at a fractional ratio, area, and a nearest integer repeat
    ("jax.image.resize", {"shape": [1, 4, 5, 3], "method": "linear"}, {"x": (1, 3, 9, 11)}, "resize"),
    ("jax.image.resize", {"shape": [1, 4, 5, 3], "method": "cubic"}, {"x": (1, 3, 9, 11)}, "resize"),
    ("jax.image.resize", {"shape": [1, 9, 11, 2], "method": "bicubic", "antialias": False}, {"x": (1, 2, 5, 7)},
     "resize"),
    ("jax.image.resize", {"shape": [1, 9, 11, 2], "method": "cubic-pytorch", "antialias": False},
     {"x": (1, 2, 5, 7)}, "resize"),
    ("jax.image.resize", {"shape": [1, 9, 11, 2], "method": "nearest"}, {"x": (1, 2, 5, 7)}, "resize"),
    ("jax.image.resize", {"shape": [1, 3, 5, 2], "method": "area"}, {"x": (1, 2, 7, 8)}, "resize"),
    ("jax.image.resize", {"shape": [1, 10, 21, 2], "method": "nearest"}, {"x": (1, 2, 5, 7)}, "repeat"),
    # jax.image.scale_and_translate: align_corners, asymmetric, half_pixel with scales, an antialiased
    # downscale, cubic-pytorch (edge clamped)
    ("jax.image.scale_and_translate", {"shape": [1, 9, 13, 2], "spatial_dims": [1, 2], "scale": [2.0, 2.0],
                                       "translation": [-0.5, -0.5], "method": "linear"}, {"x": (1, 2, 5, 7)}, "resize"),
    ("jax.image.scale_and_translate", {"shape": [1, 10, 10, 2], "spatial_dims": [1, 2], "scale": [2.0, 2.0],
                                       "translation": [-0.5, -0.5], "method": "cubic"}, {"x": (1, 2, 5, 5)}, "resize"),
    ("jax.image.scale_and_translate", {"shape": [1, 7, 12, 2], "spatial_dims": [1, 2], "scale": [1.5, 2.5],
                                       "translation": [0.0, 0.0], "method": "linear"}, {"x": (1, 2, 5, 5)}, "resize"),
    ("jax.image.scale_and_translate", {"shape": [1, 4, 3, 2], "spatial_dims": [1, 2], "scale": [0.5, 0.375],
                                       "translation": [0.0, 0.0], "method": "linear", "antialias": True},
     {"x": (1, 2, 8, 8)}, "resize"),
    ("jax.image.scale_and_translate", {"shape": [1, 12, 2], "spatial_dims": [1], "scale": [2.5],
                                       "translation": [0.0], "method": "cubic-pytorch", "antialias": False},
     {"x": (1, 2, 5)}, "resize"),
    # jax.lax.conv_transpose: transpose_kernel both ways, SAME/VALID/pairs, strides, dilation, layouts
    ("jax.lax.conv_transpose", {"strides": [2, 2], "padding": "SAME", "dimension_numbers": DN2,
                                "transpose_kernel": True}, {"x": (1, 3, 4, 5), "w": (3, 2, 3, 3), "b": (2,)},
     "conv_transpose"),
    ("jax.lax.conv_transpose", {"strides": [2, 3], "padding": [[1, 2], [0, 1]], "rhs_dilation": [2, 1]},
     {"x": (1, 3, 4, 5), "w": (2, 3, 3, 2)}, "conv_transpose"),  # default NHWC/HWIO, direct weights
    ("jax.lax.conv_transpose", {"strides": [3], "padding": "VALID", "rhs_dilation": [2], "transpose_kernel": True},
     {"x": (2, 2, 5), "w": (2, 3, 4), "b": (3,)}, "conv_transpose"),  # 1-D, NHC/HIO
    ("jax.lax.conv_transpose", {"strides": [2, 2], "padding": [[1, 1], [2, 0]], "transpose_kernel": True,
                                "use_consistent_padding": True, "dimension_numbers": ["NHWC", "HWOI", "NCHW"]},
     {"x": (1, 2, 4, 3), "w": (2, 3, 3, 4)}, "conv_transpose"),
    # jax.lax.conv_general_dilated: groups with direct weights
    ("jax.lax.conv_general_dilated", {"window_strides": [1, 1], "padding": [[1, 2], [2, 1]], "lhs_dilation": [2, 3],
                                      "rhs_dilation": [1, 2], "feature_group_count": 2},
     {"x": (1, 4, 4, 3), "w": (6, 2, 3, 2), "b": (6,)}, "conv_transpose"),
    ("jax.numpy.repeat", {"repeats": 3, "axis": 2}, {"x": (1, 2, 3, 4)}, "repeat"),
    ("jax.numpy.repeat", {"repeats": 2, "axis": 1}, {"x": (2, 3, 4)}, "repeat"),
    ("jnp.reshape+transpose (pixel shuffle)", {"upscale_factor": 2, "order": "CRD"}, {"x": (1, 8, 3, 2)},
     "pixel_shuffle"),
    ("jnp.reshape+transpose (pixel shuffle)", {"upscale_factor": 2, "order": "DCR"}, {"x": (1, 8, 3, 2)},
     "pixel_shuffle"),
    ("jnp.reshape+transpose (pixel unshuffle)", {"downscale_factor": 2, "order": "CRD"}, {"x": (1, 2, 4, 6)},
     "pixel_unshuffle"),
    ("jnp.reshape+transpose (pixel unshuffle)", {"downscale_factor": 3, "order": "DCR"}, {"x": (1, 2, 3, 6)},
     "pixel_unshuffle"),
]


def _case(op: str, params: dict[str, Any], shapes: dict[str, tuple[int, ...]], dtype: str = "float64") -> Case:
    return Case(id="t", op=op, name="t", dtype=dtype, params=freeze(params), shapes=M(shapes))


IDS = [f"{i}-{c[0].split(' ')[0].rsplit('.', 1)[-1]}-{c[3]}" for i, c in enumerate(CALLS)]

# canonical cases that reach a binding through to_native: transposed weights that prepare rotates and swaps
# (transposed_to_direct) for conv_general_dilated, with groups, unequal channels and a bias
GROUPED = _case("conv_transpose", {"strides": [2, 1], "pads": [1, 0, 0, 1], "dilations": [1, 2], "group": 2},
                {"x": (1, 4, 3, 4), "w": (4, 3, 3, 2), "b": (6,)})


def _tensors(op: str, shapes: dict[str, tuple[int, ...]], dtype: str, seed: int = 0) -> dict[str, np.ndarray]:
    t = {"x": generate("normal", {}, shapes["x"], dtype, seed)}
    t.update({k: v for k, v in op_info(op).extra_tensors(shapes, dtype, seed).items() if k in shapes})
    return t


def _native(name: str, args: dict[str, Any], shapes: dict[str, tuple[int, ...]], op: str) -> tuple[Any, dict]:
    """(the binding, the canonical meaning of its call)."""
    b = get(name)
    meaning = b.from_native(args, shapes, op=op)
    assert not isinstance(meaning, Unsupported), meaning
    return b, meaning


def _dot_identity(b: Any, call: NativeCall, tensors: dict[str, np.ndarray], out_shape: tuple[int, ...]) -> None:
    """<f(..., d, ...), ct> = <d, grad> for random directions d, with the binding's own float64 forward."""
    rng = np.random.default_rng(7)
    ct = rng.normal(size=out_shape)
    grads = b.run_backward(call, tensors, ct)
    assert sorted(grads) == sorted(tensors), (sorted(grads), sorted(tensors))
    for name, g in grads.items():
        assert g.dtype == np.float64 and g.shape == tensors[name].shape, (name, g.dtype, g.shape)
    zero_b = {"b": np.zeros_like(tensors["b"])} if "b" in tensors else {}
    for name in ("x", "w"):
        if name not in tensors:
            continue
        d = rng.normal(size=tensors[name].shape)
        lhs = float(np.sum(b.run(call, {**tensors, **zero_b, name: d}) * ct))
        rhs = float(np.sum(d * grads[name]))
        assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0), (name, lhs, rhs)
        assert abs(rhs) > 1e-3, (name, rhs)  # a gradient of zeros would pass only with a zero forward
    if "b" in tensors:  # f(x, w, db) = f(x, w, 0) + db, and <f(x, w, 0), ct> = <x, grad_x>
        db = rng.normal(size=tensors["b"].shape)
        lhs = float(np.sum(b.run(call, {**tensors, "b": db}) * ct)) - float(np.sum(tensors["x"] * grads["x"]))
        rhs = float(np.sum(db * grads["b"]))
        assert abs(lhs - rhs) <= 1e-12 * max(abs(lhs), 1.0), ("b", lhs, rhs)


def _agrees_with_reference(b: Any, call: NativeCall, op: str, meaning: Any, tensors: dict[str, np.ndarray],
                           dtype: str) -> dict[str, np.ndarray]:
    """The binding's gradients for a seeded cotangent against the reference VJP of its meaning, with the
    harness's comparison (default tolerance, scaled by the sums of absolute terms); returns them."""
    ct = generate("normal", {}, op_info(op).output_shape(meaning, {k: v.shape for k, v in tensors.items()}), dtype, 101)
    grads = b.run_backward(call, tensors, ct)
    c64 = ct.astype(np.float64)
    ref = op_info(op).gradients(tensors, meaning, c64)
    scale = op_info(op).gradients(tensors, meaning, c64, absolute=True)
    assert sorted(grads) == sorted(ref) == sorted(tensors), (sorted(grads), sorted(ref))
    for name, want in ref.items():
        c = compare(grads[name], want, dtype, scale=scale[name])
        assert c.ok, f"d/d{name}: {c.message}"
        assert np.abs(want).max() > 0.1, name  # a gradient, not zeros
    return grads


# float32 runs on these (each dtype compiles anew): antialias linear, cubic, both cubic-pytorch, area,
# scale_and_translate's align_corners and antialiased downscale, transpose_kernel both ways, groups, repeat,
# pixel shuffle
F32 = (0, 1, 3, 5, 7, 10, 11, 12, 13, 16, 17, 19)
RUNS = [(i, "float64") for i in range(len(CALLS))] + [(i, "float32") for i in F32]


@pytest.mark.parametrize("i, dtype", RUNS, ids=[f"{IDS[i]}-{dt}" for i, dt in RUNS])
def test_gradients(i, dtype):
    """The reference VJP of the call's meaning, in float64 (every call) and float32; and in float64 the
    dot-product identity with the binding's own forward."""
    name, args, shapes, op = CALLS[i]
    b, meaning = _native(name, args, shapes, op)
    tensors = _tensors(op, shapes, dtype)
    _agrees_with_reference(b, NativeCall(name, args), op, meaning, tensors, dtype)
    if dtype == "float64":
        _dot_identity(b, NativeCall(name, args), tensors, op_info(op).output_shape(meaning, shapes))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gradients_rotated_grouped_weights(dtype):
    b = get("jax.lax.conv_general_dilated")
    call = b.to_native(GROUPED)
    assert call.prep["to_direct"] and call.args["feature_group_count"] == 2
    tensors = _tensors("conv_transpose", dict(GROUPED.shapes), dtype)
    _agrees_with_reference(b, call, "conv_transpose", plain(GROUPED.normal), tensors, dtype)
    if dtype == "float64":
        _dot_identity(b, call, tensors, op_info("conv_transpose").output_shape(GROUPED.normal, GROUPED.shapes))


def test_uint8_has_no_gradient_and_floats_do():
    for name, args, shapes, op in CALLS:
        b = get(name)
        c = _case(op, b.from_native(args, shapes, op=op), shapes, "uint8")
        assert b.backward_unsupported(c) == Unsupported("integer tensors have no gradient")
        for dt in ("float16", "bfloat16", "float32", "float64"):
            assert b.backward_unsupported(_case(op, b.from_native(args, shapes, op=op), shapes, dt)) is None


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_gradients(dtype):
    """Half precision differentiates too: the gradients in the framework's dtype, within the dtype's default
    tolerance of the reference (x, w and a bias)."""
    b, meaning = _native(*CALLS[12])
    grads = _agrees_with_reference(b, NativeCall(b.name, CALLS[12][1]), "conv_transpose", meaning,
                                   _tensors("conv_transpose", CALLS[12][2], dtype), dtype)
    assert {k: str(v.dtype) for k, v in grads.items()} == {"x": dtype, "w": dtype, "b": dtype}


def test_cotangent_must_have_the_output_dtype():
    b, meaning = _native(*CALLS[18])
    shapes = CALLS[18][2]
    with pytest.raises(ValueError, match="cotangent float32"):
        b.prepare_backward(NativeCall(b.name, CALLS[18][1]), _tensors("repeat", shapes, "float64"),
                           np.zeros(op_info("repeat").output_shape(meaning, shapes), np.float32))


@pytest.mark.parametrize("i", [1, 8, 14, 20])
def test_compiled_backward_is_the_eager_backward(i):
    """jax.jit of the same jax.vjp: the gradients of the eager path (float64), uint8 unsupported there too."""
    name, args, shapes, op = CALLS[i]
    b, meaning = _native(name, args, shapes, op)
    path = framework("jax").path("compiled")
    assert path.backward_unsupported(b, _case(op, meaning, shapes, "uint8")).reason == "integer tensors have no gradient"
    assert path.backward_unsupported(b, _case(op, meaning, shapes, "float32")) is None
    t = _tensors(op, shapes, "float64")
    ct = generate("normal", {}, op_info(op).output_shape(meaning, shapes), "float64", 3)
    call = NativeCall(name, args)
    p = path.prepare_backward(b, call, t, ct)
    got = path.grads_to_canonical(path.execute_backward(p), p)
    want = b.run_backward(call, t, ct)
    assert sorted(got) == sorted(want) == sorted(t)
    for k in want:
        assert got[k].dtype == np.float64
        np.testing.assert_allclose(got[k], want[k], rtol=1e-13, atol=1e-13)
    assert path.build_info(p)["build_s"] > 0
