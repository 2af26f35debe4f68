"""JAX bindings: what each native call means (from jax/_src/image/scale.py and lax/convolution.py at
0.10.2), that a handful of calls compute that meaning, the unsupported reasons, and explain.
Few shapes: every new shape makes XLA compile."""

from __future__ import annotations

from types import MappingProxyType as M
from typing import Any

import numpy as np
import pytest

from upconform.adapters import NativeCall, Unsupported, framework, get
from upconform.canonical import Case, freeze, generate, op_info
from upconform.harness.compare import compare

pytest.importorskip("jax")


def _run(name: str, args: dict[str, Any], shapes: dict[str, tuple[int, ...]], op: str,
         dtype: str = "float32") -> tuple[Any, np.ndarray, np.ndarray]:
    """(meaning, native output, reference output of that meaning)."""
    b = get(name)
    meaning = b.from_native(args, shapes, op=op)
    assert not isinstance(meaning, Unsupported), meaning
    tensors = {"x": generate("normal", {}, shapes["x"], dtype, 0)}
    tensors.update(op_info(op).extra_tensors(shapes, dtype, 0))
    out = b.run(NativeCall(name, args), tensors)
    return meaning, out, op_info(op).expected(tensors, meaning)


def _case(op: str, params: dict[str, Any], shapes: dict[str, tuple[int, ...]], dtype: str = "float32") -> Case:
    return Case(id="t", op=op, name="t", dtype=dtype, params=freeze(params), shapes=M(shapes))


def _assert_conforms(out: np.ndarray, expected: np.ndarray, dtype: str = "float32") -> None:
    c = compare(out, expected, dtype)
    assert c.ok, c.message


# ---------------------------------------------------------------------------------- meanings (no JAX run)


@pytest.mark.parametrize("args, expect", [
    ({"shape": [1, 4, 5, 3], "method": "linear"},
     {"mode": "linear", "coordinate_transformation_mode": "half_pixel", "sizes": [1, 3, 4, 5], "antialias": True,
      "exclude_outside": True}),
    ({"shape": [1, 4, 5, 3], "method": "bilinear", "antialias": False},
     {"mode": "linear", "coordinate_transformation_mode": "half_pixel", "sizes": [1, 3, 4, 5], "antialias": False,
      "exclude_outside": False}),
    ({"shape": [1, 4, 5, 3], "method": "cubic"},
     {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "sizes": [1, 3, 4, 5], "antialias": True,
      "cubic_coeff_a": -0.5, "exclude_outside": True}),
    ({"shape": [1, 18, 20, 3], "method": "cubic-pytorch", "antialias": False},
     {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "sizes": [1, 3, 18, 20], "antialias": False,
      "cubic_coeff_a": -0.75, "exclude_outside": False}),
    ({"shape": [1, 18, 20, 5], "method": "nearest"},  # C resized too: every axis whose size changes
     {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_ceil",
      "sizes": [1, 5, 18, 20]}),
])
def test_resize_meanings(args, expect):
    assert get("jax.image.resize").from_native(args, {"x": (1, 3, 9, 10)}) == expect


def test_resize_unsupported_reasons():
    b = get("jax.image.resize")
    assert "Lanczos" in b.from_native({"shape": [1, 4, 4, 3], "method": "lanczos3"}, {"x": (1, 3, 8, 8)}).reason
    ac = _case("resize", {"mode": "linear", "coordinate_transformation_mode": "align_corners", "sizes": [1, 3, 9, 9]},
               {"x": (1, 3, 5, 5)})
    assert "jax#11206" in b.to_native(ac).reason
    assert "method='nearest'" in b.from_native({"shape": [1, 10, 10, 3], "method": "linear"}, {"x": (1, 3, 5, 5)},
                                               op="repeat").reason
    assert b.from_native({"shape": [1, 10, 15, 3], "method": "nearest"}, {"x": (1, 3, 5, 5)}, op="repeat") == \
        {"repeats": [2, 3]}


