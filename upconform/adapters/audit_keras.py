"""``upconform audit`` of a Keras model: its upsampling layers and the TensorFlow ops of its graph.

Two views of one model, both returned by :func:`capture_keras` (layers first, then graph ops):

- **layers** (note ``"layer"``): every layer, nested models included, whose class has a binding
  (``keras.layers.UpSampling2D``, ``Conv2DTranspose``, ``Resizing``), with its ``get_config()``
  arguments and the input shape it meets when the model is traced on ``input_shape``; upsampling
  layers without a binding (``UpSampling1D``, ``Conv3DTranspose``, ...) are listed too, unsupported;
- **graph ops** (note ``"graph op"``): the model traced with ``tf.function`` on a ``TensorSpec`` of
  ``input_shape``; every ``ResizeBilinear`` / ``ResizeNearestNeighbor`` / ``ResizeBicubic`` /
  ``ResizeArea`` / ``ScaleAndTranslate`` / ``Conv2DBackpropInput`` / ``Conv3DBackpropInputV2`` /
  ``DepthToSpace`` / ``SpaceToDepth`` in its graph and in the functions it calls becomes a site of
  the ``tf.*`` binding that means the same op, with its constant inputs (size, input_sizes) resolved.
  An op that no binding expresses keeps the name ``tf.raw_ops.<Op>`` and a note that says why.

Shapes are canonical (NCHW, weights (C_in, C_out, *k)); NHWC layers and ops are transposed.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..canonical import plain
from .sites import SEED, AuditError, RawSite, load_factory

LAYER_NOTE = "layer"
OP_NOTE = "graph op"

# upsampling layers that no binding covers: class name -> op (listed, unsupported)
_UNBOUND_LAYERS = {"UpSampling1D": "repeat", "UpSampling3D": "resize", "Conv1DTranspose": "conv_transpose",
                   "Conv3DTranspose": "conv_transpose"}
# config keys that only matter in training (left out of the call as written)
_TRAINING_ONLY = ("_initializer", "_regularizer", "_constraint")
_CONFIG_META = ("name", "trainable", "dtype")

_RESIZE_OPS = {"ResizeBilinear": "tf.compat.v1.image.resize_bilinear",
               "ResizeNearestNeighbor": "tf.compat.v1.image.resize_nearest_neighbor",
               "ResizeBicubic": "tf.compat.v1.image.resize_bicubic",
               "ResizeArea": "tf.compat.v1.image.resize_area"}
# ScaleAndTranslate kernel -> the tf.image.resize method that runs it (bilinear, bicubic: antialias=True only)
_SAT_METHODS = {"triangle": "bilinear", "keyscubic": "bicubic", "lanczos3": "lanczos3", "lanczos5": "lanczos5",
                "gaussian": "gaussian", "mitchellcubic": "mitchellcubic"}
_CONV_OPS = {"Conv2DBackpropInput": "tf.nn.conv2d_transpose", "Conv2DBackpropInputV2": "tf.nn.conv2d_transpose",
             "Conv3DBackpropInputV2": "tf.nn.conv3d_transpose"}
_D2S_OPS = {"DepthToSpace": ("tf.nn.depth_to_space", "pixel_shuffle"),
            "SpaceToDepth": ("tf.nn.space_to_depth", "pixel_unshuffle")}
_SITE_OPS = {*_RESIZE_OPS, "ScaleAndTranslate", *_CONV_OPS, *_D2S_OPS}


def _to_canonical(shape: Sequence[int], channels_last: bool) -> tuple[int, ...]:
    """(N, *spatial, C) -> (N, C, *spatial) when channels last; as is otherwise."""
    s = tuple(int(v) for v in shape)
    return (s[0], s[-1], *s[1:-1]) if channels_last and len(s) >= 3 else s


def _kernel_to_canonical(shape: Sequence[int]) -> tuple[int, ...]:
    """A TF/Keras transposed-conv kernel (*k, C_out, C_in) -> canonical (C_in, C_out, *k)."""
    s = tuple(int(v) for v in shape)
    return (s[-1], s[-2], *s[:-2])


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return plain(v)


def _one_line(e: BaseException) -> str:
    """``Type: message`` of an exception in one line: the error under tf.function's "in user code:" frames,
    and Keras's "Exception encountered when calling X.call()." with the line that says what (no ANSI codes)."""
    lines = [ln.strip() for ln in re.sub(r"\x1b\[[0-9;]*m", "", str(e)).splitlines() if ln.strip()]
    kind = type(e).__name__
    if lines and lines[0].startswith("in user code:"):
        for i, ln in enumerate(lines[1:], 1):
            m = re.match(r"(\w+(?:Error|Exception)): (.*)", ln)
            if m:
                kind, lines = m.group(1), [m.group(2), *lines[i + 1:]]
                break
    msg = lines[0] if lines else ""
    if msg.startswith("Exception encountered when calling") and len(lines) > 1:
        msg = f"{msg} {lines[1]}"
    return f"{kind}: {msg}"


