"""``upconform audit``: every upsampling site of a real model, explained, checked and ported.

A model is run once on a seeded input and every upsampling call it makes is captured with the
arguments its code actually passes and the shapes it actually meets (a *site*). Each site then gets:
its canonical meaning (the binding's ``from_native``), a verdict (the framework's output against the
reference on that site's shape and dtype, through the normal check), and for each target framework
the exact equivalent call, or the closest one with its measured error (``harness.port``).

Capture is per source: PyTorch modules here (a ``TorchFunctionMode`` sees every functional call,
including those inside ``nn.Upsample``, ``nn.ConvTranspose2d``, ``nn.PixelShuffle`` and
``nn.MaxUnpool2d``; forward hooks name the innermost module); Keras models and ONNX files in
``audit_keras.py`` and ``audit_onnx.py``. All produce :class:`RawSite` records; judging, pairing and
output are shared.

Example:
    >>> s = RawSite(0, "up", "torch.nn.functional.interpolate", {"scale_factor": 2.0}, "resize",
    ...             {"x": (1, 3, 4, 4)}, "float32")
    >>> s.written()
    'torch.nn.functional.interpolate(x, scale_factor=2.0)'
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..adapters import Unsupported, get
from ..canonical import Case, freeze, op_info, plain

SEED = 20261201


class AuditError(Exception):
    """A usage problem (exit 2): an unimportable factory, a shape the model rejects; one line, no traceback."""


@dataclass
class RawSite:
    """One upsampling call as the model made it: where, which API, the arguments it passed (keyword form,
    tensors left out), the canonical shapes of its tensors and its dtype."""

    index: int
    where: str  # module path (PyTorch), layer or op name (Keras), node name (ONNX)
    binding: str
    args: dict[str, Any]
    op: str
    shapes: dict[str, tuple[int, ...]]
    dtype: str
    note: str = ""  # e.g. "inside nn.Upsample"
    # an exported node's source, as its exporter recorded it: the module path ("(model)" for the model
    # itself), "" when unknown; pairing matches it with a source site's ``where``
    origin: str = ""
    line: str = ""  # "file.py:42": the source line that made the call (PyTorch) or that the exporter recorded

    def written(self) -> str:
        """The call as the code wrote it (tensors as x, w, b)."""
        tensors = [t for t in ("x", "w", "b") if t in self.shapes]
        return f"{self.binding}({', '.join(tensors + [f'{k}={v!r}' for k, v in self.args.items()])})"


@dataclass
class Site:
    """A judged site: its meaning, verdict and ports."""

    raw: RawSite
    meaning: dict[str, Any] | None = None
    no_meaning: str = ""
    outcome: str = "unsupported"
    reason: str = ""
    max_abs_err: float | None = None
    ports: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def bad(self) -> bool:
        """Does not conform, or has no exact equivalent in a requested target."""
        from .outcome import is_bad

        return is_bad(self.outcome) or any(not p.get("exact") for p in self.ports.values())

    def to_json(self) -> dict[str, Any]:
        r = self.raw
        return {"index": r.index, "where": r.where, "binding": r.binding, "args": plain(r.args), "op": r.op,
                "shapes": {k: list(v) for k, v in r.shapes.items()}, "dtype": r.dtype, "note": r.note,
                "written": r.written(), "meaning": plain(self.meaning) if self.meaning is not None else None,
                "no_meaning": self.no_meaning, "outcome": self.outcome, "reason": self.reason,
                "max_abs_err": self.max_abs_err, "ports": self.ports}


# ----------------------------------------------------------------------------------- loading


def load_factory(spec: str) -> Callable[[], Any]:
    """``package.module:factory`` (or ``path/to/file.py:factory``) -> the factory callable (AuditError if not)."""
    if ":" not in spec:
        raise AuditError(f"{spec!r}: expected module:factory (a callable returning the model)")
    mod_name, attr = spec.rsplit(":", 1)
    try:
        if mod_name.endswith(".py"):
            from pathlib import Path

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


# ----------------------------------------------------------------------------------- PyTorch capture

# the functions whose calls are sites, by name: (binding, op, tensor arguments in order -> canonical names)
_TORCH_FUNCTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "interpolate": ("torch.nn.functional.interpolate", "resize", ("input",)),
    "conv_transpose1d": ("torch.nn.functional.conv_transpose1d", "conv_transpose", ("input", "weight", "bias")),
    "conv_transpose2d": ("torch.nn.functional.conv_transpose2d", "conv_transpose", ("input", "weight", "bias")),
    "conv_transpose3d": ("torch.nn.functional.conv_transpose3d", "conv_transpose", ("input", "weight", "bias")),
    "pixel_shuffle": ("torch.nn.functional.pixel_shuffle", "pixel_shuffle", ("input",)),
    "pixel_unshuffle": ("torch.nn.functional.pixel_unshuffle", "pixel_unshuffle", ("input",)),
    "max_unpool1d": ("torch.nn.functional.max_unpool1d", "max_unpool", ("input", "indices")),
    "max_unpool2d": ("torch.nn.functional.max_unpool2d", "max_unpool", ("input", "indices")),
    "max_unpool3d": ("torch.nn.functional.max_unpool3d", "max_unpool", ("input", "indices")),
    "repeat_interleave": ("torch.repeat_interleave", "repeat", ("input", "self")),
}
_TENSOR_NAMES = {"input": "x", "self": "x", "weight": "w", "bias": "b"}
# arguments left out of "the call as written" when they hold the function's default (modules pass all)
_DEFAULTS: dict[str, dict[str, Any]] = {
    "interpolate": {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None,
                    "recompute_scale_factor": None, "antialias": False},
    **{f"conv_transpose{k}d": {"stride": [1] * k, "padding": [0] * k, "output_padding": [0] * k, "groups": 1,
                               "dilation": [1] * k} for k in (1, 2, 3)},
    **{f"max_unpool{k}d": {"padding": [0] * k, "output_size": None} for k in (1, 2, 3)},
    "repeat_interleave": {"output_size": None},
}


def _is_default(name: str, key: str, v: Any) -> bool:
    d = _DEFAULTS.get(name, {})
    if key not in d:
        return False
    want = d[key]
    if isinstance(want, list) and isinstance(v, int):
        return all(v == w for w in want)
    return v == want


def _torch_targets() -> dict[Any, str]:
    """The callables a TorchFunctionMode sees for each site function (functional and Tensor method forms)."""
    import torch
    import torch.nn.functional as F

    out: dict[Any, str] = {}
    for name in _TORCH_FUNCTIONS:
        for owner in (F, torch):
            fn = getattr(owner, name, None)
            if fn is not None:
                out[fn] = name
    out[torch.Tensor.repeat_interleave] = "repeat_interleave"
    return out


def _signature(name: str) -> inspect.Signature | None:
    import torch.nn.functional as F

    fn = getattr(F, name, None)
    if fn is None:
        return None
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


_POSITIONAL = {  # torch C functions without a Python signature: their parameters in order
    "conv_transpose1d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose3d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "pixel_shuffle": ("input", "upscale_factor"),
    "pixel_unshuffle": ("input", "downscale_factor"),
    "repeat_interleave": ("input", "repeats", "dim", "output_size"),
}


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by name, as passed (defaults not filled in)."""
    sig = _signature(name) if name not in _POSITIONAL else None
    if sig is not None:
        return dict(sig.bind_partial(*args, **kwargs).arguments)
    names = _POSITIONAL[name]
    out = dict(zip(names, args))
    out.update(kwargs)
    return out


