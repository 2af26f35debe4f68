"""TensorFlow's compiled and exported paths: the same native call, run through XLA or through LiteRT.

``compiled``: ``tf.function(jit_compile=True)`` around the binding's own call (its TF tensors are the
function's inputs; sizes, strides, layers and everything else are closed over), traced and
compiled before timing. A call whose graph holds a TF op with no XLA kernel for the device is
unsupported, with the ops named (the registry of XLA kernels says so before compiling); any other
compile failure is an ``error``.

``litert``: the call is traced with fixed input shapes (the input ``x`` is the model's only input;
weights are constants, Keras layer variables frozen into constants), converted with
``tf.lite.TFLiteConverter.from_concrete_functions`` at default settings (TFLite builtin ops only)
and run with ``ai_edge_litert.interpreter.Interpreter``. A call the converter refuses, because a TF
op needs ``SELECT_TF_OPS`` (the Flex delegate, which ai_edge_litert's interpreter does not link:
"Select TensorFlow op(s) ... not supported by this interpreter") or is no op TFLite knows at all
(a custom op), is unsupported with the ops named. The conversion is done once per check, in
``supports`` (the converter is the judge of what it takes), and reused by ``prepare``; its seconds
are in ``build_info``.

The audit reads the converted flatbuffer back: the one builtin that carries the operator
(RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR, TRANSPOSE_CONV, DEPTH_TO_SPACE, SPACE_TO_DEPTH), its
options and constant inputs, as the TF call they are exactly (``tf.compat.v1.image.resize_bilinear
(size, align_corners, half_pixel_centers)``, ``tf.nn.conv2d_transpose(output_shape, strides,
padding)``, ...), given meaning by that binding's ``from_native``. A graph that spells the operator
with several generic ops (RESHAPE, TILE, ...) has no single-op reading.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..canonical import Case, case_tensors, plain
from .base import Binding, NativeCall, Path, Unsupported
from .tf_bindings import (
    Conv2dTranspose,
    DepthToSpace,
    ResizeBilinearV1,
    ResizeNearestV1,
    SpaceToDepth,
    _device,
    _tf,
    from_tf,
)

# ----------------------------------------------------------------------------------- shared


def _native(binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str) -> tuple:
    """The binding's own prepared call: (fn, args, kwargs, device, channels_last of the output)."""
    prepared = binding.prepare(call, tensors, device)
    fn, args, kwargs, dev = prepared[:4]
    last = prepared[4] if len(prepared) > 4 else getattr(binding, "channels_last", True)
    return fn, tuple(args), dict(kwargs), dev, last


def _key(binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str) -> tuple:
    return (binding.name, repr(plain(dict(call.args))), repr(plain(dict(call.prep))), device,
            tuple((k, v.shape, v.dtype.name) for k, v in sorted(tensors.items())))


class _OneEntry:
    """The last build, kept so that ``prepare`` reuses what ``supports`` built for the same check
    (same binding, call, device, tensor shapes and dtypes, and the values of the tensors it holds)."""

    def __init__(self, values_of: tuple[str, ...] | None = None) -> None:
        self.key: tuple | None = None
        self.tensors: dict[str, np.ndarray] = {}
        self.value: Any = None
        self.values_of = values_of  # the tensors whose values the build holds (None: all)

    def _held(self, tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v for k, v in tensors.items() if self.values_of is None or k in self.values_of}

    def get(self, key: tuple, tensors: Mapping[str, np.ndarray]) -> Any:
        held = self._held(tensors)
        if key != self.key or set(held) != set(self.tensors):
            return None
        if not all(np.array_equal(v, self.tensors[k], equal_nan=v.dtype.kind == "f") for k, v in held.items()):
            return None
        return self.value

    def put(self, key: tuple, tensors: Mapping[str, np.ndarray], value: Any) -> Any:
        self.key, self.tensors, self.value = key, {k: np.array(v) for k, v in self._held(tensors).items()}, value
        return value


def _graph_ops(concrete: Any) -> list[str]:
    """Every op type in a concrete function's graph and the functions it calls."""
    gd = concrete.graph.as_graph_def()
    ops = {n.op for n in gd.node}
    for f in gd.library.function:
        ops |= {n.op for n in f.node_def}
    return sorted(ops - {f.signature.name for f in gd.library.function})


