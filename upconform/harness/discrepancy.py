"""Discrepancy reports: several native calls on one canonical input, explained and compared pairwise.

For each call: its canonical meaning (``from_native``), whether it conforms to the reference for
that meaning, and for each pair the max abs/rel difference, agreement within the tolerance, and the
canonical parameters that differ. Both comparisons go through :func:`compare` with the dtype's
tolerance, ``atol`` scaled by the input's magnitude (:func:`~upconform.canonical.for_magnitude`);
a call or pair that disagrees gets the mismatch classification and diff map of a failed check.

Errors are given absolute and relative to the input's range, ``max(x) - min(x)`` over the finite
values of the input ``x`` (``input_range`` in the report): ``max_err_vs_range`` for a call against
the reference, ``max_diff_vs_range`` for a pair.

Example:
    >>> differing_params({"mode": "linear", "a": 1}, {"mode": "cubic", "a": 1})
    {'mode': ['linear', 'cubic']}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..adapters import EAGER
from ..canonical import DEFAULT_TOLERANCES, for_magnitude, generate, np_dtype, op_info, plain
from . import expectations as exp
from .classify import classify, diff_map
from .compare import compare
from .outcome import Outcome
from .spec import Discrepancy


def differing_params(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, list[Any]]:
    """``{name: [value_a, value_b]}`` for every canonical parameter that differs."""
    if a is None or b is None:
        return {}
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def reading_between(op: str, a: dict[str, Any] | None, b: dict[str, Any] | None,
                    shapes: dict[str, tuple[int, ...]]) -> str | None:
    """The reading of ambiguous text (docs/conventions.md) that turns one meaning into the other, if
    one does: its normal form may not show it by name (the integer align_corners length becomes
    sizes).

    Example:
        >>> p = {"mode": "linear", "coordinate_transformation_mode": "align_corners", "scales": [1, 1, 0.6]}
        >>> from upconform.canonical import normalize
        >>> a = normalize("resize", p, {"x": (1, 1, 4)})
        >>> b = normalize("resize", {**p, "align_corners_length": "integer"}, {"x": (1, 1, 4)})
        >>> reading_between("resize", a, b, {"x": (1, 1, 4)})
        'align_corners_length'
    """
    if a is None or b is None or a == b:
        return None
    info = op_info(op)
    strip = lambda m: {k: v for k, v in m.items() if k not in info.derived}  # noqa: E731
    for k in info.conventions:
        for v in info.enums.get(k, ()):
            for one, other in ((a, b), (b, a)):
                try:
                    if info.normal_form({**strip(one), k: v}, shapes) == other:
                        return k
                except (ValueError, TypeError):
                    continue
    return None


def discrepancy_tensors(d: Discrepancy) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]]]:
    """The input (from the entry's generator) and, for operators with more tensors, those tensors made
    by the operator's own record, as for a case (conv_transpose: weights ``weight_shape``, bias of
    ``weight_shape[1]`` channels when ``bias: true``)."""
    shapes: dict[str, tuple[int, ...]] = {"x": d.shape}
    if d.weight_shape:
        shapes["w"] = d.weight_shape
        if d.bias:
            shapes["b"] = (d.weight_shape[1],)
    tensors = {"x": generate(d.generator, d.generator_args, d.shape, d.dtype, d.seed)}
    tensors.update(op_info(d.op).extra_tensors(shapes, d.dtype, d.seed))
    return tensors, shapes


def call_outcome(entry: dict[str, Any]) -> Outcome:
    """A call's verdict: ``error`` when the call raised (whatever it means: a port that raises does
    not run) or the reference rejected its meaning, ``crash``/``timeout`` when its worker died or hung,
    ``unsupported`` when it ran but has no canonical reading, else ``fail`` when its claimed meaning
    does not conform and ``pass`` when it does.

    Example:
        >>> str(call_outcome({"canonical": {"mode": "linear"}, "conforms": False, "error": None}))
        'fail'
        >>> str(call_outcome({"canonical": None, "unsupported_reason": "no reading", "error": "ValueError: x"}))
        'error'
    """
    err = entry.get("error") or ""
    for status in (Outcome.CRASH, Outcome.TIMEOUT):
        if err.startswith(f"{status.value}:"):
            return status
    if err or entry.get("reference_error"):
        return Outcome.ERROR
    if entry.get("canonical") is None:
        return Outcome.UNSUPPORTED
    return Outcome.PASS if entry.get("conforms") else Outcome.FAIL


def input_stats(x: np.ndarray) -> tuple[float, float]:
    """(range, magnitude) of an input over its finite values: ``max(x) - min(x)`` and ``max |x|``
    (0.0 and 0.0 without finite values).

    Example:
        >>> input_stats(np.array([-1.0, 3.0, np.inf]))
        (4.0, 3.0)
    """
    f = np.asarray(x, dtype=np.float64)
    f = f[np.isfinite(f)]
    if not f.size:
        return 0.0, 0.0
    return float(f.max() - f.min()), float(np.abs(f).max())


def vs_range(err: float | None, rng: float) -> float | None:
    """An absolute error as a fraction of the input's range (None when either is missing or 0)."""
    return err / rng if err is not None and rng > 0 and np.isfinite(err) else None