@pytest.mark.parametrize("scale, trans, out, expect", [
    ([2.0, 2.0], [-0.5, -0.5], [9, 9], {"coordinate_transformation_mode": "align_corners", "sizes": [1, 2, 9, 9]}),
    ([2.0, 2.0], [0.0, 0.0], [10, 10], {"coordinate_transformation_mode": "half_pixel", "sizes": [1, 2, 10, 10]}),
    ([2.0, 2.0], [-0.5, -0.5], [10, 10], {"coordinate_transformation_mode": "asymmetric", "sizes": [1, 2, 10, 10]}),
    ([1.5, 2.5], [0.0, 0.0], [7, 12], {"coordinate_transformation_mode": "half_pixel", "scales": [1.0, 1.0, 1.5, 2.5]}),
])
def test_scale_and_translate_meanings(scale, trans, out, expect):
    b = get("jax.image.scale_and_translate")
    n = b.from_native({"shape": [1, *out, 2], "spatial_dims": [1, 2], "scale": scale, "translation": trans,
                       "method": "linear"}, {"x": (1, 2, 5, 5)})
    assert {k: n[k] for k in expect} == expect, n


def test_scale_and_translate_unsupported_reasons():
    b = get("jax.image.scale_and_translate")
    shapes = {"x": (1, 2, 5, 5)}
    base = {"shape": [1, 10, 10, 2], "spatial_dims": [1, 2], "scale": [2.0, 2.0], "method": "linear"}
    assert "no canonical" in b.from_native({**base, "translation": [3.0, 3.0]}, shapes).reason  # zeros outside
    assert "Nearest" in b.from_native({**base, "translation": [0.0, 0.0], "method": "nearest"}, shapes).reason
    one = _case("resize", {"mode": "linear", "coordinate_transformation_mode": "align_corners", "sizes": [1, 2, 6, 4]},
                {"x": (1, 2, 3, 1)})
    assert "infinite" in b.to_native(one).reason
    # antialias with align_corners on a downscale: JAX stretches by (in - 1) / (out - 1), the case by in / out
    aa = _case("resize", {"mode": "linear", "coordinate_transformation_mode": "align_corners", "antialias": 1,
                          "exclude_outside": 1, "sizes": [1, 2, 3, 3]}, {"x": (1, 2, 7, 7)})
    assert "stretches the kernel" in b.to_native(aa).reason


def test_conv_transpose_meanings():
    ct = get("jax.lax.conv_transpose")
    shapes = {"x": (1, 4, 5, 5), "w": (4, 2, 3, 3)}
    dn = ["NCHW", "OIHW", "NCHW"]
    # SAME at stride 2, k 3: correlation pads (2, 1), begin 0 (SAME_UPPER: the odd pad at the end)
    n = ct.from_native({"strides": [2, 2], "padding": "SAME", "dimension_numbers": dn, "transpose_kernel": True}, shapes)
    assert (n["pads"], n["output_spatial"], n["weight_convention"]) == ([0, 0, 1, 1], [10, 10], "transposed")
    # VALID: the full output
    n = ct.from_native({"strides": [2, 2], "padding": "VALID", "dimension_numbers": dn, "transpose_kernel": True}, shapes)
    assert (n["pads"], n["output_spatial"]) == ([0, 0, 0, 0], [11, 11])
    # explicit pairs are correlation pads; use_consistent_padding reads them as PyTorch's padding
    n = ct.from_native({"strides": [2, 2], "padding": [[1, 2], [1, 2]], "dimension_numbers": dn,
                        "transpose_kernel": True}, shapes)
    assert (n["pads"], n["output_spatial"]) == ([1, 1, 0, 0], [10, 10])
    n = ct.from_native({"strides": [2, 2], "padding": [[1, 1], [1, 1]], "dimension_numbers": dn,
                        "transpose_kernel": True, "use_consistent_padding": True}, shapes)
    assert (n["pads"], n["output_spatial"]) == ([1, 1, 1, 1], [9, 9])
    # transpose_kernel=False: the kernel as given, direct (C_out, C_in, *k); its I axis must be C_in
    n = ct.from_native({"strides": [2, 2], "padding": "SAME", "dimension_numbers": dn},
                       {"x": (1, 4, 5, 5), "w": (2, 4, 3, 3)})
    assert n["weight_convention"] == "direct"
    assert isinstance(ct.from_native({"strides": [2, 2], "padding": "SAME", "dimension_numbers": dn}, shapes),
                      Unsupported)
    groups = _case("conv_transpose", {"strides": 2, "group": 2}, {"x": (1, 4, 4, 4), "w": (4, 1, 3, 3)})
    assert "feature_group_count" in ct.to_native(groups).reason
    cg = get("jax.lax.conv_general_dilated").to_native(groups)
    assert cg.args["feature_group_count"] == 2 and cg.args["lhs_dilation"] == [2, 2] and cg.prep["to_direct"]
    # string padding with lhs_dilation > 1 raises in JAX
    assert "String padding" in get("jax.lax.conv_general_dilated").from_native(
        {"window_strides": [1, 1], "padding": "SAME", "lhs_dilation": [2, 2]}, {"x": (1, 2, 4, 4), "w": (2, 2, 3, 3)}
    ).reason


