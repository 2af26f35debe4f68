"""Backward checks of the PyTorch bindings (issue 12): torch.autograd.grad through each binding's own native
call, gradients back in canonical layout.

Checked two ways: the dot-product identity against the binding's own float64 forward (every op here is
linear in each differentiable input: <forward(inputs), c> = <input, gradient>; conv_transpose is bilinear in
(x, w) plus its bias), and agreement with the reference vector-Jacobian product (OpInfo.gradients).
"""

from __future__ import annotations

from types import MappingProxyType as M
from typing import Any

import numpy as np
import pytest

from upconform.adapters import _BUILTIN, NativeCall, Unsupported, get
from upconform.canonical import Case, case_tensors, generate, op_info
from upconform.reference import direct_to_transposed, max_pool, max_unpool_vjp, transposed_to_direct

pytest.importorskip("torch")

TORCH = sorted(n for n, (m, _) in _BUILTIN.items() if m == "torch_bindings")

F = "torch.nn.functional."
_RESIZE = {"mode": "linear", "coordinate_transformation_mode": "half_pixel"}
# (binding, op, params, shapes): every torch binding, every family, the awkward corners of each
CASES: list[tuple[str, str, dict[str, Any], dict[str, tuple[int, ...]]]] = [
    (F + "interpolate", "resize", {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                   "nearest_mode": "floor", "scales": [1, 1, 2.5, 1.5]}, {"x": (2, 3, 4, 5)}),
    (F + "interpolate", "resize", {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                                   "nearest_mode": "round_prefer_ceil", "sizes": [1, 2, 7, 3, 5]}, {"x": (1, 2, 3, 4, 4)}),
    (F + "interpolate", "resize", {**_RESIZE, "sizes": [2, 2, 11]}, {"x": (2, 2, 4)}),
    (F + "interpolate", "resize", {"mode": "linear", "coordinate_transformation_mode": "align_corners",
                                   "sizes": [1, 3, 7, 9]}, {"x": (1, 3, 4, 5)}),
    (F + "interpolate", "resize", {**_RESIZE, "scales": [1, 1, 1.5, 2, 0.75]}, {"x": (1, 2, 3, 3, 4)}),
    (F + "interpolate", "resize", {"mode": "cubic", "coordinate_transformation_mode": "half_pixel",
                                   "cubic_coeff_a": -0.75, "sizes": [2, 2, 9, 5]}, {"x": (2, 2, 4, 6)}),
    (F + "interpolate", "resize", {**_RESIZE, "antialias": True, "exclude_outside": True, "sizes": [1, 2, 3, 5]},
     {"x": (1, 2, 8, 9)}),
    (F + "interpolate", "resize", {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "antialias": True,
                                   "cubic_coeff_a": -0.5, "exclude_outside": True, "sizes": [1, 2, 3, 4]},
     {"x": (1, 2, 7, 10)}),
    (F + "interpolate", "resize", {"mode": "adaptive_avg", "sizes": [1, 2, 3, 4]}, {"x": (1, 2, 8, 7)}),
    (F + "interpolate", "repeat", {"repeats": [2, 3]}, {"x": (1, 2, 3, 4)}),
    ("torch.nn.Upsample", "resize", {**_RESIZE, "sizes": [1, 2, 5, 7]}, {"x": (1, 2, 3, 4)}),
    ("torch.nn.UpsamplingNearest2d", "repeat", {"repeats": [3, 2]}, {"x": (2, 1, 3, 4)}),
    ("torch.nn.UpsamplingBilinear2d", "resize", {"mode": "linear", "coordinate_transformation_mode": "align_corners",
                                                 "sizes": [1, 2, 6, 8]}, {"x": (1, 2, 3, 4)}),
    (F + "conv_transpose1d", "conv_transpose", {"strides": 3, "pads": [1, 0]}, {"x": (2, 4, 5), "w": (4, 2, 3)}),
    (F + "conv_transpose2d", "conv_transpose", {"strides": [2, 3], "pads": [1, 1, 0, 0], "output_padding": [0, 1],
                                                "dilations": [2, 1], "group": 2},
     {"x": (2, 4, 5, 4), "w": (4, 3, 3, 2), "b": (6,)}),
    (F + "conv_transpose2d", "conv_transpose", {"strides": 2, "pads": [1, 1, 1, 1], "group": 2,
                                                "weight_convention": "direct"},
     {"x": (1, 4, 4, 3), "w": (6, 2, 3, 4), "b": (6,)}),
    (F + "conv_transpose3d", "conv_transpose", {"strides": 2, "dilations": [1, 2, 1]},
     {"x": (1, 2, 3, 2, 3), "w": (2, 2, 2, 2, 3), "b": (2,)}),
    ("torch.nn.ConvTranspose1d", "conv_transpose", {"strides": 2, "pads": [1, 1], "output_padding": [1]},
     {"x": (1, 3, 6), "w": (3, 2, 4), "b": (2,)}),
    ("torch.nn.ConvTranspose2d", "conv_transpose", {"strides": [3, 2], "pads": [1, 0, 1, 0], "output_padding": [2, 1],
                                                    "dilations": [1, 2], "group": 2, "weight_convention": "direct"},
     {"x": (2, 4, 3, 4), "w": (6, 2, 3, 3), "b": (6,)}),
    ("torch.nn.ConvTranspose3d", "conv_transpose", {"strides": [1, 2, 2], "group": 2},
     {"x": (1, 2, 2, 3, 2), "w": (2, 1, 2, 2, 2)}),
    (F + "pixel_shuffle", "pixel_shuffle", {"upscale_factor": 2}, {"x": (2, 8, 3, 4)}),
    (F + "pixel_unshuffle", "pixel_unshuffle", {"downscale_factor": 3}, {"x": (1, 2, 6, 9)}),
    ("torch.nn.PixelShuffle", "pixel_shuffle", {"upscale_factor": 3}, {"x": (1, 9, 2, 3)}),
    ("torch.nn.PixelUnshuffle", "pixel_unshuffle", {"downscale_factor": 2}, {"x": (2, 3, 4, 6)}),
    (F + "max_unpool1d", "max_unpool", {"kernel_shape": 2, "strides": 2, "pads": [1, 1]}, {"x": (2, 3, 8)}),
    (F + "max_unpool2d", "max_unpool", {"kernel_shape": [2, 3], "strides": [2, 3], "output_shape": [9, 10]},
     {"x": (2, 2, 8, 9)}),
    (F + "max_unpool3d", "max_unpool", {"kernel_shape": 2, "strides": 2}, {"x": (1, 2, 4, 4, 6)}),
    ("torch.nn.MaxUnpool1d", "max_unpool", {"kernel_shape": 3, "strides": 3}, {"x": (1, 2, 7)}),
    ("torch.nn.MaxUnpool2d", "max_unpool", {"kernel_shape": 3, "strides": 3, "pads": [1, 1, 1, 1]},
     {"x": (2, 2, 7, 7)}),
    ("torch.nn.MaxUnpool3d", "max_unpool", {"kernel_shape": [1, 2, 2], "strides": [1, 2, 2]}, {"x": (1, 2, 2, 4, 4)}),
    ("torch.repeat_interleave", "repeat", {"repeats": [3]}, {"x": (2, 3, 4)}),
    ("torch.repeat_interleave", "repeat", {"repeats": [2, 1, 3]}, {"x": (1, 2, 3, 2, 3)}),
]
IDS = [f"{b.rsplit('.', 1)[1]}-{op}-{i}" for i, (b, op, _, _) in enumerate(CASES)]


