"""ONNX's own backend test cases for the five operator families (onnx/backend/test/case/node:
resize.py, convtranspose.py, depthtospace.py, spacetodepth.py, maxunpool.py), generated from the
installed onnx package and run through the NumPy reference: the published expected outputs,
not just the dozen written down in test_reference_onnx_examples.py.

The node's attributes and inputs are read back as the reference's keyword arguments here (the ONNX
bindings of issue 10 will do it for every runtime).
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pytest

from upconform import reference as R

pytest.importorskip("onnx")

MODULES = ("resize", "convtranspose", "depthtospace", "spacetodepth", "maxunpool")

# ONNX's published MaxUnpool case with output_shape follows the `default_shape` reading of
# `index_plane` (docs/conventions.md): the indices are run in that reading here, and a test below
# shows that the reference's default (`output_shape`, as ONNX Runtime and PyTorch) differs on it.
INDEX_PLANE = "default_shape"


def _cases() -> list[tuple[str, object, list[np.ndarray], list[np.ndarray]]]:
    from onnx import helper  # noqa: F401 - the case modules need it imported

    captured: list[tuple[str, object, list[np.ndarray], list[np.ndarray]]] = []

    def expect(node, inputs, outputs, name, **kw):  # noqa: ANN001, ARG001 - onnx's signature
        captured.append((name, node, list(inputs), list(outputs)))

    for m in MODULES:
        mod = importlib.import_module(f"onnx.backend.test.case.node.{m}")
        mod.expect = expect
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            for fname, fn in inspect.getmembers(cls, predicate=inspect.isfunction):
                if fname.startswith("export"):
                    fn()
    return captured


CASES = _cases()


def _attrs(node) -> dict:  # noqa: ANN001
    from onnx import helper

    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        out[a.name] = v.decode() if isinstance(v, bytes) else v
    return out


def _reference(node, inputs: list[np.ndarray]) -> np.ndarray:  # noqa: ANN001
    a = _attrs(node)
    named = dict(zip([n for n in node.input if n], inputs))  # expect() skips empty (optional) inputs
    positional = [named.get(n) if n else None for n in node.input]
    if node.op_type == "Resize":
        kw = {k: a[k] for k in ("mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a",
                                "extrapolation_value", "axes", "keep_aspect_ratio_policy") if k in a}
        kw.update({k: bool(a[k]) for k in ("exclude_outside", "antialias") if k in a})
        roi, scales, sizes = (positional + [None] * 4)[1:4]
        if roi is not None and roi.size:
            kw["roi"] = [float(v) for v in roi]
        if scales is not None and scales.size:
            kw["scales"] = [float(v) for v in scales]
        if sizes is not None and sizes.size:
            kw["sizes"] = [int(v) for v in sizes]
        return R.resize(positional[0], **kw)
    if node.op_type == "ConvTranspose":
        kw = {k: a[k] for k in ("strides", "pads", "output_padding", "dilations", "group", "auto_pad",
                                "output_shape") if k in a}
        return R.conv_transpose(positional[0], positional[1], positional[2] if len(positional) > 2 else None, **kw)
    if node.op_type == "DepthToSpace":
        return R.pixel_shuffle(inputs[0], upscale_factor=a["blocksize"], mode=a.get("mode", "DCR"))
    if node.op_type == "SpaceToDepth":
        return R.pixel_unshuffle(inputs[0], downscale_factor=a["blocksize"], mode=a.get("mode", "DCR"))
    if node.op_type == "MaxUnpool":
        x, idx = inputs[0], inputs[1]
        kw = {k: a[k] for k in ("kernel_shape", "strides", "pads") if k in a}
        k = x.ndim - 2
        if len(inputs) > 2:
            kw["output_shape"] = [int(v) for v in inputs[2]]
            kw["index_plane"] = INDEX_PLANE
            st, pads = a.get("strides", [1] * k), a.get("pads", [0] * (2 * k))
            sp = [(x.shape[2 + i] - 1) * st[i] + a["kernel_shape"][i] - pads[i] - pads[k + i] for i in range(k)]
        else:
            st, pads = a.get("strides", [1] * k), a.get("pads", [0] * (2 * k))
            sp = [(x.shape[2 + i] - 1) * st[i] + a["kernel_shape"][i] - pads[i] - pads[k + i] for i in range(k)]
        # ONNX flattens indices over the whole tensor (N and C included); the reference per plane
        plane = int(np.prod(sp))
        n, c = x.shape[:2]
        offset = (np.arange(n)[:, None] * c + np.arange(c)[None, :]).reshape(n, c, *[1] * k) * plane
        return R.max_unpool(x, idx - offset, **kw)
    raise AssertionError(node.op_type)


def test_every_family_has_published_cases():
    ops = {node.op_type for _, node, _, _ in CASES}
    assert ops == {"Resize", "ConvTranspose", "DepthToSpace", "SpaceToDepth", "MaxUnpool"}
    assert len(CASES) >= 50


@pytest.mark.parametrize("name, node, inputs, outputs", CASES, ids=[c[0] for c in CASES])
def test_reference_matches_onnx_backend_case(name, node, inputs, outputs):
    got = _reference(node, inputs)
    want = outputs[0]
    assert got.shape == want.shape, (got.shape, want.shape)
    atol = 1 if want.dtype == np.uint8 else 1e-5
    np.testing.assert_allclose(got, want.astype(np.float64), rtol=1e-5, atol=atol)


def test_maxunpool_output_shape_case_differs_in_the_other_reading():
    global INDEX_PLANE
    name, node, inputs, outputs = next(c for c in CASES if c[0] == "test_maxunpool_export_with_output_shape")
    INDEX_PLANE = "output_shape"
    try:
        other = _reference(node, inputs)
    finally:
        INDEX_PLANE = "default_shape"
    assert other.shape == outputs[0].shape and np.abs(other - outputs[0]).max() == 8.0