# ----------------------------------------------------------------------------------- layers


def _layer_binding(layer: Any, registered: set[str]) -> tuple[str, str] | None:
    """(binding name, op) for a layer whose class (or a base) has a binding or is a known upsampling layer."""
    from . import get

    for cls in type(layer).__mro__:
        name = f"keras.layers.{cls.__name__}"
        if name in registered:
            return name, get(name).ops[0]
        if cls.__name__ in _UNBOUND_LAYERS:
            return name, _UNBOUND_LAYERS[cls.__name__]
    return None


def _layer_paths(model: Any) -> dict[int, str]:
    """id(layer) -> its path of names below the model (nested models included; the first path wins)."""
    out: dict[int, str] = {}

    def walk(layer: Any, prefix: str) -> None:
        for child in layer._flatten_layers(include_self=False, recursive=False):
            if id(child) in out:
                continue
            path = f"{prefix}{child.name}"
            out[id(child)] = path
            walk(child, path + "/")

    walk(model, "")
    return out


def _layer_args(layer: Any, binding: str, registered: set[str]) -> dict[str, Any]:
    """The config keys the binding takes (all but name/trainable/dtype for a layer without a binding),
    initializers, regularizers and constraints left out."""
    from . import get

    cfg = layer.get_config()
    keys = get(binding).native_args if binding in registered else {k for k in cfg if k not in _CONFIG_META}
    return {k: _plain(v) for k, v in cfg.items() if k in keys and not k.endswith(_TRAINING_ONLY)}


def _layer_site(call: tuple[Any, str, str, str, Any], registered: set[str]) -> RawSite:
    """A RawSite (index 0) from one recorded layer call: (layer, path, binding, op, input tensor)."""
    layer, path, binding, op, x = call
    args = _layer_args(layer, binding, registered)
    last = str(layer.get_config().get("data_format") or "channels_last").lower() != "channels_first"
    dims = list(x.shape)
    note = LAYER_NOTE
    if any(d is None for d in dims):
        note += f"; its input shape {dims} is not static"
    shapes: dict[str, tuple[int, ...]] = {"x": _to_canonical([d or 0 for d in dims], last)}
    kernel = getattr(layer, "kernel", None)
    if op == "conv_transpose" and kernel is not None:
        shapes["w"] = _kernel_to_canonical(kernel.shape)
        if getattr(layer, "use_bias", False) and getattr(layer, "bias", None) is not None:
            shapes["b"] = tuple(int(v) for v in layer.bias.shape)
    if binding not in registered:
        note += f"; upconform has no binding for {binding}"
    return RawSite(0, path, binding, args, op, shapes, str(x.dtype.name), note)


# ----------------------------------------------------------------------------------- graph ops


