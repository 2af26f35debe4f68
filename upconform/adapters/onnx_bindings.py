"""ONNX runtimes as bindings: a canonical case becomes a one-node ONNX model (two nodes for
MaxUnpool: MaxPool, then MaxUnpool) run by ONNX Runtime (CPU execution provider), OpenVINO (CPU
plugin) or ``onnx.reference.ReferenceEvaluator``. Each runtime is its own framework with its own
descriptor. onnx, onnxruntime and openvino are imported when a binding first runs, never at import.

The canonical vocabulary is ONNX's, so the translation is nearly the identity:

    resize          -> Resize-19 (attributes; roi / scales / sizes as constant inputs)
    repeat          -> Resize-19 nearest, asymmetric, floor, integer scales (exact repetition)
    conv_transpose  -> ConvTranspose (weights (C_in, C_out/g, *k) are ONNX's layout)
    pixel_shuffle   -> DepthToSpace (mode DCR | CRD), 4-D only
    pixel_unshuffle -> SpaceToDepth (DCR only: the operator has no mode attribute), 4-D only
    max_unpool      -> MaxPool (x) -> (Y, Indices) -> MaxUnpool (Y, Indices[, output_shape])

``node_meaning`` reads any such NodeProto (e.g. one that ``torch.onnx.export`` wrote) back into the
canonical normal form, in the operator text's own readings (docs/conventions.md); each runtime's
binding adds the readings that runtime follows.

Example:
    >>> args_meaning("DepthToSpace", {"blocksize": 2, "mode": "CRD"}, {"x": (1, 8, 2, 3)})
    ('pixel_shuffle', {'mode': 'CRD', 'upscale_factor': 2})
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from ..canonical import Case, normalize, op_info, per_axis
from .base import Binding, Framework, NativeCall, Unsupported, spatial_rank, unsupported_op

# The model's opset: the newest that onnx 1.23.2, ONNX Runtime 1.32.0 and OpenVINO 2026.4 all load
# (each accepts 18 .. 28; checked by tests/test_onnx_bindings.py). The operator versions it selects:
# Resize-19, ConvTranspose-22, MaxPool-22, MaxUnpool-22, DepthToSpace-28, SpaceToDepth-28.
OPSET = 28

# ----------------------------------------------------------------------------------- frameworks

_THREADS: dict[str, int] = {}  # runtime -> thread count, set by its descriptor's configure_threads


def _ort_threads(threads: int) -> None:
    _THREADS["onnxruntime"] = threads  # SessionOptions intra_op / inter_op_num_threads, per session


def _ov_threads(threads: int) -> None:
    _THREADS["openvino"] = threads  # the compiled model's INFERENCE_NUM_THREADS


ORT_FRAMEWORK = Framework("onnxruntime", aliases=("ort", "onnx-runtime"), distributions=("onnxruntime", "onnx"),
                          module="onnxruntime", extra="onnx", configure_threads=_ort_threads)
# check_cost_s: OpenVINO's compile_model is about 45 ms a model; onnx.reference interprets in Python
OPENVINO_FRAMEWORK = Framework("openvino", aliases=("ov",), distributions=("openvino", "onnx"), module="openvino",
                               extra="openvino", configure_threads=_ov_threads, check_cost_s=0.03)
# not timed: ONNX's ReferenceEvaluator is the operator text made executable, interpreted in Python ("not
# meant for performance"); its outputs are checked, its speed would be no figure anyone deploys
REFERENCE_FRAMEWORK = Framework("onnx.reference", aliases=("onnx-reference", "reference-evaluator"),
                                distributions=("onnx",), module="onnx", extra="onnx", check_cost_s=0.007,
                                timed=False)

_FRAMEWORKS = {f.name: f for f in (ORT_FRAMEWORK, OPENVINO_FRAMEWORK, REFERENCE_FRAMEWORK)}

# ----------------------------------------------------------------------------------- dtypes
# Which dtypes each runtime implements, per operator, measured on this machine (ONNX Runtime 1.32.0,
# OpenVINO 2026.4.1, onnx 1.23.2; tests/test_onnx_bindings.py re-checks every entry, both ways).
# A dtype outside the table is unsupported with the reason below, not an error.

_ALL = ("float32", "float64", "float16", "bfloat16", "uint8")
DTYPES: dict[str, dict[str, tuple[str, ...]]] = {
    "onnxruntime": {
        "Resize": ("float32", "float16", "uint8"),
        "ConvTranspose": ("float32", "float16"),
        "DepthToSpace": ("float32", "float64", "float16", "uint8"),
        "SpaceToDepth": ("float32", "float64", "float16", "uint8"),
        "MaxUnpool": ("float32", "float16"),
    },
    "openvino": {
        "Resize": ("float32", "float16", "uint8"),
        "ConvTranspose": ("float32", "float16"),
        "DepthToSpace": ("float32", "float64", "float16", "uint8"),
        "SpaceToDepth": ("float32", "float64", "float16", "uint8"),
    },
    "onnx.reference": {
        "Resize": _ALL,
        "ConvTranspose": ("float32", "float64", "float16", "bfloat16"),
        "DepthToSpace": _ALL,
        "SpaceToDepth": _ALL,
        "MaxUnpool": ("float32", "float64", "float16", "bfloat16"),
    },
}

# why a dtype outside the table does not run (what the runtime says), per runtime
_DTYPE_WHY = {
    "onnxruntime": {
        "bfloat16": "its Python API takes no bfloat16 arrays (RuntimeError: Numpy_type 256 can't be converted to "
                    "MLDataType) and its CPU provider registers no bfloat16 kernel for {op}",
        "float64": "its CPU provider registers no float64 kernel for {op} (NOT_IMPLEMENTED: Could not find an "
                   "implementation for {op})",
        "uint8": "{op} has no uint8 type in the ONNX schema (the model is invalid)",
    },
    "openvino": {
        "bfloat16": "its CPU plugin returns float16 for a bfloat16 model (the output is converted, not bfloat16)",
        "float64": "its CPU plugin computes a float64 {op} in float32 (the output is float64 with float32 "
                   "precision: up to ~1e-6 off)",
        "uint8": "{op} has no uint8 type in the ONNX schema",
    },
    "onnx.reference": {"uint8": "{op} has no uint8 type in the ONNX schema"},
}


def _version(runtime: str) -> str:
    v = _FRAMEWORKS[runtime].versions()
    return v.get({"onnx.reference": "onnx"}.get(runtime, runtime), "?")


def dtype_unsupported(runtime: str, op_type: str, dtype: str) -> Unsupported | None:
    """Why ``runtime`` cannot run ``op_type`` in ``dtype`` (measured, see DTYPES), or None.

    Example:
        >>> dtype_unsupported("onnxruntime", "Resize", "float64").reason.startswith("onnxruntime ")
        True
    """
    if dtype in DTYPES[runtime].get(op_type, ()):
        return None
    why = _DTYPE_WHY.get(runtime, {}).get(dtype, "it does not implement {op} for this dtype")
    return Unsupported(f"{runtime} {_version(runtime)}: {why.format(op=op_type)} ({dtype})")


# ----------------------------------------------------------------------------------- reading nodes

# Resize-19's attributes and their defaults (https://onnx.ai/onnx/operators/onnx__Resize.html)
RESIZE_DEFAULTS: dict[str, Any] = {
    "antialias": 0, "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.75, "exclude_outside": 0,
    "extrapolation_value": 0.0, "keep_aspect_ratio_policy": "stretch", "mode": "nearest",
    "nearest_mode": "round_prefer_floor",
}
# the constant inputs of each operator, by position (Resize: X, roi, scales, sizes; MaxUnpool: X, I, output_shape)
CONSTANT_INPUTS: dict[str, dict[int, str]] = {"Resize": {1: "roi", 2: "scales", 3: "sizes"},
                                              "MaxUnpool": {2: "output_shape"}}
NATIVE_ARGS: dict[str, frozenset[str]] = {
    "Resize": frozenset(RESIZE_DEFAULTS) | {"axes", "roi", "scales", "sizes"},
    "ConvTranspose": frozenset({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape",
                                "pads", "strides"}),
    "DepthToSpace": frozenset({"blocksize", "mode"}),
    "SpaceToDepth": frozenset({"blocksize"}),
    "MaxUnpool": frozenset({"kernel_shape", "strides", "pads", "output_shape"}),
}
OPS_OF: dict[str, str] = {"Resize": "resize", "ConvTranspose": "conv_transpose", "DepthToSpace": "pixel_shuffle",
                          "SpaceToDepth": "pixel_unshuffle", "MaxUnpool": "max_unpool"}


def _f32(v: float) -> float:
    """The shortest decimal of a float32 value: ONNX stores float attributes and scales in float32,
    and 0.6 written there reads back as 0.6, not 0.6000000238418579.

    Example:
        >>> _f32(0.6000000238418579), _f32(-0.75)
        (0.6, -0.75)
    """
    return float(str(np.float32(v)))


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, float):
        return _f32(v)
    return v


def args_of_node(node: Any, constants: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """A node's attributes and its constant inputs (looked up by input name in ``constants``) as plain
    JSON-able arguments: the form ``to_native`` writes. Optional inputs given as an empty name or an
    empty tensor are left out.

    Example:
        >>> from onnx import helper
        >>> n = helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="linear")
        >>> args_of_node(n, {"s": np.array([1, 1, 4, 6])})
        {'mode': 'linear', 'sizes': [1, 1, 4, 6]}
    """
    from onnx import helper

    out = {a.name: _plain(helper.get_attribute_value(a)) for a in node.attribute}
    for pos, key in CONSTANT_INPUTS.get(node.op_type, {}).items():
        if pos < len(node.input) and node.input[pos]:
            if node.input[pos] not in constants:
                raise KeyError(f"{node.op_type}: input {pos} ({key}) {node.input[pos]!r} is not a constant")
            v = np.asarray(constants[node.input[pos]])
            if v.size:
                out[key] = [_f32(a) for a in v.ravel()] if v.dtype.kind == "f" else [int(a) for a in v.ravel()]
    return out


def node_meaning(node: Any, constants: Mapping[str, np.ndarray],
                 shapes: Mapping[str, tuple[int, ...]]) -> tuple[str, dict[str, Any]] | Unsupported:
    """``(op, canonical normal form)`` of an ONNX node, in the operator text's readings, or why it has none.

    ``shapes`` gives the input shapes by the node's input names (or by canonical names ``x``, ``w``,
    ``b``). For MaxUnpool the canonical ``x`` is the pooling input: the default unpooled shape
    ``(pooled - 1) * stride + kernel - pads`` stands for it (pooling it gives the node's input).

    Example:
        >>> from onnx import helper
        >>> n = helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="nearest")
        >>> node_meaning(n, {"s": np.array([1, 1, 4, 6])}, {"x": (1, 1, 2, 3)})
        ('resize', {'mode': 'nearest', 'coordinate_transformation_mode': 'half_pixel', 'sizes': [1, 1, 4, 6], \
'nearest_mode': 'round_prefer_floor'})
    """
    if node.op_type not in OPS_OF:
        return Unsupported(f"{node.op_type} is not one of the operators upconform knows ({sorted(OPS_OF)})")
    try:
        args = args_of_node(node, constants)
    except KeyError as e:
        return Unsupported(str(e))

    def shape(pos: int, key: str) -> tuple[int, ...] | None:
        name = node.input[pos] if pos < len(node.input) else ""
        if name and name in shapes:
            return tuple(int(v) for v in shapes[name])
        if name and name in constants:
            return tuple(np.asarray(constants[name]).shape)
        return tuple(shapes[key]) if key in shapes and (name or key == "x") else None

    x = shape(0, "x")
    if x is None:
        return Unsupported(f"{node.op_type}: the shape of input {node.input[0]!r} is not known")
    canon: dict[str, tuple[int, ...]] = {"x": x}
    if node.op_type == "ConvTranspose":
        w = shape(1, "w")
        if w is None:
            return Unsupported("ConvTranspose: the weight's shape is not known")
        canon["w"] = w
        b = shape(2, "b")
        if b is not None:
            canon["b"] = b
    if node.op_type == "MaxUnpool":
        k = len(x) - 2
        ks = per_axis(args.get("kernel_shape"), k, default=None)
        if None in ks:
            return Unsupported("MaxUnpool: kernel_shape is required")
        st = per_axis(args.get("strides"), k, default=1)
        pads = list(args.get("pads") or [0] * (2 * k))
        canon["x"] = (*x[:2], *[(x[2 + i] - 1) * st[i] + ks[i] - pads[i] - pads[k + i] for i in range(k)])
    return args_meaning(node.op_type, args, canon)


def args_meaning(op_type: str, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                 readings: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]] | Unsupported:
    """``(op, normal form)`` of an ONNX operator with these arguments on canonical ``shapes``; ``readings``
    are the runtime's readings of ambiguous text (none: the text's own)."""
    unknown = sorted(set(args) - NATIVE_ARGS[op_type])
    if unknown:
        return Unsupported(f"{op_type} has no attribute or constant input {unknown[0]!r}")
    rd = dict(readings or {})
    fn = {"Resize": _resize_meaning, "ConvTranspose": _conv_transpose_meaning, "DepthToSpace": _d2s_meaning,
          "SpaceToDepth": _s2d_meaning, "MaxUnpool": _max_unpool_meaning}[op_type]
    try:
        n = fn(args, shapes, rd)
    except (ValueError, TypeError, ZeroDivisionError) as e:
        return Unsupported(f"{op_type}({dict(args)}) has no canonical meaning: {e}")
    return n if isinstance(n, Unsupported) else (OPS_OF[op_type], n)


def _resize_meaning(args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    rd: Mapping[str, str]) -> dict[str, Any] | Unsupported:
    x = tuple(shapes["x"])
    a = {**RESIZE_DEFAULTS, **args}
    if a["mode"] not in ("nearest", "linear", "cubic"):
        return Unsupported(f"Resize mode {a['mode']!r} is not nearest, linear or cubic")
    scales = [_f32(v) for v in a["scales"]] if a.get("scales") else None
    sizes = [int(v) for v in a["sizes"]] if a.get("sizes") else None
    if (scales is None) == (sizes is None):
        # Resize-19: "Only one of 'scales' and 'sizes' can be specified"
        return Unsupported("Resize needs exactly one of scales and sizes (non-empty)")
    axes = [int(v) for v in a["axes"]] if a.get("axes") is not None else None
    n_axes = len(axes) if axes is not None else len(x)
    if len(scales or sizes) != n_axes:  # type: ignore[arg-type]
        return Unsupported(f"Resize: {len(scales or sizes)} scales/sizes for {n_axes} axes")  # type: ignore[arg-type]
    p: dict[str, Any] = {
        "mode": a["mode"], "coordinate_transformation_mode": a["coordinate_transformation_mode"],
        "nearest_mode": a["nearest_mode"], "cubic_coeff_a": _f32(a["cubic_coeff_a"]),
        "exclude_outside": bool(a["exclude_outside"]), "antialias": bool(a["antialias"]),
        "extrapolation_value": _f32(a["extrapolation_value"]),
        "keep_aspect_ratio_policy": a["keep_aspect_ratio_policy"], "axes": axes,
    }
    if scales is not None:
        p["scales"] = scales
        if a["keep_aspect_ratio_policy"] != "stretch":
            # Resize-19: keep_aspect_ratio_policy applies to sizes only
            p["keep_aspect_ratio_policy"] = "stretch"
    else:
        p["sizes"] = sizes
    # "roi ... only takes effect when coordinate_transformation_mode is tf_crop_and_resize"
    if a["coordinate_transformation_mode"] == "tf_crop_and_resize" and a.get("roi"):
        p["roi"] = [_f32(v) for v in a["roi"]]
    for key in ("output_size_rule", "align_corners_length"):
        if key in rd:
            p[key] = rd[key]
    return normalize("resize", p, {"x": x})


def _conv_transpose_meaning(args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                            rd: Mapping[str, str]) -> dict[str, Any] | Unsupported:
    x, w = tuple(shapes["x"]), tuple(shapes["w"])
    k = len(x) - 2
    if len(w) != k + 2:
        return Unsupported(f"ConvTranspose: weight {list(w)} does not fit a {len(x)}-D input")
    g = int(args.get("group", 1))
    if args.get("kernel_shape") is not None and [int(v) for v in args["kernel_shape"]] != list(w[2:]):
        return Unsupported(f"ConvTranspose: kernel_shape {args['kernel_shape']} is not the weight's {list(w[2:])}")
    if g < 1 or x[1] % g:
        return Unsupported(f"ConvTranspose: {x[1]} input channels do not split into group={g}")
    p: dict[str, Any] = {"strides": per_axis(args.get("strides"), k, default=1),
                         "dilations": per_axis(args.get("dilations"), k, default=1), "group": g,
                         "output_padding": per_axis(args.get("output_padding"), k, default=0),
                         "auto_pad": args.get("auto_pad", "NOTSET")}
    if args.get("output_shape") is not None:
        p["output_shape"] = [int(v) for v in args["output_shape"]]  # "pads values are ignored" then
        # total_padding = full - output_shape; "pads ... greater than or equal to 0", and rows past the
        # full output are output_padding, which "must be less than the corresponding stride": an output
        # stride or more past the full output has no meaning (ONNX Runtime and onnx.reference raise)
        o = p["output_shape"][-k:]
        for i in range(k):
            full = p["strides"][i] * (x[2 + i] - 1) + p["output_padding"][i] + (w[2 + i] - 1) * p["dilations"][i] + 1
            if i < len(o) and o[i] - full >= p["strides"][i]:
                return Unsupported(f"ConvTranspose: output_shape {o} is {o[i] - full} past the full output {full} "
                                   f"on axis {i}: total_padding < 0 needs output_padding {o[i] - full}, which must "
                                   f"be less than the stride {p['strides'][i]} (pads must be >= 0)")
    elif p["auto_pad"] == "NOTSET" and args.get("pads") is not None:
        p["pads"] = [int(v) for v in args["pads"]]
    return normalize("conv_transpose", p, shapes)


def _d2s_meaning(args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                 rd: Mapping[str, str]) -> dict[str, Any] | Unsupported:
    x = tuple(shapes["x"])
    r, mode = int(args["blocksize"]), args.get("mode", "DCR")
    if len(x) != 4:
        return Unsupported(f"DepthToSpace takes a 4-D (N, C, H, W) input; got {len(x)}-D")
    if mode not in ("DCR", "CRD"):
        return Unsupported(f"DepthToSpace mode {mode!r} is not DCR or CRD")
    if r < 1 or x[1] % (r * r):
        return Unsupported(f"DepthToSpace: {x[1]} channels are not divisible by blocksize**2 = {r * r}")
    return normalize("pixel_shuffle", {"upscale_factor": r, "mode": mode}, shapes)


def _s2d_meaning(args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                 rd: Mapping[str, str]) -> dict[str, Any] | Unsupported:
    x = tuple(shapes["x"])
    r = int(args["blocksize"])
    if len(x) != 4:
        return Unsupported(f"SpaceToDepth takes a 4-D (N, C, H, W) input; got {len(x)}-D")
    if r < 1 or x[2] % r or x[3] % r:
        return Unsupported(f"SpaceToDepth: spatial {list(x[2:])} is not divisible by blocksize {r}")
    # SpaceToDepth has no mode: it is the inverse of DepthToSpace in DCR order
    return normalize("pixel_unshuffle", {"downscale_factor": r, "mode": "DCR"}, shapes)


def _max_unpool_meaning(args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                        rd: Mapping[str, str]) -> dict[str, Any] | Unsupported:
    x = tuple(shapes["x"])  # the pooling input
    k = len(x) - 2
    if args.get("kernel_shape") is None:
        return Unsupported("MaxUnpool: kernel_shape is required")
    p: dict[str, Any] = {"kernel_shape": per_axis(args["kernel_shape"], k), "strides": per_axis(args.get("strides"), k,
                                                                                               default=1),
                         "pads": [int(v) for v in args["pads"]] if args.get("pads") is not None else [0] * (2 * k)}
    if args.get("output_shape") is not None:
        o = [int(v) for v in args["output_shape"]]
        if len(o) != k + 2:
            return Unsupported(f"MaxUnpool: output_shape {o} is not the full {k + 2}-D shape")
        if o[:2] != list(x[:2]):
            return Unsupported(f"MaxUnpool: output_shape {o} changes N or C of {list(x[:2])}")
        p["output_shape"] = o[2:]
        p["index_plane"] = rd.get("index_plane", "output_shape")
    n = normalize("max_unpool", p, shapes)
    out = list(op_info("max_unpool").output_shape(n, shapes))[2:]
    if p.get("index_plane", "output_shape") == "output_shape":
        # MaxPool's indices are positions in the pooling input's plane; MaxUnpool scatters them into its
        # output plane. Where a window reaches a position past that plane, an input whose maximum lies
        # there gives an index the output cannot hold: the text leaves it undefined (ONNX Runtime writes
        # it anyway), so the call has no meaning for every input
        pads = p["pads"]
        top = 0
        for a, (i, ks, st) in enumerate(zip(x[2:], p["kernel_shape"], p["strides"])):
            pooled = (i + pads[a] + pads[k + a] - ks) // st + 1
            top = top * i + min(i - 1, (pooled - 1) * st - pads[a] + ks - 1)
        if top >= math.prod(out):
            return Unsupported(f"MaxUnpool: the pooling windows reach input position {top}, past the output plane of "
                               f"{math.prod(out)} ({out}): the index of a maximum there is outside the output")
    return n


# ----------------------------------------------------------------------------------- writing nodes


def _resize_args(n: Mapping[str, Any], x: tuple[int, ...]) -> dict[str, Any] | Unsupported:
    """Resize-19 attributes and constant inputs for a canonical resize normal form."""
    mode = n["mode"]
    if mode not in ("nearest", "linear", "cubic"):
        return Unsupported(f"ONNX Resize has no {mode!r} mode (its modes: nearest, linear, cubic)")
    if n["coordinate_transformation_mode"] == "tf_half_pixel_for_nn":
        # Resize-13 dropped it from the enumeration (Resize-11 had it); opset 19 models cannot say it
        return Unsupported("Resize-13 and later have no tf_half_pixel_for_nn (only Resize-11 had it)")
    inexact = [s for s in n.get("scales", []) if float(np.float32(s)) != float(s)]
    if inexact:
        # "scales: tensor(float)": 0.6 is 0.6000000238418579 there, a near miss of the case's exact 3/5
        return Unsupported(f"Resize's scales input is float32: scale {inexact[0]} is {float(np.float32(inexact[0]))!r} "
                           "there, not the case's exact value")
    args: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": n["coordinate_transformation_mode"]}
    for key in ("nearest_mode", "cubic_coeff_a", "extrapolation_value"):
        if key in n:
            args[key] = n[key]
    for key in ("exclude_outside", "antialias"):
        if n.get(key):
            args[key] = 1
    if "roi" in n:
        args["roi"] = [float(v) for v in n["roi"]]
    if "keep_aspect_ratio_policy" in n:  # the normal form keeps the requested sizes on the policy's axes
        args["keep_aspect_ratio_policy"] = n["keep_aspect_ratio_policy"]
        args["axes"] = [int(v) for v in n["axes"]]
    if "sizes" in n:
        args["sizes"] = [int(v) for v in n["sizes"]]
    else:
        args["scales"] = [float(v) for v in n["scales"]]
    return args


def _tensor_elem(dtype: np.dtype) -> int:
    from onnx import helper

    return helper.np_dtype_to_tensor_dtype(dtype)


def build_model(op_type: str, args: Mapping[str, Any], inputs: Mapping[str, np.ndarray],
                output_shape: Sequence[int], index_shift: np.ndarray | None = None) -> Any:
    """A checked one-operator ONNX model (MaxPool + MaxUnpool for MaxUnpool) with graph inputs ``inputs``
    (X, and W, B for ConvTranspose) and the constant inputs of ``args`` as initializers.
    ``index_shift`` (MaxUnpool): an int64 constant added to MaxPool's Indices before MaxUnpool.

    Example:
        >>> m = build_model("DepthToSpace", {"blocksize": 2}, {"X": np.zeros((1, 4, 1, 1), np.float32)}, (1, 1, 2, 2))
        >>> [n.op_type for n in m.graph.node], m.opset_import[0].version
        (['DepthToSpace'], 28)
    """
    import onnx
    from onnx import helper, numpy_helper

    attrs = {k: v for k, v in args.items() if k not in CONSTANT_INPUTS.get(op_type, {}).values()}
    inits = []
    elem = _tensor_elem(inputs["X"].dtype)
    if op_type == "Resize":
        names = ["X"]
        for key, dt in (("roi", np.float32), ("scales", np.float32), ("sizes", np.int64)):
            if key in args:
                inits.append(numpy_helper.from_array(np.asarray(args[key], dt), key))
                names.append(key)
            else:
                names.append("")
        while names[-1] == "":
            names.pop()
        nodes = [helper.make_node("Resize", names, ["Y"], **attrs)]
    elif op_type == "MaxUnpool":
        names = ["P", "I"]
        shift = []
        if index_shift is not None:
            inits.append(numpy_helper.from_array(index_shift.astype(np.int64), "index_shift"))
            shift = [helper.make_node("Add", ["I", "index_shift"], ["I2"])]
            names = ["P", "I2"]
        if "output_shape" in args:
            inits.append(numpy_helper.from_array(np.asarray(args["output_shape"], np.int64), "output_shape"))
            names.append("output_shape")
        nodes = [helper.make_node("MaxPool", ["X"], ["P", "I"], **attrs), *shift,
                 helper.make_node("MaxUnpool", names, ["Y"], **attrs)]
    else:
        nodes = [helper.make_node(op_type, list(inputs), ["Y"], **attrs)]
    graph = helper.make_graph(
        nodes, op_type, [helper.make_tensor_value_info(k, _tensor_elem(v.dtype), list(v.shape)) for k, v in inputs.items()],
        [helper.make_tensor_value_info("Y", elem, [int(v) for v in output_shape])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="upconform")
    onnx.checker.check_model(model)
    return model


# ----------------------------------------------------------------------------------- runtimes


@cache
def _ov_core() -> Any:
    import openvino as ov

    return ov.Core()


def _session(runtime: str, model: Any) -> Any:
    """A ready-to-run callable ``feeds -> first output`` for ``model`` (built here, not timed)."""
    if runtime == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        threads = _THREADS.get("onnxruntime")
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = threads
        so.log_severity_level = 4  # run-time errors come back as exceptions (the finding); do not log them too
        sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return lambda feeds: sess.run(None, feeds)[0]
    if runtime == "openvino":
        core = _ov_core()
        # f32 inference precision: the CPU plugin would otherwise run f32 graphs in bf16 on CPUs with
        # AMX / avx512_bf16, which is a speed setting rather than the operator
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32"}
        threads = _THREADS.get("openvino")
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU", config)
        req = compiled.create_infer_request()
        return lambda feeds: req.infer(feeds)[0]
    from onnx.reference import ReferenceEvaluator

    ev = ReferenceEvaluator(model)
    return lambda feeds: ev.run(None, feeds)[0]


# ----------------------------------------------------------------------------------- bindings

_RUNTIME_NOTES = {
    "onnxruntime": "onnxruntime.InferenceSession(model, providers=['CPUExecutionProvider'])",
    "openvino": "openvino.Core().compile_model(model, 'CPU', {'INFERENCE_PRECISION_HINT': 'f32'})",
    "onnx.reference": "onnx.reference.ReferenceEvaluator(model)",
}


class _OnnxBinding(Binding):
    """One ONNX operator on one runtime; subclasses set ``framework``, ``op_type``, ``ops`` and the
    runtime's readings (``readings`` declares them, ``meaning_readings`` is what from_native adds)."""

    op_type = ""
    meaning_readings: Mapping[str, str] = {}

    @property
    def native_args(self) -> frozenset[str]:  # type: ignore[override]
        return NATIVE_ARGS[self.op_type]

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        got = args_meaning(self.op_type, args, shapes, self.meaning_readings)
        if isinstance(got, Unsupported):
            return got
        return got[1]

    def _args(self, case: Case) -> dict[str, Any] | Unsupported:  # pragma: no cover - interface
        raise NotImplementedError

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        """The operator's arguments for the case, then checked: what the runtime computes with them
        (from_native, in its readings) must be the case's normal form."""
        if case.op not in self.ops:
            return unsupported_op(self, case.op)
        bad = dtype_unsupported(self.framework, self.op_type, case.dtype)
        if bad:
            return bad
        args = self._args(case)
        if isinstance(args, Unsupported):
            return args
        back = self.from_native(args, case.shapes, op=case.op)
        info = op_info(case.op)
        want = {k: v for k, v in self.normal_form(case).items()
                if k not in info.integer_conventions and k != "weight_convention"}
        if isinstance(back, dict):
            back = {k: v for k, v in back.items() if k != "weight_convention"}
        if isinstance(back, Unsupported) or back != want:
            got = back.reason if isinstance(back, Unsupported) else {k: v for k, v in back.items() if want.get(k) != v}
            return Unsupported(f"{self.name}({args}) does not compute this case in {self.framework}'s readings "
                               f"(docs/conventions.md): it means {got}")
        prep: dict[str, Any] = {}
        notes = [f"a one-node ONNX model (opset {OPSET}) run by {_RUNTIME_NOTES[self.framework]}"]
        if case.op == "conv_transpose" and self.normal_form(case)["weight_convention"] == "direct":
            prep = {"rotate": True, "group": int(self.normal_form(case)["group"])}
            notes.append("direct (zero-insertion) kernel rotated 180 degrees, channel axes swapped to (C_in, C_out/g, *k)")
        if self.op_type == "MaxUnpool":
            notes[0] = (f"MaxPool(x) -> (Y, Indices) -> MaxUnpool(Y, Indices) (opset {OPSET}) run by "
                        f"{_RUNTIME_NOTES[self.framework]}")
            notes.append("Indices flatten over N and C: where MaxUnpool's plane differs from the pooling input's, "
                         "an Add node moves each (N, C) plane's indices by p * (its plane - input plane)")
        return NativeCall(self.name, args, prep, tuple(notes))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        feeds = {"X": np.ascontiguousarray(tensors["x"])}
        if self.op_type == "ConvTranspose":
            w = tensors["w"]
            if call.prep.get("rotate"):
                from ..reference import direct_to_transposed

                w = direct_to_transposed(w, group=call.prep.get("group", 1)).astype(w.dtype)
            feeds["W"] = np.ascontiguousarray(w)
            if tensors.get("b") is not None:
                feeds["B"] = np.ascontiguousarray(tensors["b"])
        op = OPS_OF[self.op_type]
        shapes = {"x": tuple(tensors["x"].shape), **({"w": tuple(feeds["W"].shape)} if "W" in feeds else {}),
                  **({"b": tuple(feeds["B"].shape)} if "B" in feeds else {})}
        meaning = self.from_native(call.args, shapes, op=op)
        if isinstance(meaning, Unsupported):
            raise ValueError(meaning.reason)
        out_shape = op_info(op).output_shape(meaning, shapes)
        model = build_model(self.op_type, call.args, feeds, out_shape, self._index_shift(call.args, shapes["x"]))
        return _session(self.framework, model), feeds

    def _index_shift(self, args: Mapping[str, Any], x: tuple[int, ...]) -> np.ndarray | None:
        """MaxPool's Indices flatten over (N, C, *input plane); MaxUnpool reads them over (N, C, *its plane):
        the output_shape's (ONNX Runtime) or the default one (onnx.reference, op_max_unpool.py). The canonical
        indices are per (N, C) plane, so plane p is moved by p * (its plane - input plane)."""
        if self.op_type != "MaxUnpool":
            return None
        k = len(x) - 2
        ks, st = per_axis(args["kernel_shape"], k), per_axis(args.get("strides"), k, default=1)
        pads = list(args.get("pads") or [0] * (2 * k))
        pooled = [(x[2 + i] + pads[i] + pads[k + i] - ks[i]) // st[i] + 1 for i in range(k)]
        default = [(pooled[i] - 1) * st[i] + ks[i] - pads[i] - pads[k + i] for i in range(k)]
        plane_out = int(np.prod(default))
        if args.get("output_shape") is not None and self.meaning_readings.get("index_plane") != "default_shape":
            plane_out = int(np.prod(args["output_shape"][2:]))
        plane_in = int(np.prod(x[2:]))
        if plane_out == plane_in or x[0] * x[1] <= 1:
            return None
        p = np.arange(x[0] * x[1], dtype=np.int64).reshape(x[0], x[1], *[1] * k)
        return p * (plane_out - plane_in)

    def execute(self, prepared: Any) -> Any:
        run, feeds = prepared
        return run(feeds)

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return np.array(out, copy=True)


class _Resize(_OnnxBinding):
    op_type = "Resize"
    ops = ("resize", "repeat")

    def _args(self, case: Case) -> dict[str, Any] | Unsupported:
        if case.op == "repeat":
            r = case.normal_form()["repeats"]
            # asymmetric + floor: x_original = floor(i / s), exact repetition for an integer s
            return {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor",
                    "scales": [1.0, 1.0, *[float(v) for v in r]]}
        return _resize_args(self.normal_form(case), tuple(case.shapes["x"]))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        n = super().from_native(args, shapes, op)
        if op != "repeat" or isinstance(n, Unsupported):
            return n
        x = tuple(shapes["x"])
        if (n["mode"], n["coordinate_transformation_mode"], n.get("nearest_mode")) != ("nearest", "asymmetric", "floor") \
                or "sizes" not in n or list(n["sizes"][:2]) != list(x[:2]) \
                or any(i == 0 or o % i for i, o in zip(x[2:], n["sizes"][2:])):
            return Unsupported("Resize is a repeat only as nearest, asymmetric, floor with integer factors out / in")
        return {"repeats": [o // i for i, o in zip(x[2:], n["sizes"][2:])]}


class _ConvTranspose(_OnnxBinding):
    op_type = "ConvTranspose"
    ops = ("conv_transpose",)

    def _args(self, case: Case) -> dict[str, Any] | Unsupported:
        """The case's own padding rule (auto_pad, output_shape or pads), so the runtime's resolves it."""
        n = self.normal_form(case)
        k = spatial_rank(case.shapes)
        p = case.params
        args: dict[str, Any] = {"strides": n["strides"], "dilations": n["dilations"], "group": n["group"],
                                "kernel_shape": [int(v) for v in case.shapes["w"][2:]]}
        ap = p.get("auto_pad", "NOTSET")
        if ap != "NOTSET":
            args["auto_pad"] = ap
        elif p.get("output_shape") is not None:
            args["output_shape"] = [int(v) for v in p["output_shape"]][-k:]
        else:
            args["pads"] = n["pads"]
        op = per_axis(p.get("output_padding"), k, default=0) if "pads" not in args else n["output_padding"]
        if any(op):
            args["output_padding"] = op
        return args


class _DepthToSpace(_OnnxBinding):
    op_type = "DepthToSpace"
    ops = ("pixel_shuffle",)

    def _args(self, case: Case) -> dict[str, Any] | Unsupported:
        n = self.normal_form(case)
        if spatial_rank(case.shapes) != 2:
            return Unsupported("DepthToSpace takes a 4-D (N, C, H, W) input: 2-D spatial only")
        return {"blocksize": int(n["upscale_factor"]), "mode": n.get("mode", "CRD")}


class _SpaceToDepth(_OnnxBinding):
    op_type = "SpaceToDepth"
    ops = ("pixel_unshuffle",)

    def _args(self, case: Case) -> dict[str, Any] | Unsupported:
        n = self.normal_form(case)
        if spatial_rank(case.shapes) != 2:
            return Unsupported("SpaceToDepth takes a 4-D (N, C, H, W) input: 2-D spatial only")
        if n.get("mode", "CRD") != "DCR":
            return Unsupported("SpaceToDepth has no mode attribute: it is DepthToSpace's inverse in DCR order only; "
                               f"this case is {n.get('mode', 'CRD')}")
        return {"blocksize": int(n["downscale_factor"])}


class _MaxUnpool(_OnnxBinding):
    op_type = "MaxUnpool"
    ops = ("max_unpool",)

    def _args(self, case: Case) -> dict[str, Any] | Unsupported:
        n = self.normal_form(case)
        x = tuple(case.shapes["x"])
        k = len(x) - 2
        args: dict[str, Any] = {"kernel_shape": n["kernel_shape"], "strides": n["strides"], "pads": n["pads"]}
        pooled = [(x[2 + i] + n["pads"][i] + n["pads"][k + i] - n["kernel_shape"][i]) // n["strides"][i] + 1
                  for i in range(k)]
        default = [(pooled[i] - 1) * n["strides"][i] + n["kernel_shape"][i] - n["pads"][i] - n["pads"][k + i]
                   for i in range(k)]
        if list(n["output_shape"]) != default:
            args["output_shape"] = [*[int(v) for v in x[:2]], *[int(v) for v in n["output_shape"]]]
        return args


# the readings each runtime follows (docs/conventions.md), verified in tests/test_onnx_bindings.py
_ORT_RESIZE = {"align_corners_length": "integer", "output_size_rule": "ignore_roi"}
_REF_RESIZE = {"output_size_rule": "ignore_roi"}


class OrtResize(_Resize):
    name, framework = "onnxruntime.Resize", "onnxruntime"
    readings = {"align_corners_length": ("integer",), "output_size_rule": ("ignore_roi",),
                "integer_rounding": ("per_axis",)}
    meaning_readings = _ORT_RESIZE


class OrtConvTranspose(_ConvTranspose):
    name, framework = "onnxruntime.ConvTranspose", "onnxruntime"


class OrtDepthToSpace(_DepthToSpace):
    name, framework = "onnxruntime.DepthToSpace", "onnxruntime"


class OrtSpaceToDepth(_SpaceToDepth):
    name, framework = "onnxruntime.SpaceToDepth", "onnxruntime"


class OrtMaxUnpool(_MaxUnpool):
    name, framework = "onnxruntime.MaxUnpool", "onnxruntime"


class OvResize(_Resize):
    name, framework = "openvino.Resize", "openvino"
    readings = {"align_corners_length": ("integer",)}
    meaning_readings = {"align_corners_length": "integer"}

    def _args(self, case: Case) -> dict[str, Any] | Unsupported:
        args = super()._args(case)
        ctm = args.get("coordinate_transformation_mode") if isinstance(args, dict) else None
        if ctm in ("tf_crop_and_resize", "half_pixel_symmetric"):
            # the ONNX frontend: "this type of coordinate transformation mode is not supported. Choose one of
            # the following modes: tf_half_pixel_for_nn, asymmetric, align_corners, pytorch_half_pixel, half_pixel"
            return Unsupported(f"openvino {_version('openvino')}: its ONNX frontend rejects Resize "
                               f"coordinate_transformation_mode={ctm} (not supported)")
        return args


class OvConvTranspose(_ConvTranspose):
    name, framework = "openvino.ConvTranspose", "openvino"


class OvDepthToSpace(_DepthToSpace):
    name, framework = "openvino.DepthToSpace", "openvino"


class OvSpaceToDepth(_SpaceToDepth):
    name, framework = "openvino.SpaceToDepth", "openvino"


class RefResize(_Resize):
    name, framework = "onnx.reference.Resize", "onnx.reference"
    readings = {"output_size_rule": ("ignore_roi",)}
    meaning_readings = _REF_RESIZE


class RefConvTranspose(_ConvTranspose):
    name, framework = "onnx.reference.ConvTranspose", "onnx.reference"


class RefDepthToSpace(_DepthToSpace):
    name, framework = "onnx.reference.DepthToSpace", "onnx.reference"


class RefSpaceToDepth(_SpaceToDepth):
    name, framework = "onnx.reference.SpaceToDepth", "onnx.reference"


class RefMaxUnpool(_MaxUnpool):
    name, framework = "onnx.reference.MaxUnpool", "onnx.reference"
    readings = {"index_plane": ("default_shape",)}
    meaning_readings = {"index_plane": "default_shape"}
