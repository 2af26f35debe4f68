"""Discrepancy reports: several native calls on one canonical input, explained and compared pairwise.

For each call: its canonical meaning (``from_native``), whether it conforms to the reference for
that meaning, and for each pair the max abs/rel difference, agreement within the dtype's
tolerance, and the canonical parameters that differ.

Example:
    >>> differing_params({"mode": "linear", "a": 1}, {"mode": "cubic", "a": 1})
    {'mode': ['linear', 'cubic']}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..canonical import DEFAULT_TOLERANCES, generate, op_info, plain
from . import expectations as exp
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
    """A call's verdict: ``fail`` when its claimed meaning does not conform, ``error`` when the
    framework raised on a meaning the reference accepts, ``unsupported`` without a claim.

    Example:
        >>> str(call_outcome({"canonical": {"mode": "linear"}, "conforms": False, "error": None}))
        'fail'
    """
    if entry.get("canonical") is None:
        return Outcome.ERROR if entry.get("error") and entry.get("unsupported_reason") is None else Outcome.UNSUPPORTED
    if entry.get("error") or entry.get("reference_error"):
        return Outcome.ERROR
    return Outcome.PASS if entry.get("conforms") else Outcome.FAIL


def run_discrepancy(d: Discrepancy, executor: Any = None, timeout: float = 60.0,
                    expectations: Sequence[exp.Expectation] = ()) -> dict[str, Any]:
    """The report for one discrepancy entry (JSON-able); frameworks run through ``executor``. Each
    call gets an ``outcome`` (see :func:`call_outcome`), turned into xfail/xpass by an expectation on
    the report's id and the call's binding."""
    from .workers import InProcess

    ex = executor or InProcess()
    tensors, shapes = discrepancy_tensors(d)
    tol = DEFAULT_TOLERANCES[d.dtype]
    calls, outs, canon = [], [], []
    for c in d.calls:
        name, args = c["binding"], dict(plain(c.get("args", {})))
        entry: dict[str, Any] = {"binding": name, "args": args, "canonical": None, "unsupported_reason": None,
                                 "conforms": None, "max_abs_err_vs_reference": None, "error": None,
                                 "output_shape": None}
        got = ex.call(name, "native", {"binding": name, "args": args, "shapes": shapes, "op": d.op,
                                        "tensors": tensors}, timeout)
        if got.get("status") in ("crash", "timeout", "error"):
            entry["error"] = f"{got['status']}: {got.get('reason', '')}"
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
                entry["reference_check"] = cmp.check
            except Exception as e:  # noqa: BLE001
                entry["reference_error"] = f"{type(e).__name__}: {e}"
        oc = call_outcome(entry)
        known = exp.find(list(expectations), d.id, name, d.dtype)
        if known is not None and oc in (Outcome.FAIL, Outcome.ERROR):
            oc, entry["expectation"] = Outcome.XFAIL, known.to_json()
        elif known is not None and oc is Outcome.PASS:
            oc, entry["expectation"] = Outcome.XPASS, known.to_json()
        entry["outcome"] = oc.value
        calls.append(entry)
        outs.append(out)
        canon.append(entry["canonical"])
    pairs = []
    for i in range(len(calls)):
        for j in range(i + 1, len(calls)):
            a, b = outs[i], outs[j]
            pair: dict[str, Any] = {"a": i, "b": j, "max_abs_diff": None, "max_rel_diff": None, "agree": False,
                                    "differing_params": differing_params(canon[i], canon[j])}
            conv = op_info(d.op).conventions
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
                    diff = np.abs(fa - fb)
                    mag = np.maximum(np.abs(fa), np.abs(fb))
                    pair["max_abs_diff"] = float(diff.max()) if diff.size else 0.0
                    with np.errstate(divide="ignore", invalid="ignore"):
                        rel = np.where(mag > 0, diff / mag, 0.0)
                    pair["max_rel_diff"] = float(rel.max()) if rel.size else 0.0
                    pair["agree"] = bool(np.all(diff <= tol.atol + tol.rtol * np.abs(fb)))
            pairs.append(pair)
    return {"id": d.id, "op": d.op, "description": d.description, "shape": list(d.shape), "dtype": d.dtype,
            "source": d.source, "calls": calls, "pairs": pairs}