def _static(t: Any, depth: int = 0) -> np.ndarray | None:
    """The value of a graph tensor computed from constants and static shapes only (the stateless ops
    between them run eagerly), or None."""
    import tensorflow as tf
    from tensorflow.python.eager import context, execute

    v = tf.get_static_value(t)
    if v is not None:
        return np.asarray(v)
    op = t.op
    if depth > 32 or not op.inputs or op.op_def.is_stateful or op.type in ("Placeholder", "ReadVariableOp"):
        return None
    ins = []
    for i in op.inputs:
        iv = _static(i, depth + 1)
        if iv is None:
            return None
        ins.append(tf.constant(iv, dtype=i.dtype))
    attrs: list[Any] = []
    for name in op.node_def.attr:
        if name.startswith("_"):
            continue
        a = op.get_attr(name)
        if isinstance(a, tf.DType):
            a = a.as_datatype_enum
        elif isinstance(a, list) and a and isinstance(a[0], tf.DType):
            a = [d.as_datatype_enum for d in a]
        attrs += [name, a]
    try:
        outs = execute.execute(op.type, len(op.outputs), ins, tuple(attrs), context.context())
    except Exception:  # noqa: BLE001 - not evaluable here: unknown
        return None
    return np.asarray(outs[t.value_index].numpy())


def _ints(v: np.ndarray | None) -> list[int] | None:
    return None if v is None else [int(e) for e in np.asarray(v).reshape(-1)]


def _shape(t: Any) -> list[int] | None:
    return [int(d) for d in t.shape] if t.shape.rank is not None and t.shape.is_fully_defined() else None


def _raw(op: Any, why: str, **extra: Any) -> tuple[str, dict[str, Any], str, str]:
    """An op no binding expresses: tf.raw_ops.<Op> with its attributes, and why."""
    attrs = {k: _plain(op.get_attr(k)) for k in op.node_def.attr if not k.startswith("_") and k != "T"}
    return f"tf.raw_ops.{op.type}", {**attrs, **extra}, "", why


def _resize(op: Any) -> tuple[str, dict[str, Any], str, str]:
    """(binding, args, op, why-not) of a resize op; size from its constant input or its static output."""
    size = _ints(_static(op.inputs[1]))
    out = _shape(op.outputs[0])
    if size is None and out is not None and len(out) == 4:
        size = out[1:3]
    why = "" if size is not None else "its size is not a constant"
    if op.type == "ScaleAndTranslate":
        kernel, aa = _plain(op.get_attr("kernel_type")), bool(op.get_attr("antialias"))
        scale, shift = _static(op.inputs[2]), _static(op.inputs[3])
        x = _shape(op.inputs[0])
        method = _SAT_METHODS.get(kernel)
        if method is None or (method in ("bilinear", "bicubic") and not aa):
            return _raw(op, f"no tf.image.resize method runs ScaleAndTranslate kernel {kernel!r} with "
                            f"antialias={aa}", size=size)
        if size is None or x is None or scale is None or shift is None:
            return _raw(op, "its size, scale or translation is not a constant", size=size)
        want = np.float32(size) / np.float32(x[1:3])
        if not np.array_equal(np.float32(scale), want) or np.any(np.float32(shift) != 0):
            return _raw(op, f"scale {list(np.float32(scale))} / translation {list(np.float32(shift))} are not "
                            "tf.image.resize's (size / input, 0)", size=size)
        return "tf.image.resize", {"size": size, "method": method, "antialias": aa}, "resize", why
    args: dict[str, Any] = {"size": size, "align_corners": bool(op.get_attr("align_corners"))}
    if op.type != "ResizeArea":
        args["half_pixel_centers"] = bool(op.get_attr("half_pixel_centers"))
    return _RESIZE_OPS[op.type], args, "resize", why


