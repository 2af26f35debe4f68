"""Compare two results.json files: outcome changes, error growth, added/removed checks, provenance
changes, and slowdowns judged on raw timing samples (``upconform.harness.stats.samples_differ``: SciPy's
Mann-Whitney U test, or separated ranges where the samples are too few for the test to reach alpha).

Example:
    >>> s = {"timing": {"samples_s": [1e-3, 1.1e-3, 1.2e-3]}, "case_id": "c", "binding": "b", "outcome": "pass"}
    >>> slow = {**s, "timing": {"samples_s": [3e-3, 3.3e-3, 3.6e-3]}}
    >>> [round(x["ratio"], 2) for x in compare_runs({"results": [s]}, {"results": [slow]})["slowdowns"]]
    [3.0]
"""

from __future__ import annotations

from typing import Any

from ..harness.outcome import is_bad
from ..harness.results import check_key, check_label, framework_versions
from ..harness.stats import median, samples_differ

# provenance keys compared besides each framework distribution's version
_PROVENANCE = ("upconform", "python", "numpy", "platform", "cpu", "threads", "device")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) else None


def provenance_changes(base: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """``{key: [base value, new value]}`` for the provenance that differs: the keys of ``_PROVENANCE`` and
    each framework distribution's version as ``framework/distribution`` (from ``framework_versions``, so
    results.json files of either layout compare; a distribution missing on one side is None there).

    Example:
        >>> provenance_changes({"python": "3.11", "frameworks": {"fw": {"fw-cpu": "1.0"}}},
        ...                    {"python": "3.11", "frameworks": {"fw": {"fw-cpu": "1.1", "ext": "2.0"}}})
        {'fw/ext': [None, '2.0'], 'fw/fw-cpu': ['1.0', '1.1']}
    """
    out = {k: [base.get(k), new.get(k)] for k in _PROVENANCE if base.get(k) != new.get(k)}
    vb, vn = framework_versions(base), framework_versions(new)
    for fw in sorted(vb.keys() | vn.keys()):
        db, dn = vb.get(fw, {}), vn.get(fw, {})
        for dist in sorted(db.keys() | dn.keys()):
            if db.get(dist) != dn.get(dist):
                out[f"{fw}/{dist}"] = [db.get(dist), dn.get(dist)]
    return out


def timing_change(rb: dict[str, Any], rn: dict[str, Any], *, max_ratio: float = 1.25, alpha: float = 0.05,
                  min_time_diff_s: float = 1e-4) -> dict[str, Any] | None:
    """The timing change of one check between two runs, or None: 3 or more raw samples a side, medians
    apart by more than ``max_ratio`` either way and by more than ``min_time_diff_s``, and samples that
    differ by ``samples_differ``. The one rule of ``compare`` and of the matrix report.

    Example:
        >>> a = {"timing": {"samples_s": [1e-3, 1.1e-3, 1.2e-3]}}
        >>> round(timing_change(a, {"timing": {"samples_s": [3e-3, 3.3e-3, 3.6e-3]}})["ratio"], 2)
        3.0
    """
    sb = (rb.get("timing") or {}).get("samples_s") or []
    sn = (rn.get("timing") or {}).get("samples_s") or []
    if len(sb) < 3 or len(sn) < 3:
        return None
    mb, mn = median(sb), median(sn)
    if mb <= 0 or abs(mn - mb) <= min_time_diff_s or 1 / max_ratio <= mn / mb <= max_ratio:
        return None
    d = samples_differ(sb, sn, alpha=alpha)
    if not d.differ:
        return None
    return {"median_s": [mb, mn], "ratio": mn / mb, "p_value": d.p_value, "rule": d.rule}


def compare_runs(base: dict[str, Any], new: dict[str, Any], *, max_slowdown: float = 1.25, alpha: float = 0.05,
                 ulp_slack: float = 1.0, min_time_diff_s: float = 1e-4) -> dict[str, Any]:
    """Everything that changed from ``base`` to ``new``; ``regressions`` decides the exit code.

    A check's error grew when its max ULP rose by more than ``ulp_slack`` and by more than 25 %
    (or its max abs error more than doubled). A check slowed down when its median time rose by more
    than ``max_slowdown`` and by more than ``min_time_diff_s``, and its raw samples (3 or more on each
    side) differ by ``samples_differ``: two-sided Mann-Whitney p < ``alpha`` (exact p-value without
    ties), or, where the sample sizes cannot reach ``alpha`` (3 vs 3, 3 vs 4 at 0.05), ranges that do not
    overlap. Provenance changes compare upconform, Python, NumPy, platform, CPU, threads, device and each
    framework's distribution versions (keyed ``framework/distribution``).
    """
    b = {check_key(r): r for r in base.get("results", [])}
    n = {check_key(r): r for r in new.get("results", [])}
    out: dict[str, Any] = {"outcome_changes": [], "error_growth": [], "slowdowns": [], "speedups": [],
                           "added": sorted(map(list, n.keys() - b.keys())),
                           "removed": sorted(map(list, b.keys() - n.keys())),
                           "provenance_changes": provenance_changes(base.get("provenance", {}), new.get("provenance", {}))}
    for k in sorted(b.keys() & n.keys()):
        rb, rn = b[k], n[k]
        entry = {"case_id": k[0], "binding": k[1], "path": k[2], "direction": k[3], "label": check_label(rn)}
        if rb["outcome"] != rn["outcome"]:
            out["outcome_changes"].append({**entry, "from": rb["outcome"], "to": rn["outcome"],
                                           "regression": not is_bad(rb["outcome"]) and is_bad(rn["outcome"]),
                                           "reason": rn.get("reason", "")})
        ub, un = _num(rb.get("metrics", {}).get("max_ulp")), _num(rn.get("metrics", {}).get("max_ulp"))
        ab, an = _num(rb.get("metrics", {}).get("max_abs_err")), _num(rn.get("metrics", {}).get("max_abs_err"))
        grew_ulp = ub is not None and un is not None and un > ub + ulp_slack and un > 1.25 * ub
        grew_abs = ab is not None and an is not None and an > 2 * ab and an > 0 and grew_ulp
        if grew_ulp or grew_abs:
            out["error_growth"].append({**entry, "max_ulp": [ub, un], "max_abs_err": [ab, an]})
        t = timing_change(rb, rn, max_ratio=max_slowdown, alpha=alpha, min_time_diff_s=min_time_diff_s)
        if t is not None:
            out["slowdowns" if t["ratio"] > 1 else "speedups"].append({**entry, **t})
    out["regressions"] = (sum(c["regression"] for c in out["outcome_changes"]) + len(out["error_growth"])
                          + len(out["slowdowns"]))
    return out


def format_comparison(c: dict[str, Any], limit: int = 20) -> str:
    lines = [f"regressions: {c['regressions']}"]
    for k, (a, b) in c["provenance_changes"].items():
        lines.append(f"provenance {k}: {a} -> {b}")
    for title, key in (("outcome changes", "outcome_changes"), ("error growth", "error_growth"),
                       ("slowdowns", "slowdowns"), ("speedups", "speedups")):
        items = c[key]
        if not items:
            continue
        lines.append(f"{title}: {len(items)}")
        for it in items[:limit]:
            name = it.get("label", it["binding"])
            if key == "outcome_changes":
                lines.append(f"  {it['from']} -> {it['to']}  {it['case_id']} :: {name}  {it['reason'][:100]}")
            elif key == "error_growth":
                lines.append(f"  ULP {it['max_ulp'][0]:.3g} -> {it['max_ulp'][1]:.3g}  {it['case_id']} :: {name}")
            else:
                how = f"p={it['p_value']:.3g}" + (", ranges apart" if it.get("rule") == "separated ranges" else "")
                lines.append(f"  x{it['ratio']:.2f} ({how}) {it['case_id']} :: {name}")
    lines.append(f"added checks: {len(c['added'])}, removed checks: {len(c['removed'])}")
    return "\n".join(lines)
