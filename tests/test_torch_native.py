"""The PyTorch bindings read native calls as what PyTorch 2.13 computes (issue 9, the native side).

Each behaviour: the call, what it really computes against the reference, and the binding's claim now.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from upconform.adapters import _BUILTIN, NativeCall, Unsupported, get
from upconform.canonical import generate, op_info

pytest.importorskip("torch")

TORCH = sorted(n for n, (m, _) in _BUILTIN.items() if m == "torch_bindings")


def _run(name: str, args: dict, shape: tuple[int, ...], op: str = "resize") -> tuple[np.ndarray, dict | Unsupported]:
    b = get(name)
    x = generate("normal", {}, shape, "float64", 3)
    return b.run(NativeCall(name, args), {"x": x}), b.from_native(args, {"x": shape}, op=op)


def _err(out: np.ndarray, params: dict, shape: tuple[int, ...]) -> float:
    x = generate("normal", {}, shape, "float64", 3)
    ref = op_info("resize").expected({"x": x}, params)
    return float(np.abs(ref - out).max()) if ref.shape == out.shape else float("inf")


@pytest.mark.parametrize("args, shape", [
    ({"scale_factor": 1.2, "mode": "linear"}, (1, 1, 3)),  # linear kernels copy an axis whose length stays
    ({"scale_factor": 1.25, "mode": "trilinear", "align_corners": False}, (1, 1, 2, 3, 3)),
    ({"scale_factor": [1.2, 0.5], "mode": "bilinear", "antialias": True}, (1, 1, 3, 8)),  # AA skips it
    ({"scale_factor": [1.2, 0.5], "mode": "bicubic", "antialias": True}, (1, 1, 3, 8)),
    ({"scale_factor": [1.2, 2.2], "mode": "nearest"}, (1, 1, 3, 3)),  # nearest2d: copy, and i >> 1
])
def test_unchanged_and_doubled_axes_are_what_torch_computes(args, shape):
    out, meaning = _run("torch.nn.functional.interpolate", args, shape)
    old = {**meaning, "scales": [1.0, 1.0, *([args["scale_factor"]] * (len(shape) - 2) if not isinstance(
        args["scale_factor"], list) else args["scale_factor"])]}
    old.pop("sizes", None)
    assert _err(out, old, shape) > 0.1  # the scale as given is not what runs
    assert _err(out, meaning, shape) < 1e-6


def test_nearest1d_uses_the_given_scale():
    out, meaning = _run("torch.nn.functional.interpolate", {"scale_factor": 1.2, "mode": "nearest"}, (1, 1, 3))
    assert meaning["scales"][2] == 1.2 and _err(out, meaning, (1, 1, 3)) == 0


@pytest.mark.parametrize("args, shape, why", [
    ({"size": [3, 5], "mode": "bilinear", "antialias": True, "align_corners": True}, (1, 1, 8, 8), "pixel-edge"),
    ({"scale_factor": 0.29, "mode": "nearest"}, (1, 1, 100), "double precision"),
    ({"size": 4, "mode": "linear", "antialias": True}, (1, 1, 8), "raises"),
    ({"size": 4, "mode": "bicubic"}, (1, 1, 8), "raises"),
    ({"size": 4, "recompute_scale_factor": True}, (1, 1, 8), "raises"),
    ({"scale_factor": 0.5, "mode": "lanczos", "antialias": True}, (1, 1, 8, 8), "lanczos"),
])
def test_calls_without_canonical_meaning_are_refused(args, shape, why):
    m = get("torch.nn.functional.interpolate").from_native(args, {"x": shape}, op="resize")
    assert isinstance(m, Unsupported) and why in m.reason


def test_antialias_align_corners_is_neither_reading():
    args, shape = {"size": [3, 5], "mode": "bilinear", "antialias": True, "align_corners": True}, (1, 1, 8, 8)
    out, _ = _run("torch.nn.functional.interpolate", args, shape)
    base = {"mode": "linear", "sizes": [1, 1, 3, 5], "antialias": True, "exclude_outside": True}
    for ctm in ("align_corners", "half_pixel"):
        assert _err(out, {**base, "coordinate_transformation_mode": ctm}, shape) > 0.05


def test_module_forms():
    b = get("torch.nn.UpsamplingBilinear2d")
    m = b.from_native({"scale_factor": 2}, {"x": (1, 1, 4, 4)}, op="resize")
    assert m["coordinate_transformation_mode"] == "align_corners"
    with pytest.raises(TypeError):
        b.check_args({"scale_factor": 2, "mode": "bilinear"})
    ct = get("torch.nn.ConvTranspose2d")
    shapes = {"x": (1, 2, 5, 5), "w": (2, 3, 3, 3)}
    a = {"in_channels": 2, "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1,
         "bias": False}
    assert ct.from_native(a, shapes)["output_spatial"] == [10, 10]
    # forward(x, output_size) replaces the module's output_padding
    assert ct.from_native({**a, "output_size": [9, 9]}, shapes)["output_spatial"] == [9, 9]
    assert "padding_mode" in ct.from_native({**a, "padding_mode": "reflect"}, shapes).reason


def test_repeat_interleave_as_written():
    b = get("torch.repeat_interleave")
    x = generate("arange", {}, (1, 1, 2, 3), "float32", 0)
    for args, want in (({"repeats": 2, "dim": 3}, [1, 2]), ({"repeats": [2, 3], "dim": [3, -1]}, [1, 6]),
                       ({"repeats": 3, "dim": -2, "output_size": 6}, [3, 1])):
        m = b.from_native(args, {"x": (1, 1, 2, 3)}, op="repeat")
        assert m == {"repeats": want}
        np.testing.assert_array_equal(b.run(NativeCall(b.name, args), {"x": x}),
                                      op_info("repeat").expected({"x": x}, m))
    assert isinstance(b.from_native({"repeats": 2}, {"x": (1, 1, 2, 3)}), Unsupported)  # flattens
    assert isinstance(b.from_native({"repeats": 2, "dim": 1}, {"x": (1, 1, 2, 3)}), Unsupported)  # channels


def test_pixel_shuffle_is_4d_only():
    m = get("torch.nn.functional.pixel_shuffle").from_native({"upscale_factor": 2}, {"x": (1, 4, 4, 2, 2)})
    assert isinstance(m, Unsupported) and "4-D" in m.reason


def test_max_unpool_possible_invalid_index_is_refused():
    m = get("torch.nn.functional.max_unpool2d").from_native({"kernel_size": 2}, {"x": (1, 1, 5, 5)})
    assert isinstance(m, Unsupported) and "invalid max index" in m.reason


@pytest.mark.parametrize("name", TORCH)
def test_check_args_rejects_a_misspelled_argument(name):
    b = get(name)
    assert b.native_args
    with pytest.raises(TypeError, match="algn_corners"):
        b.check_args({"algn_corners": True})


def _check_space(b, op: str) -> None:
    strategy = b.search_space(op)
    assert strategy is not None

    @settings(max_examples=15, deadline=None)
    @given(st.data())
    def check(data):
        ex = data.draw(strategy)
        assert set(ex) == {"args", "shapes", "dtype"}
        b.check_args(ex["args"])
        m = b.from_native(ex["args"], {k: tuple(v) for k, v in ex["shapes"].items()}, op=op)
        assert isinstance(m, dict) or (isinstance(m, Unsupported) and m.reason)

    check()


@pytest.mark.parametrize("name", TORCH)
def test_search_space_draws_are_read_or_refused(name):
    b = get(name)
    for op in b.ops:
        _check_space(b, op)