def _torch_dtype(t: Any) -> str:
    return str(t.dtype).replace("torch.", "")


def _plain_value(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain_value(x) for x in v]
    if isinstance(v, list):
        return [_plain_value(x) for x in v]
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    return v


def _torch_site(index: int, where: str, note: str, name: str, bound: dict[str, Any], out: Any) -> RawSite | None:
    import torch

    binding, op, tensor_params = _TORCH_FUNCTIONS[name]
    shapes: dict[str, tuple[int, ...]] = {}
    args: dict[str, Any] = {}
    x = bound.get("input", bound.get("self"))
    if not isinstance(x, torch.Tensor):
        return None
    for k, v in bound.items():
        if k in tensor_params:
            if isinstance(v, torch.Tensor) and k in _TENSOR_NAMES:
                shapes[_TENSOR_NAMES[k]] = tuple(int(s) for s in v.shape)
            continue
        if isinstance(v, torch.Tensor):
            v = v.tolist()
        v = _plain_value(v)
        if not _is_default(name, k, v):
            args[k] = v
    if op == "max_unpool":  # the canonical case's x is the pooling input: the unpool's output shape
        shapes = {"x": tuple(int(s) for s in out.shape)}
    if op == "repeat" and (x.dim() < 3 or not isinstance(args.get("repeats"), int) or args.get("dim") is None):
        op_note = "a repeat_interleave that is not a uniform repeat of one spatial axis of an (N, C, ...) tensor"
        return RawSite(index, where, binding, args, op, {"x": tuple(x.shape)}, _torch_dtype(x), note=op_note)
    return RawSite(index, where, binding, args, op, shapes, _torch_dtype(x), note=note)


