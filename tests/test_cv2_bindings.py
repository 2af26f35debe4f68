"""OpenCV bindings (issue 11): what cv2.resize's native calls mean canonically, measured against the
reference, and why cv2.pyrUp has no canonical meaning. Skipped where OpenCV is not installed."""

from __future__ import annotations

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from upconform.adapters import NativeCall, Unsupported, framework, get  # noqa: E402
from upconform.canonical import op_info  # noqa: E402
from upconform.cli import main  # noqa: E402
from upconform.harness.compare import compare  # noqa: E402
from upconform.reference.conv_transpose import conv_transpose  # noqa: E402

B = get("cv2.resize")


def meaning(args, x=(1, 3, 7, 7)):
    return B.from_native(args, {"x": x}, op="resize")


def check_runs(args, x, dtype="float32", seed=0):
    """Run the call on random data and compare with the reference of its meaning."""
    m = meaning(args, x)
    assert not isinstance(m, Unsupported), m
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 256, x).astype(np.uint8) if dtype == "uint8" else rng.standard_normal(x).astype(dtype)
    got = B.run(NativeCall(B.name, args), {"x": t})
    want = op_info("resize").expected({"x": t}, m)
    c = compare(got, want, dtype)
    assert c.ok, c.message
    return got


def test_framework_descriptor():
    fw = framework("cv2")
    assert fw.name == "opencv" and fw.module == "cv2" and fw.extra == "opencv"
    assert fw.versions().get("opencv-python-headless", "").startswith("5.")
    assert get("cv2.resize").framework == get("cv2.pyrUp").framework == "opencv"


def test_dsize_is_width_height():
    m = meaning({"dsize": [5, 3], "interpolation": "INTER_LINEAR"}, (1, 3, 7, 9))
    assert m["sizes"] == [1, 3, 3, 5]
    assert (m["mode"], m["coordinate_transformation_mode"], m["antialias"]) == ("linear", "half_pixel", False)
    out = check_runs({"dsize": [5, 3]}, (1, 3, 7, 9))  # the default flag is INTER_LINEAR
    assert out.shape == (1, 3, 3, 5)


def test_interpolation_by_name_or_value_and_enum_check():
    assert meaning({"dsize": [5, 5], "interpolation": 3}) == meaning({"dsize": [5, 5], "interpolation": "INTER_AREA"})
    with pytest.raises(ValueError, match="interpolation='INTER_BOX' is not one of"):
        B.validate_args({"interpolation": "INTER_BOX"})
    with pytest.raises(ValueError, match="interpolation=9"):
        meaning({"dsize": [5, 5], "interpolation": 9})
    with pytest.raises(TypeError, match="unknown argument 'size'"):
        B.validate_args({"size": [5, 5]})


def test_area_meanings_fx_fy_and_dsize_wins():
    area = {"mode": "area", "coordinate_transformation_mode": "half_pixel", "sizes": [1, 3, 5, 5], "antialias": False}
    assert meaning({"dsize": [5, 5], "interpolation": "INTER_AREA"}) == area
    # fx, fy: scales (exactly out / in here, so the normal form has sizes); dsize of non-zero area wins
    assert meaning({"dsize": None, "fx": 0.5, "fy": 0.5, "interpolation": "INTER_AREA"}, (1, 3, 8, 8))["sizes"] == \
        [1, 3, 4, 4]
    assert meaning({"dsize": [5, 5], "fx": 0.5, "fy": 0.5, "interpolation": "INTER_AREA"}) == area
    assert meaning({"dsize": [0, 0], "fx": 0.75, "fy": 0.75, "interpolation": "INTER_AREA"}, (1, 3, 8, 12))["sizes"] \
        == [1, 3, 6, 9]
    # 5 * 1.3 = 6.5 -> 6 and 7 * 1.5 = 10.5 -> 10 (cvRound, half to even) = floor: scales, not out / in
    scaled = meaning({"dsize": None, "fx": 1.5, "fy": 1.3, "interpolation": "INTER_LINEAR"}, (1, 1, 5, 7))
    assert scaled["scales"] == [1.0, 1.0, 1.3, 1.5]
    check_runs({"dsize": None, "fx": 1.5, "fy": 1.3, "interpolation": "INTER_LINEAR"}, (1, 1, 5, 7))
    # cv2 sizes round(L * f): 7 * 0.5 = 3.5 -> 4 (half to even), the canonical floor 3: unsupported
    r = meaning({"dsize": None, "fx": 0.5, "fy": 0.5, "interpolation": "INTER_AREA"})
    assert isinstance(r, Unsupported) and "round(L * f)" in r.reason
    assert "fx=0, fy=0 are not both > 0" in meaning({"dsize": None, "fx": 0, "fy": 0}).reason