_KEPT_METRICS = ("max_abs_err", "max_rel_err", "max_ulp", "mismatch_count", "mismatch_fraction", "worst_index",
                 "worst_actual", "worst_expected")


def _mismatch(actual: np.ndarray, expected: np.ndarray, dtype: str, tol: Any, params: dict[str, Any],
              max_ulp: float | None) -> tuple[dict[str, Any], list[list[float]] | None]:
    """The classification and diff map of a value mismatch, as for a failed check."""
    return (classify(actual, expected, dtype, params=params, tolerance=tol, max_ulp=max_ulp),
            diff_map(actual, expected))


def run_discrepancy(d: Discrepancy, executor: Any = None, timeout: float = 60.0,
                    expectations: Sequence[exp.Expectation] = ()) -> dict[str, Any]:
    """The report for one discrepancy entry (JSON-able); frameworks run through ``executor``. Each
    call gets an ``outcome`` (see :func:`call_outcome`), turned into xfail/xpass by an expectation on
    the report's id, the call's binding and (``calls:``) its position."""
    from .runner import deprecation
    from .workers import InProcess

    ex = executor or InProcess()
    tensors, shapes = discrepancy_tensors(d)
    rng, mag = input_stats(tensors["x"])
    tol = for_magnitude(d.dtype, mag, DEFAULT_TOLERANCES[d.dtype])
    want = np_dtype(d.dtype)
    calls, outs, canon = [], [], []
    for index, c in enumerate(d.calls):
        name, args, path = c["binding"], dict(plain(c.get("args", {}))), str(c.get("path") or EAGER)
        entry: dict[str, Any] = {"binding": name, "args": args, "deprecated": deprecation(name), "canonical": None,
                                 "unsupported_reason": None, "conforms": None, "max_abs_err_vs_reference": None,
                                 "max_err_vs_range": None, "error": None, "output_shape": None}
        if path != EAGER:
            entry["path"] = path
        got = ex.call(name, "native", {"binding": name, "args": args, "shapes": shapes, "op": d.op,
                                        "tensors": tensors, "path": path}, timeout)
        if got.get("status") in ("crash", "timeout", "error"):
            entry["error"] = f"{got['status']}: {got.get('reason', '')}"
            out = None
        elif got.get("status") == "unsupported":  # the executor refused the call before running it (its path)
            entry["unsupported_reason"] = got.get("reason", "")
            out = None
        else:
            entry["canonical"] = plain(got["canonical"]) if got["canonical"] is not None else None
            entry["unsupported_reason"] = got["unsupported_reason"]
            entry["error"] = got["error"]
            out = got["output"]
            if out is not None:
                entry["output_shape"] = list(out.shape)
        if out is not None and entry["canonical"] is not None:
            try:
                expected = op_info(d.op).expected(tensors, entry["canonical"])
                cmp = compare(out, expected, d.dtype, tol)
                entry["conforms"] = cmp.ok
                entry["max_abs_err_vs_reference"] = cmp.metrics.get("max_abs_err")
                entry["max_err_vs_range"] = vs_range(cmp.metrics.get("max_abs_err"), rng)
                entry["reference_check"] = cmp.check
                entry["reference_metrics"] = {k: cmp.metrics[k] for k in _KEPT_METRICS if k in cmp.metrics}
                if not cmp.ok:
                    entry["reason"] = cmp.message.splitlines()[0]
                    if cmp.check == "values":
                        entry["classification"], entry["diff_map"] = _mismatch(
                            out, expected, d.dtype, tol, entry["canonical"], cmp.metrics.get("max_ulp"))
            except Exception as e:  # noqa: BLE001
                entry["reference_error"] = f"{type(e).__name__}: {e}"
        oc = call_outcome(entry)
        known = exp.find(list(expectations), d.id, name, d.dtype, path, call=index)
        if known is not None and oc in (Outcome.FAIL, Outcome.ERROR) and known.covers(oc.value):
            oc, entry["expectation"] = Outcome.XFAIL, known.to_json()
        elif known is not None and oc is Outcome.PASS:
            oc, entry["expectation"] = Outcome.XPASS, known.to_json()
        entry["outcome"] = oc.value
        calls.append(entry)
        outs.append(out)
        canon.append(entry["canonical"])
    pairs = []
    conv = op_info(d.op).conventions
    for i in range(len(calls)):
        for j in range(i + 1, len(calls)):
            a, b = outs[i], outs[j]
            pair: dict[str, Any] = {"a": i, "b": j, "max_abs_diff": None, "max_rel_diff": None,
                                    "max_diff_vs_range": None, "agree": False,
                                    "differing_params": differing_params(canon[i], canon[j])}
            pair["conventions"] = [k for k in pair["differing_params"] if k in conv]
            only = reading_between(d.op, canon[i], canon[j], shapes)
            if only and pair["differing_params"]:  # e.g. the integer reading is written with sizes
                pair["conventions"] = [only]
            if pair["differing_params"] and (only or len(pair["conventions"]) == len(pair["differing_params"])):
                pair["note"] = ("the calls differ only in the reading of ambiguous operator text: "
                                + ", ".join(pair["conventions"]) + " (docs/conventions.md)")
            if a is not None and b is not None:
                if a.shape != b.shape:
                    pair["note"] = f"output shapes differ: {list(a.shape)} vs {list(b.shape)}"
                else:
                    fa, fb = a.astype(np.float64), b.astype(np.float64)
                    both = np.isfinite(fa) & np.isfinite(fb)
                    diff = np.where(both, np.abs(fa - fb), 0.0)
                    mag_ab = np.maximum(np.abs(fa), np.abs(fb))
                    pair["max_abs_diff"] = float(diff.max()) if diff.size else 0.0
                    with np.errstate(divide="ignore", invalid="ignore"):
                        rel = np.where(mag_ab > 0, diff / np.where(both, mag_ab, 1.0), 0.0)
                    pair["max_rel_diff"] = float(rel.max()) if rel.size else 0.0
                    pair["max_diff_vs_range"] = vs_range(pair["max_abs_diff"], rng)
                    # b is the other side's output: the same entry point and tolerance as a check
                    cmp = compare(a if a.dtype == want else a.astype(want), fb, d.dtype, tol)
                    pair["agree"], pair["check"] = cmp.ok, cmp.check
                    pair["mismatch_fraction"] = cmp.metrics.get("mismatch_fraction")
                    if not cmp.ok and cmp.check == "values":
                        pair["classification"], pair["diff_map"] = _mismatch(
                            fa, fb, d.dtype, tol, canon[i] or canon[j] or {}, cmp.metrics.get("max_ulp"))
            pairs.append(pair)
    if "backward" in d.checks:
        # a gradient does not grow with |x| (it is A^T y for the linear operators; the weight gradient's
        # scale S already holds |x|): the dtype's own tolerance, against max(|expected|, S)
        _gradients(d, ex, timeout, expectations, tensors, shapes, DEFAULT_TOLERANCES[d.dtype], calls, outs, canon,
                   pairs)
    return {"id": d.id, "op": d.op, "description": d.description, "shape": list(d.shape), "dtype": d.dtype,
            "input": {"generator": d.generator, **plain(d.generator_args)}, "input_range": rng,
            "input_magnitude": mag, "tolerance": tol.to_json(), "source": d.source, "calls": calls, "pairs": pairs}