def _case(op: str, params: dict[str, Any], shapes: dict[str, tuple[int, ...]], dtype: str, seed: int = 5) -> Case:
    return Case(id=f"{op}/bw[{dtype}]", op=op, name="bw", dtype=dtype, params=M(params), shapes=M(shapes), seed=seed)


def _setup(binding: str, op: str, params: dict, shapes: dict, dtype: str) -> tuple[Any, Case, NativeCall, dict, np.ndarray]:
    """The binding, case, native call, canonical tensors and a seeded cotangent (the case dtype)."""
    b, case = get(binding), _case(op, params, shapes, dtype)
    call = b.to_native(case)
    assert not isinstance(call, Unsupported), call
    assert b.backward_unsupported(case) is None
    tensors = case_tensors(case)
    out_shape = tuple(op_info(op).output_shape(case.normal_form(), case.shapes))
    cot = generate("normal", {}, out_shape, dtype, 11)
    return b, case, call, tensors, cot


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.vdot(np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()))


def _values(case: Case, x: np.ndarray) -> np.ndarray:
    """The pooled values a max_unpool case scatters (the reference's pooling; random data has no ties)."""
    n = case.normal_form()
    return max_pool(x, kernel_shape=n["kernel_shape"], strides=n["strides"], pads=n["pads"])[0]