def _caller_line() -> str:
    """``file.py:line`` of the innermost frame outside torch and this module: the model's line that made
    the call (for a module's internal call, the line that called the module)."""
    import os
    import sys

    f = sys._getframe(1)
    here = os.path.abspath(__file__)
    while f is not None:
        name = os.path.abspath(f.f_code.co_filename)
        if name != here and f"{os.sep}torch{os.sep}" not in name:
            return f"{os.path.basename(name)}:{f.f_lineno}"
        f = f.f_back
    return ""


def capture_torch(model: Any, input_shape: Sequence[int], *, dtype: str = "float32", seed: int = SEED) -> list[RawSite]:
    """Run ``model`` once on a seeded N(0, 1) input of ``input_shape`` and return every site it calls, in
    call order. AuditError when the model rejects the input."""
    import torch
    from torch.overrides import TorchFunctionMode

    targets = _torch_targets()
    stack: list[str] = []
    kinds: list[str] = []
    names = {m: n for n, m in model.named_modules()}
    sites: list[RawSite] = []

    class Capture(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            name = targets.get(func)
            if name is not None:
                with torch._C.DisableTorchFunction():
                    where = stack[-1] if stack else "(model)"
                    note = f"inside {kinds[-1]}" if kinds and kinds[-1] not in ("",) else ""
                    site = _torch_site(len(sites), where, note, name, _bind(name, args, kwargs), out)
                if site is not None:
                    site.line = _caller_line()
                    sites.append(site)
            return out

    def pre(module: Any, _inputs: Any) -> None:
        stack.append(names.get(module) or "(model)")
        cls = type(module)
        if cls.__module__.startswith("torch.nn"):
            extra = module.extra_repr() if not list(module.children()) else ""
            kinds.append(f"nn.{cls.__name__}({extra})")
        else:
            kinds.append(cls.__name__)

    def post(module: Any, _inputs: Any, _out: Any) -> None:
        stack.pop()
        kinds.pop()

    hooks = [m.register_forward_pre_hook(pre) for m in model.modules()]
    hooks += [m.register_forward_hook(post) for m in model.modules()]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*[int(v) for v in input_shape], generator=g).to(getattr(torch, dtype))
    try:
        model.eval()
        with torch.no_grad(), Capture():
            model(x)
    except Exception as e:  # noqa: BLE001 - the model rejects the input: a usage error, one line
        raise AuditError(f"the model rejects an input of shape {list(input_shape)}: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}") from None
    finally:
        for h in hooks:
            h.remove()
    return sites


# ----------------------------------------------------------------------------------- judging