def _gradients(d: Discrepancy, ex: Any, timeout: float, expectations: Sequence[exp.Expectation],
               tensors: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]], tol: Any,
               calls: list[dict[str, Any]], outs: list[Any], canon: list[Any], pairs: list[dict[str, Any]]) -> None:
    """Each call's gradients for the seeded cotangent of its output's shape (``calls[i]["backward"]``:
    outcome, agreement with the reference's vector-Jacobian product of the call's meaning), and each
    pair's gradients compared (``pair["backward"]``), where both calls have the same output shape and so
    the same cotangent. A pair that agrees on the output and not on the gradients says so."""
    from types import MappingProxyType

    from ..canonical import COTANGENT_SEED_OFFSET, Case, freeze
    from .workers import case_to_wire

    info = op_info(d.op)
    grads: list[dict[str, np.ndarray] | None] = []
    scales: list[dict[str, np.ndarray] | None] = []
    for index, (entry, out, meaning) in enumerate(zip(calls, outs, canon)):
        bw: dict[str, Any] = {"conforms": None, "max_abs_err_vs_reference": None, "error": None,
                              "unsupported_reason": None, "gradients": {}}
        entry["backward"] = bw
        grads.append(None)
        scales.append(None)
        if out is None:  # the forward outcome (error, unsupported) says why; nothing to differentiate
            bw["unsupported_reason"] = "the call produced no output to differentiate"
            bw["outcome"] = Outcome.UNSUPPORTED.value
            continue
        cot = generate("normal", {}, tuple(out.shape), d.dtype, d.seed + COTANGENT_SEED_OFFSET)
        payload: dict[str, Any] = {"binding": entry["binding"], "args": entry["args"], "tensors": tensors,
                                   "cotangent": cot, "path": entry.get("path", EAGER), "case": None, "dtype": d.dtype}
        if meaning is not None:
            payload["case"] = case_to_wire(Case(
                id=f"{d.id}[{d.dtype}]", op=d.op, name=d.id, dtype=d.dtype, shapes=MappingProxyType(dict(shapes)),
                params=freeze({k: v for k, v in meaning.items() if k not in info.derived}), normal=freeze(meaning)))
        got = ex.call(entry["binding"], "native_grad", payload, timeout)
        if got.get("status") in ("crash", "timeout", "error"):
            bw["error"] = f"{got['status']}: {got.get('reason', '')}"
        elif got.get("status") == "unsupported":
            bw["unsupported_reason"] = got.get("reason", "")
        else:
            bw["error"], bw["unsupported_reason"] = got.get("error"), got.get("unsupported_reason")
            grads[index] = got.get("grads")
        if grads[index] is not None and meaning is not None:
            try:
                c64 = cot.astype(np.float64)
                want = info.gradients(tensors, meaning, c64)
                scales[index] = info.gradients(tensors, meaning, c64, absolute=True)
                worst = 0.0
                ok = True
                for name, e in want.items():
                    a = grads[index].get(name)
                    if a is None:
                        bw["gradients"][name] = {"ok": False, "check": "missing"}
                        ok = False
                        bw.setdefault("reason", f"no gradient with respect to {name}")
                        continue
                    c = compare(a, e, d.dtype, tol, scale=scales[index][name])
                    bw["gradients"][name] = {"ok": c.ok, "check": c.check, "max_abs_err": c.metrics.get("max_abs_err")}
                    worst = max(worst, c.metrics.get("max_abs_err") or 0.0)
                    if not c.ok:
                        ok = False
                        bw.setdefault("reason", f"d/d{name}: {c.message.splitlines()[0]}")
                bw["conforms"], bw["max_abs_err_vs_reference"] = ok, worst
            except Exception as e:  # noqa: BLE001
                bw["reference_error"] = f"{type(e).__name__}: {e}"
        oc = (Outcome.ERROR if bw["error"] or bw.get("reference_error") else Outcome.UNSUPPORTED
              if grads[index] is None or meaning is None else Outcome.PASS if bw["conforms"] else Outcome.FAIL)
        known = exp.find(list(expectations), d.id, entry["binding"], d.dtype, entry.get("path", EAGER), call=index,
                         direction="backward")
        if known is not None and oc in (Outcome.FAIL, Outcome.ERROR) and known.covers(oc.value):
            oc, bw["expectation"] = Outcome.XFAIL, known.to_json()
        elif known is not None and oc is Outcome.PASS:
            oc, bw["expectation"] = Outcome.XPASS, known.to_json()
        bw["outcome"] = oc.value
    for pair in pairs:
        i, j = pair["a"], pair["b"]
        ga, gb = grads[i], grads[j]
        if ga is None or gb is None or outs[i].shape != outs[j].shape:
            continue
        common = [k for k in ga if k in gb and np.shape(ga[k]) == np.shape(gb[k])]
        if not common:
            continue
        per, worst, agree = {}, 0.0, True
        for k in common:
            a, b = np.asarray(ga[k]), np.asarray(gb[k]).astype(np.float64)
            sc = (scales[i] or scales[j] or {}).get(k)
            c = compare(a if a.dtype == np_dtype(d.dtype) else a.astype(np_dtype(d.dtype)), b, d.dtype, tol,
                        scale=sc if sc is not None and np.shape(sc) == b.shape else np.abs(b))
            per[k] = {"agree": c.ok, "max_abs_diff": c.metrics.get("max_abs_err")}
            worst = max(worst, c.metrics.get("max_abs_err") or 0.0)
            agree = agree and c.ok
        pair["backward"] = {"agree": agree, "max_abs_diff": worst, "gradients": per}
        if pair.get("agree") and not agree:
            pair["backward"]["note"] = ("the calls agree on the output and differ on the gradients: "
                                        + ", ".join(k for k, v in per.items() if not v["agree"]))