def test_every_torch_binding_is_covered():
    assert sorted({b for b, *_ in CASES}) == TORCH


@pytest.mark.parametrize("binding, op, params, shapes", CASES, ids=IDS)
def test_dot_product_identity_float64(binding, op, params, shapes):
    """<forward(inputs), c> = <input, gradient> for each input the forward is linear in (float64)."""
    b, case, call, tensors, cot = _setup(binding, op, params, shapes, "float64")
    grads = b.run_backward(call, tensors, cot)
    assert set(grads) == set(op_info(op).grads(case.shapes))
    assert all(grads[k].dtype == np.float64 for k in grads)
    if "b" in tensors:  # affine: the bias part, then the bilinear part without it
        no_bias = {**tensors, "b": np.zeros_like(tensors["b"])}
        y0 = b.run(call, no_bias)
        biased = _dot(b.run(call, tensors) - y0, cot)
        assert abs(biased - _dot(tensors["b"], grads["b"])) <= 1e-12 * max(1.0, abs(biased))
        assert grads["b"].shape == tensors["b"].shape
    else:
        y0 = b.run(call, tensors)
    lhs = _dot(y0, cot)
    assert abs(lhs) > 1e-3  # a sum that could go wrong
    for name in grads:
        if name == "b":
            continue
        inp = _values(case, tensors["x"]) if name == "values" else tensors[name]
        assert grads[name].shape == inp.shape, name
        assert abs(lhs - _dot(inp, grads[name])) <= 1e-10 * max(1.0, abs(lhs)), name


def test_direct_weight_gradient_is_the_inverse_rotation():
    """With weight_convention direct the call rotates the kernel; its gradient comes back by the inverse
    permutation: the gradient of <y, c> with respect to the direct weight, not the native one."""
    binding, op, params, shapes = CASES[15]
    assert params["weight_convention"] == "direct"
    b, case, call, tensors, cot = _setup(binding, op, params, shapes, "float64")
    assert call.prep["rotate"]
    g = b.run_backward(call, tensors, cot)["w"]
    native = get(binding).run_backward(
        NativeCall(call.binding, call.args), {**tensors, "w": direct_to_transposed(tensors["w"], group=2)}, cot)["w"]
    assert g.shape == tensors["w"].shape != native.shape
    np.testing.assert_array_equal(g, transposed_to_direct(native, group=2))
    # a finite difference along one direct-weight entry
    eps, idx = 1e-6, (1, 0, 2, 3)
    bumped = tensors["w"].copy()
    bumped[idx] += eps
    fd = (_dot(b.run(call, {**tensors, "w": bumped}), cot) - _dot(b.run(call, tensors), cot)) / eps
    assert abs(fd - g[idx]) < 1e-6 * max(1.0, abs(fd))


@pytest.mark.parametrize("binding", TORCH)
def test_uint8_has_no_gradient(binding):
    _, op, params, shapes = next(c for c in CASES if c[0] == binding)
    u = get(binding).backward_unsupported(_case(op, params, shapes, "uint8"))
    assert isinstance(u, Unsupported) and "integer tensors have no gradient" in u.reason