def judge(raw: Sequence[RawSite], targets: Sequence[str] = (), *, executor: Any = None) -> list[Site]:
    """Meaning, verdict and ports of every site (the verdict through the harness's ``check``: the site's
    binding on a case of its meaning, real shape and dtype; ports through ``harness.port``)."""
    from .port import PortError, port
    from .runner import check

    out = []
    for r in raw:
        s = Site(r)
        out.append(s)
        try:
            meaning = get(r.binding).from_native(dict(r.args), r.shapes, op=r.op)
        except KeyError:  # a call no binding of upconform's stands for (its note says what it is)
            meaning = Unsupported(r.note or f"{r.binding} is not a binding upconform knows")
        except Exception as e:  # noqa: BLE001
            meaning = Unsupported(f"the translation failed: {type(e).__name__}: {e}")
        if isinstance(meaning, Unsupported) or r.note.startswith("a repeat_interleave that is not"):
            s.no_meaning = r.note if r.note.startswith("a repeat_interleave") else meaning.reason
            s.outcome, s.reason = "unsupported", f"no canonical meaning: {s.no_meaning}"
            continue
        s.meaning = plain(meaning)
        info = op_info(r.op)
        try:
            case = Case(id=f"{r.op}/audit_{r.index}[{r.dtype}]", op=r.op, name=f"audit_{r.index}", dtype=r.dtype,
                        params=freeze({k: v for k, v in s.meaning.items() if k not in info.derived}),
                        shapes=MappingProxyType(dict(r.shapes)), source=f"{r.where}:0")
        except Exception as e:  # noqa: BLE001
            s.outcome, s.reason = "error", f"the reference rejects its meaning: {type(e).__name__}: {e}"
            continue
        from ..canonical import case_tensors, expected_output

        try:
            tensors = case_tensors(case)
            expected = expected_output(case, tensors)
            err = ""
        except Exception as e:  # noqa: BLE001
            tensors, expected, err = None, None, f"{type(e).__name__}: {e}"
        res = check(case, r.binding, tensors, expected, reference_error=err, executor=executor, timing_budget_s=0.0,
                    max_repeats=0)
        s.outcome, s.reason = str(res.outcome), res.reason
        s.max_abs_err = res.metrics.get("max_abs_err")
        for t in targets:
            try:
                dt = r.dtype if r.dtype in ("float32", "float64") else "float32"
                adv = port(r.binding, dict(r.args), t, x=r.shapes["x"], weight=r.shapes.get("w"),
                           bias="b" in r.shapes, op=r.op, dtype=dt)
            except PortError as e:
                s.ports[t] = {"exact": False, "none": str(e)}
                continue
            s.ports[t] = _port_summary(adv)
            if not s.ports[t].get("exact") and not s.ports[t].get("closest"):
                s.ports[t] = _binding_port(case, r, t) or s.ports[t]
    return out


def _binding_port(case: Case, r: RawSite, target: str) -> dict[str, Any] | None:
    """For a target without port snippets (ONNX runtimes): each of its bindings' translation of the site's
    meaning, run on the case's tensors and compared with the site's own call on the same tensors at the
    dtype tolerance; exact where equal, else the closest by max error. None when no binding translates it."""
    from ..adapters import NativeCall, registry
    from ..adapters import framework as framework_of_name
    from ..canonical import DEFAULT_TOLERANCES, case_tensors
    from .compare import compare

    fw = framework_of_name(target).name
    tensors = case_tensors(case)
    try:
        want = get(r.binding).run(NativeCall(r.binding, dict(r.args)), tensors)
    except Exception:  # noqa: BLE001 - the site's own call raised: no measure to port against
        return None
    best: dict[str, Any] | None = None
    for name in registry():
        b = get(name)
        if b.framework != fw or r.op not in b.ops:
            continue
        call = b.unsupported_reading(case) or b.to_native(case)
        if isinstance(call, Unsupported):
            continue
        try:
            y = b.run(call, tensors)
        except Exception:  # noqa: BLE001 - this target cannot run it here
            continue
        c = compare(y.astype(want.dtype) if y.dtype != want.dtype else y, want.astype(np.float64), case.dtype,
                    DEFAULT_TOLERANCES[case.dtype])
        title = call.render(tuple(t for t in ("x", "w", "b") if t in case.shapes))
        if c.ok:
            return {"exact": True, "call": title, "why": "the binding's translation of the site's meaning, measured"}
        err = c.metrics.get("max_abs_err")
        if best is None or (err is not None and err < (best.get("max_abs_err") or math.inf)):
            best = {"exact": False, "closest": title, "max_abs_err": err, "none": "no exact equivalent",
                    "why": c.message.splitlines()[0]}
    return best


def _port_summary(adv: Any) -> dict[str, Any]:
    from .port import explanation

    if adv.exact:
        c = adv.exact[0]
        return {"exact": True, "call": c.snippet.title, "why": explanation(c),
                "others": [x.snippet.title for x in adv.exact[1:3]]}
    if adv.approximate:
        c = adv.approximate[0]
        err = c.max_abs_err if c.max_abs_err is not None and math.isfinite(c.max_abs_err) else None
        return {"exact": False, "closest": c.snippet.title, "max_abs_err": err, "why": explanation(c),
                "none": "no exact equivalent"}
    raised = [c for c in adv.candidates if c.error]
    why = (f"{len(raised)} candidate(s) raised, e.g. {raised[0].snippet.title}: {raised[0].error}" if raised
           else "; ".join(adv.skipped[:2]) or "no call of this framework expresses it")
    return {"exact": False, "none": why}


