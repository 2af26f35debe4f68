"""The self-contained HTML report, rendered from results.json (it never recomputes a verdict).

The page is Jinja2 templates shipped as package data (``templates/report.html.j2``, one template per
section under ``templates/sections/``, ``report.css`` and ``report.js`` inlined at render time), and
one ``build_*`` function per section returns the context its template renders. The page opens with
the verdict (bad outcomes, disagreeing discrepancy reports, new findings); the provenance is folded
away at the end. Every string from a spec, a framework message or a result is autoescaped.

Example:
    >>> "<!doctype html>" in render({"results": [], "discrepancies": [], "provenance": {}})
    True
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup

from ..harness.discrepancy import bad_outcome, call_text, call_verdict, gradient_verdict, meaning_text
from ..harness.outcome import Outcome
from ..harness.results import check_label, framework_label

_LOADER = PackageLoader("upconform.reports", "templates")
ENV = Environment(loader=_LOADER, autoescape=True, trim_blocks=True, lstrip_blocks=True)
PAGE = "report.html.j2"


def inline(name: str) -> Markup:
    """A package file (``report.css``, ``report.js``) as it is, for the page to inline (not a template: braces stay)."""
    return Markup(_LOADER.get_source(ENV, name)[0])


ENV.globals["inline"] = inline

CSS_ORDER = ("bad", "known", "ok", "skip")  # worst first: the verdict's and a folded matrix cell's order
# Outcomes in the order of the summary's columns: pass, then the bad ones, then known, then skipped.
OUTCOME_ORDER: tuple[Outcome, ...] = tuple(sorted(Outcome, key=lambda o: (("ok", "bad", "known", "skip").index(o.css))))

Data = dict[str, Any]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _label(o: Outcome) -> str:
    """A matrix cell's short text: bad outcomes shout, unsupported is a dash.

    Example:
        >>> [_label(Outcome(v)) for v in ("pass", "fail", "xfail", "unsupported")]
        ['pass', 'FAIL', 'xfail', '-']
    """
    return o.value.upper() if o.bad else "-" if o.css == "skip" else o.value


def _results(data: Data) -> list[dict[str, Any]]:
    return data.get("results", []) or []


def check_anchor(i: int) -> str:
    """The id of the detail block of ``results[i]`` (the verdict links to it)."""
    return f"check-{i}"


def discrepancy_anchor(i: int) -> str:
    """The id of the block of ``discrepancies[i]``."""
    return f"disc-{i}"


# ---------------------------------------------------------------------------------------------- verdict

def build_verdict(data: Data) -> dict[str, Any]:
    """The verdict that opens the page: bad outcomes, discrepancy reports whose calls disagree, and new
    findings (xpass: a known discrepancy that now passes, so its expectation entry is to be revisited).

    Example:
        >>> v = build_verdict({"results": [{"case_id": "c", "binding": "b", "outcome": "fail", "reason": "r"}]})
        >>> [(b["case_id"], b["outcome"]) for b in v["bad"]], v["ok"]
        ([('c', 'fail')], False)
    """
    bad, findings = [], []
    for i, r in enumerate(_results(data)):
        o = Outcome(r["outcome"])
        if not o.bad:
            continue
        row = {"case_id": r["case_id"], "binding": check_label(r), "outcome": o.value, "css": o.css,
               "reason": r.get("reason", ""), "anchor": check_anchor(i)}
        bad.append(row)
        if o is Outcome.XPASS:
            findings.append({**row, "expectation": r.get("expectation") or {}})
    n_bad_checks = len(bad)
    disagreeing, n_agreeing, n_bad_calls = [], 0, 0
    for i, d in enumerate(data.get("discrepancies", []) or []):
        calls = d.get("calls", [])
        for k, c in enumerate(calls):  # a call that raises or does not conform (or its gradients) is bad too
            b = bad_outcome(c)
            if b:
                o = Outcome(b[0])
                n_bad_calls += 1
                bad.append({"case_id": d["id"], "binding": f"#{k} {c['binding']}", "outcome": o.value, "css": o.css,
                            "reason": f"{call_text(c)}: {b[1]}", "anchor": discrepancy_anchor(i)})
        pairs = [{"a": f"#{p['a']} {calls[p['a']]['binding']}", "b": f"#{p['b']} {calls[p['b']]['binding']}",
                  "text": _fmt(p["max_abs_diff"]) if p.get("max_abs_diff") is not None else p.get("note", "n/a"),
                  "rel": _pct(p.get("max_diff_vs_range")),
                  "kind": (p.get("classification") or {}).get("kind", ""),
                  "params": ", ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in (p.get("differing_params") or {}).items())}
                 for p in d.get("pairs", []) if not p.get("agree")]
        if pairs:
            disagreeing.append({"id": d["id"], "description": d.get("description", ""), "pairs": pairs,
                                "anchor": discrepancy_anchor(i)})
        else:
            n_agreeing += 1
    return {"bad": bad, "discrepancies": disagreeing, "n_agreeing": n_agreeing, "findings": findings,
            "ok": not bad, "n_bad_checks": n_bad_checks, "n_bad_calls": n_bad_calls,
            "headline": _headline(n_bad_checks, n_bad_calls),
            "bad_outcomes": ", ".join(o.value for o in Outcome if o.bad)}


def _headline(n_checks: int, n_calls: int) -> str:
    """The verdict's banner: bad checks and bad discrepancy calls, counted apart.

    Example:
        >>> _headline(0, 2)
        '2 discrepancy calls with a bad outcome'
        >>> _headline(1, 0), _headline(3, 1)
        ('1 check with a bad outcome', '3 checks and 1 discrepancy call with a bad outcome')
    """
    parts = [f"{n} {what}{'' if n == 1 else 's'}" for n, what in ((n_checks, "check"), (n_calls, "discrepancy call"))
             if n]
    return " and ".join(parts) + " with a bad outcome"


def _pct(r: float | None) -> str:
    """A fraction of the input range as a percentage, '' when there is none."""
    return "" if r is None else f"{100 * r:.3g}%"


# ---------------------------------------------------------------------------------------------- summary

def build_summary(data: Data) -> dict[str, Any]:
    """Counts of each outcome per (framework, op), and the totals; only outcomes that occur get a column."""
    results = _results(data)
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = {}
    for r in results:
        c = counts[(framework_label(r), r["op"])]
        c[r["outcome"]] = c.get(r["outcome"], 0) + 1
        totals[r["outcome"]] = totals.get(r["outcome"], 0) + 1
    outcomes = [o for o in OUTCOME_ORDER if o.value in totals] or [Outcome.PASS]
    rows = [{"framework": fw, "op": op,
             "cells": [{"n": c.get(o.value, 0), "css": o.css if c.get(o.value) else ""} for o in outcomes]}
            for (fw, op), c in sorted(counts.items())]
    return {"outcomes": [o.value for o in outcomes], "rows": rows,
            "totals": [totals.get(o.value, 0) for o in outcomes]}


# ----------------------------------------------------------------------------------------------- matrix

_DIM = re.compile(r"(?<=[A-Za-z_])([123])([dD])(?![a-z0-9])")  # a 1d/2d/3d marker: conv2d_x, x_conv3d, Up2DSampling


def fold_bindings(names: Iterable[str]) -> dict[str, str]:
    """Each binding's matrix column: names that differ only in a 1d/2d/3d marker share one column.

    A name folds only when another name collapses to the same key, so a lone ``...2d`` keeps its name.

    Example:
        >>> fold_bindings(["m.conv1d_t", "m.conv3d_t", "m.pool2d", "m.Up2D"])
        {'m.conv1d_t': 'm.conv{1,3}d_t', 'm.conv3d_t': 'm.conv{1,3}d_t', 'm.pool2d': 'm.pool2d', 'm.Up2D': 'm.Up2D'}
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for n in dict.fromkeys(names):
        groups[_DIM.sub(lambda m: "\0" + m.group(2), n)].append(n)
    out: dict[str, str] = {}
    for key, members in groups.items():
        if len(members) < 2:
            out[members[0]] = members[0]
            continue
        markers = [[m.group(1) for m in _DIM.finditer(n)] for n in members]
        digits = [sorted({ds[pos] for ds in markers}) for pos in range(key.count("\0"))]
        parts = key.split("\0")
        label = parts[0] + "".join((ds[0] if len(ds) == 1 else "{" + ",".join(ds) + "}") + part
                                   for ds, part in zip(digits, parts[1:]))
        for n in members:
            out[n] = label
    return out


