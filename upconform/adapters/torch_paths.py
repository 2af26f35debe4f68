"""PyTorch's compiled and exported paths: the binding's own native call, run through
``torch.compile`` (inductor, CPU) or exported with ``torch.onnx.export(..., dynamo=True)`` and run by
ONNX Runtime (CPU execution provider). torch, onnx, onnxscript and onnxruntime are imported when a
path first builds, never at import time.

The native call is the binding's ``prepare`` output ``(fn, args, kwargs)``: its tensor arguments
become the inputs of the compiled function or the exported graph, everything else (sizes, modes,
kernel sizes, a module's weights) is closed over, as a user who compiles or exports the call would
write it.

Example:
    >>> from upconform.adapters.torch_bindings import FRAMEWORK
    >>> FRAMEWORK.path_names()
    ('eager', 'compiled', 'onnx')
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from ..canonical import Case
from .base import Binding, NativeCall, Path, Unsupported, _missing
from .torch_bindings import from_torch


def _torch() -> Any:
    import torch

    return torch


@dataclass
class Prepared:
    """A built path: the callable, its tensor inputs, and what building it took."""

    run: Any
    inputs: list[Any]
    info: dict[str, Any] = field(default_factory=dict)
    model: Any = None  # the exported ModelProto (onnx path)


def _as_module(binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str) -> tuple[Any, list[Any]]:
    """The binding's native call as a ``torch.nn.Module`` whose forward takes the call's tensors (in
    the order of ``args``) and closes over every other argument; and those tensors."""
    torch = _torch()
    fn, args, kwargs = binding.prepare(call, tensors, device)[:3]
    pos = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    fixed = list(args)
    kwargs = dict(kwargs)

    class NativeCallModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fn = fn  # a module (ConvTranspose2d, Upsample, ...) registers as a submodule: weights included

        def forward(self, *ts: Any) -> Any:
            a = list(fixed)
            for i, t in zip(pos, ts):
                a[i] = t
            return self.fn(*a, **kwargs)

    return NativeCallModule().eval(), [args[i] for i in pos]


# ----------------------------------------------------------------------------------- compiled


class Compiled(Path):
    """``torch.compile(native call, backend="inductor", dynamic=False, fullgraph=True)`` on CPU. The
    first call compiles (C++ code generation; the FX graph cache on disk makes reruns fast); it happens
    in ``prepare``, untimed. Dynamo is reset before each build, so checks do not share guards or graphs."""

    name = "compiled"
    framework = "torch"
    description = "torch.compile(backend='inductor', dynamic=False, fullgraph=True), CPU"

    def prepare(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                device: str = "cpu") -> Prepared:
        torch = _torch()
        module, inputs = _as_module(binding, call, tensors, device)
        torch._dynamo.reset()
        fn = torch.compile(module, backend="inductor", dynamic=False, fullgraph=True)
        t0 = time.perf_counter()
        with torch.no_grad():
            fn(*inputs)  # compiles
        return Prepared(fn, inputs, {"compile_s": time.perf_counter() - t0, "backend": "inductor",
                                     "fullgraph": True, "dynamic": False})

    def execute(self, prepared: Prepared) -> Any:
        with _torch().no_grad():
            return prepared.run(*prepared.inputs)

    def to_canonical(self, out: Any, prepared: Prepared) -> np.ndarray:
        return from_torch(out)

    def build_info(self, prepared: Prepared) -> dict[str, Any]:
        return dict(prepared.info)

    # backward: the binding's own autograd state with its native callable compiled; the first forward and
    # backward (AOTAutograd compiles both graphs) happen in prepare_backward, untimed
    def backward_unsupported(self, binding: Binding, case: Any) -> Unsupported | None:
        return binding.backward_unsupported(case)

    def prepare_backward(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                         cotangent: np.ndarray, device: str = "cpu") -> Any:
        torch = _torch()
        state = binding.prepare_backward(call, tensors, cotangent, device)
        torch._dynamo.reset()
        state = state._replace(fn=torch.compile(state.fn, backend="inductor", dynamic=False, fullgraph=True))
        binding.execute_backward(state)  # compiles the forward and the backward graph
        return binding, state

    def execute_backward(self, prepared: Any) -> Any:
        binding, state = prepared
        return binding.execute_backward(state)

    def grads_to_canonical(self, out: Any, prepared: Any) -> dict[str, np.ndarray]:
        binding, state = prepared
        return binding.grads_to_canonical(out, state)


# ----------------------------------------------------------------------------------- onnx

# dtypes ONNX Runtime 1.32.0's CPU provider has no kernel for, per binding family (measured: the
# session fails to load with NOT_IMPLEMENTED, or the model is invalid); see tests/test_torch_paths.py
_ORT_DTYPES = {"Resize": ("float32", "float16", "uint8"), "ConvTranspose": ("float32", "float16")}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter's progress lines (stdout) and its warnings (logging: 'torchvision is not installed',
    onnxscript's optimizer) stay out of the console; in a worker they would go to its log anyway."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "onnxscript", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


@cache
def _registry() -> Any:
    """The exporter's table of ONNX translations, built once per process. ``torch.onnx.export`` builds
    it afresh on every call (``ONNXRegistry.from_torchlib``: about 2 s, parsing the source of ~500
    onnxscript functions); the table does not depend on the model."""
    from torch.onnx import _constants
    from torch.onnx._internal.exporter import _constants as _exporter_constants
    from torch.onnx._internal.exporter import _registration

    return _registration.ONNXRegistry.from_torchlib(
        opset_version=max(_constants.ONNX_DEFAULT_OPSET, _exporter_constants.TORCHLIB_OPSET))


SHARE_REGISTRY = True  # False: the public torch.onnx.export (tests show both give the same graph)
_TABLES: dict[Any, Any] = {}  # for the life of the process, keyed by what torch's operator namespaces hold
_TABLES_LOCK = threading.Lock()  # the patch is process-wide: one export at a time under it


@contextlib.contextmanager
def _model_independent_tables_cached() -> Iterator[None]:
    """During one export, reuse the two tables that torch rebuilds on every export although they do not
    depend on the model (0.45 of the 0.8 s an export of one interpolate takes): the set of
    CompositeImplicitAutograd operators (``torch._export.utils._collect_all_valid_cia_ops``, which walks
    every operator namespace; cached per set of loaded namespaces, ``torch.ops._dir``, which grows as
    namespaces load) and the exporter's decomposition table for the shared translation table
    (``_decomp.create_onnx_friendly_decomposition_table``). Callers get fresh copies, as from the
    originals; the originals are back in place after the export. Exports hold a lock meanwhile."""
    import torch
    from torch.export import decomp_utils, exported_program
    from torch.onnx._internal.exporter import _decomp, _fx_passes

    cia, table = exported_program._collect_all_valid_cia_ops, _decomp.create_onnx_friendly_decomposition_table

    def cached_cia() -> set[Any]:
        key = ("cia", tuple(sorted(getattr(torch.ops, "_dir", ()))))
        if key not in _TABLES:
            _TABLES[key] = frozenset(cia())
        return set(_TABLES[key])

    def cached_table(ops: set[Any]) -> dict[Any, Any]:
        key = ("table", frozenset(ops))
        if key not in _TABLES:
            _TABLES[key] = table(ops)
        return dict(_TABLES[key])

    saved = [(exported_program, "_collect_all_valid_cia_ops", cia),
             (decomp_utils, "_collect_all_valid_cia_ops", decomp_utils._collect_all_valid_cia_ops),
             (_decomp, "create_onnx_friendly_decomposition_table", table),
             (_fx_passes._decomp, "create_onnx_friendly_decomposition_table", table)]
    with _TABLES_LOCK:
        exported_program._collect_all_valid_cia_ops = cached_cia
        decomp_utils._collect_all_valid_cia_ops = cached_cia
        _decomp.create_onnx_friendly_decomposition_table = cached_table
        try:
            yield
        finally:
            for mod, name, fn in saved:
                setattr(mod, name, fn)


def export_onnx(module: Any, inputs: list[Any]) -> Any:
    """``torch.onnx.export(module, inputs, dynamo=True, report=False, verify=False)`` (default opset,
    default optimisation), with the translation table shared between calls: what the public function
    does (torch/onnx/_internal/exporter/_compat.py, ``export_compat``) for a model without dynamic
    shapes, names or custom translations, minus rebuilding the table. Falls back to the public call
    where torch's internal layout differs."""
    torch = _torch()
    if SHARE_REGISTRY:
        try:
            from torch.onnx import _constants
            from torch.onnx._internal.exporter import _core

            registry = _registry()
        except (ImportError, AttributeError):
            pass
        else:
            try:
                tables: Any = _model_independent_tables_cached()
                tables.__enter__()
            except (ImportError, AttributeError):  # a torch without these private names: rebuild them per export
                tables = contextlib.nullcontext()
            try:
                return _core.export(module, tuple(inputs), registry=registry, report=False, verify=False,
                                    optimize=True, opset_version=_constants.ONNX_DEFAULT_OPSET)
            finally:
                tables.__exit__(None, None, None)
    return torch.onnx.export(module, tuple(inputs), dynamo=True, report=False, verify=False)


