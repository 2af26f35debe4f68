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

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from ..adapters import Unsupported, get
from ..adapters.sites import MODEL_SOURCES, TARGET_ALIASES, AuditError, ModelSource, RawSite, load_factory, source_for
from ..canonical import Case, freeze, op_info, plain


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
                "max_abs_err": self.max_abs_err, "ports": self.ports, "bad": self.bad}


# ----------------------------------------------------------------------------------- judging


def judge(raw: Sequence[RawSite], targets: Sequence[str] = (), *, executor: Any = None) -> list[Site]:
    """Meaning, verdict and ports of every site. The verdict runs the site's own call, as written, on the
    seeded tensors of a case of its meaning, shape and dtype, and compares it with the reference through
    the one comparison entry point at the dtype's tolerance; ports go through ``harness.port``. A site
    without a canonical meaning has no port in any target (it needs attention when targets are asked)."""
    from ..adapters import NativeCall
    from ..canonical import DEFAULT_TOLERANCES, case_tensors, expected_output
    from .compare import compare
    from .port import PortError, port

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
            s.ports = {t: {"exact": False, "none": "not ported: the call has no canonical meaning"} for t in targets}
            continue
        if r.dtype not in DEFAULT_TOLERANCES:
            s.meaning = plain(meaning)
            s.outcome = "unsupported"
            s.reason = f"{r.dtype} inputs are not checked (the tolerance table has {list(DEFAULT_TOLERANCES)})"
            s.ports = {t: {"exact": False, "none": f"not ported: {r.dtype} inputs are not checked"} for t in targets}
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
        try:
            tensors = case_tensors(case)
            expected = expected_output(case, tensors)
        except Exception as e:  # noqa: BLE001
            s.outcome, s.reason = "error", f"the reference rejects its meaning: {type(e).__name__}: {e}"
            continue
        actual = None
        try:
            actual = get(r.binding).run(NativeCall(r.binding, dict(r.args)), tensors)
        except Exception as e:  # noqa: BLE001 - the call as written raised on its own shape: the finding
            s.outcome, s.reason = "error", f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        else:
            c = compare(actual, expected, r.dtype, DEFAULT_TOLERANCES[r.dtype])
            s.outcome = "pass" if c.ok else "fail"
            s.reason = "" if c.ok else c.message.splitlines()[0]
            s.max_abs_err = c.metrics.get("max_abs_err")
        for t in targets:
            try:
                dt = r.dtype if r.dtype in ("float32", "float64") else "float32"
                adv = port(r.binding, dict(r.args), t, x=r.shapes["x"], weight=r.shapes.get("w"),
                           bias="b" in r.shapes, op=r.op, dtype=dt)
            except PortError as e:
                s.ports[t] = {"exact": False, "none": str(e)}
                continue
            s.ports[t] = _port_summary(adv)
            if not s.ports[t].get("exact") and not s.ports[t].get("closest") and actual is not None:
                s.ports[t] = _binding_port(case, r, t, tensors, actual) or s.ports[t]
    return out


