"""``upconform audit`` of an ONNX file, and the ONNX export of a PyTorch model for export pairing.

Every Resize, ConvTranspose, DepthToSpace, SpaceToDepth and MaxUnpool node of the graph (local
functions inlined, subgraphs of If/Loop/Scan included) becomes a :class:`RawSite` of the matching
``onnxruntime.*`` binding: its attributes and constant inputs (initializers, Constant nodes) as that
binding's ``from_native`` takes them, its shapes from ONNX shape inference (ONNX is NCHW already and
ConvTranspose's W is (C_in, C_out/g, *k)), its dtype from its input's element type. A roi, scales,
sizes or output_shape input computed in the graph is kept as a ``<not constant: name>`` placeholder with
a note: the site is listed, with no meaning. Nodes that torch's exporter wrote name their module and
source line in the note (``node_origin``).

onnx and torch are imported when a function runs, never at import.

Example:
    >>> from onnx import helper, TensorProto
    >>> g = helper.make_graph([helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 3, 3])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    >>> s = sites_of_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]))[0]
    >>> s.binding, s.args, s.shapes, s.where
    ('onnxruntime.DepthToSpace', {'blocksize': 2, 'mode': 'CRD'}, {'x': (1, 8, 3, 3)}, 'DepthToSpace_0')
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from .sites import SEED, AuditError, RawSite

NOTE = "ONNX node"


# ----------------------------------------------------------------------------------- loading


def load_model(path: str | os.PathLike[str]) -> Any:
    """The ModelProto at ``path`` (external data loaded); AuditError with one line when it is missing or
    not an ONNX model."""
    import onnx

    p = os.fspath(path)
    if not os.path.exists(p):
        raise AuditError(f"{p}: no such file")
    if os.path.isdir(p):
        raise AuditError(f"{p}: a directory, not an ONNX file")
    try:
        model = onnx.load(p)
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign file: one line
        raise AuditError(f"{p}: not an ONNX model ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                         ) from None
    if not model.HasField("graph") or not model.graph.node:
        raise AuditError(f"{p}: not an ONNX model (no graph nodes)")
    return model


def _opset(model: Any) -> int:
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


# ----------------------------------------------------------------------------------- graph walking


def _type_info(t: Any) -> tuple[tuple[int, ...] | None, int]:
    """(static shape or None, element type) of a TypeProto."""
    if not t.HasField("tensor_type"):
        return None, 0
    tt = t.tensor_type
    if not tt.HasField("shape"):
        return None, int(tt.elem_type)
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
    return (None if None in dims else tuple(int(d) for d in dims)), int(tt.elem_type)


def _subgraphs(node: Any) -> Iterator[tuple[str, Any]]:
    from onnx import AttributeProto

    for a in node.attribute:
        if a.type == AttributeProto.GRAPH:
            yield a.name, a.g
        elif a.type == AttributeProto.GRAPHS:
            yield from ((f"{a.name}[{k}]", g) for k, g in enumerate(a.graphs))


def _graphs(graph: Any) -> Iterator[Any]:
    """The graph and every subgraph (If / Loop / Scan bodies), depth first."""
    yield graph
    for n in graph.node:
        for _, g in _subgraphs(n):
            yield from _graphs(g)


def _walk(graph: Any, prefix: str = "") -> Iterator[tuple[Any, str]]:
    """Every node with its location, in graph order; a subgraph's nodes where its If / Loop / Scan stands."""
    for i, n in enumerate(graph.node):
        where = prefix + (n.name or f"{n.op_type}_{i}")
        yield n, where
        for name, g in _subgraphs(n):
            yield from _walk(g, f"{where}/{name}/")