@pytest.mark.parametrize("dtype, half", [("float16", "Half"), ("bfloat16", "BFloat16")])
@pytest.mark.parametrize("row, kernel", [(6, "upsample_bilinear2d_aa_backward_cpu"),
                                         (7, "upsample_bicubic2d_aa_backward_cpu")])
def test_half_antialias_has_no_cpu_gradient(dtype, half, row, kernel):
    """The missing kernel is quoted, and it really is missing (the day torch adds it, this fails)."""
    import torch

    binding, op, params, shapes = CASES[row]
    u = get(binding).backward_unsupported(_case(op, params, shapes, dtype))
    assert isinstance(u, Unsupported) and f'"{kernel}" not implemented for \'{half}\'' in u.reason
    aten = getattr(torch.ops.aten, f"_{kernel.rsplit('_', 3)[0]}_aa_backward")
    g = torch.ones(1, 1, 2, 2, dtype=getattr(torch, dtype))
    with pytest.raises(NotImplementedError, match=kernel):
        aten(g, [2, 2], [1, 1, 4, 4], False, None, None)
    # without antialias the same dtype differentiates
    assert get(binding).backward_unsupported(_case(*CASES[5][1:], dtype)) is None


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("row", [0, 5, 14, 18, 22, 25, 31])
def test_low_precision_gradients_keep_the_dtype(row, dtype):
    binding, op, params, shapes = CASES[row]
    b, case, call, tensors, cot = _setup(binding, op, params, shapes, dtype)
    grads = b.run_backward(call, tensors, cot)
    assert {k: v.dtype.name for k, v in grads.items()} == {k: dtype for k in op_info(op).grads(case.shapes)}
    # close to the reference gradient of the same (rounded) inputs
    t64 = {k: np.asarray(v, np.float64) for k, v in tensors.items()}
    ref = op_info(op).gradients(t64, case.normal_form(), np.asarray(cot, np.float64))
    tol = {"float16": 2e-2, "bfloat16": 1.5e-1, "float32": 1e-5}[dtype]
    for k, g in grads.items():
        scale = max(1.0, float(np.abs(ref[k]).max()))
        assert np.abs(np.asarray(g, np.float64) - ref[k]).max() <= tol * scale, k



@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("binding, op, params, shapes", CASES, ids=IDS)
def test_gradients_agree_with_the_reference(binding, op, params, shapes, dtype):
    """Each gradient within 128 units of rounding of its sum of absolute terms (the reference's
    absolute=True): float32 measured up to ~45 (antialiased bicubic, float32 weights), float64 up to ~23."""
    b, case, call, tensors, cot = _setup(binding, op, params, shapes, dtype)
    grads = b.run_backward(call, tensors, cot)
    t64, c64 = {k: v.astype(np.float64) for k, v in tensors.items()}, cot.astype(np.float64)
    ref = op_info(op).gradients(t64, case.normal_form(), c64)
    scale = op_info(op).gradients(t64, case.normal_form(), c64, absolute=True)
    assert set(grads) == set(ref) == set(op_info(op).grads(case.shapes))
    eps = float(np.finfo(dtype).eps) / 2
    for name, want in ref.items():
        assert grads[name].dtype == np.dtype(dtype) and grads[name].shape == want.shape, name
        err = np.abs(grads[name].astype(np.float64) - want)
        assert (err <= 128 * eps * np.maximum(np.abs(want), scale[name])).all(), (name, float(err.max()))
        assert float(np.abs(want).max()) > 0.1  # a gradient that could be wrong

# pooling windows that overlap: one input element is the maximum of several windows, so the indices repeat
OVERLAP = [
    (F + "max_unpool1d", "max_unpool", {"kernel_shape": 3, "strides": 1}, {"x": (1, 2, 7)}),
    ("torch.nn.MaxUnpool2d", "max_unpool", {"kernel_shape": 3, "strides": 2, "pads": [1, 1, 1, 1]}, {"x": (2, 2, 7, 7)}),
]