def bad_outcome(c: dict[str, Any]) -> tuple[str, str] | None:
    """A discrepancy call's bad outcome and its verdict, forward first, then its gradients; None if neither is bad.

    Example:
        >>> bad_outcome({"outcome": "pass", "backward": {"outcome": "fail", "conforms": False, "reason": "d/dx"}})[0]
        'fail'
    """
    from .outcome import is_bad

    if c.get("outcome") and is_bad(c["outcome"]):
        return c["outcome"], call_verdict(c)
    bw = c.get("backward") or {}
    if bw.get("outcome") and is_bad(bw["outcome"]):
        return bw["outcome"], gradient_verdict(c)
    return None


def gradient_verdict(c: dict[str, Any]) -> str:
    """A call's backward verdict on one line (discrepancy reports with ``checks: [forward, backward]``).

    Example:
        >>> gradient_verdict({"backward": {"outcome": "pass", "conforms": True, "max_abs_err_vs_reference": 0.0}})
        'gradients: pass, conform (max |err| 0)'
    """
    bw = c.get("backward")
    if not bw:
        return ""
    head = f"gradients: {bw.get('outcome', '')}"
    if bw.get("error"):
        return f"{head}, raised: {bw['error']}"
    if bw.get("reference_error"):
        return f"{head}, the reference rejects its meaning: {bw['reference_error']}"
    if bw.get("conforms") is None:
        return f"{head}, not compared: {bw.get('unsupported_reason') or 'no canonical reading'}"
    verdict = "conform" if bw["conforms"] else "do not conform"
    text = f"{head}, {verdict} (max |err| {_num(bw.get('max_abs_err_vs_reference'))})"
    if not bw["conforms"]:
        text += f"; {bw.get('reason', '')}"
    if bw.get("expectation"):
        text += f"; known: {bw['expectation'].get('reason', '')}"
    return text


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, (int, float)) else "n/a"