def test_area_up_down_mixed_and_exact_coverage():
    down = check_runs({"dsize": [5, 4], "interpolation": "INTER_AREA"}, (2, 3, 7, 9))  # fractional coverage
    assert down.shape == (2, 3, 4, 5)
    up = meaning({"dsize": [13, 11], "interpolation": "INTER_AREA"}, (1, 3, 5, 6))
    assert up["mode"] == "area"  # growing: cv2's (1 - f, f) weights are exact coverage
    check_runs({"dsize": [13, 11], "interpolation": "INTER_AREA"}, (1, 3, 5, 6))
    check_runs({"dsize": [13, 11], "interpolation": "INTER_AREA"}, (1, 3, 5, 6), "uint8")
    mixed = meaning({"dsize": [3, 11], "interpolation": "INTER_AREA"}, (1, 3, 5, 6))
    assert isinstance(mixed, Unsupported) and "shrinking one axis and growing the other" in mixed.reason
    wide = meaning({"dsize": [5, 4], "interpolation": "INTER_AREA"}, (1, 5, 7, 9))
    assert isinstance(wide, Unsupported) and "cn <= 4" in wide.reason
    check_runs({"dsize": [3, 3], "interpolation": "INTER_AREA"}, (1, 5, 6, 6))  # integer shrink: any C
    slip = meaning({"dsize": [98, 1], "interpolation": "INTER_AREA"}, (1, 1, 1, 2))
    assert isinstance(slip, Unsupported) and "output 49" in slip.reason


def test_area_upscale_slip_is_real():
    """2 -> 98 pixels: cv2 puts output 49 on pixel 0 where exact coverage reads pixel 1."""
    y = cv2.resize(np.array([[0.0, 1.0]], np.float32), (98, 1), interpolation=cv2.INTER_AREA)
    assert y[0, 49] == 0.0 and y[0, 50] == 1.0


def test_nearest_flags():
    assert meaning({"dsize": [9, 9], "interpolation": "INTER_NEAREST"}, (1, 1, 6, 6))["coordinate_transformation_mode"] \
        == "asymmetric"
    check_runs({"dsize": [11, 9], "interpolation": "INTER_NEAREST"}, (1, 3, 6, 8), "uint8")
    check_runs({"dsize": [11, 9], "interpolation": "INTER_NEAREST"}, (1, 3, 6, 8), "float16")
    slip = meaning({"dsize": [34, 2], "interpolation": "INTER_NEAREST"}, (1, 1, 2, 6))
    assert isinstance(slip, Unsupported) and "output 17 reads pixel 2" in slip.reason
    y = cv2.resize(np.arange(6, dtype=np.float32)[None], (34, 1), interpolation=cv2.INTER_NEAREST)
    assert y[0, 17] == 2.0  # floor(17 * 6 / 34) = 3 exactly
    ex = meaning({"dsize": [9, 8], "interpolation": "INTER_NEAREST_EXACT"}, (1, 1, 5, 7))
    assert (ex["coordinate_transformation_mode"], ex["nearest_mode"]) == ("half_pixel", "round_prefer_ceil")
    check_runs({"dsize": [9, 8], "interpolation": "INTER_NEAREST_EXACT"}, (2, 1, 5, 7), "uint8")
    tie = meaning({"dsize": [6, 5], "interpolation": "INTER_NEAREST_EXACT"}, (1, 1, 5, 4))
    assert isinstance(tie, Unsupported) and "output 1 is exactly between two pixels" in tie.reason
    # the measured tie breaking: 4 -> 6 picks 1 at output 1 (up) and 2 at output 4 (down)
    y = cv2.resize(np.arange(4, dtype=np.float32)[None], (6, 1), interpolation=cv2.INTER_NEAREST_EXACT)
    assert y[0].tolist() == [0, 1, 1, 2, 2, 3]


