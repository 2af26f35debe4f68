"""The self-contained HTML report, rendered from results.json (it never recomputes a verdict).

CSS, scripts and charts are inline; it reads well without scripts, and a small inline script adds
filtering. Every string from a spec, a framework message or a result is autoescaped.

Example:
    >>> "<!doctype html>" in render({"results": [], "discrepancies": [], "provenance": {}})
    True
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from jinja2 import Environment

from ..harness.stats import median
from . import charts
from . import history as hist

SHOWN = ("fail", "error", "xfail", "xpass", "crash", "timeout")
ABBR = {"pass": "pass", "fail": "FAIL", "error": "ERR", "unsupported": "-", "xfail": "xfail", "xpass": "XPASS",
        "crash": "CRASH", "timeout": "TIME"}

TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>upconform report</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{padding:8px 24px 40px}section{margin:22px 0}h2{font-size:17px;border-bottom:2px solid #dfe3ea;padding-bottom:4px}
table{border-collapse:collapse;font-size:12.5px;background:#fff}td,th{border:1px solid #dfe3ea;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f2f6;position:sticky;top:0}code,pre{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
pre{background:#f4f5f8;padding:8px;overflow:auto;white-space:pre-wrap;margin:4px 0}
.o-pass{background:#d9f2dc}.o-fail,.o-xpass,.o-crash,.o-timeout{background:#f8d0cd}.o-error{background:#fbe3b8}
.o-unsupported{background:#eceef2;color:#7a8190}.o-xfail{background:#e6dcf5}
.num{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#7a8190}
details{background:#fff;border:1px solid #dfe3ea;margin:6px 0;padding:6px 10px}summary{cursor:pointer;font-weight:600}
.grid{display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start}.chart svg{max-width:100%;height:auto}
.matrix{max-height:560px;overflow:auto;border:1px solid #dfe3ea}.kv td:first-child{color:#4a5160;white-space:nowrap}
#filter{margin:6px 0;padding:4px 8px;width:320px}.pill{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px}
</style></head><body>
<header><h1>upconform conformance report</h1>
<div>{{ n_results }} checks, {{ discrepancies|length }} discrepancy reports &middot; {{ prov.get('time_utc', '') }}</div></header>
<main>
<section id="provenance"><h2>Provenance</h2>
<table class="kv">{% for k, v in prov_rows %}<tr><td>{{ k }}</td><td><code>{{ v }}</code></td></tr>{% endfor %}</table></section>

<section id="summary"><h2>Summary</h2>
<table><tr><th>framework</th><th>op</th>{% for o in outcomes %}<th>{{ o }}</th>{% endfor %}</tr>
{% for fw, op, counts in summary %}<tr><td>{{ fw }}</td><td>{{ op }}</td>{% for o in outcomes %}
<td class="num {% if counts.get(o) %}o-{{ o }}{% endif %}">{{ counts.get(o, 0) }}</td>{% endfor %}</tr>{% endfor %}
<tr><th colspan="2">total</th>{% for o in outcomes %}<th class="num">{{ totals.get(o, 0) }}</th>{% endfor %}</tr></table>
</section>

<section id="matrix"><h2>Conformance matrix</h2>
<p class="muted">Each cell: outcome and worst error (ULP of the case dtype). "-" is unsupported; hover for the reason.</p>
<input id="filter" type="search" placeholder="filter case ids (e.g. cubic, float16)">
{% for op, bindings, rows in matrices %}<h3>{{ op }}</h3><div class="matrix"><table class="mx">
<tr><th>case</th>{% for b in bindings %}<th>{{ b }}</th>{% endfor %}</tr>
{% for case_id, cells in rows %}<tr><td><code>{{ case_id }}</code></td>{% for c in cells %}
{% if c %}<td class="o-{{ c.outcome }}" title="{{ c.reason }}">{{ c.label }}</td>{% else %}<td></td>{% endif %}{% endfor %}</tr>
{% endfor %}</table></div>{% endfor %}</section>

<section id="details"><h2>Failures, errors and known discrepancies ({{ details|length }})</h2>
{% for d in details %}<details{% if d.outcome in ('fail', 'error', 'xpass', 'crash', 'timeout') %} open{% endif %}>
<summary><span class="pill o-{{ d.outcome }}">{{ d.outcome }}</span> <code>{{ d.case_id }}</code> on <code>{{ d.binding }}</code></summary>
<div class="grid"><div>
<table class="kv"><tr><td>reason</td><td>{{ d.reason }}</td></tr>
{% if d.classification %}<tr><td>mismatch</td><td><b>{{ d.classification.kind }}</b>: {{ d.classification.detail }}</td></tr>{% endif %}
<tr><td>native call</td><td><code>{{ d.native_call }}</code>{% for n in d.notes %}<br><span class="muted">{{ n }}</span>{% endfor %}</td></tr>
<tr><td>canonical</td><td><code>{{ d.canonical_json }}</code></td></tr>
{% for k, v in d.metric_rows %}<tr><td>{{ k }}</td><td class="num">{{ v }}</td></tr>{% endfor %}
<tr><td>tolerance</td><td><code>{{ d.tolerance_json }}</code></td></tr>
{% if d.expectation %}<tr><td>known issue</td><td>{{ d.expectation.reason }}<br><a href="{{ d.expectation.issue }}">{{ d.expectation.issue }}</a> {{ d.expectation.versions }}</td></tr>{% endif %}
<tr><td>source</td><td><code>{{ d.source }}</code></td></tr></table>
{% if d.message %}<pre>{{ d.message }}</pre>{% endif %}
{% if d.repro and 'repro:' not in (d.message or '') %}<p>repro:</p><pre>{{ d.repro }}</pre>{% endif %}
</div>{% if d.heatmap %}<div class="chart">{{ d.heatmap|safe }}</div>{% endif %}</div></details>
{% else %}<p>None: every supported check passed.</p>{% endfor %}</section>

<section id="discrepancies"><h2>Discrepancy reports</h2>
{% for r in discrepancies %}<details open><summary><code>{{ r.id }}</code> &mdash; {{ r.description }}</summary>
<p class="muted">input {{ r.shape }} {{ r.dtype }} &middot; {{ r.source }}</p>
<table><tr><th>#</th><th>call</th><th>canonical meaning</th><th>conforms</th><th>max |err| vs reference</th></tr>
{% for c in r.calls %}<tr><td>{{ loop.index0 }}</td><td><code>{{ c.binding }}({{ c.args_text }})</code>{% if c.error %}<br><b>error:</b> {{ c.error }}{% endif %}</td>
<td>{% if c.canonical %}<code>{{ c.canonical_text }}</code>{% else %}<span class="muted">{{ c.unsupported_reason or 'n/a' }}</span>{% endif %}</td>
<td class="{% if c.conforms %}o-pass{% elif c.conforms is sameas false %}o-fail{% endif %}">{{ c.conforms }}</td><td class="num">{{ c.err_text }}</td></tr>{% endfor %}</table>
<p>Pairwise max |a - b| (agree within the {{ r.dtype }} tolerance?):</p>
<table><tr><th></th>{% for c in r.calls %}<th>{{ loop.index0 }}</th>{% endfor %}</tr>
{% for row in r.matrix %}<tr><th>{{ loop.index0 }}</th>{% for cell in row %}<td class="num {% if cell and cell.agree %}o-pass{% elif cell %}o-fail{% endif %}">{{ cell.text if cell else '' }}</td>{% endfor %}</tr>{% endfor %}</table>
{% for p in r.pairs if p.differing_params %}<p>{{ p.a }} vs {{ p.b }} differ in: {% for k, v in p.differing_params.items() %}<code>{{ k }}: {{ v[0] }} &rarr; {{ v[1] }}</code> {% endfor %}</p>{% endfor %}
</details>{% else %}<p>No discrepancy reports in this run.</p>{% endfor %}</section>

<section id="performance"><h2>Performance</h2>
<p class="muted">Median over each binding's checks of the per-check median time (warm-up excluded); ratio to the fastest binding of the op.</p>
<div class="grid">{% for op, svg in perf_charts %}<div class="chart">{{ svg|safe }}</div>{% endfor %}</div></section>

<section id="unsupported"><h2>Unsupported combinations ({{ n_unsupported }})</h2>
<table><tr><th>binding</th><th>reason</th><th>checks</th><th>for example</th></tr>
{% for b, reason, n, ex in unsupported %}<tr><td><code>{{ b }}</code></td><td>{{ reason }}</td><td class="num">{{ n }}</td><td><code>{{ ex }}</code></td></tr>{% endfor %}</table></section>

{% if trend_charts %}<section id="trends"><h2>Trends across runs</h2>
<p class="muted">From the history database; dashed lines mark the run where a change began.</p>
<div class="grid">{% for svg in trend_charts %}<div class="chart">{{ svg|safe }}</div>{% endfor %}</div></section>{% endif %}
</main>
<script>
(function(){var f=document.getElementById('filter');if(!f)return;f.addEventListener('input',function(){
var q=f.value.toLowerCase();document.querySelectorAll('table.mx tr').forEach(function(tr,i){
var c=tr.querySelector('td code');if(!c)return;tr.style.display=c.textContent.toLowerCase().indexOf(q)>=0?'':'none';});});})();
</script>
</body></html>
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _cell(r: dict[str, Any]) -> dict[str, Any]:
    label = ABBR.get(r["outcome"], r["outcome"])
    ulp = (r.get("metrics") or {}).get("max_ulp")
    if isinstance(ulp, (int, float)) and r["outcome"] != "unsupported":
        label += f" {ulp:.2g}u"
    return {"outcome": r["outcome"], "label": label, "reason": r.get("reason", "")}


def render(data: dict[str, Any], history_db: str | Path | None = None) -> str:
    """The report's HTML text."""
    results = data.get("results", [])
    prov = data.get("provenance", {}) or {}
    outcomes = [o for o in ("pass", "fail", "error", "crash", "timeout", "xfail", "xpass", "unsupported")
                if any(r["outcome"] == o for r in results)] or ["pass"]
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = {}
    for r in results:
        c = counts[(r["framework"], r["op"])]
        c[r["outcome"]] = c.get(r["outcome"], 0) + 1
        totals[r["outcome"]] = totals.get(r["outcome"], 0) + 1
    summary = [(fw, op, c) for (fw, op), c in sorted(counts.items())]

    by_op: dict[str, dict[str, dict[str, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    bindings_of: dict[str, list[str]] = defaultdict(list)
    for r in results:
        by_op[r["op"]][r["case_id"]][r["binding"]] = r
        if r["binding"] not in bindings_of[r["op"]]:
            bindings_of[r["op"]].append(r["binding"])
    matrices = []
    for op in sorted(by_op):
        bs = [b for b in bindings_of[op] if any(by_op[op][c].get(b, {}).get("outcome") not in (None, "unsupported")
                                                for c in by_op[op])] or bindings_of[op]
        rows = [(cid, [_cell(cells[b]) if b in cells else None for b in bs]) for cid, cells in by_op[op].items()]
        matrices.append((op, bs, rows))

    details = []
    for r in results:
        if r["outcome"] not in SHOWN:
            continue
        m = r.get("metrics") or {}
        rows = [(k, _fmt(m[k])) for k in ("max_abs_err", "max_rel_err", "max_ulp", "mismatch_count",
                                           "mismatch_fraction", "worst_index", "worst_actual", "worst_expected")
                if k in m]
        heat = None
        if r.get("diff_map"):
            heat = charts.heatmap(r["diff_map"], title=f"|actual - expected|, max over N, C\n{r['case_id']}")
        details.append({**r, "metric_rows": rows, "heatmap": heat,
                        "canonical_json": json.dumps(r.get("canonical"), sort_keys=True),
                        "tolerance_json": json.dumps(r.get("tolerance"))})

    discs = []
    for d in data.get("discrepancies", []):
        calls = []
        for c in d["calls"]:
            calls.append({**c, "args_text": ", ".join(f"{k}={v!r}" for k, v in (c.get("args") or {}).items()),
                          "canonical_text": json.dumps(c.get("canonical"), sort_keys=True),
                          "err_text": _fmt(c["max_abs_err_vs_reference"]) if c.get("max_abs_err_vs_reference")
                          is not None else ""})
        n = len(calls)
        matrix: list[list[dict[str, Any] | None]] = [[None] * n for _ in range(n)]
        for p in d["pairs"]:
            text = _fmt(p["max_abs_diff"]) if p.get("max_abs_diff") is not None else p.get("note", "n/a")
            cell = {"text": text, "agree": p["agree"]}
            matrix[p["a"]][p["b"]] = cell
            matrix[p["b"]][p["a"]] = cell
        discs.append({**d, "calls": calls, "matrix": matrix})

    perf: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        t = (r.get("timing") or {}).get("median_s")
        if isinstance(t, (int, float)):
            perf[r["op"]][r["binding"]].append(t)
    perf_charts = []
    for op in sorted(perf):
        med = {b: median(v) for b, v in perf[op].items()}
        perf_charts.append((op, charts.bar_chart(med, title=f"{op}: median time per binding")))

    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in results:
        if r["outcome"] == "unsupported":
            groups[(r["binding"], r.get("reason", ""))].append(r["case_id"])
    unsupported = sorted(((b, reason, len(ids), ids[0]) for (b, reason), ids in groups.items()),
                         key=lambda t: (t[0], -t[2]))

    trend_svgs = []
    if history_db and len(hist.runs(history_db)) >= 2:
        tr = hist.trends(history_db)
        marks = sorted({m for s in tr["time"].values() for m in hist.change_points(s)})
        trend_svgs.append(charts.trend_chart({op: [(i, t * 1e3) for i, t in s] for op, s in tr["time"].items()},
                                             title="median check time per op", ylabel="ms", marks=marks))
        umarks = sorted({m for s in tr["ulp"].values() for m in hist.change_points(s, factor=2.0)})
        trend_svgs.append(charts.trend_chart(tr["ulp"], title="worst error per op", ylabel="max ULP", marks=umarks))
        bmarks = sorted({m for s in tr["bad"].values() for m in hist.change_points(s)})
        trend_svgs.append(charts.trend_chart(tr["bad"], title="fail + error + xpass per op", ylabel="checks",
                                             marks=bmarks))

    prov_rows = [(k, json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in prov.items()]
    env = Environment(autoescape=True)
    return env.from_string(TEMPLATE).render(
        prov=prov, prov_rows=prov_rows, outcomes=outcomes, summary=summary, totals=totals, matrices=matrices,
        details=details, discrepancies=discs, perf_charts=perf_charts, unsupported=unsupported,
        n_unsupported=totals.get("unsupported", 0), n_results=len(results), trend_charts=trend_svgs,
    )


def write(data: dict[str, Any], path: str | Path, history_db: str | Path | None = None) -> Path:
    """Render and write atomically."""
    from ..harness.results import write_text_atomic

    return write_text_atomic(path, render(data, history_db))