@pytest.mark.parametrize("binding, op, params, shapes", OVERLAP, ids=["functional1d", "module2d"])
def test_repeated_indices_get_the_cotangent_once_per_copy(binding, op, params, shapes):
    """Known upstream (pytorch/pytorch#80204, #80827, open at 2.13): max_unpool's backward copies
    grad_output[index] to every value, while its forward keeps one write per index. So with repeated
    indices torch's values gradient is the reference's duplicates="every" reading, not the exact adjoint
    (last_wins, what a backward check compares with: it fails), and <values, gradient> exceeds
    <forward, c> by each repeated index's extra copies: (copies - 1) * value * c[index]."""
    b, case, call, tensors, cot = _setup(binding, op, params, shapes, "float64")
    n = case.normal_form()
    values, indices = max_pool(tensors["x"], kernel_shape=n["kernel_shape"], strides=n["strides"], pads=n["pads"])
    g = b.run_backward(call, tensors, cot)["values"]
    every = max_unpool_vjp(values, indices, cot, **n, duplicates="every")
    np.testing.assert_array_equal(g, every)
    exact = op_info(op).gradients(tensors, n, cot)["values"]
    assert np.abs(g - exact).max() > 0.1
    nc = values.shape[:2]
    flat_idx, flat_cot = indices.reshape(*nc, -1), cot.reshape(*nc, -1)
    extra = 0.0
    for i in np.ndindex(*nc):
        idx, first, counts = np.unique(flat_idx[i], return_index=True, return_counts=True)
        extra += float(np.sum((counts - 1) * flat_cot[i][idx] * values[i].ravel()[first]))
    assert abs(extra) > 0.1  # the case has repeated indices that matter
    lhs, rhs = _dot(b.run(call, tensors), cot), _dot(values, g)
    assert abs(rhs - lhs - extra) <= 1e-12 * max(1.0, abs(lhs))
    assert abs(lhs - _dot(values, exact)) <= 1e-12 * max(1.0, abs(lhs))  # the exact adjoint's identity


@pytest.mark.parametrize("row", [9, 18, 25, 31])
def test_execute_backward_repeats_on_one_prepared_state(row):
    """A backward check times execute_backward several times on one prepared state: every run builds its
    own graph and returns the same gradients (nothing accumulates, the module's .grad stays unset)."""
    b, case, call, tensors, cot = _setup(*CASES[row], "float32")
    prepared = b.prepare_backward(call, tensors, cot)
    first = b.grads_to_canonical(b.execute_backward(prepared), prepared)
    again = b.grads_to_canonical(b.execute_backward(prepared), prepared)
    assert first.keys() == again.keys()
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    assert all(leaf.grad is None for leaf in prepared.leaves)


@pytest.mark.torch
def test_compiled_path_gradients_match_the_reference():
    """torch.compile differentiates too: the same autograd state with its callable compiled (AOTAutograd
    compiles the forward and backward graphs in prepare_backward) gives the reference gradients."""
    from upconform.harness.runner import run_cases
    from upconform.harness.spec import load_text

    cases, _ = load_text("""\
op: conv_transpose
cases:
  - {id: compiled_bw, params: {strides: 2, pads: [1, 1, 0, 0], weight_convention: direct},
     shapes: {x: [1, 3, 4, 5], w: [2, 3, 3, 3], b: [2]}, checks: [backward], paths: [compiled]}
""", "compiled_bw.yaml")
    [r] = run_cases(cases, ["torch.nn.functional.conv_transpose2d"])
    assert (r.path, r.direction, str(r.outcome)) == ("compiled", "backward", "pass"), r.reason
    assert set(r.gradients) == {"x", "w", "b"} and all(g["ok"] for g in r.gradients.values())
    assert r.gradients["w"]["max_abs_err"] < 1e-5
