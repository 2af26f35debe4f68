"""The cross-version report of ``upconform matrix``: per check, the outcome and the error in each
environment, and first what changed between the baseline environment (the first) and each other.

What counts as a change, for each check present in both runs:

- **verdict**: the outcome differs. It got *worse* when its rank rose (pass/xpass 0, xfail 1,
  unsupported 2, fail/error/crash/timeout 3): a check that passed and now fails, a known
  discrepancy that became an error, a call that ran and is now unsupported. xfail -> xpass is a
  known discrepancy *fixed*, not a regression.
- **error**: both outcomes compared values and the share of the tolerance that the worst element
  used (``metrics.tol_used``: max of |actual - expected| / allowed) moved by more than a tenth
  (``error_share``); for results written before ``tol_used`` existed, the max abs error moved by more
  than a tenth of ``atol + rtol * |worst expected|``.
- **timing**: the raw samples differ by ``compare``'s test (``stats.samples_differ``: Mann-Whitney U,
  or separated ranges for small samples), the medians differ by more than ``max_ratio`` either way and
  by more than ``min_time_diff_s``.

Which side is newer comes from the versions in each run's provenance: the side whose differing
distributions all have the higher version; when they point both ways (or none differ), the later
environment in the matrix. The exit status is 1 when a verdict got worse on the newer side.

Example:
    >>> r = {"case_id": "c", "binding": "b", "path": "eager", "direction": "forward", "outcome": "pass"}
    >>> old = {"provenance": {"frameworks": {"fw": {"fw": "1.0"}}}, "results": [r]}
    >>> new = {"provenance": {"frameworks": {"fw": {"fw": "1.1"}}}, "results": [{**r, "outcome": "fail"}]}
    >>> m = build_matrix([("old", old), ("new", new)])
    >>> [(c["kind"], c["from"], c["to"], c["worse_in_newer"]) for c in m["changes"]], m["exit_status"]
    ([('verdict', 'pass', 'fail', True)], 1)
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from ..harness.outcome import Outcome
from ..harness.results import check_key, check_label, framework_versions
from .regress import timing_change

MATRIX_SCHEMA_VERSION = 1
_RANK = {"pass": 0, "xpass": 0, "xfail": 1, "unsupported": 2, "fail": 3, "error": 3, "crash": 3, "timeout": 3}


def verdict_rank(outcome: str) -> int:
    """How bad a verdict is for a user of the binding (0 best).

    Example:
        >>> verdict_rank("pass") < verdict_rank("xfail") < verdict_rank("unsupported") < verdict_rank("fail")
        True
    """
    return _RANK[Outcome(outcome).value]


def _key_version(v: str) -> tuple[Any, ...]:
    """A sortable form of a version string (PEP 440's ordering where it matters here: numeric release
    parts compared as numbers, pre-releases before the release, a local ``+cpu`` tag ignored)."""
    v = v.split("+", 1)[0]
    m = re.match(r"^(\d+(?:\.\d+)*)(.*)$", v)
    if not m:
        return ((), v)
    nums = tuple(int(x) for x in m.group(1).split("."))
    nums = nums + (0,) * (6 - len(nums))
    rest = m.group(2)
    pre = 0 if rest and re.match(r"^\.?(a|b|rc|dev)", rest) else 1
    return (nums, pre, rest)


def version_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str | None]]:
    """``{distribution: [old, new]}`` for every framework distribution whose version differs between two
    provenance records (a distribution listed under several frameworks counts once).

    Example:
        >>> version_changes({"frameworks": {"t": {"t": "2.13.0+cpu", "x": "1"}}},
        ...                 {"frameworks": {"t": {"t": "2.14.1", "x": "1"}}})
        {'t': ['2.13.0+cpu', '2.14.1']}
    """
    def flat(p: dict[str, Any]) -> dict[str, str]:
        return {d: v for dists in framework_versions(p).values() for d, v in dists.items()}

    a, b = flat(old), flat(new)
    return {d: [a.get(d), b.get(d)] for d in sorted(a.keys() | b.keys()) if a.get(d) != b.get(d)}


def newer_side(changes: dict[str, list[str | None]]) -> tuple[int, str]:
    """(+1 when the second run is the newer, -1 when the first is, and how that was decided).

    Example:
        >>> newer_side({"t": ["2.13.0", "2.14.1"]})
        (1, 'versions')
        >>> newer_side({"t": ["2.13.0", "2.14.1"], "tf": ["2.21.0", "2.20.0"]})
        (1, 'matrix order (versions point both ways)')
    """
    ups = downs = 0
    for a, b in changes.values():
        if a is None or b is None or _key_version(a) == _key_version(b):
            continue
        if _key_version(b) > _key_version(a):
            ups += 1
        else:
            downs += 1
    if ups and not downs:
        return 1, "versions"
    if downs and not ups:
        return -1, "versions"
    return 1, "matrix order (versions point both ways)" if ups else "matrix order (no framework version differs)"


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def error_share(r: dict[str, Any]) -> float | None:
    """The share of its tolerance that a compared check's worst element used (1.0: at the limit), or
    None for a check that compared nothing.

    Example:
        >>> error_share({"outcome": "pass", "metrics": {"tol_used": 0.25}})
        0.25
        >>> error_share({"outcome": "pass", "metrics": {"max_abs_err": 1e-6, "worst_expected": 2.0},
        ...              "tolerance": {"atol": 1e-6, "rtol": 0.5e-6}})
        0.5
    """
    if not Outcome(r["outcome"]).compared:
        return None
    m = r.get("metrics") or {}
    if _num(m.get("tol_used")) is not None:
        return float(m["tol_used"])
    err, tol = _num(m.get("max_abs_err")), r.get("tolerance") or {}
    atol, rtol = _num(tol.get("atol")), _num(tol.get("rtol"))
    if err is None or atol is None or rtol is None:
        return None
    allowed = atol + rtol * abs(_num(m.get("worst_expected")) or 0.0)
    return err / allowed if allowed > 0 else (0.0 if err == 0 else float("inf"))


def changed_frameworks(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Frameworks with a distribution whose version differs between two provenance records.

    Example:
        >>> sorted(changed_frameworks({"frameworks": {"a": {"a": "1"}, "b": {"b": "1", "x": "1"}}},
        ...                           {"frameworks": {"a": {"a": "1"}, "b": {"b": "1", "x": "2"}}}))
        ['b']
    """
    a, b = framework_versions(old), framework_versions(new)
    return {fw for fw in a.keys() | b.keys() if a.get(fw) != b.get(fw)}


