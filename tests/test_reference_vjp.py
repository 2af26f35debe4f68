"""The reference's vector-Jacobian products (``OpInfo.gradients``) are the exact adjoints of its forwards.

* The dot-product test ``<A d, y> == <d, A^T y>`` over Hypothesis-drawn canonical cases of every family
  (the records' own ``search_space`` plus the parameters it leaves out: tf_crop_and_resize, axes and
  aspect policies, direct conv_transpose weights, max_unpool output shapes), for every gradient name:
  resize/repeat/pixel ops are linear in x (affine for tf_crop_and_resize's extrapolation, so the map
  is ``f(d) - f(0)``); conv_transpose is linear in x at fixed w, in w at fixed x, and in b; max_unpool
  is linear in the pooled values at fixed indices. The error is judged against ``<|d|, |A|^T |y|>``
  (``absolute=True``), the sum of the magnitudes of every term, so a sum that cancels is not
  mistaken for an error.
* Central finite differences on hand-picked small cases, element by element.
* ``absolute=True`` bounds ``|VJP|`` elementwise, with equality where every term is nonnegative.
* conv_transpose's gradients equal a direct strided, dilated correlation of the cotangent with the
  kernel written here with plain loops: transposed convolution is the adjoint of convolution.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from upconform import reference as R
from upconform.canonical import OPS
from upconform.reference.max_unpool import INDEX_PLANES
from upconform.reference.resize import (
    ALIGN_CORNERS_LENGTHS,
    COORDINATE_TRANSFORMATION_MODES,
    KEEP_ASPECT_RATIO_POLICIES,
    MODES,
    NEAREST_MODES,
    OUTPUT_SIZE_RULES,
)

PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
RTOL = 1e-12


# --------------------------------------------------------------------------- cases


@st.composite
def resize_more(d: Any) -> dict[str, Any]:
    """Resize parameters the record's search space leaves out: tf_crop_and_resize (roi, extrapolation,
    the output-size and length readings), axes with keep_aspect_ratio_policy, rank 3, cubic_coeff_a."""
    k = d(st.integers(1, 3))
    x = (d(st.integers(1, 2)), d(st.integers(1, 2)), *[d(st.integers(1, 5 if k < 3 else 3)) for _ in range(k)])
    mode = d(st.sampled_from(MODES))
    box = mode in ("area", "adaptive_avg")
    crop = not box and d(st.booleans())  # tf_crop_and_resize half the time: the search space has none
    ctm = "half_pixel" if box else "tf_crop_and_resize" if crop else d(st.sampled_from(COORDINATE_TRANSFORMATION_MODES))
    p: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": ctm,
                         "nearest_mode": d(st.sampled_from(NEAREST_MODES)),
                         "cubic_coeff_a": d(st.sampled_from([-0.75, -0.5, -0.25])),
                         "exclude_outside": d(st.booleans()), "antialias": False if box else d(st.booleans()),
                         "output_size_rule": d(st.sampled_from(OUTPUT_SIZE_RULES)),
                         "align_corners_length": d(st.sampled_from(ALIGN_CORNERS_LENGTHS))}
    spatial = list(range(2, 2 + k))
    fixed: list[Any] = []  # N and C, kept, when no axes are named
    if d(st.booleans()):
        axes = sorted(d(st.sets(st.sampled_from(spatial), min_size=1)))
        p["axes"] = [a - len(x) if d(st.booleans()) else a for a in axes]
    else:
        axes = spatial
        fixed = [None, None]
    if d(st.booleans()):
        sizes = [d(st.integers(1, 7 if k < 3 else 4)) for _ in axes]
        p["sizes"] = [*x[:len(fixed)], *sizes]
        p["keep_aspect_ratio_policy"] = d(st.sampled_from(KEEP_ASPECT_RATIO_POLICIES))
    else:
        scales = [float(d(st.sampled_from([0.4, 0.5, 0.75, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0]))) for _ in axes]
        p["scales"] = [1.0] * len(fixed) + scales
    if ctm == "tf_crop_and_resize":
        starts = [d(st.sampled_from([0.0, 0.1, 0.25, 0.5, -0.2])) for _ in axes]
        ends = [s + d(st.sampled_from([0.3, 0.5, 0.8, 1.0, 1.2])) for s in starts]
        p["roi"] = [0.0] * len(fixed) + starts + [1.0] * len(fixed) + ends
        p["extrapolation_value"] = d(st.sampled_from([0.0, -1.5, 7.0]))
    return {"params": p, "shapes": {"x": x}, "dtype": "float64"}


def as_direct(case: dict[str, Any]) -> dict[str, Any]:
    """A canonical conv_transpose case with weights in the direct (C_out, C_in/group, *k) convention."""
    cin, cog, *k = case["shapes"]["w"]
    group = case["params"]["group"]
    shapes = {**case["shapes"], "w": (cog * group, cin // group, *k)}
    return {**case, "params": {**case["params"], "weight_convention": "direct"}, "shapes": shapes}


@st.composite
def max_unpool_more(d: Any) -> dict[str, Any]:
    """A canonical max_unpool case with an output shape past the default one and either index plane."""
    case = d(OPS["max_unpool"].search_space())
    try:
        default = OPS["max_unpool"].normal_form(case["params"], case["shapes"])["output_shape"]
    except ValueError:
        return case
    out = [v + d(st.integers(0, 2)) for v in default]
    return {**case, "params": {**case["params"], "output_shape": out,
                               "index_plane": d(st.sampled_from(INDEX_PLANES))}}


CASES = {
    "resize": st.one_of(OPS["resize"].search_space(), resize_more()),
    "repeat": OPS["repeat"].search_space(),
    "max_unpool": st.one_of(OPS["max_unpool"].search_space(), max_unpool_more()),
    "conv_transpose": st.one_of(OPS["conv_transpose"].search_space(), OPS["conv_transpose"].search_space().map(as_direct)),
    "pixel_shuffle": OPS["pixel_shuffle"].search_space(),
    "pixel_unshuffle": OPS["pixel_unshuffle"].search_space(),
}


def float64_tensors(op_name: str, shapes: Mapping[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    x = np.random.default_rng(seed).normal(size=tuple(shapes["x"]))
    return {"x": x, **OPS[op_name].extra_tensors(shapes, "float64", seed)}


def plain_kw(op_name: str, normal: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in normal.items() if k not in OPS[op_name].derived}


def linear_part(op_name: str, tensors: Mapping[str, np.ndarray], normal: Mapping[str, Any], name: str,
                d: np.ndarray) -> np.ndarray:
    """The forward as a linear map of gradient input ``name``, applied to ``d`` (the other inputs fixed)."""
    op = OPS[op_name]
    if op_name == "max_unpool":
        kw = plain_kw(op_name, normal)
        _, indices = R.max_pool(tensors["x"], **{k: kw[k] for k in ("kernel_shape", "strides", "pads")})
        return R.max_unpool(d, indices, **kw)
    if op_name == "conv_transpose":
        fixed = {k: v for k, v in tensors.items() if k != "b"}
        if name == "b":
            return op.expected({**fixed, "b": d}, normal) - op.expected(fixed, normal)
        return op.expected({**fixed, name: d}, normal)
    return op.expected({"x": d}, normal) - op.expected({"x": np.zeros_like(d)}, normal)


def gradient_input(op_name: str, tensors: Mapping[str, np.ndarray], normal: Mapping[str, Any], name: str) -> np.ndarray:
    if name == "values":
        kw = plain_kw(op_name, normal)
        return R.max_pool(tensors["x"], **{k: kw[k] for k in ("kernel_shape", "strides", "pads")})[0]
    return tensors[name]


# --------------------------------------------------------------------------- the dot-product test


def check_adjoint(op_name: str, case: Mapping[str, Any], seed: int = 0) -> None:
    op = OPS[op_name]
    shapes = case["shapes"]
    try:
        normal = op.normal_form(case["params"], shapes)
        tensors = float64_tensors(op_name, shapes, seed)
        y = op.expected(tensors, normal)
    except ValueError:
        reject()  # a case the forward refuses (e.g. pooling windows past the unpooled plane)
    rng = np.random.default_rng(seed + 7)
    cot = rng.normal(size=y.shape)
    grads = op.gradients(tensors, normal, cot)
    bound = op.gradients(tensors, normal, cot, absolute=True)
    assert tuple(grads) == tuple(bound) == op.grads(shapes)
    for name, g in grads.items():
        inp = gradient_input(op_name, tensors, normal, name)
        assert g.dtype == np.float64 and g.shape == inp.shape, (name, g.shape, inp.shape)
        assert np.all(bound[name] >= np.abs(g)), name
        d = rng.normal(size=g.shape)
        lhs = float(np.vdot(linear_part(op_name, tensors, normal, name, d), cot))
        rhs = float(np.vdot(d, g))
        scale = float(np.vdot(np.abs(d), bound[name]))
        assert abs(lhs - rhs) <= RTOL * scale, (name, lhs, rhs, scale)


@PROPERTY
@given(CASES["resize"])
def test_resize_vjp_is_the_adjoint(case: dict[str, Any]) -> None:
    check_adjoint("resize", case)


@PROPERTY
@given(CASES["repeat"])
def test_repeat_vjp_is_the_adjoint(case: dict[str, Any]) -> None:
    check_adjoint("repeat", case)


@PROPERTY
@given(CASES["max_unpool"])
def test_max_unpool_vjp_is_the_adjoint(case: dict[str, Any]) -> None:
    check_adjoint("max_unpool", case)


@PROPERTY
@given(CASES["conv_transpose"])
def test_conv_transpose_vjp_is_the_adjoint(case: dict[str, Any]) -> None:
    check_adjoint("conv_transpose", case)


@PROPERTY
@given(CASES["pixel_shuffle"])
def test_pixel_shuffle_vjp_is_the_adjoint(case: dict[str, Any]) -> None:
    check_adjoint("pixel_shuffle", case)


@PROPERTY
@given(CASES["pixel_unshuffle"])
def test_pixel_unshuffle_vjp_is_the_adjoint(case: dict[str, Any]) -> None:
    check_adjoint("pixel_unshuffle", case)


def test_the_dot_product_test_catches_a_wrong_adjoint() -> None:
    """The check above fails for an adjoint that is off by one tap (the half-pixel shift a port gets wrong)."""
    op = OPS["resize"]
    shapes = {"x": (1, 1, 5)}
    normal = op.normal_form({"mode": "linear", "sizes": [1, 1, 9]}, shapes)
    wrong = op.normal_form({"mode": "linear", "sizes": [1, 1, 9], "coordinate_transformation_mode": "asymmetric"},
                           shapes)
    x = np.random.default_rng(0).normal(size=shapes["x"])
    cot = np.random.default_rng(1).normal(size=(1, 1, 9))
    lhs = np.vdot(op.expected({"x": x}, normal), cot)
    assert lhs == pytest.approx(np.vdot(x, op.gradients({"x": x}, normal, cot)["x"]), rel=1e-12)
    assert lhs != pytest.approx(np.vdot(x, op.gradients({"x": x}, wrong, cot)["x"]), rel=1e-3)


# --------------------------------------------------------------------------- finite differences

FD_CASES = [
    ("resize", {"mode": "linear", "sizes": [1, 2, 7]}, {"x": (1, 2, 3)}),
    ("resize", {"mode": "cubic", "scales": [1, 1, 0.6, 1.5], "antialias": True, "exclude_outside": True},
     {"x": (1, 1, 5, 3)}),
    ("resize", {"mode": "cubic", "sizes": [1, 1, 5, 2], "coordinate_transformation_mode": "align_corners",
                "cubic_coeff_a": -0.5}, {"x": (1, 1, 3, 4)}),
    ("resize", {"mode": "nearest", "scales": [1, 1, 2.5], "nearest_mode": "round_prefer_ceil"}, {"x": (2, 1, 4)}),
    ("resize", {"mode": "area", "sizes": [1, 1, 3, 2]}, {"x": (1, 1, 7, 5)}),
    ("resize", {"mode": "adaptive_avg", "sizes": [1, 1, 3]}, {"x": (1, 1, 7)}),
    ("resize", {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "sizes": [1, 1, 6],
                "roi": [0, 0, -0.3, 1, 1, 1.2], "extrapolation_value": 9.0}, {"x": (1, 1, 4)}),
    ("resize", {"mode": "linear", "sizes": [3, 2], "axes": [-1, 2], "keep_aspect_ratio_policy": "not_larger"},
     {"x": (1, 1, 2, 2, 3)}),
    ("repeat", {"repeats": [3]}, {"x": (1, 2, 3)}),
    ("repeat", {"repeats": [2, 1, 3]}, {"x": (1, 1, 2, 2, 2)}),
    ("max_unpool", {"kernel_shape": [2, 2], "strides": [2, 2]}, {"x": (1, 2, 4, 4)}),
    ("max_unpool", {"kernel_shape": [3], "strides": [1], "pads": [1, 1]}, {"x": (1, 1, 7)}),
    ("max_unpool", {"kernel_shape": [2, 2], "strides": [2, 2], "output_shape": [5, 5], "index_plane": "default_shape"},
     {"x": (1, 1, 4, 4)}),
    ("conv_transpose", {"strides": [2, 1], "dilations": [1, 2], "group": 2, "pads": [1, 0, 0, 1],
                        "output_padding": [1, 0]}, {"x": (1, 4, 2, 3), "w": (4, 1, 2, 2), "b": (2,)}),
    ("conv_transpose", {"strides": [3], "output_shape": [9], "weight_convention": "direct"},
     {"x": (2, 2, 2), "w": (3, 2, 2), "b": (3,)}),
    ("conv_transpose", {"strides": 2, "auto_pad": "SAME_LOWER"}, {"x": (1, 1, 2, 2, 1), "w": (1, 2, 2, 1, 2)}),
    ("pixel_shuffle", {"upscale_factor": 2, "mode": "DCR"}, {"x": (1, 8, 2, 1)}),
    ("pixel_shuffle", {"upscale_factor": 3, "mode": "CRD"}, {"x": (1, 6, 2)}),
    ("pixel_unshuffle", {"downscale_factor": 2, "mode": "DCR"}, {"x": (1, 2, 2, 4)}),
    ("pixel_unshuffle", {"downscale_factor": 2, "mode": "CRD"}, {"x": (1, 1, 2, 2, 2)}),
]


@pytest.mark.parametrize(("op_name", "params", "shapes"), FD_CASES, ids=lambda v: str(v))
def test_vjp_matches_central_differences(op_name: str, params: dict[str, Any], shapes: dict[str, tuple]) -> None:
    """Element by element, (f(v + h e) - f(v - h e)) / 2h dotted with the cotangent equals the VJP. The
    maps are linear (affine), so the quotient is exact up to rounding at any step."""
    op = OPS[op_name]
    normal = op.normal_form(params, shapes)
    tensors = float64_tensors(op_name, shapes, 3)
    cot = np.random.default_rng(4).normal(size=op.output_shape(normal, shapes))
    grads = op.gradients(tensors, normal, cot)
    h = 2.0**-8
    for name, g in grads.items():
        v = gradient_input(op_name, tensors, normal, name)
        fd = np.empty_like(v)
        for j in range(v.size):
            e = np.zeros(v.size)
            e[j] = h
            e = e.reshape(v.shape)
            plus = linear_part(op_name, tensors, normal, name, v + e)
            minus = linear_part(op_name, tensors, normal, name, v - e)
            fd.flat[j] = np.vdot(plus - minus, cot) / (2 * h)
        assert_allclose(g, fd, rtol=1e-10, atol=1e-10 * float(np.abs(cot).sum()), err_msg=name)
        if op_name == "max_unpool" and params["strides"] == [1]:
            # overlapping windows: values that name the same element (the forward keeps the last one) exist,
            # and only that one gets the cotangent
            assert (g == 0).any() and len(set(R.max_pool(tensors["x"], kernel_shape=3, strides=1,
                                                          pads=[1, 1])[1].ravel())) < v.size


# --------------------------------------------------------------------------- absolute=True

NONNEGATIVE_WEIGHTS = [c for c in FD_CASES if c[1].get("mode") != "cubic"]


@pytest.mark.parametrize(("op_name", "params", "shapes"), FD_CASES, ids=lambda v: str(v))
def test_absolute_bounds_the_vjp(op_name: str, params: dict[str, Any], shapes: dict[str, tuple]) -> None:
    op = OPS[op_name]
    normal = op.normal_form(params, shapes)
    tensors = float64_tensors(op_name, shapes, 5)
    cot = np.random.default_rng(6).normal(size=op.output_shape(normal, shapes))
    grads = op.gradients(tensors, normal, cot)
    bound = op.gradients(tensors, normal, cot, absolute=True)
    for name in grads:
        assert np.all(bound[name] >= np.abs(grads[name])), name
        assert np.all(bound[name] >= 0), name
    # every term nonnegative (|x|, |w|, |cot|, and kernels without negative lobes): the bound is the VJP itself
    if (op_name, params, shapes) in NONNEGATIVE_WEIGHTS:
        pos = {k: np.abs(v) for k, v in tensors.items()}
        g = op.gradients(pos, normal, np.abs(cot))
        b = op.gradients(pos, normal, cot, absolute=True)
        for name in g:
            assert_allclose(b[name], g[name], rtol=1e-14, atol=0, err_msg=name)


def keys_cubic(d: float, a: float) -> float:
    """The Keys kernel, written out: (a+2)|d|^3 - (a+3)|d|^2 + 1 on [0, 1], a|d|^3 - 5a|d|^2 + 8a|d| - 4a on (1, 2)."""
    d = abs(d)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a if d < 2 else 0.0


@pytest.mark.parametrize("a", [-0.75, -0.5])
def test_cubic_vjp_and_its_bound_against_a_matrix_built_by_hand(a: float) -> None:
    """Upsampling 5 -> 12 (half_pixel, edge taps clamped): the matrix A[i, j] = sum of the Keys weights of
    output i's taps that land (after clamping) on input j, built here one tap at a time. The VJP is A^T y_bar;
    ``absolute`` is |A|^T |y_bar| with the negative lobes by absolute value (so it is larger than the VJP even
    for a nonnegative cotangent, where the lobes subtract)."""
    n_in, n_out = 5, 12
    A = np.zeros((n_out, n_in))
    absA = np.zeros((n_out, n_in))
    for i in range(n_out):
        xc = (i + 0.5) * n_in / n_out - 0.5
        for k in range(int(np.floor(xc)) - 1, int(np.floor(xc)) + 3):
            wk = keys_cubic(k - xc, a)
            A[i, min(max(k, 0), n_in - 1)] += wk
            absA[i, min(max(k, 0), n_in - 1)] += abs(wk)
    cot = np.random.default_rng(2).normal(size=(1, 1, n_out))
    kw = {"sizes": [1, 1, n_out], "mode": "cubic", "cubic_coeff_a": a}
    x = np.zeros((1, 1, n_in))
    assert_allclose(R.resize_vjp(x, cot, **kw)[0, 0], A.T @ cot[0, 0], rtol=1e-13, atol=1e-15)
    assert_allclose(R.resize_vjp(x, cot, **kw, absolute=True)[0, 0], absA.T @ np.abs(cot[0, 0]), rtol=1e-13)
    ones = np.ones((1, 1, n_out))
    g, b = R.resize_vjp(x, ones, **kw), R.resize_vjp(x, ones, **kw, absolute=True)
    assert_allclose(g.sum(), n_out, rtol=1e-13)  # every output's weights sum to 1
    assert (b > g + 1e-3).all()  # every input lies under a negative lobe of some output


# --------------------------------------------------------------------------- hand-computed values


def test_repeat_vjp_block_sums() -> None:
    cot = np.arange(12.0).reshape(1, 1, 2, 6)
    assert R.repeat_vjp(np.zeros((1, 1, 1, 2)), cot, repeats=[2, 3]).tolist() == [[[[0 + 1 + 2 + 6 + 7 + 8,
                                                                                     3 + 4 + 5 + 9 + 10 + 11]]]]
    assert R.repeat_vjp(np.zeros((1, 1, 1, 2)), -cot, repeats=[2, 3], absolute=True).tolist() == [[[[24.0, 42.0]]]]


def test_max_unpool_vjp_duplicates() -> None:
    """Overlapping windows that pick the same element: the forward keeps the last value there, so the exact
    adjoint gives the cotangent to that value only; ``duplicates="every"`` (PyTorch's backward) gathers for each."""
    op = OPS["max_unpool"]
    x = np.array([[[1.0, 5.0, 2.0]]])
    normal = op.normal_form({"kernel_shape": [2], "strides": [1]}, {"x": x.shape})
    cot = np.array([[[10.0, 20.0, 30.0]]])
    assert op.expected({"x": x}, normal).tolist() == [[[0.0, 5.0, 0.0]]]
    assert op.gradients({"x": x}, normal, cot)["values"].tolist() == [[[0.0, 20.0]]]
    values, indices = R.max_pool(x, kernel_shape=2, strides=1)
    assert R.max_unpool_vjp(values, indices, cot, kernel_shape=2, strides=1, duplicates="every").tolist() == \
        [[[20.0, 20.0]]]
    # distinct indices: both readings are the plain gather
    x2 = np.array([[[1.0, 5.0, 2.0, 7.0]]])
    v2, i2 = R.max_pool(x2, kernel_shape=2, strides=2)
    cot2 = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    for dup in ("last_wins", "every"):
        assert R.max_unpool_vjp(v2, i2, cot2, kernel_shape=2, strides=2, duplicates=dup).tolist() == [[[2.0, 4.0]]]


def test_max_unpool_vjp_default_plane_indices() -> None:
    """index_plane=default_shape: an index is flat in the default (2, 2) plane; the gradient reads the
    cotangent at the same coordinates of the (3, 3) output."""
    values = np.array([[[[1.0]]]])
    cot = np.arange(9.0).reshape(1, 1, 3, 3)
    g = R.max_unpool_vjp(values, np.array([[[[3]]]]), cot, kernel_shape=2, strides=2, output_shape=[3, 3],
                         index_plane="default_shape")
    assert g.tolist() == [[[[4.0]]]]  # (1, 1) in the default plane is (1, 1) = 4 in the output
    g = R.max_unpool_vjp(values, np.array([[[[3]]]]), cot, kernel_shape=2, strides=2, output_shape=[3, 3])
    assert g.tolist() == [[[[3.0]]]]  # flat 3 of the output plane is (1, 0)


def test_pixel_shuffle_vjp_is_the_inverse_permutation() -> None:
    x = np.zeros((1, 8, 1, 2))
    cot = np.random.default_rng(0).normal(size=(1, 2, 2, 4))
    for mode in ("CRD", "DCR"):
        shuffled = R.pixel_shuffle(np.arange(16.0).reshape(x.shape), upscale_factor=2, mode=mode)
        g = R.pixel_shuffle_vjp(x, cot, upscale_factor=2, mode=mode)
        # input element k went to the output position where `shuffled` holds k
        expect = np.empty(16)
        expect[shuffled.ravel().astype(int)] = cot.ravel()
        assert_array_equal(g, expect.reshape(x.shape))
        back = R.pixel_unshuffle_vjp(np.zeros(cot.shape), g, downscale_factor=2, mode=mode)
        assert_array_equal(back, cot)


def test_uint8_inputs_get_float64_gradients() -> None:
    """The harness asks for no uint8 backward check, but the reference gradient of a uint8 case is defined:
    that of the same case in float64."""
    x = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    for op_name, params in (("resize", {"mode": "linear", "scales": [1, 1, 2, 1.5]}), ("repeat", {"repeats": [2, 1]}),
                            ("max_unpool", {"kernel_shape": [1, 2], "strides": [1, 2]})):
        op = OPS[op_name]
        normal = op.normal_form(params, {"x": x.shape})
        cot = np.random.default_rng(0).normal(size=op.output_shape(normal, {"x": x.shape}))
        g8 = op.gradients({"x": x}, normal, cot)
        g64 = op.gradients({"x": x.astype(np.float64)}, normal, cot)
        for name in g8:
            assert g8[name].dtype == np.float64
            assert_array_equal(g8[name], g64[name])


@pytest.mark.parametrize("op_name", sorted(CASES))
def test_a_cotangent_of_the_wrong_shape_is_refused(op_name: str) -> None:
    shapes = {"resize": {"x": (1, 1, 4)}, "repeat": {"x": (1, 1, 4)}, "max_unpool": {"x": (1, 1, 4)},
              "conv_transpose": {"x": (1, 1, 4), "w": (1, 1, 2)}, "pixel_shuffle": {"x": (1, 2, 4)},
              "pixel_unshuffle": {"x": (1, 1, 4)}}[op_name]
    params = {"resize": {"sizes": [1, 1, 8]}, "repeat": {"repeats": [2]},
              "max_unpool": {"kernel_shape": [2], "strides": [2]}, "conv_transpose": {},
              "pixel_shuffle": {"upscale_factor": 2}, "pixel_unshuffle": {"downscale_factor": 2}}[op_name]
    op = OPS[op_name]
    normal = op.normal_form(params, shapes)
    out = op.output_shape(normal, shapes)
    tensors = float64_tensors(op_name, shapes, 0)
    with pytest.raises(ValueError, match="cotangent"):
        op.gradients(tensors, normal, np.zeros((*out[:-1], out[-1] + 1)))


# --------------------------------------------------------------------------- transposed conv = adjoint of conv


def correlate_loops(cot: np.ndarray, w: np.ndarray, group: int, strides: tuple[int, int], dilations: tuple[int, int],
                    pad_begin: tuple[int, int], in_sizes: tuple[int, int]) -> np.ndarray:
    """x_bar[n, c, i, j] = sum_{o, p, q} w[c, o, p, q] * cot[n, g * C_out_g + o, s0 i + d0 p - b0, s1 j + d1 q - b1]
    (zero outside the cotangent): the strided, dilated convolution (cross-correlation) of the cotangent
    with the (C_in, C_out/group, kh, kw) kernel, one multiply-add at a time."""
    n_, cout, ho, wo = cot.shape
    cin, cog, kh, kw = w.shape
    cig = cin // group
    out = np.zeros((n_, cin, *in_sizes))
    for n in range(n_):
        for c in range(cin):
            g = c // cig
            for i in range(in_sizes[0]):
                for j in range(in_sizes[1]):
                    acc = 0.0
                    for o in range(cog):
                        for p in range(kh):
                            for q in range(kw):
                                r = strides[0] * i + dilations[0] * p - pad_begin[0]
                                s = strides[1] * j + dilations[1] * q - pad_begin[1]
                                if 0 <= r < ho and 0 <= s < wo:
                                    acc += w[c, o, p, q] * cot[n, g * cog + o, r, s]
                    out[n, c, i, j] = acc
    return out


def weight_gradient_loops(cot: np.ndarray, x: np.ndarray, group: int, strides: tuple[int, int],
                          dilations: tuple[int, int], pad_begin: tuple[int, int], kernel: tuple[int, int]) -> np.ndarray:
    """w_bar[c, o, p, q] = sum_{n, i, j} x[n, c, i, j] * cot[n, g * C_out_g + o, s0 i + d0 p - b0, s1 j + d1 q - b1]."""
    n_, cout, ho, wo = cot.shape
    _, cin, hi, wi = x.shape
    cog = cout // group
    cig = cin // group
    out = np.zeros((cin, cog, *kernel))
    for c, o, p, q in itertools.product(range(cin), range(cog), range(kernel[0]), range(kernel[1])):
        g = c // cig
        for n, i, j in itertools.product(range(n_), range(hi), range(wi)):
            r = strides[0] * i + dilations[0] * p - pad_begin[0]
            s = strides[1] * j + dilations[1] * q - pad_begin[1]
            if 0 <= r < ho and 0 <= s < wo:
                out[c, o, p, q] += x[n, c, i, j] * cot[n, g * cog + o, r, s]
    return out


@pytest.mark.parametrize(("strides", "dilations", "pads", "output_padding", "group", "convention"), [
    ((2, 3), (1, 2), (1, 0, 0, 2), (1, 0), 2, "transposed"),
    ((1, 2), (2, 1), (0, 1, 1, 0), (0, 1), 1, "direct"),
    ((3, 1), (1, 1), (2, 0, 1, 0), (2, 0), 2, "direct"),
])
def test_conv_transpose_gradients_are_a_strided_correlation(strides: tuple[int, int], dilations: tuple[int, int],
                                                            pads: tuple[int, ...], output_padding: tuple[int, int],
                                                            group: int, convention: str) -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2, 4, 3, 2))
    wt = rng.normal(size=(4, 2, 3, 2))  # (C_in, C_out/group, kh, kw)
    cout = wt.shape[1] * group
    b = rng.normal(size=(cout,))
    w = wt if convention == "transposed" else R.transposed_to_direct(wt, group=group)
    kw = {"strides": list(strides), "dilations": list(dilations), "pads": list(pads),
          "output_padding": list(output_padding), "group": group, "weight_convention": convention}
    y = R.conv_transpose(x, w, b, **kw)
    cot = rng.normal(size=y.shape)
    grads = R.conv_transpose_vjp(x, w, cot, b, **kw)
    gx = correlate_loops(cot, wt, group, strides, dilations, pads[:2], x.shape[2:])
    assert_allclose(grads["x"], gx, rtol=1e-12, atol=1e-12)
    gw = weight_gradient_loops(cot, x, group, strides, dilations, pads[:2], wt.shape[2:])
    if convention == "direct":
        gw = R.transposed_to_direct(gw, group=group)
    assert_allclose(grads["w"], gw, rtol=1e-12, atol=1e-12)
    assert_allclose(grads["b"], cot.sum(axis=(0, 2, 3)), rtol=1e-12)
    # and the forward is the adjoint of that correlation: <conv_transpose(d), cot> == <d, correlate(cot)>
    d = rng.normal(size=x.shape)
    assert np.vdot(R.conv_transpose(d, w, **kw), cot) == pytest.approx(np.vdot(d, gx), rel=1e-12)