def _of_range(r: float | None) -> str:
    """A fraction of the input range as a percentage: 0.0731 -> '7.31% of the input range'."""
    return "" if r is None else f" = {100 * r:.3g}% of the input range"


def call_text(c: dict[str, Any]) -> str:
    """A call as the user wrote it, with its deprecation mark.

    Example:
        >>> call_text({"binding": "m.f", "args": {"size": [2, 2]}, "deprecated": "use m.g"})
        'm.f(size=[2, 2]) [deprecated: use m.g]'
    """
    args = ", ".join(f"{k}={v!r}" for k, v in (c.get("args") or {}).items())
    dep = f" [deprecated: {c['deprecated']}]" if c.get("deprecated") else ""
    on = f" [{c['path']}]" if c.get("path") else ""
    return f"{c['binding']}({args}){on}{dep}"


def meaning_text(c: dict[str, Any]) -> str:
    """A call's canonical meaning on one line, or why it has none.

    Example:
        >>> meaning_text({"canonical": {"mode": "linear", "sizes": [1, 1, 4]}})
        'mode=linear, sizes=[1, 1, 4]'
    """
    if c.get("canonical") is None:
        return f"no canonical reading: {c.get('unsupported_reason') or c.get('error') or 'n/a'}"
    return ", ".join(f"{k}={v}" if isinstance(v, str) else f"{k}={v!r}" for k, v in c["canonical"].items())