def compare_pair(old: dict[str, Any], new: dict[str, Any], *, newer: int = 1, error_move: float = 0.1,
                 max_ratio: float = 1.25, alpha: float = 0.05, min_time_diff_s: float = 1e-4) -> list[dict[str, Any]]:
    """Every change from ``old`` to ``new`` (results.json dicts), checks in ``new``'s order. ``newer``: +1
    when ``new`` is the newer side, -1 when ``old`` is (which decides ``worse_in_newer``). Each change says
    whether its framework's versions differ (``version_changed``): a change in a framework whose versions
    are the same on both sides is the machine's noise (timings) or non-determinism, not the upgrade."""
    changed = changed_frameworks(old.get("provenance", {}), new.get("provenance", {}))
    before = {check_key(r): r for r in old.get("results", [])}
    out: list[dict[str, Any]] = []
    for rn in new.get("results", []):
        k = check_key(rn)
        ro = before.get(k)
        if ro is None:
            continue
        entry = {"case_id": k[0], "binding": k[1], "path": k[2], "direction": k[3], "label": check_label(rn),
                 "framework": rn.get("framework"), "version_changed": rn.get("framework") in changed}
        if ro["outcome"] != rn["outcome"]:
            d = verdict_rank(rn["outcome"]) - verdict_rank(ro["outcome"])
            out.append({**entry, "kind": "verdict", "from": ro["outcome"], "to": rn["outcome"],
                        "worse": d > 0, "better": d < 0, "worse_in_newer": (d > 0 and newer > 0) or (d < 0 and newer < 0),
                        "reason": (rn.get("reason") or ro.get("reason") or "")[:300]})
            continue
        eo, en = error_share(ro), error_share(rn)
        if eo is not None and en is not None and abs(en - eo) > error_move:
            out.append({**entry, "kind": "error", "from": eo, "to": en,
                        "max_abs_err": [_num((ro.get("metrics") or {}).get("max_abs_err")),
                                        _num((rn.get("metrics") or {}).get("max_abs_err"))],
                        "max_ulp": [_num((ro.get("metrics") or {}).get("max_ulp")),
                                    _num((rn.get("metrics") or {}).get("max_ulp"))]})
        t = timing_change(ro, rn, max_ratio=max_ratio, alpha=alpha, min_time_diff_s=min_time_diff_s)
        if t is not None:
            out.append({**entry, "kind": "timing", "from": t["median_s"][0], "to": t["median_s"][1],
                        "ratio": t["ratio"], "p_value": t["p_value"], "rule": t["rule"]})
    return out


