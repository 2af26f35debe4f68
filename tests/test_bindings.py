"""Every binding's translation, both ways: from_native(to_native(case)) is the case's normal form."""

from __future__ import annotations

from functools import cache

import pytest

from upconform.adapters import NativeCall, Unsupported, get, registry
from upconform.canonical import normalize
from upconform.harness.spec import default_spec_paths, load_files


@cache
def suite():
    cases, _ = load_files(default_spec_paths())
    return [c for c in cases if c.dtype == "float32"]


def _strip(d):
    return {k: v for k, v in d.items() if k != "weight_convention"}


@pytest.mark.parametrize("name", sorted(registry()))
def test_round_trip_on_default_suite(name):
    b = get(name)
    supported = 0
    for case in suite():
        if case.op not in b.ops:
            continue
        call = b.to_native(case)
        if isinstance(call, Unsupported):
            assert call.reason, (name, case.id)
            continue
        assert isinstance(call, NativeCall)
        supported += 1
        back = b.from_native(dict(call.args), case.shapes, op=case.op)
        assert not isinstance(back, Unsupported), (case.id, call.args, back)
        want = normalize(case.op, case.params, case.shapes)
        # weight_convention describes the weight tensor, not the operator: the native call always
        # takes adjoint-form weights (the adapter rotates direct ones, see call.prep)
        assert _strip(back) == _strip(want), (case.id, call.args)
    if b.always_unsupported:  # registered to say why (cv2.pyrUp): never a meaning
        assert supported == 0, f"{name} is marked always unsupported but expressed {supported} cases"
        return
    assert supported > 0, f"{name} expresses no case of the default suite"


def test_unsupported_reasons_are_specific():
    interp = get("torch.nn.functional.interpolate")
    case = next(c for c in suite() if c.id == "resize/area_to_2x3x3x4[float32]")
    r = interp.to_native(case)
    assert isinstance(r, Unsupported) and "adaptive" in r.reason
    tf_d2s = get("tf.nn.depth_to_space")
    crd = next(c for c in suite() if c.id == "pixel_shuffle/shuffle_CRD_r2[float32]")
    assert "DCR" in tf_d2s.to_native(crd).reason


def test_seed_experiment_translation():
    """The direct-form 3x3 stride-2 case becomes conv2d_transpose(SAME) with a rotated kernel."""
    case = next(c for c in suite() if c.id == "conv_transpose/seed_zero_insertion_3x3_s2_same[float32]")
    call = get("tf.nn.conv2d_transpose").to_native(case)
    assert call.args["padding"] == "SAME" and call.args["output_shape"] == [1, 10, 12, 2]
    assert call.prep["rotate"] is True
    # TF's SAME puts the odd pad at the end (begin 0, end 1); torch pads both ends alike, so only the
    # SAME_LOWER alignment (padding=1, output_padding=1) exists there: that is the porting trap.
    tr = get("torch.nn.functional.conv_transpose2d").to_native(case)
    assert isinstance(tr, Unsupported) and "symmetric" in tr.reason
    lower = next(c for c in suite() if c.id == "conv_transpose/seed_zero_insertion_3x3_s2_same_lower_bias[float32]")
    tcall = get("torch.nn.functional.conv_transpose2d").to_native(lower)
    assert tcall.args["padding"] == [1, 1] and tcall.args["output_padding"] == [1, 1]
    assert tcall.prep["rotate"] is True


@pytest.mark.parametrize(
    "binding, args, shape, expect",
    [
        ("torch.nn.functional.interpolate", {"scale_factor": 2, "mode": "nearest"}, (1, 1, 4, 4),
         {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}),
        ("torch.nn.functional.interpolate", {"size": [7, 7], "mode": "nearest-exact"}, (1, 1, 5, 5),
         {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_ceil"}),
        ("tf.image.resize", {"size": [7, 7], "method": "nearest"}, (1, 1, 5, 5),
         {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_ceil"}),
        ("tf.compat.v1.image.resize_bilinear", {"size": [9, 9], "align_corners": True}, (1, 1, 5, 5),
         {"mode": "linear", "coordinate_transformation_mode": "align_corners"}),
        ("tf.image.resize", {"size": [9, 9], "method": "bicubic"}, (1, 1, 5, 5),
         {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": True}),
    ],
)
def test_from_native_meanings(binding, args, shape, expect):
    got = get(binding).from_native(args, {"x": shape})
    for k, v in expect.items():
        assert got[k] == v, (k, got)


def test_from_native_refuses_what_has_no_canonical_meaning():
    r = get("tf.image.resize").from_native({"size": [4, 4], "method": "lanczos3"}, {"x": (1, 1, 2, 2)})
    assert isinstance(r, Unsupported) and "lanczos" in r.reason
    r = get("tf.compat.v1.image.resize_bilinear").from_native(
        {"size": [4, 4], "align_corners": True, "half_pixel_centers": True}, {"x": (1, 1, 2, 2)})
    assert isinstance(r, Unsupported)
