"""Hypothesis properties of the reference: identities every correct implementation satisfies."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from upconform import reference as R
from upconform.reference.resize import COORDINATE_TRANSFORMATION_MODES, NEAREST_MODES

small = st.integers(1, 6)


@st.composite
def images(draw, min_rank=1, max_rank=3, min_side=1, max_side=6):
    rank = draw(st.integers(min_rank, max_rank))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + tuple(
        draw(st.integers(min_side, max_side)) for _ in range(rank)
    )
    seed = draw(st.integers(0, 2**31))
    return np.random.default_rng(seed).normal(size=shape)


@given(images(), st.data())
def test_integer_scale_nearest_equals_repeat(x, data):
    r = [data.draw(st.integers(1, 4)) for _ in range(x.ndim - 2)]
    mode = data.draw(st.sampled_from(["round_prefer_floor", "round_prefer_ceil"]))
    ctm = data.draw(st.sampled_from(["half_pixel", "asymmetric", "tf_half_pixel_for_nn"]))
    if ctm != "half_pixel":
        mode = "floor"
    y = R.resize(x, scales=[1, 1, *r], mode="nearest", coordinate_transformation_mode=ctm, nearest_mode=mode)
    assert_array_equal(y, R.repeat(x, repeats=r))


@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from(["CRD", "DCR"]), st.integers(0, 2**31))
def test_pixel_unshuffle_inverts_pixel_shuffle(rank, r, mode, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, 2 * r**rank) + tuple(rng.integers(1, 4, size=rank)))
    y = R.pixel_shuffle(x, upscale_factor=r, mode=mode)
    assert_array_equal(R.pixel_unshuffle(y, downscale_factor=r, mode=mode), x)


resize_params = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["nearest", "linear", "cubic"]),
        "coordinate_transformation_mode": st.sampled_from(
            [m for m in COORDINATE_TRANSFORMATION_MODES if m != "tf_crop_and_resize"]
        ),
        "nearest_mode": st.sampled_from(NEAREST_MODES),
        "exclude_outside": st.booleans(),
        "antialias": st.booleans(),
        "cubic_coeff_a": st.sampled_from([-0.5, -0.75]),
    }
)


@given(images(max_rank=2), resize_params, st.data())
def test_constant_image_stays_constant(x, params, data):
    sizes = [data.draw(st.integers(1, 9)) for _ in range(x.ndim - 2)]
    c = np.full_like(x, 2.5)
    y = R.resize(c, sizes=[*x.shape[:2], *sizes], **params)
    assert_allclose(y, 2.5, rtol=1e-12)


@given(images(max_rank=2), st.sampled_from(["area", "adaptive_avg"]), st.data())
def test_constant_image_box_modes(x, mode, data):
    sizes = [data.draw(st.integers(1, 9)) for _ in range(x.ndim - 2)]
    y = R.resize(np.full_like(x, -1.25), sizes=[*x.shape[:2], *sizes], mode=mode)
    assert_allclose(y, -1.25, rtol=1e-12)


@given(images(max_rank=2), st.data())
def test_constant_tf_crop_and_resize_inside_roi(x, data):
    k = x.ndim - 2
    starts = [data.draw(st.floats(0, 0.5)) for _ in range(k)]
    ends = [data.draw(st.floats(0.5, 1)) for _ in range(k)]
    sizes = [data.draw(st.integers(1, 7)) for _ in range(k)]
    y = R.resize(np.full_like(x, 7.0), sizes=sizes, axes=list(range(2, x.ndim)), roi=starts + ends,
                 mode=data.draw(st.sampled_from(["nearest", "linear", "cubic"])),
                 coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0)
    assert_allclose(y, 7.0, rtol=1e-12)


@given(images(max_rank=2), resize_params, st.data())
def test_resize_is_linear(x, params, data):
    sizes = [data.draw(st.integers(1, 9)) for _ in range(x.ndim - 2)]
    y2 = np.random.default_rng(1).normal(size=x.shape)
    a, b = 1.5, -0.25
    f = lambda v: R.resize(v, sizes=[*x.shape[:2], *sizes], **params)  # noqa: E731
    assert_allclose(f(a * x + b * y2), a * f(x) + b * f(y2), atol=1e-12)


@given(images(max_rank=3, min_side=2), st.sampled_from(["nearest", "linear", "cubic"]), st.data())
def test_align_corners_keeps_corners(x, mode, data):
    sizes = [data.draw(st.integers(2, 9)) for _ in range(x.ndim - 2)]
    y = R.resize(x, sizes=[*x.shape[:2], *sizes], mode=mode, coordinate_transformation_mode="align_corners")
    for corner in itertools.product([0, -1], repeat=x.ndim - 2):
        assert_allclose(y[(Ellipsis, *corner)], x[(Ellipsis, *corner)], atol=1e-12)


@st.composite
def conv_t_cases(draw, max_rank=2):
    rank = draw(st.integers(1, max_rank))
    group = draw(st.integers(1, 2))
    cin, cog = group * draw(st.integers(1, 2)), draw(st.integers(1, 2))
    k = [draw(st.integers(1, 4)) for _ in range(rank)]
    s = [draw(st.integers(1, 3)) for _ in range(rank)]
    d = [draw(st.integers(1, 2)) for _ in range(rank)]
    sp = [draw(st.integers(1, 5)) for _ in range(rank)]
    op = [draw(st.integers(0, max(s[i], d[i]) - 1)) for i in range(rank)]
    pads = [draw(st.integers(0, (k[i] - 1) * d[i])) for i in range(rank) for _ in range(2)]
    pads = pads[0::2] + pads[1::2]
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    x = rng.normal(size=(draw(st.integers(1, 2)), cin, *sp))
    w = rng.normal(size=(cin, cog, *k))
    params = dict(strides=s, dilations=d, output_padding=op, pads=pads, group=group)
    full = [s[i] * (sp[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 - pads[i] - pads[rank + i] for i in range(rank)]
    if draw(st.booleans()):
        params["pads"] = None
        params["auto_pad"] = draw(st.sampled_from(["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"]))
    elif min(full) < 1:
        params["pads"] = None
    return x, w, params


@given(conv_t_cases(max_rank=3))
def test_conv_transpose_two_forms_agree(case):
    x, w, params = case
    a = R.conv_transpose(x, w, **params)
    b = R.conv_transpose(x, R.transposed_to_direct(w, group=params["group"]), weight_convention="direct", **params)
    assert a.shape == b.shape
    assert_allclose(a, b, atol=1e-12)


def _conv(y, w, strides, dilations, begins, in_sp):
    """Plain strided correlation, the adjoint of the transposed conv (group 1): loops over taps."""
    n = y.shape[0]
    cin, _cog, *k = w.shape
    rank = len(k)
    ends = [max((in_sp[i] - 1) * strides[i] + (k[i] - 1) * dilations[i] + 1 - begins[i] - y.shape[2 + i], 0)
            for i in range(rank)]
    yp = np.pad(y, [(0, 0), (0, 0)] + [(begins[i], ends[i]) for i in range(rank)])
    out = np.zeros((n, cin, *in_sp))
    for t in itertools.product(*[range(v) for v in k]):
        sl = tuple(slice(t[i] * dilations[i], t[i] * dilations[i] + (in_sp[i] - 1) * strides[i] + 1, strides[i])
                   for i in range(rank))
        out += np.einsum("co,no...->nc...", w[(slice(None), slice(None), *t)], yp[(slice(None), slice(None), *sl)])
    return out


@given(conv_t_cases(max_rank=2))
def test_conv_transpose_is_adjoint_of_conv(case):
    x, w, params = case
    params = {**params, "group": 1}
    w = w[:, :]
    if x.shape[1] != w.shape[0]:
        w = np.random.default_rng(0).normal(size=(x.shape[1], w.shape[1], *w.shape[2:]))
    yt = R.conv_transpose(x, w, **params)
    begins, _outs = R.conv_transpose_geometry(x.shape[2:], w.shape[2:], **{
        k: v for k, v in params.items() if k != "group"})
    y = np.random.default_rng(2).normal(size=yt.shape)
    rank = x.ndim - 2
    s = params["strides"]
    d = params["dilations"]
    lhs = float(np.sum(yt * y))
    rhs = float(np.sum(x * _conv(y, w, s, d, begins, list(x.shape[2:]))))
    assert abs(lhs - rhs) <= 1e-9 * max(1.0, abs(lhs)), (lhs, rhs, rank)


@given(conv_t_cases(max_rank=2))
def test_conv_transpose_is_linear_in_x(case):
    x, w, params = case
    x2 = np.random.default_rng(3).normal(size=x.shape)
    f = lambda v: R.conv_transpose(v, w, **params)  # noqa: E731
    assert_allclose(f(2 * x - x2), 2 * f(x) - f(x2), atol=1e-10)


@given(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31), st.booleans())
def test_max_unpool_of_max_pool_keeps_exactly_the_maxima(rank, k, s, seed, ceil_mode):
    rng = np.random.default_rng(seed)
    sp = tuple(rng.integers(k, k + 5, size=rank))
    x = rng.permutation(int(np.prod(sp)) * 2).reshape(1, 2, *sp).astype(np.float64) + 1.0  # distinct, positive
    v, idx = R.max_pool(x, kernel_shape=k, strides=s, ceil_mode=ceil_mode)
    y = R.max_unpool(v, idx, kernel_shape=k, strides=s, output_shape=x.shape)
    kept = y != 0
    # every kept position holds the input value, and it is exactly the set of pooled argmaxes
    assert_array_equal(y[kept], x[kept])
    for c in range(2):
        assert set(np.flatnonzero(kept[0, c])) == set(idx[0, c].reshape(-1).tolist())
    # and every pooled value is the maximum of its window
    assert_array_equal(np.sort(np.unique(v)), np.sort(y[kept]))


@given(images(), st.integers(1, 3), st.integers(0, 2**31))
def test_repeat_pixel_shuffle_max_unpool_linear(x, r, seed):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=x.shape)
    assert_allclose(R.repeat(3 * x + y, repeats=r), 3 * R.repeat(x, repeats=r) + R.repeat(y, repeats=r))
    # max_unpool: distinct random positions in each output plane (kernel 2, so the plane is larger)
    k = x.ndim - 2
    out_sp = tuple(2 * v for v in x.shape[2:])
    plane = int(np.prod(out_sp))
    idx = np.stack([np.stack([rng.permutation(plane)[: int(np.prod(x.shape[2:]))] for _ in range(x.shape[1])])
                    for _ in range(x.shape[0])]).reshape(x.shape)
    f = lambda v: R.max_unpool(v, idx, kernel_shape=[2] * k, strides=[2] * k, output_shape=out_sp)  # noqa: E731
    assert_allclose(f(3 * x + y), 3 * f(x) + f(y))
    # and it is the scatter: every value lands at its index, everything else is 0
    flat = f(x).reshape(x.shape[0], x.shape[1], plane)
    want = np.zeros_like(flat)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            want[n, c, idx[n, c].reshape(-1)] = x[n, c].reshape(-1)
    assert_array_equal(flat, want)
    # pixel shuffle: every channel different
    ps_shape = (x.shape[0], x.shape[1] * r**k, *x.shape[2:])
    a, b = rng.normal(size=ps_shape), rng.normal(size=ps_shape)
    for mode in ("CRD", "DCR"):
        g = lambda v, m=mode: R.pixel_shuffle(v, upscale_factor=r, mode=m)  # noqa: E731
        assert_allclose(g(3 * a + b), 3 * g(a) + g(b))


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31))
def test_pixel_shuffle_index_formula(r, c, h, w, seed):
    """2-D pixel shuffle, element by element, from the operators' definitions:
    CRD (torch.nn.PixelShuffle, ONNX DepthToSpace CRD): y[n, c, h*r + i, w*r + j] = x[n, c*r*r + i*r + j, h, w]
    DCR (tf.nn.depth_to_space, ONNX DepthToSpace DCR): y[n, c, h*r + i, w*r + j] = x[n, (i*r + j)*C + c, h, w]"""
    x = np.random.default_rng(seed).normal(size=(2, c * r * r, h, w))
    crd, dcr = (R.pixel_shuffle(x, upscale_factor=r, mode=m) for m in ("CRD", "DCR"))
    for n, ch, hh, ww, i, j in itertools.product(range(2), range(c), range(h), range(w), range(r), range(r)):
        assert crd[n, ch, hh * r + i, ww * r + j] == x[n, ch * r * r + i * r + j, hh, ww]
        assert dcr[n, ch, hh * r + i, ww * r + j] == x[n, (i * r + j) * c + ch, hh, ww]