def _cell(r: dict[str, Any], binding: str | None) -> dict[str, str]:
    o = Outcome(r["outcome"])
    label = _label(o)
    ulp = (r.get("metrics") or {}).get("max_ulp")
    if isinstance(ulp, (int, float)) and o is not Outcome.UNSUPPORTED:
        label += f" {ulp:.2g}u"
    reason = r.get("reason", "")
    return {"css": o.css, "label": label, "title": f"{binding}: {reason}" if binding else reason}


def _rank(r: dict[str, Any]) -> int:
    return CSS_ORDER.index(Outcome(r["outcome"]).css)


def build_matrix(data: Data) -> dict[str, Any]:
    """One table per op: rows are cases, columns are bindings with the 1d/2d/3d variants of one API folded
    into one column (its cell shows the variant that ran the case). Columns where nothing ran are dropped.

    Example:
        >>> rs = [{"op": "o", "case_id": f"c{k}", "binding": f"m.f{k}d", "outcome": "pass"} for k in (1, 2)]
        >>> t = build_matrix({"results": rs})["tables"][0]
        >>> t["columns"], [[c["label"] for c in cells] for _, cells in t["rows"]]
        (['m.f{1,2}d'], [['pass'], ['pass']])
    """
    by_op: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = defaultdict(lambda: defaultdict(dict))
    bindings_of: dict[str, dict[str, None]] = defaultdict(dict)
    for r in _results(data):
        bindings_of[r["op"]][check_label(r)] = None
        by_op[r["op"]][r["case_id"]].setdefault(check_label(r), []).append(r)
    tables = []
    for op in sorted(by_op):
        column_of = fold_bindings(bindings_of[op])
        columns = list(dict.fromkeys(column_of.values()))
        ran = {column_of[b] for cells in by_op[op].values() for b, rs in cells.items()
               if any(r["outcome"] != Outcome.UNSUPPORTED.value for r in rs)}
        shown = [c for c in columns if c in ran] or columns
        folded = {c for c in shown if sum(1 for v in column_of.values() if v == c) > 1}
        rows = []
        for case_id, cells in by_op[op].items():
            per_column: dict[str, dict[str, Any]] = {}
            for b, rs in cells.items():
                col = column_of[b]
                for r in rs:
                    if col not in per_column or _rank(r) < _rank(per_column[col]):
                        per_column[col] = r
            rows.append((case_id, [_cell(per_column[c], check_label(per_column[c]) if c in folded else None)
                                   if c in per_column else None for c in shown]))
        tables.append({"op": op, "columns": shown, "rows": rows})
    return {"tables": tables}


