"""Pillow's Image.resize: what each filter means canonically (read from Resample.c / Geometry.c and
checked against the reference), what has no canonical form and why, and that explain lists the ports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import MappingProxyType as M
from typing import Any

import numpy as np
import pytest

pytest.importorskip("PIL")

from upconform.adapters import NativeCall, Unsupported, framework, get  # noqa: E402
from upconform.adapters.pil_bindings import PilResize, box_index, nearest_index  # noqa: E402
from upconform.canonical import Case, freeze, generate, op_info  # noqa: E402
from upconform.harness.compare import compare  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NAME = "PIL.Image.Image.resize"


def _meaning(args: dict[str, Any], x: tuple[int, ...]) -> Any:
    return get(NAME).from_native(args, {"x": x}, op="resize")


def _run(args: dict[str, Any], x: tuple[int, ...], dtype: str = "float32", gen: str = "normal") -> Any:
    """(meaning, comparison of the native output with the reference of that meaning)."""
    meaning = _meaning(args, x)
    assert not isinstance(meaning, Unsupported), meaning
    if dtype == "uint8":
        meaning = {**meaning, "integer_rounding": "per_axis"} if meaning["mode"] in ("linear", "cubic") else meaning
    tensors = {"x": generate(gen, {}, x, dtype, 0)}
    out = get(NAME).run(NativeCall(NAME, args), tensors)
    return meaning, compare(out, op_info("resize").expected(tensors, meaning), dtype)


def test_framework_descriptor():
    fw = framework("PIL")
    assert fw.name == "pillow" and fw.module == "PIL" and fw.extra == "pillow"
    assert fw.versions()["pillow"] == "13.0.0"


@pytest.mark.parametrize("x, size", [((1, 1, 7, 7), [5, 5]), ((1, 1, 12, 16), [8, 6]), ((2, 2, 9, 13), [5, 4]),
                                     ((1, 1, 5, 7), [17, 13]), ((1, 1, 12, 5), [11, 4])])
@pytest.mark.parametrize("resample", ["BILINEAR", "BICUBIC", 2, 3])
def test_bilinear_bicubic_are_the_antialias_family(x, size, resample):
    meaning, c = _run({"size": size, "resample": resample, "mode": "F"}, x)
    assert c.ok, c.message
    cubic = resample in ("BICUBIC", 3)
    assert meaning["mode"] == ("cubic" if cubic else "linear")
    assert meaning["coordinate_transformation_mode"] == "half_pixel"
    assert meaning["sizes"] == [*x[:2], size[1], size[0]]  # Pillow's size is (W, H)
    downscale = size[0] < x[3] or size[1] < x[2]
    assert meaning["antialias"] is downscale
    if cubic:
        assert meaning["cubic_coeff_a"] == -0.5 and meaning["exclude_outside"] is True


def test_default_filter_is_bicubic():
    assert _meaning({"size": [5, 5]}, (1, 1, 7, 7)) == _meaning({"size": [5, 5], "resample": "BICUBIC"}, (1, 1, 7, 7))


def test_box_is_area_at_integer_factors_and_nearest_when_upsampling():
    m, c = _run({"size": [8, 4], "resample": "BOX", "mode": "F"}, (1, 2, 12, 16))
    assert c.ok and m["mode"] == "area"
    m, c = _run({"size": [23, 17], "resample": "BOX", "mode": "F"}, (1, 1, 12, 16), gen="arange")
    assert c.ok and (m["mode"], m["nearest_mode"]) == ("nearest", "round_prefer_ceil")
    r = _meaning({"size": [7, 5], "resample": "BOX"}, (1, 1, 12, 16))
    assert "centres fall in the box" in r.reason
    assert box_index(5, 2) == [[0, 1, 2], [3, 4]]  # centres 1.25 and 3.75, half-width 1.25: not coverage


def test_nearest_replays_the_accumulated_position():
    # (10 + 0.5) * 8 / 21 = 4 exactly; xo += 8/21 in double lands just below: pixel 3 (round_prefer_ceil says 4)
    assert nearest_index(8, 21)[10] == 3
    m, c = _run({"size": [6, 5], "resample": "NEAREST", "mode": "F"}, (1, 1, 12, 18), gen="arange")
    assert c.ok and (m["coordinate_transformation_mode"], m["nearest_mode"]) == ("half_pixel", "round_prefer_ceil")
    r = _meaning({"size": [7, 5], "resample": "NEAREST"}, (1, 1, 12, 16))
    assert "ties go to different sides" in r.reason


def test_uint8_modes_round_per_pass():
    for mode, x in (("L", (2, 2, 9, 13)), ("RGB", (1, 3, 9, 13))):
        for args in ({"size": [5, 3], "resample": "BILINEAR"}, {"size": [5, 9], "resample": "BICUBIC"},
                     {"size": [13, 20], "resample": "BILINEAR"}):
            _, c = _run({**args, "mode": mode}, x, dtype="uint8", gen="uniform")
            assert c.ok, (mode, args, c.message)


@pytest.mark.parametrize("args, x, why", [
    ({"size": [5, 5], "resample": "LANCZOS"}, (1, 1, 7, 7), "Lanczos-3"),
    ({"size": [5, 5], "resample": "HAMMING"}, (1, 1, 7, 7), "Hamming"),
    ({"size": [5, 5], "resample": 6}, (1, 1, 7, 7), "Magic Kernel Sharp"),
    ({"size": [5, 5], "mode": "RGBA"}, (1, 4, 7, 7), "premultiplied"),
    ({"size": [5, 5], "mode": "RGB"}, (1, 1, 7, 7), "3 bands"),
    ({"size": [5, 5], "mode": "I;16"}, (1, 1, 7, 7), "no canonical dtype"),
    ({"size": [5, 5], "box": [1, 0, 7, 7]}, (1, 1, 7, 7), "corner-aligned"),
    ({"size": [3, 3], "reducing_gap": 2.0}, (1, 1, 12, 12), "reduce()s by (2, 2)"),
    ({"size": [5, 5], "resample": "BICUBIC", "mode": "L"}, (1, 1, 7, 8), "pass runs first"),
    ({"size": [0, 5]}, (1, 1, 7, 7), "must be > 0"),
])
def test_unsupported_with_reasons(args, x, why):
    r = _meaning(args, x)
    assert isinstance(r, Unsupported) and why in r.reason, r


def test_reducing_gap_that_does_not_trigger_and_a_full_box_change_nothing():
    plain = _meaning({"size": [5, 5]}, (1, 1, 7, 7))
    assert _meaning({"size": [5, 5], "reducing_gap": 2.0}, (1, 1, 7, 7)) == plain  # int(7 / 5 / 2) = 0
    assert _meaning({"size": [5, 5], "box": [0, 0, 7, 7]}, (1, 1, 7, 7)) == plain
    _, c = _run({"size": [5, 5], "reducing_gap": 1.5, "mode": "F"}, (1, 1, 7, 7))
    assert c.ok


def test_enums_are_checked():
    with pytest.raises(ValueError, match="resample='bicubic' is not one of"):
        get(NAME).validate_args({"size": [5, 5], "resample": "bicubic"})
    with pytest.raises(TypeError, match="unknown argument 'method'"):
        get(NAME).validate_args({"size": [5, 5], "method": "bicubic"})


def _case(params: dict[str, Any], x: tuple[int, ...], dtype: str) -> Case:
    return Case(id="t", op="resize", name="t", dtype=dtype, params=freeze(params), shapes=M({"x": x}))


def test_to_native_writes_width_height_and_the_image_mode():
    p = {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": True, "antialias": True, "sizes": [1, 3, 4, 6]}
    call = get(NAME).to_native(_case(p, (1, 3, 9, 13), "float32"))
    assert call.args == {"size": [6, 4], "resample": "BICUBIC", "mode": "F"}
    call = get(NAME).to_native(_case({**p, "sizes": [1, 3, 9, 6]}, (1, 3, 9, 13), "uint8"))
    assert call.args["mode"] == "RGB"
    r = get(NAME).to_native(_case({"mode": "cubic", "sizes": [1, 3, 4, 6]}, (1, 3, 9, 13), "float32"))
    assert isinstance(r, Unsupported) and "cubic_coeff_a" in r.reason
    r = get(NAME).to_native(_case(p, (1, 3, 9, 13), "float64"))
    assert isinstance(r, Unsupported) and "float32" in r.reason


def test_explain_lists_the_ports():
    p = subprocess.run([sys.executable, "-m", "upconform", "explain", NAME, "size=[5,5]", "resample=BICUBIC",
                        "--shape", "1,1,7,7", "--to", "torch"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "cubic_coeff_a: -0.5" in p.stdout and "antialias: True" in p.stdout
    assert "exact: torch.nn.functional.interpolate(x, size=[5, 5], mode='bicubic', align_corners=False, " \
           "antialias=True)" in p.stdout


def test_channels_and_batch_are_split_per_plane():
    x = generate("normal", {}, (2, 3, 5, 6), "float32", 0)
    out = get(NAME).run(NativeCall(NAME, {"size": [4, 3], "resample": "BILINEAR", "mode": "F"}), {"x": x})
    one = get(NAME).run(NativeCall(NAME, {"size": [4, 3], "resample": "BILINEAR", "mode": "F"}), {"x": x[1:2, 2:3]})
    assert out.shape == (2, 3, 3, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out[1:2, 2:3], one)


@pytest.mark.parametrize("bad", [9, 2.0, "bicubic", True])
def test_unknown_resample_raises_naming_the_field_and_the_allowed_values(bad):
    """Not an Unsupported: a call Pillow itself rejects is an error in the call, named like every enum."""
    with pytest.raises(ValueError, match=r"resample=.* is not one of \['NEAREST', 'LANCZOS'"):
        PilResize().from_native({"size": [5, 5], "resample": bad}, {"x": (1, 1, 7, 7)})


def test_a_call_without_mode_means_and_runs_mode_F():
    """from_native reads a call without mode as an F image; prepare must run the same (a uint8 tensor is a
    type error, not a silent 8-bit run with another meaning)."""
    b = PilResize()
    assert b.from_native({"size": [6, 29], "resample": "BICUBIC"}, {"x": (1, 1, 22, 9)})["antialias"] is True
    call = NativeCall(b.name, {"size": [6, 29], "resample": "BICUBIC"})
    with pytest.raises(TypeError, match="mode 'F' takes float32 tensors, not uint8"):
        b.prepare(call, {"x": np.zeros((1, 1, 22, 9), np.uint8)})