def test_linear_cubic_uint8_and_layouts():
    check_runs({"dsize": [11, 8], "interpolation": "INTER_LINEAR"}, (2, 4, 5, 7), "uint8")
    check_runs({"dsize": [11, 8], "interpolation": "INTER_LINEAR_EXACT"}, (1, 3, 5, 7), "uint8")
    check_runs({"dsize": [11, 8], "interpolation": "INTER_CUBIC"}, (1, 1, 5, 7), "uint8")
    cub = meaning({"dsize": [11, 8], "interpolation": "INTER_CUBIC"})
    assert (cub["cubic_coeff_a"], cub["exclude_outside"]) == (-0.75, False)
    check_runs({"dsize": None, "fx": 2.0, "fy": 1.5, "interpolation": "INTER_CUBIC"}, (1, 3, 6, 5))
    lz = meaning({"dsize": [5, 5], "interpolation": "INTER_LANCZOS4"})
    assert isinstance(lz, Unsupported) and "Lanczos" in lz.reason
    assert "1 to 128 channels" in meaning({"dsize": [5, 5]}, (1, 129, 4, 4)).reason
    assert "2-D images" in meaning({"dsize": [5, 5]}, (1, 3, 4)).reason


def test_to_native_notes_and_refusals():
    from upconform.canonical import Case
    from upconform.canonical.case import freeze

    def case(params, x=(2, 1, 4, 6), dtype="float32"):
        return Case(id="resize/t", op="resize", name="t", dtype=dtype, shapes={"x": x}, params=freeze(params))

    call = B.to_native(case({"mode": "linear", "sizes": [2, 1, 6, 10]}))
    assert call.args == {"dsize": [10, 6], "interpolation": "INTER_LINEAR"}
    assert any("(width, height)" in n for n in call.notes) and any("one call per image" in n for n in call.notes)
    assert call.prep == {"layout": "HW", "per_image": 2}
    r = B.to_native(case({"mode": "linear", "sizes": [2, 1, 6, 10]}, dtype="float16"))
    assert isinstance(r, Unsupported) and "float16" in r.reason
    r = B.to_native(case({"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": True, "sizes": [2, 1, 6, 10]}))
    assert isinstance(r, Unsupported) and "a=-0.75" in r.reason
    r = B.to_native(case({"mode": "adaptive_avg", "sizes": [2, 1, 3, 3]}))
    assert isinstance(r, Unsupported) and "adaptive" in r.reason


def test_pyrup_is_unsupported_and_why():
    p = get("cv2.pyrUp")
    r = p.from_native({}, {"x": (1, 1, 6, 7)}, op="resize")
    assert isinstance(r, Unsupported) and "BORDER_REFLECT_101" in r.reason
    # the reason's claim: inside the image pyrUp is conv_transpose (stride 2, kernel [1,4,6,4,1]/8, pads 2, 1)
    x = np.random.default_rng(1).standard_normal((6, 7))
    y = p.run(NativeCall(p.name, {}), {"x": x[None, None]})[0, 0]
    k = np.array([1, 4, 6, 4, 1]) / 8.0
    ct = conv_transpose(x[None, None], np.outer(k, k)[None, None], strides=[2, 2], pads=[2, 2, 1, 1])[0, 0]
    assert np.abs(y - ct)[2:-2, 2:-2].max() < 1e-12
    assert np.abs(y - ct).max() > 0.1  # the border is not


def test_explain_names_the_equivalent_calls(capsys):
    pytest.importorskip("tensorflow")
    rc = main(["explain", "cv2.resize", "interpolation=INTER_AREA", "dsize=[5,5]", "--shape", "1,3,7,7",
               "--to", "tensorflow"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "mode: area" in out and "sizes: [1, 3, 5, 5]" in out
    assert "exact: tf.image.resize(x, size=[5, 5], method='area')" in out