# ---------------------------------------------------------------------------------------------- details

_METRICS = ("grad", "max_abs_err", "max_rel_err", "max_ulp", "mismatch_count", "mismatch_fraction", "worst_index",
            "worst_actual", "worst_expected")


def build_details(data: Data) -> dict[str, Any]:
    """One block per bad or known (xfail) check: parameters, native call, metrics, message, repro, heatmap."""
    items = []
    for i, r in enumerate(_results(data)):
        o = Outcome(r["outcome"])
        if o.css not in ("bad", "known"):
            continue
        m = r.get("metrics") or {}
        message = r.get("message") or ""
        items.append({**r, "binding": check_label(r), "anchor": check_anchor(i), "css": o.css, "open": o.bad,
                      "heatmap": None, "audit_text": _audit_text(r.get("audit")),
                      "metric_rows": [(k, _fmt(m[k])) for k in _METRICS if k in m],
                      "canonical_json": json.dumps(r.get("canonical"), sort_keys=True),
                      "tolerance_json": json.dumps(r.get("tolerance")),
                      "show_repro": bool(r.get("repro")) and "repro:" not in message})
    _heatmaps(items, "|actual - expected|\nmax over N, C")
    bad_calls = sum(1 for d in data.get("discrepancies", []) or [] for c in d.get("calls", []) if bad_outcome(c))
    return {"items": items, "n_bad_calls": bad_calls}


def _heatmaps(items: list[dict[str, Any]], title: str) -> None:
    """Set ``heatmap`` (an SVG) on every item with a ``diff_map``."""
    with_map = [d for d in items if d.get("diff_map")]
    if with_map:
        from . import charts

        svgs = charts.heatmaps([d["diff_map"] for d in with_map], titles=[title] * len(with_map))
        for d, svg in zip(with_map, svgs):
            d["heatmap"] = svg


# ---------------------------------------------------------------------------------------- discrepancies