def _tables(model: Any) -> tuple[dict[str, np.ndarray], dict[str, tuple[tuple[int, ...] | None, int]]]:
    """Constants (initializers, Constant nodes; every scope) and value types (inputs, value_info,
    outputs, initializers) by name."""
    from onnx import numpy_helper

    from .torch_paths import graph_constants

    consts: dict[str, np.ndarray] = {}
    types: dict[str, tuple[tuple[int, ...] | None, int]] = {}
    for g in _graphs(model.graph):
        shell = type(model)()
        shell.graph.initializer.extend(g.initializer)
        shell.graph.node.extend(n for n in g.node if n.op_type == "Constant" and n.domain in ("", "ai.onnx"))
        try:
            consts.update(graph_constants(shell))
        except Exception:  # noqa: BLE001 - an unreadable Constant (sparse value): take what reads
            for t in g.initializer:
                consts[t.name] = numpy_helper.to_array(t)
        for v in [*g.input, *g.value_info, *g.output]:
            shape, elem = _type_info(v.type)
            if v.name not in types or types[v.name][0] is None:
                types[v.name] = (shape, elem)
        for t in g.initializer:
            types.setdefault(t.name, (tuple(int(d) for d in t.dims), int(t.data_type)))
    return consts, types


def _dtype_name(elem: int) -> str:
    from onnx import helper

    try:
        return str(np.dtype(helper.tensor_dtype_to_np_dtype(elem)))
    except Exception:  # noqa: BLE001 - undefined element type
        return "float32"


def _node_args(node: Any, consts: Mapping[str, np.ndarray], opset: int) -> tuple[dict[str, Any], str]:
    """The node's attributes and constant inputs as ``from_native`` takes them; a constant input that is
    computed becomes ``'<not constant: name>'`` and is named in the returned note."""
    from onnx import NodeProto

    from .onnx_bindings import CONSTANT_INPUTS, args_of_node

    if node.op_type == "Resize" and opset < 11:
        # Resize-10 takes (X, scales) and has no coordinate_transformation_mode: not Resize-11+'s inputs
        args, _ = _node_args(_blanked(node, [1]), consts, 11)
        args["scales"] = f"<Resize-10 input: {node.input[1] if len(node.input) > 1 else ''}>"
        return args, (f"Resize-10 (opset {opset}): inputs (X, scales) and no coordinate_transformation_mode; "
                      "upconform reads Resize-11 and later")
    computed = [pos for pos in CONSTANT_INPUTS.get(node.op_type, {})
                if pos < len(node.input) and node.input[pos] and node.input[pos] not in consts]
    blank: NodeProto = _blanked(node, computed) if computed else node
    args = args_of_node(blank, consts)
    for pos in computed:
        args[CONSTANT_INPUTS[node.op_type][pos]] = f"<not constant: {node.input[pos]}>"
    note = ("; ".join(f"input {CONSTANT_INPUTS[node.op_type][pos]} ({node.input[pos]!r}) is computed in the graph, "
                      "not a constant: no meaning" for pos in computed))
    return args, note


def _blanked(node: Any, positions: Sequence[int]) -> Any:
    from onnx import NodeProto

    n = NodeProto()
    n.CopyFrom(node)
    for pos in positions:
        if pos < len(n.input):
            n.input[pos] = ""
    return n


def node_origin(node: Any) -> dict[str, Any]:
    """Where torch's exporter says a node came from (its ``metadata_props``): ``scope`` (the module path,
    as ``named_modules`` spells it; "" for the model itself), ``file`` and ``line`` of the first frame of
    its stack trace, ``target`` (the ATen operator). Empty for a node without that metadata."""
    import ast
    import re

    meta = {p.key: p.value for p in node.metadata_props}
    out: dict[str, Any] = {}
    try:  # ['', 'up1', 'up1.up', 'upsample_bilinear2d']: the model, each enclosing module's path, the node
        scopes = ast.literal_eval(meta["pkg.torch.onnx.name_scopes"])
        out["scope"] = str(scopes[-2]) if len(scopes) > 2 else ""
    except (KeyError, ValueError, SyntaxError, TypeError, IndexError):
        pass
    # the innermost frame outside torch: the model's line that made the call (as capture_torch records it)
    frames = re.findall(r'File "([^"]+)", line (\d+)', meta.get("pkg.torch.onnx.stack_trace", ""))
    user = [(f, n) for f, n in frames if f"{os.sep}torch{os.sep}" not in f]
    if user:
        out["file"], out["line"] = user[-1][0], int(user[-1][1])
    t = re.search(r"target=torch\.ops\.([\w.]+)", meta.get("pkg.torch.onnx.fx_node", ""))
    if t:
        out["target"] = t.group(1)
    return out