# ops that are function plumbing, not kernels XLA compiles
_PLUMBING = {"Placeholder", "Const", "Identity", "IdentityN", "NoOp", "_Arg", "_Retval", "PartitionedCall",
             "StatefulPartitionedCall", "ReadVariableOp", "VarHandleOp"}


# ----------------------------------------------------------------------------------- compiled (XLA)


def _register_xla_kernels() -> None:
    """XLA registers its kernels for the JIT devices on the first jit compile: before it, the kernel
    registry lists none, so one trivial function is compiled first (once per process)."""
    if getattr(_register_xla_kernels, "done", False):
        return
    tf = _tf()
    with tf.device("/CPU:0"):
        tf.function(lambda v: v + 1, jit_compile=True)(tf.constant(1.0))
    _register_xla_kernels.done = True  # type: ignore[attr-defined]


def _xla_refuses(ops: list[str], what: str = "the graph has") -> Unsupported | None:
    """Why XLA cannot compile a graph of these TF ops (one without an XLA_CPU_JIT kernel), or None."""
    from tensorflow.python.framework import kernels

    _register_xla_kernels()
    jit = "XLA_CPU_JIT"
    missing = [o for o in ops if o not in _PLUMBING
               and not any(k.device_type == jit for k in kernels.get_registered_kernels_for_op(o).kernel)]
    if missing:
        return Unsupported(f"XLA has no {jit} kernel for TF op(s) {', '.join(missing)} ({what} them): tf.function("
                           "jit_compile=True) raises 'Detected unsupported operations when trying to compile graph'")
    return None


class TfCompiled(Path):
    """``tf.function(jit_compile=True)`` around the binding's call; XLA compiles it on the first call
    (in ``prepare``, untimed)."""

    name = "compiled"
    framework = "tensorflow"
    description = "tf.function(jit_compile=True): XLA"

    def __init__(self) -> None:
        self._cache = _OneEntry()

    def _trace(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str) -> dict:
        key = _key(binding, call, tensors, device)
        hit = self._cache.get(key, tensors)
        if hit is not None:
            return hit
        tf = _tf()
        t0 = time.perf_counter()
        with tf.device(_device(device)):
            fn, args, kwargs, dev, last = _native(binding, call, tensors, device)
        slots = [i for i, a in enumerate(args) if tf.is_tensor(a)]
        inputs = [args[i] for i in slots]

        def body(*ts: Any) -> Any:
            full = list(args)
            for i, t in zip(slots, ts):
                full[i] = t
            return fn(*full, **kwargs)

        f = tf.function(body, jit_compile=True)
        with tf.device(_device(dev)):
            concrete = f.get_concrete_function(*[tf.TensorSpec(t.shape, t.dtype) for t in inputs])
        ops = _graph_ops(concrete)
        state = {"f": f, "inputs": inputs, "device": dev, "last": last, "ops": ops,
                 "trace_s": time.perf_counter() - t0}
        return self._cache.put(key, tensors, state)

    def supports(self, binding: Binding, call: NativeCall, case: Case) -> Unsupported | None:
        state = self._trace(binding, call, case_tensors(case), "cpu")
        return _xla_refuses(state["ops"])

    def prepare(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                device: str = "cpu") -> Any:
        state = dict(self._trace(binding, call, tensors, device))
        t0 = time.perf_counter()
        with _tf().device(_device(state["device"])):
            state["f"](*state["inputs"])  # XLA compiles here
        state["compile_s"] = time.perf_counter() - t0
        return state

    def execute(self, prepared: Any) -> Any:
        with _tf().device(_device(prepared["device"])):
            return prepared["f"](*prepared["inputs"])

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return from_tf(out, prepared["last"])

    def build_info(self, prepared: Any) -> dict[str, Any]:
        return {"build_s": prepared["trace_s"] + prepared["compile_s"], "trace_s": prepared["trace_s"],
                "compile_s": prepared["compile_s"], "ops": prepared["ops"]}

    # backward: the binding's own GradientTape computation (forward and tape.gradient) inside one
    # tf.function(jit_compile=True); XLA compiles both in prepare_backward, untimed
    def backward_unsupported(self, binding: Binding, case: Case) -> Unsupported | None:
        """The binding's own reasons, then XLA's: every op of the traced gradient graph needs an XLA kernel
        (ResizeNearestNeighborGrad has none)."""
        why = binding.backward_unsupported(case)
        if why is not None:
            return why
        from ..canonical import op_info

        call = binding.to_native(case)
        if isinstance(call, Unsupported):
            return call
        tf = _tf()
        out = op_info(case.op).output_shape(case.normal, case.shapes)
        state = binding.prepare_backward(call, case_tensors(case), np.zeros(out, dtype=case_tensors(case)["x"].dtype))
        with tf.device(_device(state.device)):
            concrete = tf.function(lambda: binding.execute_backward(state), jit_compile=True).get_concrete_function()
        return _xla_refuses(_graph_ops(concrete), "the gradient graph has")

    def prepare_backward(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                         cotangent: np.ndarray, device: str = "cpu") -> Any:
        tf = _tf()
        state = binding.prepare_backward(call, tensors, cotangent, device)
        f = tf.function(lambda: binding.execute_backward(state), jit_compile=True)
        with tf.device(_device(state.device)):
            f()  # traces and compiles the forward and its gradient
        return binding, state, f

    def execute_backward(self, prepared: Any) -> Any:
        _, state, f = prepared
        with _tf().device(_device(state.device)):
            return f()

    def grads_to_canonical(self, out: Any, prepared: Any) -> dict[str, np.ndarray]:
        binding, state, _ = prepared
        return binding.grads_to_canonical(out, state)