def build_discrepancies(data: Data) -> dict[str, Any]:
    """Each discrepancy report: its input (range, tolerance), its calls (as written with their
    deprecation marks, canonical meaning, outcome, error absolute and relative to the input range, and
    the mismatch classification and heatmap of a call that does not conform), the pairwise difference
    matrix, and each disagreeing pair's classification and heatmap."""
    reports = []
    for i, d in enumerate(data.get("discrepancies", []) or []):
        calls = []
        for c in d["calls"]:
            conforms = c.get("conforms")
            o = Outcome(c["outcome"]) if c.get("outcome") else None
            calls.append({**c, "args_text": ", ".join(f"{k}={v!r}" for k, v in (c.get("args") or {}).items()),
                          "canonical_text": meaning_text(c),
                          "conforms_css": "ok" if conforms else "bad" if conforms is False else "",
                          "outcome_css": o.css if o else "",
                          "verdict": call_verdict(c) + (f"; {gradient_verdict(c)}" if c.get("backward") else ""),
                          "err_text": _fmt(c["max_abs_err_vs_reference"])
                          if c.get("max_abs_err_vs_reference") is not None else "",
                          "rel_text": _pct(c.get("max_err_vs_range")), "heatmap": None})
        _heatmaps(calls, "|call - reference|\nmax over N, C")
        n = len(calls)
        matrix: list[list[dict[str, Any] | None]] = [[None] * n for _ in range(n)]
        for p in d["pairs"]:
            text = _fmt(p["max_abs_diff"]) if p.get("max_abs_diff") is not None else p.get("note", "n/a")
            if p.get("max_diff_vs_range") is not None:
                text += f" ({_pct(p['max_diff_vs_range'])})"
            cell = {"text": text, "css": "ok" if p["agree"] else "bad"}
            matrix[p["a"]][p["b"]] = cell
            matrix[p["b"]][p["a"]] = cell
        disagreeing = [{**p, "heatmap": None, "label": f"#{p['a']} vs #{p['b']}"} for p in d["pairs"]
                       if not p.get("agree") and (p.get("classification") or p.get("diff_map"))]
        _heatmaps(disagreeing, "|a - b|\nmax over N, C")
        tol = d.get("tolerance") or {}
        inp = d.get("input") or {}
        grad_pairs = [{"text": f"#{p['a']} vs #{p['b']}: max |a - b| {_fmt(p['backward']['max_abs_diff'])}, "
                               + ("agree" if p["backward"]["agree"] else "disagree")
                               + (f" ({p['backward']['note']})" if p["backward"].get("note") else ""),
                       "css": "ok" if p["backward"]["agree"] else "bad"} for p in d["pairs"] if p.get("backward")]
        reports.append({**d, "anchor": discrepancy_anchor(i), "calls": calls, "matrix": matrix,
                        "gradient_pairs": grad_pairs,
                        "differing": [p for p in d["pairs"] if p.get("differing_params")],
                        "mismatches": disagreeing,
                        "input_text": " ".join([str(inp.get("generator", ""))]
                                               + [f"{k}={v}" for k, v in inp.items() if k != "generator"]).strip(),
                        "range_text": _fmt(d["input_range"]) if d.get("input_range") is not None else "n/a",
                        "tolerance_text": f"atol {_fmt(tol['atol'])} + rtol {_fmt(tol['rtol'])} * |expected|"
                        + (f" ({tol['reason']})" if tol.get("reason") else "") if tol else ""})
    return {"reports": reports}


# ------------------------------------------------------------------------------------------------ paths

def _audit_text(audit: dict[str, Any] | None) -> str:
    """One line for an attribute audit: same, the differing parameters, or why it could not be read.

    Example:
        >>> _audit_text({"status": "differs", "nodes": ["Resize"], "differs": {"mode": ["linear", "cubic"]}})
        'Resize: mode linear (eager) -> cubic (exported)'
    """
    if not audit:
        return ""
    nodes = ", ".join(audit.get("nodes") or []) or "no nodes"
    if audit["status"] == "same":
        return f"{nodes}: same meaning"
    if audit["status"] == "differs":
        return f"{nodes}: " + "; ".join(f"{k} {a} (eager) -> {b} (exported)" for k, (a, b) in audit["differs"].items())
    return f"{nodes}: not read back ({audit.get('reason', '')})"


