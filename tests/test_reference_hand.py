"""Hand-computed expectations for every reference operator and mode (formula in each comment)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from upconform import reference as R

V = np.array([[[0.0, 1.0, 2.0, 3.0]]])  # (N=1, C=1, W=4)


def rs(**kw):
    return R.resize(V, **kw)[0, 0]


# ----------------------------------------------------------------------------------------- resize


def test_linear_half_pixel_x2():
    # x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, ..., 3.25; clamped at the borders
    assert_allclose(rs(scales=[1, 1, 2], mode="linear"), [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])


def test_linear_align_corners_x2():
    # x = i * (4 - 1) / (8 - 1)
    assert_allclose(rs(sizes=[1, 1, 8], mode="linear", coordinate_transformation_mode="align_corners"),
                    np.arange(8) * 3 / 7)


def test_linear_asymmetric_x2():
    # x = i / 2; the last sample (3.5) clamps to 3
    assert_allclose(rs(scales=[1, 1, 2], mode="linear", coordinate_transformation_mode="asymmetric"),
                    [0, 0.5, 1, 1.5, 2, 2.5, 3, 3])


def test_linear_half_pixel_symmetric_fractional():
    # in 5, scale 1.5 -> out floor(7.5) = 7; offset = 2.5 * (1 - 7 / 7.5) = 1/6;
    # x = 1/6 + (i + 0.5) / 1.5 - 0.5 = 2i/3, so the output spans the input end to end
    y = R.resize(np.arange(5.0).reshape(1, 1, 5), scales=[1, 1, 1.5], mode="linear",
                 coordinate_transformation_mode="half_pixel_symmetric")[0, 0]
    assert_allclose(y, np.arange(7) * 2 / 3)


def test_pytorch_half_pixel_size_one():
    # out = 1: pytorch_half_pixel maps to 0, half_pixel to (0.5 * 4) - 0.5 = 1.5
    assert_allclose(rs(sizes=[1, 1, 1], mode="linear", coordinate_transformation_mode="pytorch_half_pixel"), [0])
    assert_allclose(rs(sizes=[1, 1, 1], mode="linear"), [1.5])


@pytest.mark.parametrize(
    "nearest_mode, expected",
    [
        # 4 -> 2, half_pixel: x = (i + 0.5) * 2 - 0.5 = 0.5, 2.5 -- both exact ties
        ("round_prefer_floor", [0, 2]),
        ("round_prefer_ceil", [1, 3]),
        ("floor", [0, 2]),
        ("ceil", [1, 3]),
    ],
)
def test_nearest_modes_at_ties(nearest_mode, expected):
    assert_array_equal(rs(sizes=[1, 1, 2], mode="nearest", nearest_mode=nearest_mode), expected)


def test_nearest_upsample_x2_conventions():
    # half_pixel: x = -0.25, 0.25, 0.75, ... -> round -> 0, 0, 1, 1, ...
    assert_array_equal(rs(scales=[1, 1, 2], mode="nearest"), [0, 0, 1, 1, 2, 2, 3, 3])
    # tf_half_pixel_for_nn: x = (i + 0.5) / 2 = 0.25, 0.75, ... -> floor
    assert_array_equal(rs(scales=[1, 1, 2], mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn",
                          nearest_mode="floor"), [0, 0, 1, 1, 2, 2, 3, 3])
    # align_corners: x = 3i/7 = 0, .43, .86, 1.29, 1.71, 2.14, 2.57, 3 -> round
    assert_array_equal(rs(sizes=[1, 1, 8], mode="nearest", coordinate_transformation_mode="align_corners"),
                       [0, 0, 1, 1, 2, 2, 3, 3])
    # asymmetric, 4 -> 3: x = 4i/3 = 0, 1.33, 2.67 -> ceil
    assert_array_equal(rs(sizes=[1, 1, 3], mode="nearest", coordinate_transformation_mode="asymmetric",
                          nearest_mode="ceil"), [0, 2, 3])


def test_cubic_half_pixel_x2():
    # i = 0: x = -0.25, taps -2..1 clamp to 0,0,0,1; only tap 1 sees a non-zero value:
    # d = 1.25 -> a d^3 - 5a d^2 + 8a d - 4a with a = -0.75 = -0.10546875
    y = rs(scales=[1, 1, 2], mode="cubic")
    assert y[0] == pytest.approx(-0.10546875)
    # symmetry of the kernel and of the ramp: y[7 - i] = 3 - y[i]
    assert_allclose(y[::-1], 3 - y)
    assert_allclose(y, [-0.10546875, 0.19140625, 0.66796875, 1.296875, 1.703125, 2.33203125, 2.80859375,
                        3.10546875])


def test_cubic_exclude_outside():
    # i = 0, x = -0.25: taps -2, -1 are outside and dropped; taps 0 (d=0.25), 1 (d=1.25) renormalised.
    a = -0.5
    w0 = (a + 2) * 0.25**3 - (a + 3) * 0.25**2 + 1
    w1 = a * 1.25**3 - 5 * a * 1.25**2 + 8 * a * 1.25 - 4 * a
    y = rs(scales=[1, 1, 2], mode="cubic", cubic_coeff_a=a, exclude_outside=True)
    assert y[0] == pytest.approx((0 * w0 + 1 * w1) / (w0 + w1))


def test_area_fractional_coverage():
    # 4 -> 3: boxes of length 4/3: [0, 4/3) [4/3, 8/3) [8/3, 4)
    # (0*1 + 1/3*1) / (4/3) = 0.25; (2/3*1 + 2/3*2) / (4/3) = 1.5; (1/3*2 + 1*3) / (4/3) = 2.75
    assert_allclose(rs(sizes=[1, 1, 3], mode="area"), [0.25, 1.5, 2.75])
    assert_allclose(rs(sizes=[1, 1, 2], mode="area"), [0.5, 2.5])


def test_adaptive_avg_bins():
    # 4 -> 3: bins [floor(4i/3), ceil(4(i+1)/3)) = [0,2) [1,3) [2,4)
    assert_allclose(rs(sizes=[1, 1, 3], mode="adaptive_avg"), [0.5, 1.5, 2.5])


def test_antialias_linear_downscale():
    # 4 -> 2, scale 0.5: x = 0.5, 2.5; triangle stretched x2: weights .25 .75 .75 .25 / 2
    # x = 0.5: taps -1(clamped to 0), 0, 1, 2 -> .125*0 + .375*0 + .375*1 + .125*2 = 0.625
    assert_allclose(rs(sizes=[1, 1, 2], mode="linear", antialias=True), [0.625, 2.375])
    # exclude_outside drops tap -1: (.375*0 + .375*1 + .125*2) / .875
    assert_allclose(rs(sizes=[1, 1, 2], mode="linear", antialias=True, exclude_outside=True)[0], 0.625 / 0.875)


def test_tf_crop_and_resize_extrapolates():
    # roi [0, 1.5] on axis 2, 3 outputs: x = i * 1.5 * 3 / 2 = 0, 2.25, 4.5 (outside -> -1)
    y = R.resize(V, sizes=[3], axes=[2], mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
                 roi=[0.0, 1.5], extrapolation_value=-1.0)
    assert_allclose(y[0, 0], [0, 2.25, -1])


def test_keep_aspect_ratio_policy():
    x = np.zeros((1, 1, 4, 8))
    assert R.resize(x, sizes=[2, 2], axes=[2, 3], keep_aspect_ratio_policy="not_larger").shape == (1, 1, 1, 2)
    assert R.resize(x, sizes=[2, 2], axes=[2, 3], keep_aspect_ratio_policy="not_smaller").shape == (1, 1, 2, 4)


def test_scales_floor_output_size():
    # floor(5 * 1.7) = 8; floor(5 * 0.5) = 2
    assert R.resize(np.zeros((1, 1, 5)), scales=[1, 1, 1.7]).shape == (1, 1, 8)
    assert R.resize(np.zeros((1, 1, 5)), scales=[1, 1, 0.5]).shape == (1, 1, 2)


def test_trilinear_is_separable_product():
    # 2x2x2 corners 0/1 along the last axis only: trilinear doubles along each axis
    x = np.zeros((1, 1, 2, 2, 2))
    x[..., 1] = 1.0
    y = R.resize(x, sizes=[1, 1, 4, 4, 4], mode="linear", coordinate_transformation_mode="align_corners")
    assert_allclose(y[0, 0, 2, 3], [0, 1 / 3, 2 / 3, 1])


# ----------------------------------------------------------------------------------------- repeat


def test_repeat_per_axis():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = R.repeat(x, repeats=[2, 3])
    assert_array_equal(y[0, 0], [[1, 1, 1, 2, 2, 2]] * 2 + [[3, 3, 3, 4, 4, 4]] * 2)


# ------------------------------------------------------------------------------ pooling / unpooling


def test_max_pool_ties_first_wins_and_ceil_mode():
    x = np.array([[[2.0, 2.0, 1.0, 5.0, 5.0]]])
    v, i = R.max_pool(x, kernel_shape=2, strides=2, ceil_mode=True)
    # windows [2,2] [1,5] [5] -> first maximum in each
    assert_array_equal(v[0, 0], [2, 5, 5])
    assert_array_equal(i[0, 0], [0, 3, 4])


def test_max_pool_nan_wins():
    v, i = R.max_pool(np.array([[[1.0, np.nan, 3.0, np.nan]]]), kernel_shape=4)
    assert np.isnan(v[0, 0, 0]) and i[0, 0, 0] == 1


def test_max_unpool_default_and_explicit_shape():
    x = np.array([[[3.0, 2.0]]])
    idx = np.array([[[1, 2]]])
    assert_array_equal(R.max_unpool(x, idx, kernel_shape=2, strides=2)[0, 0], [0, 3, 2, 0])
    # output_shape 5 (odd input length the pooling dropped): (2 - 1) * 2 + 2 = 4 by default
    assert_array_equal(R.max_unpool(x, idx, kernel_shape=2, strides=2, output_shape=[1, 1, 5])[0, 0],
                       [0, 3, 2, 0, 0])


def test_max_unpool_out_of_range_raises():
    with pytest.raises(ValueError, match="indices: 4 at position"):
        R.max_unpool(np.ones((1, 1, 2)), np.array([[[0, 4]]]), kernel_shape=2, strides=2)


# ---------------------------------------------------------------------------------- conv_transpose


def test_conv_transpose_stride2_ones():
    # each input pixel scatters [1,1,1] at 2i: [1,1,1,0,0] + [0,0,1,1,1]
    y = R.conv_transpose(np.ones((1, 1, 2)), np.ones((1, 1, 3)), strides=2)
    assert_array_equal(y[0, 0], [1, 1, 2, 1, 1])


def test_conv_transpose_pads_output_padding_dilation_bias():
    x = np.array([[[1.0, 2.0]]])
    w = np.array([[[1.0, 10.0]]])
    # full: stride 3, dilation 2: taps at 3i + 2t -> y_full[0]=1, [2]=10, [3]=2, [5]=20, + output_padding 1
    y = R.conv_transpose(x, w, np.array([0.5]), strides=3, dilations=2, output_padding=1, pads=[1, 0])
    assert_array_equal(y[0, 0], np.array([0, 10, 2, 0, 20, 0]) + 0.5)


@pytest.mark.parametrize("auto_pad, expected", [("SAME_UPPER", [1, 1, 2, 1]), ("SAME_LOWER", [1, 2, 1, 1])])
def test_conv_transpose_same_padding(auto_pad, expected):
    # full (stride 2, k 3, in 2) = [1,1,2,1,1]; target 2*2 = 4 -> total 1;
    # SAME_UPPER puts the odd pad at the end (crop the last), SAME_LOWER at the beginning
    y = R.conv_transpose(np.ones((1, 1, 2)), np.ones((1, 1, 3)), strides=2, auto_pad=auto_pad)
    assert_array_equal(y[0, 0], expected)


def test_conv_transpose_output_shape_larger_than_full():
    # k=1, stride 2, in 2: full = 3, target 4: the extra position is bias only
    y = R.conv_transpose(np.ones((1, 1, 2)), np.ones((1, 1, 1)), np.array([1.0]), strides=2, output_shape=[4])
    assert_array_equal(y[0, 0], [2, 1, 2, 1])


def test_conv_transpose_groups():
    x = np.array([[[1.0], [2.0]]])  # C_in = 2
    w = np.array([[[3.0]], [[5.0]]])  # (C_in=2, C_out/g=1, k=1), group 2: channel-wise
    assert_array_equal(R.conv_transpose(x, w, group=2)[0, :, 0], [3, 10])


def test_direct_form_is_rotated_transposed_form():
    w = np.arange(6.0).reshape(1, 2, 3)  # (C_in=1, C_out=2, k=3)
    d = R.transposed_to_direct(w)
    assert d.shape == (2, 1, 3)
    assert_array_equal(d[1, 0], [5, 4, 3])
    assert_array_equal(R.direct_to_transposed(d), w)


# ---------------------------------------------------------------------------------- pixel shuffle


def test_pixel_shuffle_crd_and_dcr():
    x = np.arange(8.0).reshape(1, 8, 1, 1)  # C = 2 output channels, r = 2
    # CRD: channel c*4 + (i*2 + j)
    assert_array_equal(R.pixel_shuffle(x, upscale_factor=2)[0, 1], [[4, 5], [6, 7]])
    # DCR: channel (i*2 + j)*2 + c
    assert_array_equal(R.pixel_shuffle(x, upscale_factor=2, mode="DCR")[0, 1], [[1, 3], [5, 7]])


# ----------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: R.resize(V, scales=[1, 1, 2], mode="bilnear"), r"mode: 'bilnear' is not one of \['nearest'"),
        (lambda: R.resize(V, scales=[1, 1, 2], coordinate_transformation_mode="x"), "coordinate_transformation_mode"),
        (lambda: R.resize(V, scales=[1, 1, 2], nearest_mode="up"), "nearest_mode: 'up'"),
        (lambda: R.resize(V, scales=[2]), r"scales: expected 3 values"),
        (lambda: R.resize(V), "give exactly one"),
        (lambda: R.resize(V, scales=[1, 1, 0.1]), "empty output"),
        (lambda: R.pixel_shuffle(np.ones((1, 3, 2, 2)), upscale_factor=2), "not divisible"),
        (lambda: R.pixel_shuffle(np.ones((1, 4, 2, 2)), upscale_factor=2, mode="RCD"), "mode: 'RCD'"),
        (lambda: R.conv_transpose(np.ones((1, 2, 3)), np.ones((3, 1, 2))), "C_in"),
        (lambda: R.conv_transpose(np.ones((1, 1, 3)), np.ones((1, 1, 2)), auto_pad="SAME"), "auto_pad: 'SAME'"),
        (lambda: R.repeat(np.ones((1, 1, 3)), repeats=[2, 2]), "repeats: expected 1"),
        (lambda: R.repeat(np.ones((1, 1, 3), np.int32), repeats=2), "dtype int32"),
    ],
)
def test_errors_name_the_parameter(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_accepts_float16_bfloat16_and_uint8():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    for dt in (np.float16, np.float32, ml_dtypes.bfloat16, np.uint8):
        y = R.resize(V.astype(dt), scales=[1, 1, 2], mode="linear")
        assert y.dtype == np.float64
        assert_allclose(y[0, 0], [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])