# ----------------------------------------------------------------------------------- LiteRT


def _schema() -> Any:
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


_TFL_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8, 10: np.float64}


def _builtin_names() -> dict[int, str]:
    s = _schema()
    return {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def read_model(model: bytes) -> list[dict[str, Any]]:
    """The operators of a LiteRT flatbuffer's main subgraph, in order: ``{"op": builtin name,
    "options": the builtin options object (or None), "inputs": [{"shape", "data" (constant or None),
    "tensor"}], "outputs": [tensor index]}``."""
    s = _schema()
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(model, 0))
    names = _builtin_names()
    sg = m.subgraphs[0]
    ops = []
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        code = max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode))
        name = names.get(code, str(code))
        if name == "CUSTOM":
            name = f"CUSTOM:{oc.customCode.decode() if oc.customCode else '?'}"
        ins = []
        for i in op.inputs:
            if i < 0:
                ins.append({"tensor": -1, "shape": None, "data": None})
                continue
            t = sg.tensors[i]
            buf = m.buffers[t.buffer].data if t.buffer < len(m.buffers) else None
            data = None
            if buf is not None and len(buf) and int(t.type) in _TFL_DTYPES:
                data = np.frombuffer(np.asarray(buf, np.uint8).tobytes(), _TFL_DTYPES[int(t.type)])
                data = data.reshape([int(v) for v in t.shape]) if t.shape is not None else data
            ins.append({"tensor": int(i), "shape": [int(v) for v in t.shape] if t.shape is not None else [],
                        "data": data})
        ops.append({"op": name, "options": op.builtinOptions, "inputs": ins,
                    "outputs": [int(v) for v in op.outputs]})
    return ops


def op_names(model: bytes) -> list[str]:
    return [o["op"] for o in read_model(model)]


def _nchw(shape: list[int]) -> tuple[int, ...]:
    return (shape[0], shape[-1], *shape[1:-1])


def _read_resize(o: dict, cls: type) -> tuple[dict, dict, dict]:
    x, size = o["inputs"][0], o["inputs"][1]
    if size["data"] is None:
        raise ValueError(f"{o['op']}'s size input is not a constant")
    opts = o["options"]
    args = {"size": [int(v) for v in size["data"]], "align_corners": bool(opts.alignCorners),
            "half_pixel_centers": bool(opts.halfPixelCenters)}
    shapes = {"x": _nchw(x["shape"])}
    return args, shapes, cls().from_native(args, shapes, "resize")


def _read_block(o: dict, cls: type, op: str) -> tuple[dict, dict, dict]:
    args = {"block_size": int(o["options"].blockSize)}
    shapes = {"x": _nchw(o["inputs"][0]["shape"])}
    return args, shapes, cls().from_native(args, shapes, op)