def call_verdict(c: dict[str, Any]) -> str:
    """Why a call has its outcome, with its error against the reference absolute and relative to the range."""
    err = c.get("max_abs_err_vs_reference")
    fig = f"max |err| {_num(err)}{_of_range(c.get('max_err_vs_range'))}" if err is not None else ""
    if c.get("error"):
        text = f"raised: {c['error']}"
    elif c.get("reference_error"):
        text = f"the reference rejects its meaning: {c['reference_error']}"
    elif c.get("conforms") is None:
        text = "not compared (no canonical reading)"
    elif c["conforms"]:
        text = f"conforms ({fig})"
    else:
        kind = (c.get("classification") or {}).get("kind")
        text = f"does not conform ({fig}{'; mismatch: ' + kind if kind else ''}; {c.get('reason', '')})"
    if c.get("expectation"):
        text += f"; known: {c['expectation'].get('reason', '')}"
    return text


def worst_pair(rep: dict[str, Any]) -> dict[str, Any] | None:
    """The pair with the largest max |a - b| (a pair whose output shapes differ counts as worst)."""
    pairs = rep.get("pairs") or []
    shaped = [p for p in pairs if "shapes differ" in (p.get("note") or "")]
    if shaped:
        return shaped[0]
    compared = [p for p in pairs if p.get("max_abs_diff") is not None]
    return max(compared, key=lambda p: p["max_abs_diff"]) if compared else None


def pair_text(rep: dict[str, Any], p: dict[str, Any]) -> str:
    """One line for a pair: how far apart, agreement, the parameters that differ, the mismatch's shape."""
    head = f"#{p['a']} vs #{p['b']}: "
    if p.get("max_abs_diff") is None:
        return head + (p.get("note") or "not compared (a call produced no output)")
    text = head + f"max |a - b| {_num(p['max_abs_diff'])}{_of_range(p.get('max_diff_vs_range'))}, "
    text += "agree" if p.get("agree") else "disagree"
    diffs = p.get("differing_params") or {}
    if diffs:
        text += "; differ in " + ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in diffs.items())
    elif not p.get("agree"):
        text += "; same canonical meaning"
    if p.get("classification"):
        text += f"; mismatch: {p['classification']['kind']} ({p['classification']['detail']})"
    return text


def summary_lines(rep: dict[str, Any]) -> list[str]:
    """The terminal summary of one report: the input and tolerance, each call (as written, its outcome,
    its canonical meaning on one line, its verdict) and the worst pairwise difference.

    Example:
        >>> rep = {"id": "repeat/r", "shape": [1, 1, 2], "dtype": "float32", "input": {"generator": "arange"},
        ...        "input_range": 1.0, "tolerance": {"rtol": 1.3e-06, "atol": 1e-05},
        ...        "calls": [{"binding": "m.f", "args": {"repeats": 2}, "canonical": {"repeats": [2]},
        ...                   "conforms": True, "max_abs_err_vs_reference": 0.0, "max_err_vs_range": 0.0,
        ...                   "outcome": "pass"}], "pairs": []}
        >>> print("\\n".join(summary_lines(rep)))
        repeat/r: input [1, 1, 2] float32 arange, range 1; tolerance atol 1e-05 + rtol 1.3e-06 * |expected|
          #0 pass    m.f(repeats=2)
                     means repeats=[2]
                     conforms (max |err| 0 = 0% of the input range)
    """
    tol = rep.get("tolerance") or {}
    inp = rep.get("input") or {}
    gen = " ".join([str(inp.get("generator", ""))] + [f"{k}={v}" for k, v in inp.items() if k != "generator"]).strip()
    desc = f" ({rep['description']})" if rep.get("description") else ""
    lines = [f"{rep['id']}{desc}: input {rep.get('shape')} {rep.get('dtype')} {gen}, range "
             f"{_num(rep.get('input_range'))}; tolerance atol {_num(tol.get('atol'))} + rtol {_num(tol.get('rtol'))}"
             " * |expected|"]
    for i, c in enumerate(rep.get("calls", [])):
        lines.append(f"  #{i} {str(c.get('outcome', '')):7s} {call_text(c)}")
        lines.append(f"{'':13s}means {meaning_text(c)}")
        lines.append(f"{'':13s}{call_verdict(c)}")
        if c.get("backward"):
            lines.append(f"{'':13s}{gradient_verdict(c)}")
    w = worst_pair(rep)
    if w is not None:
        lines.append(f"  worst pair {pair_text(rep, w)}")
    for p in rep.get("pairs") or []:
        b = p.get("backward")
        if b:
            text = f"#{p['a']} vs #{p['b']} gradients: max |a - b| {_num(b['max_abs_diff'])}, "
            note = f" ({b['note']})" if b.get("note") else ""
            lines.append("  " + text + ("agree" if b["agree"] else "disagree") + note)
    return lines
