"""Expected outputs published with ONNX's Resize operator tests (onnx/backend/test/case/node/resize.py),
small enough to write down. They pin the details the operator text leaves implicit."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from upconform import reference as R

D44 = np.arange(1, 17, dtype=np.float32).reshape(1, 1, 4, 4)
D24 = np.array([[[[1, 2, 3, 4], [5, 6, 7, 8]]]], dtype=np.float32)


@pytest.mark.parametrize(
    "name, x, kw, expected",
    [
        ("upsample_scales_cubic (first row)", D44, {"scales": [1, 1, 2, 2], "mode": "cubic"},
         [0.47265625, 0.76953125, 1.24609375, 1.875, 2.28125, 2.91015625, 3.38671875, 3.68359375]),
        ("upsample_scales_cubic_asymmetric (first row)", D44,
         {"scales": [1, 1, 2, 2], "mode": "cubic", "coordinate_transformation_mode": "asymmetric"},
         [1.0, 1.40625, 2.0, 2.5, 3.0, 3.59375, 4.0, 4.09375]),
        ("downsample_scales_linear", D24, {"scales": [1, 1, 0.6, 0.6], "mode": "linear"}, [[2.6666667, 4.3333333]]),
        # align_corners with scales: L = 0.6 * 4 = 2.4, so x = 1 * 3 / 1.4
        ("downsample_scales_linear_align_corners", D24,
         {"scales": [1, 1, 0.6, 0.6], "mode": "linear", "coordinate_transformation_mode": "align_corners"},
         [[1.0, 3.142857]]),
        ("downsample_scales_nearest", D24, {"scales": [1, 1, 0.6, 0.6], "mode": "nearest"}, [[1.0, 3.0]]),
        ("downsample_scales_cubic", D44, {"scales": [1, 1, 0.8, 0.8], "mode": "cubic"},
         [[1.47119141, 2.78125, 4.08251953], [6.71142578, 8.02148438, 9.32275391],
          [11.91650391, 13.2265625, 14.52783203]]),
        ("downsample_scales_linear_antialias", D44, {"scales": [1, 1, 0.6, 0.6], "mode": "linear", "antialias": True},
         [[2.875, 4.5], [9.375, 11.0]]),
        ("downsample_scales_cubic_antialias", D44, {"scales": [1, 1, 0.6, 0.6], "mode": "cubic", "antialias": True},
         [[2.5180721, 4.2858863], [9.589329, 11.357142]]),
        ("tf_crop_and_resize", D44, {"sizes": [1, 1, 3, 3], "roi": [0, 0, 0.4, 0.6, 1, 1, 0.6, 0.8], "mode": "linear",
                                     "coordinate_transformation_mode": "tf_crop_and_resize"},
         [[7.6, 7.9, 8.2], [8.8, 9.1, 9.4], [10.0, 10.3, 10.6]]),
        ("downsample_scales_linear_half_pixel_symmetric", np.array([[[[1, 2, 3, 4]]]], np.float32),
         {"scales": [1, 1, 1, 0.6], "mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
         [[1.6666667, 3.3333333]]),
        ("upsample_scales_linear_half_pixel_symmetric", np.array([[[[1, 2], [3, 4]]]], np.float32),
         {"scales": [1, 1, 2.3, 2.94], "mode": "linear", "coordinate_transformation_mode": "half_pixel_symmetric"},
         [[1.0, 1.15986395, 1.5, 1.84013605, 2.0], [1.56521738, 1.72508133, 2.06521738, 2.40535343, 2.56521738],
          [2.43478262, 2.59464657, 2.93478262, 3.27491867, 3.43478262], [3.0, 3.15986395, 3.5, 3.84013605, 4.0]]),
        ("downsample_sizes_nearest_not_larger", D24,
         {"sizes": [1, 3], "axes": [2, 3], "mode": "nearest", "keep_aspect_ratio_policy": "not_larger"}, [[1.0, 3.0]]),
    ],
)
def test_onnx_published_expectations(name, x, kw, expected):
    y = R.resize(x, **kw)[0, 0]
    exp = np.asarray(expected, dtype=np.float64)
    assert y.shape[-exp.ndim:] == exp.shape, name
    assert_allclose(y if exp.ndim == 2 else y[0], exp, rtol=1e-6, atol=1e-6, err_msg=name)