def _origin_note(node: Any) -> str:
    o = node_origin(node)
    if not o:
        return NOTE
    parts = [f"`{o['scope'] or '(model)'}`"] if "scope" in o else []
    if "file" in o:
        parts.append(f"{os.path.basename(o['file'])}:{o['line']}")
    return f"{NOTE} exported from torch {' '.join(parts)}" if parts else NOTE


def _max_unpool_x(node: Any, args: Mapping[str, Any], x: tuple[int, ...] | None,
                  out: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """The canonical x of a MaxUnpool (the pooling input): its output shape, as inferred, from the
    output_shape input, or the default ``(pooled - 1) * stride + kernel - pads``."""
    if out is not None:
        return out
    if isinstance(args.get("output_shape"), list):
        return tuple(int(v) for v in args["output_shape"])
    if x is None or not isinstance(args.get("kernel_shape"), list):
        return None
    k = len(x) - 2
    ks = [int(v) for v in args["kernel_shape"]]
    st = [int(v) for v in args.get("strides") or [1] * k]
    pads = [int(v) for v in args.get("pads") or [0] * (2 * k)]
    return (*x[:2], *[(x[2 + i] - 1) * st[i] + ks[i] - pads[i] - pads[k + i] for i in range(k)])


def sites_of_model(model: Any) -> list[RawSite]:
    """The sites of a loaded ModelProto (see :func:`capture_onnx`)."""
    import onnx

    from .onnx_bindings import OPS_OF

    if model.functions:
        from onnx import inliner

        model = inliner.inline_local_functions(model)
    opset = _opset(model)
    try:
        model = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference failed as a whole: sites keep the shapes the file declares
        pass
    consts, types = _tables(model)
    sites: list[RawSite] = []
    for node, where in _walk(model.graph):
        if node.op_type in OPS_OF and node.domain in ("", "ai.onnx"):
            sites.append(_site(len(sites), node, where, consts, types, opset))
    return sites


def _site(index: int, node: Any, where: str, consts: Mapping[str, np.ndarray],
          types: Mapping[str, tuple[tuple[int, ...] | None, int]], opset: int) -> RawSite:
    from .onnx_bindings import OPS_OF

    args, problem = _node_args(node, consts, opset)
    x, elem = types.get(node.input[0], (None, 0)) if node.input else (None, 0)
    shapes: dict[str, tuple[int, ...]] = {}
    if node.op_type == "MaxUnpool":
        x = _max_unpool_x(node, args, x, types.get(node.output[0], (None, 0))[0] if node.output else None)
    if node.op_type == "ConvTranspose":
        for pos, key in ((1, "w"), (2, "b")):
            name = node.input[pos] if pos < len(node.input) else ""
            s = types.get(name, (None, 0))[0] if name else None
            if s is None and name in consts:
                s = tuple(consts[name].shape)
            if s is not None:
                shapes[key] = s
    if x is None:
        problem = "; ".join(filter(None, [problem, f"the shape of {node.input[0]!r} is not known after shape inference"]))
    note = "; ".join(filter(None, [_origin_note(node), problem]))
    o = node_origin(node)
    scope = o.get("scope")
    return RawSite(index, where, f"onnxruntime.{node.op_type}", args, OPS_OF[node.op_type],
                   {"x": x if x is not None else (), **shapes}, _dtype_name(elem), note=note,
                   origin="" if scope is None else (scope or "(model)"),
                   line=f"{os.path.basename(o['file'])}:{o['line']}" if "file" in o else "")


def capture_onnx(path: str | os.PathLike[str]) -> list[RawSite]:
    """Every upsampling node of the ONNX file at ``path``, in graph order, as a RawSite of its
    ``onnxruntime.*`` binding. AuditError for a missing or invalid file.

    Example (a Resize whose sizes come from an initializer):
        >>> import onnx, tempfile, os
        >>> from onnx import helper, numpy_helper, TensorProto
        >>> g = helper.make_graph([helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="linear")], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        ...     [numpy_helper.from_array(np.array([1, 2, 8, 6], np.int64), "s")])
        >>> p = os.path.join(tempfile.mkdtemp(), "m.onnx")
        >>> onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)]), p)
        >>> capture_onnx(p)[0].written()
        "onnxruntime.Resize(x, mode='linear', sizes=[1, 2, 8, 6])"
    """
    return sites_of_model(load_model(path))


def graph_input(model: Any) -> tuple[str, list[int], str]:
    """The first graph input that is not an initializer: (name, shape with -1 for a symbolic dim, dtype)."""
    inits = {t.name for t in model.graph.initializer}
    for v in model.graph.input:
        if v.name not in inits:
            tt = v.type.tensor_type
            dims = [int(d.dim_value) if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            return v.name, dims, _dtype_name(int(tt.elem_type))
    return "", [], "float32"


def load(spec: str) -> Any:
    """The ONNX model at ``spec`` (AuditError for a missing or invalid file)."""
    return load_model(spec)


def capture(model: Any, input_shape: Sequence[int] = (), dtype: str = "float32") -> list[RawSite]:
    """Every site of the model, shapes by shape inference. ``input_shape`` (--input-shape) fixes the first
    graph input's dimensions first (a file exported with a symbolic batch has no static shapes without it);
    it must agree with every static dimension the file declares. ``dtype`` overrides the graph's where given
    as another than its own."""
    if input_shape:
        import copy

        name, own_shape, _ = graph_input(model)
        if len(own_shape) != len(input_shape) or any(o not in (-1, int(v)) for o, v in zip(own_shape, input_shape)):
            raise AuditError(f"--input-shape {list(input_shape)} does not fit the graph input {name!r} "
                             f"{['?' if o == -1 else o for o in own_shape]}")
        model = copy.deepcopy(model)
        inp = next(v for v in model.graph.input if v.name == name)
        for d, v in zip(inp.type.tensor_type.shape.dim, input_shape):
            d.ClearField("dim_param")
            d.dim_value = int(v)
    sites = sites_of_model(model)
    _, _, own = graph_input(model)
    if dtype and dtype != own:
        for r in sites:
            r.dtype = dtype
    return sites


def input_of(model: Any) -> tuple[list[int], str] | None:
    """The graph's first input: (shape, dtype)."""
    _, shape, dtype = graph_input(model)
    return shape, dtype


# ----------------------------------------------------------------------------------- export


@cache
def _export_dir() -> str:
    d = tempfile.mkdtemp(prefix="upconform-audit-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    return d


def export_torch_onnx(model: Any, input_shape: Sequence[int], *, dtype: str = "float32", seed: int = SEED) -> str:
    """Export ``model`` with ``torch.onnx.export(dynamo=True)`` (the torch onnx path's exporter: default
    opset, default optimisation, shared translation table, console output silenced) on the seeded input
    that :func:`capture_torch` runs, to a temporary .onnx file (removed at exit); its path."""
    import torch

    from .torch_paths import _quiet, export_onnx

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*[int(v) for v in input_shape], generator=g).to(getattr(torch, dtype))
    model.eval()
    try:
        with _quiet(), torch.no_grad():
            program = export_onnx(model, [x])
    except Exception as e:  # noqa: BLE001 - the exporter's failure, one line
        raise AuditError(f"torch.onnx.export failed: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e) else ''}"
                         ) from None
    fd, path = tempfile.mkstemp(suffix=".onnx", dir=_export_dir())
    os.close(fd)
    with _quiet():
        program.save(path, external_data=False)
    return path


__all__ = ["capture", "capture_onnx", "export_torch_onnx", "graph_input", "input_of", "load", "load_model", "node_origin"]
