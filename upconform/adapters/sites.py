"""Model sources for ``upconform audit``: what a captured upsampling call is (:class:`RawSite`), and the
explicit registry of the kinds of model a site can be captured from (a PyTorch module factory, a Keras
model, an ONNX file), each a module beside its framework's bindings with ``load``, ``capture`` and
``input_of``.

Example:
    >>> s = RawSite(0, "up", "b.interpolate", {"scale_factor": 2.0}, "resize", {"x": (1, 3, 4, 4)}, "float32")
    >>> s.written()
    'b.interpolate(x, scale_factor=2.0)'
    >>> source_for("model.onnx").name, source_for("pkg.models:unet").name
    ('onnx', 'torch')
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEED = 20261201


class AuditError(Exception):
    """A usage problem (exit 2): an unimportable factory, a shape the model rejects; one line, no traceback."""


@dataclass
class RawSite:
    """One upsampling call as the model made it: where, which API (a registered binding, or a name with a
    note saying why none stands for it), the arguments it passed (keyword form, tensors left out), the
    canonical shapes of its tensors (NCHW; weights (C_in, C_out/groups, *k)) and its dtype."""

    index: int
    where: str  # module path (PyTorch), layer or op name (Keras), node name (ONNX)
    binding: str
    args: dict[str, Any]
    op: str
    shapes: dict[str, tuple[int, ...]]
    dtype: str
    note: str = ""  # e.g. "inside nn.Upsample(...)"; for a call no binding stands for: why
    # an exported node's source as its exporter recorded it: the module path ("(model)" for the model itself)
    origin: str = ""
    line: str = ""  # "file.py:42": the model's source line that made the call (or that an exporter recorded)

    def written(self) -> str:
        """The call as the code wrote it (tensors as x, w, b)."""
        tensors = [t for t in ("x", "w", "b") if t in self.shapes]
        return f"{self.binding}({', '.join(tensors + [f'{k}={v!r}' for k, v in self.args.items()])})"


def load_factory(spec: str) -> Callable[[], Any]:
    """``package.module:factory`` (or ``path/to/file.py:factory``) -> the factory callable (AuditError if not).

    Example:
        >>> load_factory("os.path:join")("a", "b")
        'a/b'
    """
    if ":" not in spec:
        raise AuditError(f"{spec!r}: expected module:factory (a callable returning the model)")
    mod_name, attr = spec.rsplit(":", 1)
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.exists():
                raise AuditError(f"{mod_name}: no such file")
            s = importlib.util.spec_from_file_location(path.stem, path)
            assert s is not None and s.loader is not None
            module = importlib.util.module_from_spec(s)
            s.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except AuditError:
        raise
    except Exception as e:  # noqa: BLE001 - the user's module failed to import: one line
        raise AuditError(f"cannot import {mod_name}: {type(e).__name__}: {e}") from None
    fn = getattr(module, attr, None)
    if fn is None or not callable(fn):
        raise AuditError(f"{mod_name} has no callable {attr!r}")
    return fn


@dataclass(frozen=True)
class ModelSource:
    """A kind of model: its framework, the file suffixes it reads, and the adapters module that implements
    ``load(spec) -> model``, ``capture(model, input_shape, dtype) -> [RawSite]`` and ``input_of(model) ->
    (shape, dtype) | None`` (the model's own input, where it declares one). ``exports`` maps an export
    format to the model source that reads it and the function (in ``module``) that writes it."""

    name: str
    framework: str
    module: str
    suffixes: tuple[str, ...] = ()
    shape_help: str = "N,C,H,W"
    exports: tuple[tuple[str, str, str], ...] = ()  # (format, reading source, "module:function")

    def _mod(self) -> Any:
        return importlib.import_module(self.module)

    def load(self, spec: str) -> Any:
        return self._mod().load(spec)

    def capture(self, model: Any, input_shape: Sequence[int], dtype: str) -> list[RawSite]:
        return self._mod().capture(model, input_shape, dtype)

    def input_of(self, model: Any) -> tuple[list[int], str] | None:
        return self._mod().input_of(model)

    def export(self, fmt: str, model: Any, input_shape: Sequence[int], dtype: str) -> tuple[ModelSource, str]:
        """Export ``model`` as ``fmt``: (the source that reads the result, its path)."""
        for f, reader, fn in self.exports:
            if f == fmt:
                mod, name = fn.split(":")
                return MODEL_SOURCES[reader], getattr(importlib.import_module(mod), name)(model, input_shape, dtype=dtype)
        raise AuditError(f"--export {fmt}: a {self.name} model exports only to {[f for f, _, _ in self.exports]}")


MODEL_SOURCES: dict[str, ModelSource] = {
    "torch": ModelSource("torch", "torch", "upconform.adapters.audit_torch", (), "N,C,H,W",
                         (("onnx", "onnx", "upconform.adapters.audit_onnx:export_torch_onnx"),)),
    "keras": ModelSource("keras", "tensorflow", "upconform.adapters.audit_keras", (".keras", ".h5"), "N,H,W,C"),
    "onnx": ModelSource("onnx", "onnxruntime", "upconform.adapters.audit_onnx", (".onnx",), "(the file's own)"),
}

# target names for ports that name a format rather than a framework: --to onnx measures on ONNX Runtime
TARGET_ALIASES = {"onnx": "onnxruntime"}


def source_for(spec: str, kind: str | None = None) -> ModelSource:
    """The model source of ``spec``: ``kind`` when given, else by file suffix, else a PyTorch factory."""
    if kind is not None:
        if kind not in MODEL_SOURCES:
            raise AuditError(f"--source: {kind!r} is not one of {list(MODEL_SOURCES)}")
        return MODEL_SOURCES[kind]
    for src in MODEL_SOURCES.values():
        if any(spec.endswith(s) for s in src.suffixes):
            return src
    return MODEL_SOURCES["torch"]