# ---------------------------------------------------------------------------------- runs (JAX compiles)


def test_framework_descriptor():
    fw = framework("jaxlib")
    assert fw.name == "jax" and fw.suite == "own" and fw.path_names() == ("eager", "compiled")


@pytest.mark.parametrize("name, args, shapes, op", [
    ("jax.image.resize", {"shape": [1, 4, 5, 3], "method": "linear"}, {"x": (1, 3, 9, 11)}, "resize"),
    ("jax.image.resize", {"shape": [1, 9, 11, 2], "method": "cubic-pytorch", "antialias": False},
     {"x": (1, 2, 5, 7)}, "resize"),
    ("jax.image.scale_and_translate", {"shape": [1, 9, 13, 2], "spatial_dims": [1, 2], "scale": [2.0, 2.0],
                                       "translation": [-0.5, -0.5], "method": "linear"}, {"x": (1, 2, 5, 7)}, "resize"),
    ("jax.lax.conv_transpose", {"strides": [2, 2], "padding": "SAME", "transpose_kernel": True},
     {"x": (1, 3, 4, 5), "w": (3, 2, 3, 3)}, "conv_transpose"),
    ("jax.lax.conv_transpose", {"strides": [2, 2], "padding": [[1, 2], [0, 1]]},  # default NHWC/HWIO, direct
     {"x": (1, 3, 4, 5), "w": (2, 3, 3, 3)}, "conv_transpose"),
    ("jax.lax.conv_general_dilated", {"window_strides": [1, 1], "padding": [[1, 2], [1, 2]], "lhs_dilation": [2, 2],
                                      "feature_group_count": 2}, {"x": (1, 4, 4, 4), "w": (4, 2, 3, 3)},
     "conv_transpose"),
    ("jax.numpy.repeat", {"repeats": 3, "axis": 2}, {"x": (1, 2, 3, 4)}, "repeat"),
    ("jnp.reshape+transpose (pixel shuffle)", {"upscale_factor": 2, "order": "CRD"}, {"x": (1, 8, 3, 3)},
     "pixel_shuffle"),
    ("jnp.reshape+transpose (pixel shuffle)", {"upscale_factor": 2, "order": "DCR"}, {"x": (1, 8, 3, 3)},
     "pixel_shuffle"),
    ("jnp.reshape+transpose (pixel unshuffle)", {"downscale_factor": 2, "order": "CRD"}, {"x": (1, 2, 4, 6)},
     "pixel_unshuffle"),
])
def test_calls_compute_their_meaning(name, args, shapes, op):
    _, out, expected = _run(name, args, shapes, op)
    _assert_conforms(out, expected)


def test_float64_is_float64_and_compiled_path_agrees():
    b = get("jax.image.resize")
    args = {"shape": [1, 4, 5, 3], "method": "cubic"}
    meaning, out, expected = _run("jax.image.resize", args, {"x": (1, 3, 9, 11)}, "resize", dtype="float64")
    assert out.dtype == np.float64
    _assert_conforms(out, expected, "float64")
    path = framework("jax").path("compiled")
    tensors = {"x": generate("normal", {}, (1, 3, 9, 11), "float64", 0)}
    p = path.prepare(b, NativeCall(b.name, args), tensors)
    np.testing.assert_array_equal(path.to_canonical(path.execute(p), p), out)
    assert path.build_info(p)["build_s"] > 0


def test_explain_lists_other_frameworks(capsys):
    from upconform.cli import main

    rc = main(["explain", "jax.image.resize", "shape=[1,6,6,3]", "method=linear", "--shape", "1,3,3,3"])
    text = capsys.readouterr().out
    assert rc == 0 and "coordinate_transformation_mode: half_pixel" in text
    assert "torch.nn.functional.interpolate(x, size=[6, 6], mode='bilinear'" in text
    assert "tf.image.resize(x, size=[6, 6], method='bilinear')" in text