def _op_site(op: Any, where: str) -> RawSite:
    """A RawSite (index 0) for one graph op of :data:`_SITE_OPS`."""
    fmt = _plain(op.get_attr("data_format")) if "data_format" in op.node_def.attr else "NHWC"
    last = not str(fmt).startswith("NC")
    why = ""
    if op.type in _CONV_OPS:
        sizes, filt, x = op.inputs[0], op.inputs[1], op.inputs[2]
        # Conv2DBackpropInputV2 takes the forward input itself; the others its shape (a constant here)
        out_shape = _shape(sizes) if op.type == "Conv2DBackpropInputV2" else _ints(_static(sizes))
        if out_shape is None:
            out_shape = _shape(op.outputs[0])
        binding, kind = _CONV_OPS[op.type], "conv_transpose"
        pad = _plain(op.get_attr("padding"))
        if pad == "EXPLICIT":
            e = _ints(np.asarray(op.get_attr("explicit_paddings"))) or []
            pad = [e[i:i + 2] for i in range(0, len(e), 2)]
        args: dict[str, Any] = {"output_shape": out_shape, "strides": _plain(op.get_attr("strides")),
                                "padding": pad, "dilations": _plain(op.get_attr("dilations"))}
        if fmt != ("NHWC" if op.type.startswith("Conv2D") else "NDHWC"):
            args["data_format"] = fmt
        if out_shape is None:
            why = "its output shape (input_sizes) is not a constant"
        w = _shape(filt)
        shapes = {"x": _to_canonical(_shape(x) or [], last)}
        if w is None:
            why = why or "its filter shape is not static"
        else:
            shapes["w"] = _kernel_to_canonical(w)
        dtype = x.dtype.name
    else:
        x = op.inputs[0]
        dtype = x.dtype.name
        shapes = {"x": _to_canonical(_shape(x) or [], last)}
        if op.type in _D2S_OPS:
            binding, kind = _D2S_OPS[op.type]
            args = {"block_size": int(op.get_attr("block_size"))}
            if fmt != "NHWC":
                args["data_format"] = fmt
        else:
            binding, args, kind, why = _resize(op)
    if not shapes["x"]:
        why = why or "its input shape is not static"
    note = OP_NOTE + (f"; {why}" if why else "")
    return RawSite(0, where, binding, args, kind or "resize", shapes, dtype, note)


def _function_graphs(op: Any, lib: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, FuncGraph) of each function an op calls (PartitionedCall, If, While, ...), with the call's
    input shapes where its inputs are the function's arguments."""
    from tensorflow.python.framework.function_def_to_graph import function_def_to_graph

    names: list[str] = []
    for a in op.node_def.attr.values():
        if a.HasField("func"):
            names.append(a.func.name)
        names += [f.name for f in a.list.func]
    out = []
    for name in names:
        if name not in lib:
            continue
        fdef = type(lib[name])()
        fdef.CopyFrom(lib[name])
        ins = list(op.inputs)[1:] if op.type in ("If", "StatelessIf") else list(op.inputs)
        shapes = None
        if "While" not in op.type and len(ins) == len(fdef.signature.input_arg):
            shapes = []
            for i, t in enumerate(ins):
                if t.dtype.name == "resource" or t.shape.rank is None:
                    shapes.append(None)
                    continue
                shapes.append(t.shape.as_proto())
                if i in fdef.arg_attr:
                    fdef.arg_attr[i].attr.pop("_output_shapes", None)
        try:
            out.append((name, function_def_to_graph(fdef, input_shapes=shapes)))
        except Exception:  # noqa: BLE001 - fall back to the shapes the function was traced with
            out.append((name, function_def_to_graph(lib[name])))
    return out


def _graph_sites(graph: Any, lib: dict[str, Any], prefix: str = "", stack: tuple[str, ...] = ()) -> list[RawSite]:
    """Every site op of a graph, in creation order, and of the functions it calls (depth first)."""
    out: list[RawSite] = []
    for op in graph.get_operations():
        if op.type in _SITE_OPS:
            out.append(_op_site(op, prefix + op.name))
        for name, fg in _function_graphs(op, lib):
            if name not in stack and len(stack) < 16:
                out += _graph_sites(fg, lib, f"{prefix}{op.name}/", (*stack, name))
    return out