class Onnx(Path):
    """``torch.onnx.export(native call, inputs, dynamo=True)`` (the exporter torch 2.13 uses by default,
    onnxscript's translation, its default graph optimisation; no report and no verification run),
    then an ONNX Runtime session on the CPU execution provider. Export and session are built in
    ``prepare``, untimed; ``execute`` runs the session."""

    name = "onnx"
    framework = "torch"
    module = "onnxscript"
    extra = "export"
    description = "torch.onnx.export(dynamo=True) -> ONNX Runtime (CPUExecutionProvider)"

    def missing(self) -> str | None:
        for mod in ("onnxscript", "onnx", "onnxruntime"):
            why = _missing(f"{mod} (for the onnx path)", mod, self.extra)
            if why:
                return why
        return None

    def supports(self, binding: Binding, call: NativeCall, case: Case) -> Unsupported | None:
        if case.dtype == "bfloat16":
            return Unsupported("ONNX Runtime's Python API takes no bfloat16 arrays (numpy has no bfloat16; "
                               "RuntimeError: Numpy_type 256 can't be converted to MLDataType)")
        node = binding_exports_node(binding, call, case.op)
        if node and case.dtype not in _ORT_DTYPES[node]:
            return Unsupported(f"onnxruntime's CPU provider has no {case.dtype} kernel for the exported {node} "
                               "(NOT_IMPLEMENTED: Could not find an implementation)")
        return None

    def prepare(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                device: str = "cpu") -> Prepared:
        torch = _torch()
        import onnxruntime as ort

        module, inputs = _as_module(binding, call, tensors, device)
        t0 = time.perf_counter()
        model = self.export(module, inputs)
        export_s = time.perf_counter() - t0
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 4  # run-time errors come back as exceptions
        t1 = time.perf_counter()
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        session_s = time.perf_counter() - t1
        names = [i.name for i in sess.get_inputs()]
        if len(names) != len(inputs):
            raise RuntimeError(f"the exported graph takes {len(names)} inputs {names}; the call has {len(inputs)}")
        feeds = {n: t.detach().cpu().numpy() for n, t in zip(names, inputs)}
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        info = {"export_s": export_s, "session_s": session_s, "opset": opset,
                "ops": [n.op_type for n in model.graph.node if n.op_type != "Constant"]}
        return Prepared(lambda: sess.run(None, feeds)[0], [], info, model)

    def export(self, module: Any, inputs: list[Any]) -> Any:
        """The exported ``onnx.ModelProto`` of the call (its console output silenced)."""
        with _quiet():
            return export_onnx(module, inputs).model_proto

    def execute(self, prepared: Prepared) -> Any:
        return prepared.run()

    def to_canonical(self, out: Any, prepared: Prepared) -> np.ndarray:
        return np.asarray(out)

    def build_info(self, prepared: Prepared) -> dict[str, Any]:
        return dict(prepared.info)

    def audit(self, binding: Binding, call: NativeCall, prepared: Prepared, shapes: Mapping[str, tuple[int, ...]],
              op: str) -> dict[str, Any] | None:
        return read_graph(prepared.model, shapes, op)


