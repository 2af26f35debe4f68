"""``upconform port``: the ported call, measured. For a native call and a target framework, every
candidate (each target binding's translation of the call's canonical meaning and of its canonical
neighbours, and the composite ports of ``adapters/ports.py``) is written as a runnable snippet,
executed on the user's shape with seeded inputs (the operator record's ``port_inputs``: normal
values, plus distinct integers or ties where index choices matter), and compared with the source
call's own output at the dtype tolerance. Exact candidates first, then the closest by max error;
beside each, the canonical parameters that differ and, for a candidate equal at this shape with
different parameters, whether the same call stays equal on other input shapes.

The harness only ranks and prints: what a framework's code looks like is in ``adapters/ports.py``.

Example:
    >>> _fmt_err(None), _fmt_err(0.0), _fmt_err(1.5e-7)
    ('n/a', '0', '1.5e-07')
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..adapters import NativeCall, Unsupported, get, ports, registry
from ..adapters import framework as framework_of_name
from ..canonical import DEFAULT_TOLERANCES, Case, freeze, generate, op_info, plain
from .compare import compare
from .discrepancy import differing_params

SEED = 20261125


class PortError(Exception):
    """The question cannot be answered as asked (usage: exit 2); the message says what is needed."""


@dataclass
class Candidate:
    """One candidate port and what measuring it found."""

    snippet: ports.Snippet
    how: str  # "" (the call's own meaning) or the variant's label
    meaning: dict[str, Any] | None
    overrides: dict[str, Any] | None = None  # the variant's parameter overrides (probing)
    exact: bool = False
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    per_input: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    differs: dict[str, list[Any]] = field(default_factory=dict)
    probes: list[str] = field(default_factory=list)

    def sort_key(self) -> tuple[Any, ...]:
        err = math.inf if self.max_abs_err is None or math.isnan(self.max_abs_err) else self.max_abs_err
        return (not self.exact, bool(self.snippet.deprecated), bool(self.differs), self.snippet.composite, err)


@dataclass
class Advice:
    source: str
    args: dict[str, Any]
    op: str
    shapes: dict[str, tuple[int, ...]]
    target: str
    meaning: dict[str, Any]
    assumptions: list[str]
    inputs: list[str]
    dtype: str
    candidates: list[Candidate]
    source_vs_reference: str
    skipped: list[str]

    @property
    def exact(self) -> list[Candidate]:
        return [c for c in self.candidates if c.exact]

    @property
    def approximate(self) -> list[Candidate]:
        return [c for c in self.candidates if not c.exact and c.error is None]

    def exit_code(self) -> int:
        return 0 if self.exact else 1


def resolve_shapes(binding: Any, args: Mapping[str, Any], op: str, x: tuple[int, ...] | None,
                   weight: tuple[int, ...] | None, bias: bool | None) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """The tensor shapes the answer is measured on, and every assumption made: the call's own arguments
    (a module's channels and kernel size) first, then ``--weight-shape``/``--bias``. A tensor the
    operator needs that neither gives is refused (PortError), never assumed."""
    if x is None:
        raise PortError("port needs the input shape: --shape N,C,H,W (canonical NCHW); the advice is measured on it")
    if 0 in tuple(x):
        raise PortError(f"--shape {list(x)} has an empty axis: the advice is measured on data, and empty outputs "
                        "agree with anything")
    info = op_info(op)
    shapes: dict[str, tuple[int, ...]] = {"x": tuple(x)}
    notes: list[str] = []
    implied = binding.implied_shapes(args, tuple(x))
    needs = [t for t in info.tensors if t != "x"]
    for t in needs:
        if t == "w" and weight is not None:
            if "w" in implied and tuple(implied["w"]) != tuple(weight):
                raise PortError(f"--weight-shape {list(weight)} contradicts the call's own arguments, which "
                                f"give {list(implied['w'])}")
            shapes["w"] = tuple(weight)
        elif t in implied:
            shapes[t] = tuple(implied[t])
            notes.append(f"weight shape {list(implied[t])} (C_in, C_out/groups, *k) from the call's arguments")
        else:
            raise PortError(f"the answer depends on the weight shape: give --weight-shape C_in,C_out/groups,kH,kW "
                            f"(canonical, as PyTorch's ConvTranspose weight) for {binding.name}")
    for t in info.optional_tensors:
        if t in implied and bias is not False:
            shapes[t] = tuple(implied[t])
            notes.append(f"a bias {list(implied[t])}, as the call's arguments say")
        elif bias and "w" in shapes:
            c_out = _out_channels(shapes, args)
            shapes[t] = (c_out,)
            notes.append(f"a bias ({c_out},) (--bias)")
        elif needs:
            notes.append("no bias (--bias adds one)")
    return shapes, notes


def _out_channels(shapes: Mapping[str, tuple[int, ...]], args: Mapping[str, Any]) -> int:
    g = args.get("groups", 1)
    return int(shapes["w"][1]) * (int(g) if isinstance(g, int) else 1)


def _case(op: str, meaning: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], dtype: str) -> Case:
    derived = op_info(op).derived
    return Case(id=f"{op}/port[{dtype}]", op=op, name="port", dtype=dtype,
                params=freeze({k: v for k, v in meaning.items() if k not in derived}),
                shapes=MappingProxyType(dict(shapes)), normal=freeze(dict(meaning)))


def candidates(op: str, meaning: dict[str, Any], shapes: dict[str, tuple[int, ...]], target: str, source: Any,
               dtype: str = "float32") -> tuple[list[Candidate], list[str]]:
    """Every candidate port (deduplicated by its code) and why other bindings gave none."""
    info = op_info(op)
    base = _case(op, meaning, shapes, dtype)
    variants: list[tuple[str, dict[str, Any] | None, Case]] = [("", None, base)]
    for label, over in info.variants(meaning, shapes):
        try:
            vm = info.apply_variant(meaning, over, shapes)
        except (ValueError, TypeError, KeyError):
            continue
        variants.append((label, over, _case(op, vm, shapes, dtype)))
    names = [n for n in registry() if get(n).framework == target and op in get(n).ops]
    out: dict[str, Candidate] = {}
    skipped: dict[str, str] = {}
    for s in ports.composites(target, base, source):
        out.setdefault(s.code, Candidate(s, "", dict(meaning)))
    for label, over, case in variants:
        for name in names:
            b = get(name)
            call = b.unsupported_reading(case) or b.to_native(case)
            if isinstance(call, Unsupported):
                if not label:
                    skipped[name] = call.reason
                continue
            s = ports.snippet(b, call, case, source)
            if isinstance(s, Unsupported):
                skipped[name] = s.reason
                continue
            skipped.pop(name, None)
            out.setdefault(s.code, Candidate(s, label, plain(case.normal), over))
    return list(out.values()), [f"{n}: {r}" for n, r in skipped.items()]


def _tensors(op: str, gen: str, shapes: Mapping[str, tuple[int, ...]], dtype: str) -> dict[str, np.ndarray]:
    t = {"x": generate(gen, {}, tuple(shapes["x"]), dtype, SEED)}
    t.update(op_info(op).extra_tensors(shapes, dtype, SEED))
    return t


def run_snippet(code: str, arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """Execute a printed snippet on copies of the source arrays; its ``y``."""
    ns: dict[str, Any] = {k: np.array(v, copy=True) for k, v in arrays.items()}
    exec(compile(code, "<port snippet>", "exec"), ns)  # noqa: S102 - our own printed snippet, run as printed
    if "y" not in ns:
        raise RuntimeError("the snippet assigned no y")
    return np.asarray(ns["y"])


def _fmt_err(v: float | None) -> str:
    if v is None:
        return "n/a"
    return "0" if v == 0 else f"{v:.2g}"


def port(source_name: str, args: dict[str, Any], target: str, *, x: tuple[int, ...] | None,
         weight: tuple[int, ...] | None = None, bias: bool | None = None, op: str | None = None,
         dtype: str = "float32") -> Advice:
    """The measured, ranked advice for porting ``source_name(**args)`` to framework ``target``."""
    try:
        src = get(source_name)
    except KeyError as e:
        raise PortError(str(e.args[0])) from None
    try:
        fw = framework_of_name(target).name
    except KeyError as e:
        raise PortError(f"--to: {e.args[0]}") from None
    op = op or src.ops[0]
    if op not in src.ops:
        raise PortError(f"--op: {source_name} serves {list(src.ops)}, not {op!r}")
    try:
        src.validate_args(args)
    except (TypeError, ValueError) as e:
        raise PortError(str(e)) from None
    shapes, assumptions = resolve_shapes(src, args, op, x, weight, bias)
    try:
        meaning = src.from_native(args, shapes, op=op)
    except (TypeError, ValueError) as e:
        raise PortError(f"{source_name}: {e}") from None
    if isinstance(meaning, Unsupported):
        raise PortError(f"{source_name}({_args_text(args)}) on {list(shapes['x'])} has no canonical meaning: "
                        f"{meaning.reason}")
    meaning = plain(meaning)
    info = op_info(op)
    cands, skipped = candidates(op, meaning, shapes, fw, src, dtype)
    tol = DEFAULT_TOLERANCES[dtype]
    src_call = NativeCall(source_name, args)
    ref_notes = []
    for gen in info.port_inputs:
        tensors = _tensors(op, gen, shapes, dtype)
        try:
            want = src.run(src_call, tensors)
        except Exception as e:  # noqa: BLE001 - the framework's own error, reported
            raise PortError(f"{source_name}({_args_text(args)}) raised on {list(shapes['x'])}: "
                            f"{type(e).__name__}: {e}") from None
        ref = compare(want, info.expected(tensors, meaning), dtype, tol)
        ref_notes.append(f"{gen}: {'conforms' if ref.ok else 'DOES NOT conform'} "
                         f"(max abs {_fmt_err(ref.metrics.get('max_abs_err'))})")
        arrays = ports.source_arrays(src, tensors)
        for c in cands:
            if c.error:
                continue
            try:
                y = run_snippet(c.snippet.code, arrays)
            except Exception as e:  # noqa: BLE001 - the candidate raised: reported, not ranked
                c.error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
                continue
            if y.dtype != want.dtype and y.dtype.kind == "f":
                y = y.astype(want.dtype)
            cmp = compare(y, want.astype(np.float64), dtype, tol)
            if cmp.check == "shape":
                c.per_input[gen] = cmp.message
                c.max_abs_err = math.inf
                c.exact = False
                c.per_input["_failed"] = "1"
                continue
            c.per_input[gen] = "equal" if cmp.ok else f"max abs {_fmt_err(cmp.metrics.get('max_abs_err'))}"
            c.max_abs_err = max(c.max_abs_err or 0.0, cmp.metrics.get("max_abs_err", math.inf))
            c.max_rel_err = max(c.max_rel_err or 0.0, cmp.metrics.get("max_rel_err", math.inf))
            if not cmp.ok:
                c.per_input["_failed"] = "1"
    for c in cands:
        c.exact = c.error is None and "_failed" not in c.per_input and bool(c.per_input)
        c.per_input.pop("_failed", None)
        c.differs = differing_params(meaning, c.meaning)
        if c.exact and c.differs and c.overrides is not None:
            c.probes = _probe(src, args, op, shapes, c.overrides, dtype, c.how)
    cands.sort(key=Candidate.sort_key)
    return Advice(source_name, dict(args), op, shapes, fw, meaning, assumptions, list(info.port_inputs), dtype,
                  cands, "; ".join(ref_notes), skipped)


def _probe(src: Any, args: Mapping[str, Any], op: str, shapes: Mapping[str, tuple[int, ...]],
           overrides: Mapping[str, Any], dtype: str, label: str = "") -> list[str]:
    """Whether the variant stays equal to the source call on other inputs (by the reference). A variant
    that depends on the shape (the output size in place of a scale) is derived again at each probe
    shape, by its label."""
    info = op_info(op)
    out = []
    for ps in info.probe_shapes(shapes):
        try:
            m = src.from_native(args, ps, op=op)
            if isinstance(m, Unsupported):
                continue
            m = plain(m)
            again = dict(info.variants(m, ps)).get(label, overrides) if label else overrides
            v = info.apply_variant(m, again, ps)
        except (TypeError, ValueError, KeyError):
            continue
        worst = 0.0
        for gen in info.port_inputs:
            t = _tensors(op, gen, ps, "float64")
            a, b = info.expected(t, m), info.expected(t, v)
            worst = max(worst, float(np.max(np.abs(a - b))) if a.shape == b.shape and a.size else
                        (math.inf if a.shape != b.shape else 0.0))
        where = f"{'x'.join(map(str, ps['x'][2:]))} -> {'x'.join(map(str, info.output_shape(m, ps)[2:]))}"
        out.append(f"equal for the same call on {where}" if worst <= 1e-9 else
                   f"DIFFERS for the same call on {where} (max abs {_fmt_err(worst)})")
    return out


def _args_text(args: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def _params_text(d: Mapping[str, list[Any]]) -> str:
    return "; ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in d.items())


def explanation(c: Candidate) -> str:
    """The parameter-level explanation printed beside a candidate."""
    if c.error:
        return f"raised: {c.error}"
    if not c.differs:
        base = "same canonical meaning" if not c.snippet.composite else "same canonical meaning, as a composite"
        return base if c.exact else f"{base}, yet the outputs differ (an implementation difference)"
    why = f"parameters differ ({_params_text(c.differs)})"
    if c.how and not re.match(r"^\w+=", c.how):  # a label that explains, not one that lists the overrides
        why += f"; {c.how}"
    if c.exact:
        why = f"{why}; equal at this shape"
        if c.probes:
            why += "; " + "; ".join(c.probes)
    return why


def format_advice(a: Advice, *, top: int = 3, code: bool = True) -> str:
    """The text ``upconform port`` prints."""
    lines = [f"{a.source}({_args_text(a.args)}) on input {list(a.shapes['x'])} (NCHW), {a.dtype}"]
    lines.append(f"  canonical {a.op}: " + ", ".join(f"{k}={v}" for k, v in a.meaning.items()))
    lines.append("  assumptions: " + ("; ".join(a.assumptions) if a.assumptions else "none (every shape given)"))
    tol = DEFAULT_TOLERANCES[a.dtype]
    lines.append(f"  measured on: {', '.join(a.inputs)} inputs (seed {SEED}) against {a.source}'s own output, "
                 f"{a.dtype} tolerance atol {tol.atol:g} + rtol {tol.rtol:g} * |expected|")
    lines.append(f"  {a.source} vs the reference of its meaning: {a.source_vs_reference}")
    doc = ports.inputs_doc(get(a.source), a.shapes, a.op)
    lines.append(f"  snippets read {doc}; they assign y (NCHW numpy)")
    lines.append("")
    ex, ap = a.exact, a.approximate
    if ex:
        lines.append(f"exact ports to {a.target} ({len(ex)}):")
        for i, c in enumerate(ex, 1):
            lines += _candidate_lines(i, c, code)
    else:
        lines.append(f"no exact port to {a.target} on this shape")
    shown = ap[:top]
    if shown:
        lines.append("")
        lines.append(f"closest non-exact {a.target} calls ({len(shown)} of {len(ap)}), by measured error:")
        for i, c in enumerate(shown, 1):
            lines += _candidate_lines(i, c, code and not ex)
    if a.skipped:
        lines.append("")
        lines.append(f"{a.target} bindings with no port here:")
        lines += [f"  {s}" for s in a.skipped]
    return "\n".join(lines)


def _candidate_lines(i: int, c: Candidate, code: bool) -> list[str]:
    kind = "EXACT" if c.exact else f"max abs error {_fmt_err(c.max_abs_err)}"
    if c.exact and c.max_abs_err:
        kind += f" (max abs {_fmt_err(c.max_abs_err)}, within tolerance)"
    per = ", ".join(f"{g}: {v}" for g, v in c.per_input.items())
    out = [f"  {i}. {c.snippet.title}", f"     {kind}; {per}" if per else f"     {kind}",
           f"     {explanation(c)}"]
    for n in c.snippet.notes:
        out.append(f"     - {n}")
    if c.snippet.deprecated:
        out.append(f"     DEPRECATED: {c.snippet.deprecated}")
    if code:
        out.append("     ```python")
        out += [f"     {line}" if line else "" for line in c.snippet.code.rstrip("\n").splitlines()]
        out.append("     ```")
    return out