# ----------------------------------------------------------------------------------- pairing (export)


def pair_sites(source: Sequence[Site], exported: Sequence[Site]) -> list[dict[str, Any]]:
    """Each source site with the exported site it became; the pairs whose canonical meanings differ name
    the differing parameters (source value first). Exported sites are matched per operator family by the
    module their exporter says they came from (``RawSite.origin``), in call order within a module, and by
    call order where no origin is recorded: a call the exporter wrote as generic nodes (no counterpart)
    then does not shift every later pair. A site with no counterpart is listed with ``missing``.

    Example:
        >>> a = Site(RawSite(0, "up", "b", {}, "resize", {"x": (1, 1, 2)}, "float32"), meaning={"mode": "linear"})
        >>> e = Site(RawSite(0, "n0", "o", {}, "resize", {"x": (1, 1, 2)}, "float32"), meaning={"mode": "cubic"})
        >>> pair_sites([a], [e])[0]["differs"]
        {'mode': ['linear', 'cubic']}
    """
    from .discrepancy import differing_params

    free = list(exported)  # each exported site pairs once
    recorded = any(x.raw.origin or x.raw.line for x in exported)

    def take(src: RawSite) -> Site | None:
        """The source line and module the exporter recorded; else the line; else the module; else (no
        record at all) call order per operator."""
        rules = [lambda e: bool(src.line) and e.raw.line == src.line and e.raw.origin == src.where,
                 lambda e: bool(src.line) and e.raw.line == src.line,
                 lambda e: bool(e.raw.origin) and e.raw.origin == src.where and not (src.line and e.raw.line)]
        if not recorded:
            rules.append(lambda e: True)
        for rule in rules:
            for e in free:
                if e.raw.op == src.op and rule(e):
                    free.remove(e)
                    return e
        return None

    pairs = []
    for s in source:
        e = take(s.raw)
        if e is None:
            pairs.append({"source": s.raw.index, "source_where": s.raw.where, "exported": None,
                          "missing": f"no exported node of this operator from {s.raw.where}"})
            continue
        diff = differing_params(s.meaning, e.meaning) if s.meaning is not None and e.meaning is not None else {}
        pairs.append({"source": s.raw.index, "source_where": s.raw.where, "exported": e.raw.index,
                      "exported_where": e.raw.where, "differs": diff,
                      "same": s.meaning is not None and e.meaning is not None and not diff,
                      **({"unreadable": e.no_meaning or s.no_meaning} if s.meaning is None or e.meaning is None else {})})
    return pairs


# ----------------------------------------------------------------------------------- the report


@dataclass
class Audit:
    model: str
    source: str  # torch | keras | onnx
    input_shape: list[int]
    dtype: str
    targets: list[str]
    sites: list[Site]
    exported: list[Site] | None = None
    pairs: list[dict[str, Any]] | None = None
    seconds: float = 0.0

    @property
    def bad(self) -> list[Site]:
        return [s for s in self.sites if s.bad]

    def exit_code(self) -> int:
        """1 when a site does not conform, has no exact equivalent in a requested target, or became a node
        that means another case in the export; 0 otherwise."""
        differs = any(p.get("differs") for p in self.pairs or [])
        return 1 if self.bad or differs else 0

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "source": self.source, "input_shape": self.input_shape, "dtype": self.dtype,
                "targets": self.targets, "seconds": round(self.seconds, 3), "sites": [s.to_json() for s in self.sites],
                "exported": [s.to_json() for s in self.exported] if self.exported is not None else None,
                "pairs": self.pairs, "exit_code": self.exit_code()}


def _meaning_text(m: Mapping[str, Any] | None) -> str:
    if m is None:
        return "-"
    return ", ".join(f"{k}={v}" if isinstance(v, str) else f"{k}={v!r}" for k, v in m.items())


def _port_text(p: Mapping[str, Any]) -> str:
    if p.get("exact"):
        return f"`{p['call']}`"
    if p.get("closest"):
        err = p.get("max_abs_err")
        return f"none exists; closest `{p['closest']}`" + (f", max error {err:.2g}" if err is not None else "")
    return f"none: {p.get('none', '')}"