def binding_exports_node(binding: Binding, call: NativeCall, op: str) -> str | None:
    """The ONNX operator with a dtype limit in ONNX Runtime that the exporter writes this call as, or
    None: interpolate (resize, and repeat through mode nearest) becomes Resize except ``area`` and
    ``nearest-exact`` (lowered to Gathers and sums), conv_transpose becomes ConvTranspose; the others are
    DepthToSpace or generic nodes (Reshape, Transpose, ScatterND, Expand) that take every dtype here."""
    from .torch_bindings import Interpolate

    if isinstance(binding, Interpolate):  # resize and repeat: Resize, except area (and nearest-exact, below)
        mode = call.args.get("mode", binding.fixed_args.get("mode", "nearest"))
        return "Resize" if mode not in ("area", "nearest-exact") else None
    return "ConvTranspose" if op == "conv_transpose" else None


def graph_constants(model: Any) -> dict[str, np.ndarray]:
    """Every constant of a graph by name: initializers and the outputs of Constant nodes."""
    from onnx import helper, numpy_helper

    out = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            a = next(a for a in n.attribute)
            v = helper.get_attribute_value(a)
            out[n.output[0]] = numpy_helper.to_array(v) if a.name == "value" else np.asarray(v)
    return out


def read_graph(model: Any, shapes: Mapping[str, tuple[int, ...]], op: str) -> dict[str, Any]:
    """The exported graph in the canonical vocabulary: ``{"nodes": [op types], "meaning": normal form
    or None, "reason": why it cannot be read}``. Only a graph that implements the operator as one
    node of a known ONNX operator (Resize, ConvTranspose, DepthToSpace, SpaceToDepth, MaxUnpool) has
    a reading; a lowering to generic nodes (Reshape/Transpose, ScatterND, Gather, ...) has none."""
    from .onnx_bindings import OPS_OF, node_meaning

    nodes = [n.op_type for n in model.graph.node if n.op_type != "Constant"]
    found = [n for n in model.graph.node if n.op_type in OPS_OF]
    if len(found) != 1:
        why = (f"the exporter lowered the call to generic nodes {nodes}: no single {'/'.join(sorted(OPS_OF))} "
               "node to read" if not found else f"{len(found)} operator nodes {[n.op_type for n in found]}")
        return {"nodes": nodes, "meaning": None, "reason": why}
    other = [t for t in nodes if t not in OPS_OF]
    if other:
        return {"nodes": nodes, "meaning": None,
                "reason": f"the {found[0].op_type} node comes with other computing nodes {other}"}
    got = node_meaning(found[0], graph_constants(model), shapes)
    if isinstance(got, Unsupported):
        return {"nodes": nodes, "meaning": None, "reason": got.reason}
    read_op, meaning = got
    if read_op != op:
        from ..canonical.resize import as_repeat

        rep = as_repeat(meaning, shapes) if (read_op, op) == ("resize", "repeat") else None
        if rep is None:
            return {"nodes": nodes, "meaning": None,
                    "reason": f"the {found[0].op_type} node is a {read_op}, not a {op}: {meaning}"}
        meaning = rep
    return {"nodes": nodes, "meaning": meaning, "reason": ""}