def build_paths(data: Data) -> dict[str, Any]:
    """The paths view: for each case run on more than the eager path, one row per binding with its
    eager, compiled and exported results side by side (outcome, error vs the reference, agreement
    with eager) and the attribute audit of each export.

    Example:
        >>> rs = [{"case_id": "c", "binding": "b", "op": "o", "outcome": "pass", "path": p} for p in ("eager", "onnx")]
        >>> v = build_paths({"results": rs})
        >>> v["columns"], [c["label"] for c in v["rows"][0]["cells"]]
        (['eager', 'onnx'], ['pass', 'pass'])
    """
    by: dict[tuple[str, str], dict[str, tuple[int, dict[str, Any]]]] = defaultdict(dict)
    for i, r in enumerate(_results(data)):  # a backward check is a row of its own: "binding [backward]"
        b = check_label({"binding": r["binding"], "direction": r.get("direction")})
        by[(r["case_id"], b)][r.get("path") or "eager"] = (i, r)
    multi = {k: v for k, v in by.items() if set(v) - {"eager"}}
    columns = ["eager", *sorted({p for v in multi.values() for p in v} - {"eager"})]
    rows = []
    for (case_id, binding), per in multi.items():
        cells = []
        for p in columns:
            if p not in per:
                cells.append(None)
                continue
            i, r = per[p]
            cell = _cell(r, None)
            ve = r.get("vs_eager")
            if ve:
                cell["vs_eager"] = "= eager" if ve.get("ok") else f"vs eager: {_fmt(ve.get('max_abs_err'))}"
            cell["audit"] = _audit_text(r.get("audit"))
            cell["audit_css"] = {"same": "ok", "differs": "bad"}.get((r.get("audit") or {}).get("status"), "")
            b = (r.get("timing") or {}).get("build_s")
            cell["build_s"] = _fmt(b) if isinstance(b, (int, float)) else ""
            cell["anchor"] = check_anchor(i)
            cells.append(cell)
        rows.append({"case_id": case_id, "binding": binding, "cells": cells})
    return {"columns": columns, "rows": rows}


# ------------------------------------------------------------------------------------------ performance

def _ratio(v: float | None) -> str:
    """A time ratio as the tables show it: 3 significant digits, '' for none.

    Example:
        >>> _ratio(1.23456), _ratio(None), _ratio(12.0)
        ('1.23', '', '12')
    """
    return "" if v is None else f"{v:.3g}"