def markdown(a: Audit) -> str:
    """A summary that fits a pull-request comment."""
    n_bad = len(a.bad)
    head = (f"### upconform audit: `{a.model}` ({a.source}, input {a.input_shape} {a.dtype})\n\n"
            f"{len(a.sites)} upsampling site(s); {n_bad} need attention"
            + (f"; targets: {', '.join(a.targets)}" if a.targets else "") + f" ({a.seconds:.1f} s)\n\n")
    cols = ["#", "where", "call as written", "verdict"] + [f"in {t}" for t in a.targets]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in a.sites:
        r = s.raw
        verdict = s.outcome + (f" ({s.max_abs_err:.2g})" if s.max_abs_err is not None and s.outcome != "pass" else "")
        cells = [str(r.index), f"`{r.where}`", f"`{r.written()}`", verdict] + [_port_text(s.ports.get(t, {}))
                                                                                  for t in a.targets]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    out = head + "\n".join(lines) + "\n"
    if a.pairs is not None:
        diff = [p for p in a.pairs if p.get("differs")]
        paired = [p for p in a.pairs if p.get("exported") is not None]
        out += (f"\nExport: {len(paired)} of {len(a.pairs)} site(s) paired with the node they became; "
                f"{len(diff)} mean another case" + (":" if diff else ".") + "\n")
        for p in a.pairs:
            if p.get("missing"):
                out += f"- site {p['source']} `{p['source_where']}`: {p['missing']} (exported as generic nodes)\n"
        for p in diff:
            ps = ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in p["differs"].items())
            out += f"- site {p['source']} `{p['source_where']}` -> node `{p['exported_where']}`: {ps}\n"
    return out


def text(a: Audit) -> str:
    """The terminal listing: each site with its meaning, verdict and ports."""
    lines = [f"upconform audit {a.model} ({a.source}), input {a.input_shape} {a.dtype}: {len(a.sites)} site(s), "
             f"{len(a.bad)} need attention, {a.seconds:.1f} s"]
    for s in a.sites:
        r = s.raw
        lines.append(f"  #{r.index} {r.where}{' (' + r.note + ')' if r.note else ''}")
        lines.append(f"      {r.written()} on {list(r.shapes['x'])} {r.dtype}")
        means = _meaning_text(s.meaning) if s.meaning is not None else "nothing canonical: " + s.no_meaning
        lines.append(f"      means {means}")
        lines.append(f"      {s.outcome}" + (f": {s.reason}" if s.reason else ""))
        for t, p in s.ports.items():
            lines.append(f"      in {t}: {_port_text(p).replace('`', '')}")
    for p in a.pairs or []:
        if p.get("differs"):
            ps = ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in p["differs"].items())
            lines.append(f"  export: site #{p['source']} {p['source_where']} became {p['exported_where']}, which "
                         f"means another case: {ps}")
        elif p.get("missing"):
            lines.append(f"  export: site #{p['source']}: {p['missing']}")
    return "\n".join(lines)


def audit_torch(factory: str, input_shape: Sequence[int], *, targets: Sequence[str] = (), dtype: str = "float32",
                export: str | None = None, executor: Any = None) -> Audit:
    """Audit a PyTorch model built by ``factory`` (``module:callable``) on a seeded input of ``input_shape``."""
    t0 = time.perf_counter()
    model = load_factory(factory)()
    raw = capture_torch(model, input_shape, dtype=dtype)
    a = Audit(factory, "torch", [int(v) for v in input_shape], dtype, list(targets),
              judge(raw, targets, executor=executor))
    if export == "onnx":
        from .audit_onnx import capture_onnx, export_torch_onnx

        path = export_torch_onnx(model, input_shape, dtype=dtype)
        a.exported = judge(capture_onnx(path), (), executor=executor)
        a.pairs = pair_sites(a.sites, a.exported)
    a.seconds = time.perf_counter() - t0
    return a


__all__ = ["Audit", "AuditError", "RawSite", "Site", "audit_torch", "capture_torch", "judge", "load_factory",
           "markdown", "pair_sites", "text"]

_ = np  # numpy is used by the capture modules that import from here