def _read_transpose_conv(o: dict) -> tuple[dict, dict, dict]:
    out_shape, w, x = o["inputs"][:3]
    if out_shape["data"] is None:
        raise ValueError("TRANSPOSE_CONV's output_shape input is not a constant")
    opts = o["options"]
    padding = {0: "SAME", 1: "VALID"}.get(int(opts.padding), f"Padding({opts.padding})")
    args = {"output_shape": [int(v) for v in out_shape["data"]], "strides": [int(opts.strideH), int(opts.strideW)],
            "padding": padding}
    if int(opts.fusedActivationFunction):
        args["fused_activation_function"] = int(opts.fusedActivationFunction)
    cout, kh, kw, cin = w["shape"]  # LiteRT's (O, H, W, I)
    shapes = {"x": _nchw(x["shape"]), "w": (cin, cout, kh, kw)}
    if len(o["inputs"]) > 3 and o["inputs"][3]["tensor"] >= 0:
        shapes["b"] = (cout,)
    if "fused_activation_function" in args:
        return args, shapes, Unsupported(f"TRANSPOSE_CONV has a fused activation ({args['fused_activation_function']})")
    return args, shapes, Conv2dTranspose().from_native(args, shapes, "conv_transpose")


_READERS = {
    "RESIZE_BILINEAR": lambda o, op: _read_resize(o, ResizeBilinearV1),
    "RESIZE_NEAREST_NEIGHBOR": lambda o, op: _read_resize(o, ResizeNearestV1),
    "DEPTH_TO_SPACE": lambda o, op: _read_block(o, DepthToSpace, op),
    "SPACE_TO_DEPTH": lambda o, op: _read_block(o, SpaceToDepth, op),
    "TRANSPOSE_CONV": lambda o, op: _read_transpose_conv(o),
}
# ops that may stand beside the operator's op without changing what it means: dtype casts, the
# NCHW <-> NHWC transposes of a channels_first call, a bias add after a transposed convolution
_BESIDE = {"CAST", "TRANSPOSE", "ADD", "DEQUANTIZE"}


def audit_model(model: bytes, op: str) -> dict[str, Any]:
    """What a converted model means: the operator's single builtin op read as the TF call it is."""
    ops = read_model(model)
    nodes = [o["op"] for o in ops]
    keyed = [o for o in ops if o["op"] in _READERS]
    if len(keyed) != 1:
        why = (f"the converter lowered the call to {', '.join(nodes)}: no single LiteRT op carries the operator's "
               "attributes" if not keyed else f"{len(keyed)} operator ops ({', '.join(o['op'] for o in keyed)})")
        return {"nodes": nodes, "meaning": None, "reason": why}
    others = [n for n in nodes if n not in _READERS and n not in _BESIDE]
    if others:
        return {"nodes": nodes, "meaning": None,
                "reason": f"{keyed[0]['op']} stands beside {', '.join(others)}: no single-op reading"}
    o = keyed[0]
    args, shapes, meaning = _READERS[o["op"]](o, op)
    attrs = {"op": o["op"], **args}
    if isinstance(meaning, Unsupported):
        return {"nodes": nodes, "meaning": None, "attributes": attrs, "reason": f"{o['op']}{args}: {meaning.reason}"}
    return {"nodes": nodes, "meaning": plain(meaning), "attributes": attrs}


_NEEDS = re.compile(r"^(TF Select ops|Custom ops): (.+)$", re.M)
_DETAIL = re.compile(r"^\s*tf\.(\w+)\((.*?)\) -> ", re.M)


def converter_refusal(message: str) -> str | None:
    """Why the converter (builtin ops only) refused a call, from its error text, or None."""
    found = {kind: [v.strip() for v in ops.split(",")] for kind, ops in _NEEDS.findall(message)}
    if not found:
        return None
    sigs = sorted({f"{op}({args})" for op, args in _DETAIL.findall(message)})
    parts = []
    if found.get("TF Select ops"):
        parts.append(f"TF op(s) {', '.join(found['TF Select ops'])} have no TFLite builtin and need SELECT_TF_OPS "
                     "(the Flex delegate, which ai_edge_litert's Interpreter does not have: 'Select TensorFlow op(s) "
                     "... not supported by this interpreter')")
    if found.get("Custom ops"):
        parts.append(f"TF op(s) {', '.join(found['Custom ops'])} are neither TFLite builtins nor Select TF ops "
                     "(the converter calls them custom ops)")
    detail = f" [{'; '.join(sigs)}]" if sigs else ""
    return "TFLiteConverter (default settings, builtin ops) refuses: " + "; ".join(parts) + detail