# ----------------------------------------------------------------------------------- capture


def capture_keras(model: Any, input_shape: Sequence[int], *, dtype: str = "float32",
                  seed: int = SEED) -> list[RawSite]:
    """The sites of a Keras model on an input of ``input_shape`` (NHWC, batch included): its layers, in
    call order, then the ops of its traced graph. AuditError when the model rejects the input."""
    import tensorflow as tf

    from . import registry

    registered = {n for n in registry() if n.startswith("keras.layers.")}
    paths = _layer_paths(model)
    calls: list[tuple[Any, str, str, str, Any]] = []
    patched: list[Any] = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        found = _layer_binding(layer, registered)
        if found is None or id(layer) not in paths:
            continue

        def wrap(orig: Callable[..., Any], layer: Any = layer, found: tuple[str, str] = found) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                x = args[0] if args else next(iter(kwargs.values()))
                calls.append((layer, paths[id(layer)], found[0], found[1], x))
                return orig(*args, **kwargs)
            return call

        layer.__dict__["call"] = wrap(layer.call)
        patched.append(layer)
    shape = [int(v) for v in input_shape]
    try:
        fn = tf.function(lambda x: model(x, training=False))
        concrete = fn.get_concrete_function(tf.TensorSpec(shape, dtype))
        x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
        concrete(tf.constant(x))
    except Exception as e:  # noqa: BLE001 - the model rejects the input: a usage error, one line
        raise AuditError(f"the model rejects an input of shape {shape}: {_one_line(e)}") from None
    finally:
        for layer in patched:
            layer.__dict__.pop("call", None)
    sites = [_layer_site(c, registered) for c in calls]
    graph = concrete.graph
    lib = {f.signature.name: f for f in graph.as_graph_def().library.function}
    sites += _graph_sites(graph, lib)
    for i, s in enumerate(sites):
        s.index = i
    return sites


# ----------------------------------------------------------------------------------- audit


def load_keras(source: str) -> Any:
    """A Keras model from a ``.keras`` / ``.h5`` file or a ``module:factory``; AuditError (one line) if not."""
    path = Path(source)
    if source.endswith((".keras", ".h5", ".hdf5")) or path.is_file():
        if not path.is_file():
            raise AuditError(f"{source}: no such file")
        if path.suffix == ".keras" and not zipfile.is_zipfile(path):
            raise AuditError(f"cannot load {source}: not a .keras file (a zip archive)")
        import keras

        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as e:  # noqa: BLE001 - an unreadable model file: one line
            raise AuditError(f"cannot load {source}: {_one_line(e)}") from None
    else:
        factory = load_factory(source)
        try:
            model = factory()
        except Exception as e:  # noqa: BLE001 - the user's factory failed: one line
            raise AuditError(f"{source} raised {_one_line(e)}") from None
    import keras

    if not isinstance(model, keras.Model):
        raise AuditError(f"{source} is not a Keras model ({type(model).__name__})")
    return model


def load(spec: str) -> Any:
    """The Keras model a ``.keras`` file or a ``module:factory`` gives (AuditError when it cannot)."""
    return load_keras(spec)


def capture(model: Any, input_shape: Sequence[int], dtype: str = "float32") -> list[RawSite]:
    """Every layer site and graph-op site of ``model`` on a seeded input of ``input_shape`` (NHWC)."""
    return capture_keras(model, input_shape, dtype=dtype)


def input_of(model: Any) -> tuple[list[int], str] | None:
    """A Keras model's declared input has no batch size: --input-shape is required."""
    return None


__all__ = ["LAYER_NOTE", "OP_NOTE", "capture", "capture_keras", "input_of", "load", "load_keras"]