def _pair_discrepancies(old: dict[str, Any], new: dict[str, Any], newer: int) -> list[dict[str, Any]]:
    """Discrepancy-report calls whose verdict changed (a call that raised or whose meaning stopped
    conforming is worse)."""
    from ..harness.discrepancy import bad_outcome

    def calls(d: dict[str, Any]) -> dict[tuple[str, int], tuple[str, str]]:
        out = {}
        for rep in d.get("discrepancies") or []:
            for i, c in enumerate(rep.get("calls", [])):
                b = bad_outcome(c)
                out[(rep["id"], i)] = (b[0], b[1]) if b else ("ok", "")
        return out

    a, b = calls(old), calls(new)
    out = []
    for k in sorted(a.keys() & b.keys()):
        if a[k][0] != b[k][0]:
            worse = a[k][0] == "ok"
            out.append({"kind": "discrepancy", "report": k[0], "call": k[1], "from": a[k][0], "to": b[k][0],
                        "worse": worse, "better": not worse and b[k][0] == "ok",
                        "worse_in_newer": (worse and newer > 0) or (not worse and b[k][0] == "ok" and newer < 0),
                        "reason": (b[k][1] or a[k][1])[:300]})
    return out


def build_matrix(runs: Sequence[tuple[str, dict[str, Any]]], *, error_move: float = 0.1, max_ratio: float = 1.25,
                 alpha: float = 0.05, meta: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The matrix report (matrix.json) of results.json dicts by environment name, the first the baseline.

    ``changes`` list every change of each environment against the baseline, verdicts first, each with
    the case, the binding, both environments and the versions that differ between them; ``checks`` has
    one row per check (the union over environments, baseline order first): its outcome and error
    share in each environment (None where the environment did not run it).
    """
    if not runs:
        raise ValueError("a matrix needs at least one run")
    names = [n for n, _ in runs]
    base_name, base = runs[0]
    envs, changes = [], []
    for name, data in runs:
        prov = data.get("provenance", {})
        envs.append({"name": name, "versions": framework_versions(prov), "python": prov.get("python"),
                     "numpy": prov.get("numpy"), "git_commit": prov.get("git_commit"),
                     "time_utc": prov.get("time_utc"), "checks": len(data.get("results", [])),
                     "duration_s": data.get("duration_s"), **(meta or {}).get(name, {})})
    pairs = []
    for name, data in runs[1:]:
        vc = version_changes(base.get("provenance", {}), data.get("provenance", {}))
        newer, how = newer_side(vc)
        found = compare_pair(base, data, newer=newer, error_move=error_move, max_ratio=max_ratio, alpha=alpha)
        found += _pair_discrepancies(base, data, newer)
        counts = {k: sum(c["kind"] == k for c in found) for k in ("verdict", "error", "timing", "discrepancy")}
        # the same counts in frameworks whose versions did not change: the noise floor of the comparison
        unchanged = {k: sum(c["kind"] == k and c.get("version_changed") is False for c in found)
                     for k in ("verdict", "error", "timing")}
        worse = sum(bool(c.get("worse_in_newer")) for c in found)
        pairs.append({"from": base_name, "to": name, "versions": vc, "newer": name if newer > 0 else base_name,
                      "newer_by": how, "counts": counts, "unchanged_frameworks": unchanged, "worse_in_newer": worse,
                      "changed_frameworks": sorted(changed_frameworks(base.get("provenance", {}),
                                                                      data.get("provenance", {})))})
        for c in found:
            c.update({"from_env": base_name, "to_env": name})
        changes.extend(found)
    order = {"verdict": 0, "discrepancy": 1, "error": 2, "timing": 3}
    changes.sort(key=lambda c: (order[c["kind"]], not c.get("worse_in_newer"), not c.get("version_changed", True),
                                names.index(c["to_env"])))
    rows: dict[tuple[str, str, str, str], list[Any]] = {}
    for i, (_, data) in enumerate(runs):
        for r in data.get("results", []):
            row = rows.setdefault(check_key(r), [None] * len(runs))
            share = error_share(r)
            row[i] = [r["outcome"], None if share is None else round(share, 4)]
    worse = sum(p["worse_in_newer"] for p in pairs)
    return {"schema_version": MATRIX_SCHEMA_VERSION, "environments": envs, "baseline": base_name, "pairs": pairs,
            "changes": changes, "worse_in_newer": worse, "exit_status": 1 if worse else 0,
            "thresholds": {"error_share_move": error_move, "timing_ratio": max_ratio, "alpha": alpha},
            "checks": [[*k, v] for k, v in rows.items()]}


def _dists(versions: dict[str, dict[str, str]]) -> dict[str, str]:
    """``{distribution: version}`` once each, from ``{framework: {distribution: version}}``."""
    return {d: v for dists in versions.values() for d, v in dists.items()}


def _versions_text(vc: dict[str, list[str | None]]) -> str:
    return ", ".join(f"{d} {a or '-'} -> {b or '-'}" for d, (a, b) in vc.items()) or "no framework version differs"


def _noise_text(p: dict[str, Any]) -> str:
    u = p.get("unchanged_frameworks") or {}
    if not any(u.values()):
        return ""
    return (f" (of which in frameworks whose versions did not change, the noise: {u.get('verdict', 0)} verdicts, "
            f"{u.get('error', 0)} errors, {u.get('timing', 0)} timings)")


def _change_line(c: dict[str, Any]) -> str:
    where = f"{c['from_env']} -> {c['to_env']}"
    if c["kind"] == "discrepancy":
        tag = "WORSE" if c["worse_in_newer"] else ("fixed" if c["better"] else "moved")
        return f"  {tag:5s} {c['report']} call #{c['call']}: {c['from']} -> {c['to']} ({where}) {c['reason'][:100]}"
    name = f"{c['case_id']} :: {c['label']}" + ("" if c.get("version_changed", True) else " [same version]")
    if c["kind"] == "verdict":
        tag = "WORSE" if c["worse_in_newer"] else ("fixed" if c["better"] else "moved")
        return f"  {tag:5s} {c['from']} -> {c['to']}  {name} ({where}) {c['reason'][:100]}"
    if c["kind"] == "error":
        return f"  error share {c['from']:.3g} -> {c['to']:.3g} of the tolerance  {name} ({where})"
    return (f"  x{c['ratio']:.2f} ({c['from'] * 1e3:.3g} -> {c['to'] * 1e3:.3g} ms, p={c['p_value']:.2g})  "
            f"{name} ({where})")


def to_text(m: dict[str, Any], limit: int = 20) -> str:
    """The console summary: environments, then what changed (worse verdicts first), then counts."""
    lines = ["environments:"]
    for e in m["environments"]:
        fw = ", ".join(f"{dists_[0]} {dists_[1]}" for dists in e["versions"].values()
                       for dists_ in list(dists.items())[:1])
        lines.append(f"  {e['name']}: {e['checks']} checks; {fw}")
    lines.append("what changed:")
    for p in m["pairs"]:
        c = p["counts"]
        u = p.get("unchanged_frameworks") or {}
        lines.append(f"  {p['from']} -> {p['to']} ({_versions_text(p['versions'])}; newer: {p['newer']}, by "
                     f"{p['newer_by']}): {c['verdict']} verdicts ({p['worse_in_newer']} worse in the newer), "
                     f"{c['discrepancy']} discrepancy calls, {c['error']} errors, {c['timing']} timings")
        if any(u.values()):
            lines.append(f"    of which in frameworks whose versions did not change (noise): {u.get('verdict', 0)} "
                         f"verdicts, {u.get('error', 0)} errors, {u.get('timing', 0)} timings")
    for kind, title in (("verdict", "verdict changes"), ("discrepancy", "discrepancy calls"),
                        ("error", "errors that moved by more than a tenth of the tolerance"),
                        ("timing", "timings that changed")):
        items = [c for c in m["changes"] if c["kind"] == kind]
        if items:
            lines.append(f"{title}: {len(items)}")
            lines.extend(_change_line(c) for c in items[:limit])
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more (matrix.json)")
    if not m["changes"]:
        lines.append("  nothing changed")
    return "\n".join(lines)


def to_markdown(m: dict[str, Any], limit: int = 50) -> str:
    """The same as Markdown (a CI job summary)."""
    out = ["# upconform matrix", "", "| environment | checks | versions |", "|---|---|---|"]
    for e in m["environments"]:
        v = "; ".join(f"{d} {x}" for d, x in _dists(e["versions"]).items())
        out.append(f"| {e['name']} | {e['checks']} | {v} |")
    out += ["", "## What changed", ""]
    for p in m["pairs"]:
        c = p["counts"]
        out.append(f"- **{p['from']} -> {p['to']}** ({_versions_text(p['versions'])}; newer: {p['newer']}): "
                   f"{c['verdict']} verdict changes ({p['worse_in_newer']} worse in the newer), {c['discrepancy']} "
                   f"discrepancy calls, {c['error']} errors moved, {c['timing']} timings changed"
                   + _noise_text(p))
    for kind in ("verdict", "discrepancy", "error", "timing"):
        items = [c for c in m["changes"] if c["kind"] == kind]
        if items:
            out += ["", f"### {kind} ({len(items)})", "", "```"]
            out += [_change_line(c).strip() for c in items[:limit]]
            out += ([f"... and {len(items) - limit} more"] if len(items) > limit else []) + ["```"]
    return "\n".join(out) + "\n"


def to_html(m: dict[str, Any], limit: int = 500) -> str:
    """A self-contained page: the environments, what changed (verdicts first), and the checks whose
    outcome or error differs between environments."""
    e = html.escape
    names = [x["name"] for x in m["environments"]]
    css = ("body{font:14px system-ui,sans-serif;margin:2em;max-width:1400px}table{border-collapse:collapse}"
           "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
           ".bad{background:#fdd}.ok{background:#dfd}.known{background:#ffd}.skip{color:#777}"
           ".worse{color:#b00;font-weight:bold}code{font-size:12px}")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>upconform matrix</title><style>{css}</style>"
             "</head><body><h1>upconform matrix</h1>",
             f"<p>Exit status {m['exit_status']}: {m['worse_in_newer']} verdict(s) worse in a newer version.</p>",
             "<h2>Environments</h2><table><tr><th>environment</th><th>checks</th><th>versions</th><th>seconds</th></tr>"]
    for x in m["environments"]:
        v = "<br>".join(e(f"{d} {ver}") for d, ver in _dists(x["versions"]).items())
        parts.append(f"<tr><td>{e(x['name'])}</td><td>{x['checks']}</td><td>{v}</td>"
                     f"<td>{e(str(x.get('duration_s')))}</td></tr>")
    parts.append("</table><h2>What changed</h2><ul>")
    for p in m["pairs"]:
        c = p["counts"]
        parts.append(f"<li><b>{e(p['from'])} &rarr; {e(p['to'])}</b> ({e(_versions_text(p['versions']))}; newer: "
                     f"{e(p['newer'])}, by {e(p['newer_by'])}): {c['verdict']} verdict changes "
                     f"(<span class='worse'>{p['worse_in_newer']} worse in the newer</span>), {c['discrepancy']} "
                     f"discrepancy calls, {c['error']} errors moved, {c['timing']} timings changed"
                     f"{e(_noise_text(p))}</li>")
    parts.append("</ul>")
    if not m["changes"]:
        parts.append("<p>Nothing changed.</p>")
    for kind, title in (("verdict", "Verdicts"), ("discrepancy", "Discrepancy-report calls"),
                        ("error", "Errors (share of the tolerance used by the worst element)"),
                        ("timing", "Timings")):
        items = [c for c in m["changes"] if c["kind"] == kind]
        if not items:
            continue
        parts.append(f"<h3>{e(title)} ({len(items)})</h3><table><tr><th></th><th>check</th><th>environments</th>"
                     "<th>from</th><th>to</th><th>detail</th></tr>")
        for c in items[:limit]:
            tag = "worse" if c.get("worse_in_newer") else ("fixed" if c.get("better") else "")
            check = (f"{c['report']} call #{c['call']}" if kind == "discrepancy"
                     else f"{c['case_id']} :: {c['label']}")
            if kind == "timing":
                frm, to = f"{c['from'] * 1e3:.3g} ms", f"{c['to'] * 1e3:.3g} ms"
                det = f"x{c['ratio']:.2f}, p={c['p_value']:.2g}"
            elif kind == "error":
                frm, to, det = f"{c['from']:.3g}", f"{c['to']:.3g}", f"max abs {c['max_abs_err']}"
            else:
                frm, to, det = c["from"], c["to"], c.get("reason", "")
            parts.append(f"<tr><td class='{'worse' if tag == 'worse' else ''}'>{tag}</td><td><code>{e(check)}</code></td>"
                         f"<td>{e(c['from_env'])} &rarr; {e(c['to_env'])}</td><td>{e(str(frm))}</td><td>{e(str(to))}</td>"
                         f"<td>{e(str(det))}</td></tr>")
        if len(items) > limit:
            parts.append(f"<tr><td colspan=6>... and {len(items) - limit} more in matrix.json</td></tr>")
        parts.append("</table>")
    move = m["thresholds"]["error_share_move"]

    def differs(cells: list[Any]) -> bool:
        shares = [v[1] for v in cells if v is not None and v[1] is not None]
        return len({json.dumps(v and v[0]) for v in cells}) > 1 or (bool(shares) and max(shares) - min(shares) > move)

    differing = [row for row in m["checks"] if differs(row[4])]
    parts.append(f"<h2>Checks that differ between environments ({len(differing)} of {len(m['checks'])})</h2>"
                 "<table><tr><th>check</th>" + "".join(f"<th>{e(n)}</th>" for n in names) + "</tr>")
    for row in differing[:limit]:
        cells = []
        for v in row[4]:
            if v is None:
                cells.append("<td class='skip'>not run</td>")
            else:
                share = "" if v[1] is None else f" ({v[1]:.3g} of tol)"
                cells.append(f"<td class='{Outcome(v[0]).css}'>{e(v[0])}{share}</td>")
        label = row[1] + ("" if row[2] == "eager" else f" [{row[2]}]") + ("" if row[3] == "forward" else " [backward]")
        parts.append(f"<tr><td><code>{e(row[0])} :: {e(label)}</code></td>{''.join(cells)}</tr>")
    parts.append("</table></body></html>")
    return "".join(parts)