class TfLiteRT(Path):
    """TFLiteConverter.from_concrete_functions (builtin ops) and the LiteRT interpreter."""

    name = "litert"
    framework = "tensorflow"
    module = "ai_edge_litert"
    extra = "litert"
    description = "TFLiteConverter (builtin ops) + ai_edge_litert Interpreter"

    def __init__(self) -> None:
        self._cache = _OneEntry(values_of=("w", "b"))  # x is the model's input; weights are constants in it

    def _convert(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray]) -> dict:
        key = _key(binding, call, tensors, "cpu")
        hit = self._cache.get(key, tensors)
        if hit is not None:
            return hit
        tf = _tf()
        from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

        with tf.device("/CPU:0"):
            fn, args, kwargs, _, last = _native(binding, call, tensors, "cpu")
        x, rest = args[0], args[1:]
        xn, xc = np.asarray(x.numpy()), tensors["x"]
        # the layout the call takes its input in (channels last unless its data_format says otherwise)
        state: dict[str, Any] = {"last": last, "in_last": xn.shape != xc.shape or not np.array_equal(xn, xc, equal_nan=True)}
        t0 = time.perf_counter()
        try:
            f = tf.function(lambda x: fn(x, *rest, **kwargs), input_signature=[tf.TensorSpec(x.shape, x.dtype)])
            # Keras layers' weights are variables: frozen into constants, as an exported model holds them
            concrete = f.get_concrete_function()
            if concrete.variables:
                concrete = convert_variables_to_constants_v2(concrete)
            state["model"] = tf.lite.TFLiteConverter.from_concrete_functions([concrete], f).convert()
        except Exception as e:  # noqa: BLE001 - judged below, or raised again by prepare
            state["refusal"] = converter_refusal(str(e))
            state["error"] = e
        state["convert_s"] = time.perf_counter() - t0
        return self._cache.put(key, tensors, state)

    def supports(self, binding: Binding, call: NativeCall, case: Case) -> Unsupported | None:
        if case.dtype == "bfloat16":
            return Unsupported("LiteRT has no bfloat16 inputs for these ops: the converter's builtin kernels take "
                               "float32 (and some integer types) here")
        state = self._convert(binding, call, case_tensors(case))
        return Unsupported(state["refusal"]) if state.get("refusal") else None

    def prepare(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                device: str = "cpu") -> Any:
        state = dict(self._convert(binding, call, tensors))
        if "error" in state:
            raise state["error"]
        return self.prepare_model(state["model"], state, tensors)

    def prepare_model(self, model: bytes, state: dict[str, Any], tensors: Mapping[str, np.ndarray]) -> dict[str, Any]:
        """A LiteRT interpreter for ``model`` (the converted flatbuffer), its input set from ``tensors``."""
        from ai_edge_litert.interpreter import Interpreter

        state = {**state, "model": model}
        x = tensors["x"]
        state["x"] = np.ascontiguousarray(np.moveaxis(x, 1, -1) if state["in_last"] else x)
        t0 = time.perf_counter()
        threads = _tf().config.threading.get_intra_op_parallelism_threads() or None
        it = Interpreter(model_content=model, num_threads=threads)
        it.allocate_tensors()
        (inp,), (out,) = it.get_input_details(), it.get_output_details()
        state.update(interpreter=it, input=inp["index"], output=out["index"], ops=op_names(model),
                     interpreter_s=time.perf_counter() - t0)
        return state

    def execute(self, prepared: Any) -> Any:
        it = prepared["interpreter"]
        it.set_tensor(prepared["input"], prepared["x"])
        it.invoke()
        return it.get_tensor(prepared["output"])

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        a = np.array(out)
        return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if prepared["last"] else a

    def build_info(self, prepared: Any) -> dict[str, Any]:
        return {"build_s": prepared["convert_s"] + prepared["interpreter_s"], "convert_s": prepared["convert_s"],
                "interpreter_s": prepared["interpreter_s"], "ops": prepared["ops"],
                "model_bytes": len(prepared["model"])}

    def audit(self, binding: Binding, call: NativeCall, prepared: Any, shapes: Mapping[str, tuple[int, ...]],
              op: str) -> dict[str, Any] | None:
        return audit_model(prepared["model"], op)