def paired_labels(results: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """``{(op, binding): label}``: a binding's name in the paired tables, its 1d/2d/3d variants folded into
    one (as the matrix's columns): ``torch.nn.functional.conv_transpose{1,2,3}d`` is compared with
    ``tf.nn.conv{1,2,3}d_transpose`` on every case either runs, 3-D cases with 3-D cases.

    Example:
        >>> paired_labels([{"op": "o", "binding": "m.f1d"}, {"op": "o", "binding": "m.f2d"}])[("o", "m.f2d")]
        'm.f{1,2}d'
    """
    names: dict[str, dict[str, None]] = defaultdict(dict)
    for r in results:
        names[r["op"]][r["binding"]] = None
    return {(op, b): lab for op, bs in names.items() for b, lab in fold_bindings(bs).items()}


def build_performance(data: Data) -> dict[str, Any]:
    """Paired comparisons: per op, every binding against the anchor (the PyTorch binding that timed the
    most cases) on the cases both timed, eager forward checks only. Each row: the geometric mean of the
    per-case ratios (binding / anchor) with its 95 % interval over cases, the number of cases, how many
    of them the per-case bootstrap interval puts above or below 1, and the range of the ratios. Runs of
    ``upconform bench`` add the scaling charts (:func:`build_scaling`)."""
    from ..adapters import ANCHOR_FRAMEWORK
    from ..harness.stats import paired_table

    results = _results(data)
    labels = paired_labels(results)
    table = paired_table(results, anchor_framework=ANCHOR_FRAMEWORK, label=lambda r: labels[(r["op"], r["binding"])])
    tables = []
    for op, t in table.items():
        rows = [{"binding": row["binding"], "framework": row["framework"], "primary": row["primary"],
                 "n": row["geomean"].n, "geomean": _ratio(row["geomean"].ratio),
                 "ci": f"{_ratio(row['geomean'].low)} to {_ratio(row['geomean'].high)}"
                 if row["geomean"].low is not None else "",
                 "css": "o-ok" if row["geomean"].high is not None and row["geomean"].high < 1
                 else "o-bad" if row["geomean"].low is not None and row["geomean"].low > 1 else "",
                 "slower": row["slower"], "faster": row["faster"], "unsure": row["unsure"],
                 "range": f"{_ratio(row['min'])} to {_ratio(row['max'])}"} for row in t["rows"]]
        tables.append({"op": op, "anchor": t["anchor"], "anchor_cases": t["anchor_cases"], "rows": rows})
    return {"tables": tables, "scaling": build_scaling(data)}


def build_scaling(data: Data) -> dict[str, Any]:
    """The scaling charts of a ``upconform bench`` run (its provenance has ``bench``): per op, time against
    bytes moved (input + output) on log-log axes, one series per binding with its fitted slope, and the
    line of the memory bandwidth measured at run time. Empty for other runs."""
    bench = (data.get("provenance") or {}).get("bench")
    if not bench:
        return {"charts": [], "bandwidth": ""}
    from ..harness.bench import scaling_points
    from . import charts

    bw = float(bench["bandwidth_Bps"])
    out = []
    for op, series in scaling_points(_results(data), bench["cases"]).items():
        out.append((op, charts.scaling_chart(series, bandwidth_Bps=bw, title=f"{op}: time vs bytes moved")))
    return {"charts": out, "bandwidth": f"{bw / 1e9:.3g} GB/s", "copy_bytes": bench.get("copy_bytes", 0),
            "threads": bench.get("threads", 1)}


# ------------------------------------------------------------------------------------------ unsupported

def build_unsupported(data: Data) -> dict[str, Any]:
    """Unsupported checks grouped by (binding, reason), biggest group of a binding first."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in _results(data):
        if r["outcome"] == Outcome.UNSUPPORTED.value:
            groups[(check_label(r), r.get("reason", ""))].append(r["case_id"])
    rows = sorted(({"binding": b, "reason": reason, "n": len(ids), "example": ids[0]}
                   for (b, reason), ids in groups.items()), key=lambda t: (t["binding"], -t["n"]))
    return {"rows": rows, "n": sum(len(ids) for ids in groups.values())}


# ----------------------------------------------------------------------------------------------- trends

def build_trends(data: Data, history_db: str | Path | None = None) -> dict[str, Any]:
    """Trend charts from the history database (none when it holds fewer than two runs)."""
    from . import history as hist

    if not history_db or len(hist.runs(history_db)) < 2:
        return {"charts": []}
    from . import charts

    tr = hist.trends(history_db)
    marks = sorted({m for s in tr["time"].values() for m in hist.change_points(s)})
    umarks = sorted({m for s in tr["ulp"].values() for m in hist.change_points(s, factor=2.0)})
    bmarks = sorted({m for s in tr["bad"].values() for m in hist.change_points(s)})
    return {"charts": [
        charts.trend_chart({op: [(i, t * 1e3) for i, t in s] for op, s in tr["time"].items()},
                           title="median check time per op", ylabel="ms", marks=marks),
        charts.trend_chart(tr["ulp"], title="worst error per op", ylabel="max ULP", marks=umarks),
        charts.trend_chart(tr["bad"], title="fail + error + xpass per op", ylabel="checks", marks=bmarks),
    ]}


# ------------------------------------------------------------------------------------------- provenance

def build_provenance(data: Data) -> dict[str, Any]:
    """The provenance as (key, text) rows; nested values as JSON."""
    prov = data.get("provenance", {}) or {}
    return {"rows": [(k, json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in prov.items()]}


# ------------------------------------------------------------------------------------------------- page

def context(data: Data, history_db: str | Path | None = None) -> dict[str, Any]:
    """Everything the page template renders: the header's figures and one entry per section, in page order."""
    prov = data.get("provenance", {}) or {}
    discs = data.get("discrepancies", []) or []
    return {"n_results": len(_results(data)), "n_discrepancies": len(discs),
            "n_calls": sum(len(d.get("calls", [])) for d in discs),
            "time_utc": prov.get("time_utc", ""),
            "verdict": build_verdict(data), "summary": build_summary(data), "matrix": build_matrix(data),
            "details": build_details(data), "paths": build_paths(data), "discrepancies": build_discrepancies(data),
            "performance": build_performance(data), "unsupported": build_unsupported(data),
            "trends": build_trends(data, history_db), "provenance": build_provenance(data)}


def render(data: Data, history_db: str | Path | None = None) -> str:
    """The report's HTML text: one self-contained page."""
    return ENV.get_template(PAGE).render(context(data, history_db))


def write(data: Data, path: str | Path, history_db: str | Path | None = None) -> Path:
    """Render and write atomically."""
    from ..harness.results import write_text_atomic

    return write_text_atomic(path, render(data, history_db))