def _binding_port(case: Case, r: RawSite, target: str, tensors: Mapping[str, np.ndarray],
                  want: np.ndarray) -> dict[str, Any] | None:
    """For a target without port snippets (ONNX runtimes): each of its bindings' translation of the site's
    meaning, run on the case's tensors and compared with the site's own output ``want`` on those tensors at
    the dtype tolerance; exact where equal, else the closest by max error. None when no binding translates it."""
    from ..adapters import framework as framework_of_name
    from ..adapters import registry
    from ..canonical import DEFAULT_TOLERANCES
    from .compare import compare

    fw = framework_of_name(target).name
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

    def lines(r: RawSite) -> set[str]:
        return set(filter(None, r.line.split(";")))  # a capture records every user frame of the call

    def rules(src: RawSite) -> list[Callable[[Site], bool]]:
        """The source line and module the exporter recorded; the line; the module; (no record) any."""
        out: list[Callable[[Site], bool]] = [
            lambda e: bool(lines(src) & lines(e.raw)) and e.raw.origin == src.where,
            lambda e: bool(lines(src) & lines(e.raw)) and e.raw.origin in ("", src.where),
            lambda e: bool(e.raw.origin) and e.raw.origin == src.where]
        if not recorded:
            out.append(lambda e: True)
        return out

    def take(s: Site, same_meaning: bool) -> Site | None:
        for rule in rules(s.raw):
            for e in free:
                if e.raw.op == s.raw.op and rule(e) and (not same_meaning or (e.meaning is not None
                                                                               and e.meaning == s.meaning)):
                    free.remove(e)
                    return e
        return None

    # first every site whose exported node means the same (a loop or a shared line cannot cross them over),
    # then the rest by the rules alone
    found: dict[int, Site] = {}
    for same in (True, False):
        for s in source:
            if s.raw.index not in found:
                e = take(s, same)
                if e is not None:
                    found[s.raw.index] = e
    pairs = []
    for s in source:
        e = found.get(s.raw.index)
        if e is None:
            pairs.append({"source": s.raw.index, "source_where": s.raw.where, "exported": None,
                          "missing": f"no exported node of this operator from {s.raw.where}"})
            continue
        diff = differing_params(s.meaning, e.meaning) if s.meaning is not None and e.meaning is not None else {}
        pairs.append({"source": s.raw.index, "source_where": s.raw.where, "exported": e.raw.index,
                      "exported_where": e.raw.where, "differs": diff,
                      "same": s.meaning is not None and e.meaning is not None and not diff,
                      **({"unreadable": e.no_meaning or s.no_meaning} if s.meaning is None or e.meaning is None else {})})
    for e in free:  # nodes no source site became: the exporter added them (listed, not a failure)
        pairs.append({"source": None, "exported": e.raw.index, "exported_where": e.raw.where,
                      "extra": f"an exported {e.raw.op} node that no source site became"})
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
    export_error: str = ""  # why --export failed (the source's own audit stands)

    @property
    def bad(self) -> list[Site]:
        return [s for s in self.sites if s.bad]

    def exit_code(self) -> int:
        """1 when a site does not conform, has no exact equivalent in a requested target, or became a node
        that means another case in the export; 0 otherwise."""
        differs = any(p.get("differs") for p in self.pairs or [])
        return 1 if self.bad or differs or self.export_error else 0

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "source": self.source, "input_shape": self.input_shape, "dtype": self.dtype,
                "targets": self.targets, "seconds": round(self.seconds, 3), "sites": [s.to_json() for s in self.sites],
                "exported": [s.to_json() for s in self.exported] if self.exported is not None else None,
                "pairs": self.pairs, "export_error": self.export_error, "exit_code": self.exit_code()}


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
        paired = [p for p in a.pairs if p.get("exported") is not None and p.get("source") is not None]
        n_src = sum(1 for p in a.pairs if p.get("source") is not None)
        out += (f"\nExport: {len(paired)} of {n_src} site(s) paired with the node they became; "
                f"{len(diff)} mean another case" + (":" if diff else ".") + "\n")
        for p in diff:
            ps = ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in p["differs"].items())
            out += f"- site {p['source']} `{p['source_where']}` -> node `{p['exported_where']}`: {ps}\n"
        for p in a.pairs:
            if p.get("missing"):
                out += f"- site {p['source']} `{p['source_where']}`: {p['missing']} (exported as generic nodes)\n"
            elif p.get("extra"):
                out += f"- node `{p['exported_where']}`: {p['extra']}\n"
    if a.export_error:
        out += f"\nExport failed: {a.export_error}\n"
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
        elif p.get("extra"):
            lines.append(f"  export: node {p['exported_where']}: {p['extra']}")
    if a.export_error:
        lines.append(f"  export failed: {a.export_error}")
    return "\n".join(lines)


def run_audit(spec: str, input_shape: Sequence[int] | None = None, *, kind: str | None = None,
              targets: Sequence[str] = (), dtype: str | None = None, export: str | None = None,
              executor: Any = None) -> Audit:
    """Audit the model ``spec`` names (a factory, or a model file; ``kind`` forces the source) on a seeded
    input of ``input_shape`` (the source's own layout; a file's own input where it declares one)."""
    from ..adapters import framework

    t0 = time.perf_counter()
    src: ModelSource = source_for(spec, kind)
    try:
        targets = [framework(TARGET_ALIASES.get(t.lower(), t)).name for t in targets]
    except KeyError as e:
        raise AuditError(f"--to: {e.args[0]}") from None
    model = src.load(spec)
    own = src.input_of(model)
    if input_shape is None:
        if own is None:
            raise AuditError(f"a {src.name} model needs --input-shape {src.shape_help}")
        if any(v < 0 for v in own[0]):
            raise AuditError(f"the model's input has symbolic dimensions {['?' if v < 0 else v for v in own[0]]}: "
                             f"give --input-shape")
        input_shape = own[0]
    dt = dtype or (own[1] if own else "float32")
    raw = src.capture(model, input_shape, dt)
    a = Audit(spec, src.name, [int(v) for v in input_shape], dt, list(targets), judge(raw, targets, executor=executor))
    if export is not None:
        try:
            reader, path = src.export(export, model, input_shape, dt)
        except AuditError as e:  # the eager audit stands; the export's failure is the finding
            a.export_error = str(e)
        else:
            a.exported = judge(reader.capture(reader.load(path), (), dt), (), executor=executor)
            a.pairs = pair_sites(a.sites, a.exported)
    a.seconds = time.perf_counter() - t0
    return a


__all__ = ["MODEL_SOURCES", "Audit", "AuditError", "RawSite", "Site", "judge", "load_factory", "markdown", "pair_sites",
           "run_audit", "text"]
