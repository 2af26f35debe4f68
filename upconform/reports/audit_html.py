"""The audit's HTML page, rendered from its JSON (``Audit.to_json``): self-contained, every string escaped.

Example:
    >>> "<table" in to_html({"model": "m", "source": "torch", "input_shape": [1], "dtype": "float32",
    ...                      "targets": [], "seconds": 0.1, "sites": [], "exported": None, "pairs": None})
    True
"""

from __future__ import annotations

from html import escape
from typing import Any

_CSS = ("body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;font-size:13px}"
        "code{font-size:12px}.ok{background:#e6f4ea}.bad{background:#fce8e6}.skip{background:#f1f3f4}")


def _port_cell(p: dict[str, Any] | None) -> tuple[str, str]:
    if not p:
        return "", ""
    if p.get("exact"):
        return f"<code>{escape(p['call'])}</code>", "ok"
    if p.get("closest"):
        err = p.get("max_abs_err")
        e = f", max error {err:.3g}" if isinstance(err, (int, float)) else ""
        return f"none exists; closest <code>{escape(p['closest'])}</code>{escape(e)}", "bad"
    return f"none: {escape(str(p.get('none', '')))}", "bad"


def _meaning(m: dict[str, Any] | None, why: str) -> str:
    if m is None:
        return f"no canonical meaning: {escape(why)}"
    return escape(", ".join(f"{k}={v}" for k, v in m.items()))


def _sites_table(sites: list[dict[str, Any]], targets: list[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in ["#", "where", "call as written", "shape", "canonical meaning",
                                                       "verdict", *[f"in {t}" for t in targets]])
    rows = []
    for s in sites:
        css = "ok" if s["outcome"] in ("pass", "xfail") else "skip" if s["outcome"] == "unsupported" else "bad"
        verdict = escape(s["outcome"] + (f": {s['reason']}" if s.get("reason") else ""))
        cells = [f"<td>{s['index']}</td>", f"<td><code>{escape(s['where'])}</code><br>{escape(s.get('note') or '')}</td>",
                 f"<td><code>{escape(s['written'])}</code></td>", f"<td>{escape(str(s['shapes'].get('x')))} "
                 f"{escape(s['dtype'])}</td>", f"<td>{_meaning(s.get('meaning'), s.get('no_meaning', ''))}</td>",
                 f'<td class="{css}">{verdict}</td>']
        for t in targets:
            text, pcss = _port_cell((s.get("ports") or {}).get(t))
            cells.append(f'<td class="{pcss}">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def to_html(a: dict[str, Any]) -> str:
    """The whole page: the sites, and the export pairing when there is one."""
    bad = sum(1 for s in a["sites"] if s.get("bad"))
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>upconform audit {escape(a['model'])}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>upconform audit: <code>{escape(a['model'])}</code></h1>",
             f"<p>{escape(a['source'])}, input {escape(str(a['input_shape']))} {escape(a['dtype'])}: "
             f"{len(a['sites'])} upsampling site(s), {bad} need attention ({a.get('seconds', 0):.1f} s)</p>",
             _sites_table(a["sites"], list(a.get("targets") or []))]
    if a.get("pairs") is not None:
        parts.append("<h2>Export pairing</h2><table><tr><th>site</th><th>exported node</th><th>meaning</th></tr>")
        for p in a["pairs"]:
            if p.get("missing"):
                parts.append(f"<tr><td>{p['source']}</td><td colspan=2 class='skip'>{escape(p['missing'])}</td></tr>")
                continue
            if p.get("extra"):
                parts.append(f"<tr><td></td><td><code>{escape(p.get('exported_where', ''))}</code></td>"
                             f"<td class='skip'>{escape(p['extra'])}</td></tr>")
                continue
            diff = p.get("differs") or {}
            text = ("same" if p.get("same") else escape(p.get("unreadable", "")) if not diff else
                    escape("; ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in diff.items())))
            css = "bad" if diff else "ok" if p.get("same") else "skip"
            parts.append(f"<tr><td>{p['source']} <code>{escape(p.get('source_where', ''))}</code></td>"
                         f"<td><code>{escape(p.get('exported_where', ''))}</code></td><td class='{css}'>{text}</td></tr>")
        parts.append("</table>")
    if a.get("export_error"):
        parts.append(f"<p class='bad'>Export failed: {escape(a['export_error'])}</p>")
    parts.append("</body></html>")
    return "\n".join(parts)
