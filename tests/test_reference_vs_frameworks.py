"""The reference agrees with PyTorch and TensorFlow wherever they claim the same semantics.

PyTorch runs in float64 (agreement to 1e-12); TensorFlow's resize kernels compute in float32.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from upconform import reference as R

X = np.random.default_rng(1234).normal(size=(2, 3, 7, 9))


def rng(seed: int) -> np.random.Generator:
    """Each test draws from its own seeded generator, so its inputs do not depend on the selection."""
    return np.random.default_rng(seed)
SIZES = [(14, 18), (5, 4), (11, 13), (1, 1), (3, 20)]


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


TORCH_RESIZE = [
    ({"mode": "bilinear", "align_corners": False}, {"mode": "linear"}),
    ({"mode": "bilinear", "align_corners": True},
     {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
    ({"mode": "bicubic", "align_corners": False}, {"mode": "cubic"}),
    ({"mode": "bicubic", "align_corners": True}, {"mode": "cubic", "coordinate_transformation_mode": "align_corners"}),
    ({"mode": "nearest"}, {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}),
    ({"mode": "nearest-exact"}, {"mode": "nearest", "nearest_mode": "round_prefer_ceil"}),
    ({"mode": "area"}, {"mode": "adaptive_avg"}),
    ({"mode": "bilinear", "antialias": True}, {"mode": "linear", "antialias": True, "exclude_outside": True}),
    ({"mode": "bicubic", "antialias": True},
     {"mode": "cubic", "antialias": True, "exclude_outside": True, "cubic_coeff_a": -0.5}),
]


@pytest.mark.torch
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("native, canonical", TORCH_RESIZE, ids=[str(n) for n, _ in TORCH_RESIZE])
def test_resize_matches_torch_sizes(torch, native, canonical, size):
    got = torch.nn.functional.interpolate(torch.tensor(X), size=size, **native).numpy()
    assert_allclose(got, R.resize(X, sizes=[2, 3, *size], **canonical), atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("scale", [1.5, 0.6, 2.3, 3.0])
@pytest.mark.parametrize("native, canonical", TORCH_RESIZE[:6], ids=[str(n) for n, _ in TORCH_RESIZE[:6]])
def test_resize_matches_torch_scale_factor(torch, native, canonical, scale):
    # recompute_scale_factor=None: the coordinate transform uses the given scale (ONNX `scales`) ...
    got = torch.nn.functional.interpolate(torch.tensor(X), scale_factor=scale, **native).numpy()
    if canonical.get("coordinate_transformation_mode") != "align_corners":
        assert_allclose(got, R.resize(X, scales=[1, 1, scale, scale], **canonical), atol=1e-12)
    else:
        # ... except align_corners, where torch divides by (out - 1) of the integer output size,
        # i.e. ONNX `sizes`; ONNX `scales` divide by (in * scale - 1)
        assert_allclose(got, R.resize(X, sizes=list(got.shape), **canonical), atol=1e-12)
        if scale * 7 != int(scale * 7):
            onnx = R.resize(X, scales=[1, 1, scale, scale], **canonical)
            assert np.abs(got - onnx).max() > 1e-3


@pytest.mark.torch
def test_trilinear_and_linear_match_torch(torch):
    r = rng(11)
    x3 = r.normal(size=(1, 2, 3, 4, 5))
    got = torch.nn.functional.interpolate(torch.tensor(x3), size=(5, 7, 2), mode="trilinear").numpy()
    assert_allclose(got, R.resize(x3, sizes=[5, 7, 2], axes=[2, 3, 4], mode="linear"), atol=1e-12)
    x1 = r.normal(size=(1, 2, 6))
    got = torch.nn.functional.interpolate(torch.tensor(x1), size=13, mode="linear", align_corners=True).numpy()
    assert_allclose(got, R.resize(x1, sizes=[13], axes=[2], mode="linear",
                                  coordinate_transformation_mode="align_corners"), atol=1e-12)


@pytest.mark.torch
@pytest.mark.parametrize("stride, k, pad, out_pad, dil, groups", [
    (1, 1, 0, 0, 1, 1), (2, 3, 1, 1, 1, 1), (3, 5, 2, 2, 1, 2), (2, 4, 1, 0, 2, 1), (3, 2, 0, 1, 1, 3)])
def test_conv_transpose_matches_torch(torch, stride, k, pad, out_pad, dil, groups):
    F = torch.nn.functional
    r = rng(12)
    for rank, fn in [(1, F.conv_transpose1d), (2, F.conv_transpose2d), (3, F.conv_transpose3d)]:
        x = r.normal(size=(2, 3 * groups, *([4] * rank)))
        w = r.normal(size=(3 * groups, 2, *([k] * rank)))
        b = r.normal(size=(2 * groups,))
        got = fn(torch.tensor(x), torch.tensor(w), torch.tensor(b), stride=stride, padding=pad,
                 output_padding=out_pad, groups=groups, dilation=dil).numpy()
        ref = R.conv_transpose(x, w, b, strides=stride, pads=[pad] * (2 * rank), output_padding=out_pad,
                               dilations=dil, group=groups)
        assert_allclose(got, ref, atol=1e-11)


@pytest.mark.torch
def test_pool_unpool_pixel_shuffle_repeat_match_torch(torch):
    F = torch.nn.functional
    r = rng(13)
    x = r.normal(size=(2, 3, 7, 9))
    v, i = F.max_pool2d(torch.tensor(x), 3, 2, 1, ceil_mode=True, return_indices=True)
    rv, ri = R.max_pool(x, kernel_shape=3, strides=2, pads=[1, 1, 1, 1], ceil_mode=True)
    assert_allclose(v.numpy(), rv)
    assert (i.numpy() == ri).all()
    got = F.max_unpool2d(v, i, 3, 2, 1, output_size=[7, 9]).numpy()
    assert_allclose(got, R.max_unpool(rv, ri, kernel_shape=3, strides=2, pads=[1, 1, 1, 1], output_shape=[7, 9]))
    ps = r.normal(size=(1, 18, 3, 4))
    assert_allclose(F.pixel_shuffle(torch.tensor(ps), 3).numpy(), R.pixel_shuffle(ps, upscale_factor=3))
    assert_allclose(F.pixel_unshuffle(torch.tensor(x[:, :, :6, :9]), 3).numpy(),
                    R.pixel_unshuffle(x[:, :, :6, :9], downscale_factor=3))
    t = torch.tensor(x).repeat_interleave(2, dim=2).repeat_interleave(3, dim=3).numpy()
    assert_allclose(t, R.repeat(x, repeats=[2, 3]))


def _nhwc(a):
    return np.transpose(a, (0, 2, 3, 1))


def _nchw(a):
    return np.transpose(np.asarray(a), (0, 3, 1, 2))


TF_RESIZE = [
    ({"method": "bilinear"}, {"mode": "linear"}),
    ({"method": "nearest"},
     {"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn", "nearest_mode": "floor"}),
    ({"method": "area"}, {"mode": "area"}),
    ({"method": "bilinear", "antialias": True}, {"mode": "linear", "antialias": True, "exclude_outside": True}),
    ({"method": "bicubic", "antialias": True},
     {"mode": "cubic", "antialias": True, "exclude_outside": True, "cubic_coeff_a": -0.5}),
]


@pytest.mark.tensorflow
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("native, canonical", TF_RESIZE, ids=[str(n) for n, _ in TF_RESIZE])
def test_resize_matches_tf(tf, native, canonical, size):
    got = _nchw(tf.image.resize(_nhwc(X).astype(np.float32), size, **native))
    # PyTorch's float32 tolerance (rtol 1.3e-6, atol 1e-5): TF accumulates in float32
    assert_allclose(got, R.resize(X.astype(np.float32), sizes=[2, 3, *size], **canonical), rtol=1.3e-6, atol=1e-5)


@pytest.mark.tensorflow
def test_tf_bicubic_uses_a_quantised_coefficient_table(tf):
    """tf.image.resize(bicubic) is Keys a=-0.5 with exclude_outside, but looks its weights up in a
    1024-entry table (resize_bicubic_op.cc), so at non-integer ratios it is off by ~1e-3."""
    canonical = {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": True}
    x = X.astype(np.float32)
    exact = _nchw(tf.image.resize(_nhwc(x), (14, 18), method="bicubic"))  # ratio 2: table entries exact
    assert_allclose(exact, R.resize(x, sizes=[2, 3, 14, 18], **canonical), rtol=1.3e-6, atol=1e-5)
    off = _nchw(tf.image.resize(_nhwc(x), (11, 13), method="bicubic"))
    err = np.abs(off - R.resize(x, sizes=[2, 3, 11, 13], **canonical)).max()
    assert 1e-4 < err < 1e-2


@pytest.mark.tensorflow
def test_tf_conv2d_transpose_same_is_rotated_zero_insertion(tf):
    """The seed experiment, through the binding: the zero-insertion form with a (C_out, C_in, 3, 3)
    kernel is tf.nn.conv2d_transpose(SAME) once the binding rotates the kernel 180 degrees into
    (kH, kW, C_out, C_in)."""
    from upconform.adapters import NativeCall, get
    from upconform.harness.spec import load_text

    cases, _ = load_text("op: conv_transpose\ncases:\n  - {id: seed, params: {strides: 2, auto_pad: SAME_UPPER, "
                         "weight_convention: direct}, shapes: {x: [1, 4, 5, 6], w: [4, 4, 3, 3]}}\n")
    case = cases[0]
    r = rng(14)
    x = r.normal(size=(1, 4, 5, 6)).astype(np.float32)
    w_direct = r.normal(size=(4, 4, 3, 3)).astype(np.float32)
    ref = R.conv_transpose(x, w_direct, strides=2, auto_pad="SAME_UPPER", weight_convention="direct")
    b = get("tf.nn.conv2d_transpose")
    call = b.to_native(case)
    assert call.args["padding"] == "SAME" and call.args["output_shape"] == [1, 10, 12, 4] and call.prep["rotate"]
    assert_allclose(b.run(call, {"x": x, "w": w_direct}), ref, atol=1e-5)
    # without the rotation (and the channel swap) the numbers are wrong: the convention matters
    plain = NativeCall(call.binding, call.args, {**call.prep, "rotate": False})
    assert np.abs(b.run(plain, {"x": x, "w": w_direct}) - ref).max() > 0.1


@pytest.mark.tensorflow
def test_tf_depth_to_space_is_dcr(tf):
    x = rng(15).normal(size=(1, 12, 3, 4)).astype(np.float32)
    got = _nchw(tf.nn.depth_to_space(_nhwc(x), 2))
    assert_allclose(got, R.pixel_shuffle(x, upscale_factor=2, mode="DCR"))
    assert np.abs(got - R.pixel_shuffle(x, upscale_factor=2, mode="CRD")).max() > 0.1


@pytest.mark.torch
@pytest.mark.tensorflow
def test_nearest_scale_in_float32_misses_exact_ties(torch, tf):
    """8 -> 41 with half-pixel nearest: output 20 maps to (20 + 0.5) * 8 / 41 = 4 exactly. The reference
    (exact fractions) picks pixel 4; PyTorch nearest-exact and TF nearest compute 8/41 in float32,
    land just below 4 and pick pixel 3."""
    x = np.arange(8, dtype=np.float32).reshape(1, 1, 1, 8)
    ref = R.resize(x, sizes=[1, 1, 1, 41], mode="nearest", nearest_mode="round_prefer_ceil")[0, 0, 0]
    assert ref[20] == 4.0
    t = torch.nn.functional.interpolate(torch.tensor(x), size=(1, 41), mode="nearest-exact").numpy()[0, 0, 0]
    f = _nchw(tf.image.resize(_nhwc(x), (1, 41), method="nearest"))[0, 0, 0]
    assert t[20] == 3.0 and f[20] == 3.0
    assert np.count_nonzero(t != ref) == np.count_nonzero(f != ref) >= 1
