"""Compare two results.json files: outcome changes, error growth, added/removed checks, provenance
changes and slowdowns judged on raw timing samples with a Mann-Whitney U test (as asv does).

Example:
    >>> round(mann_whitney_u([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]), 4)
    0.0122
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

GOOD = ("pass", "xfail", "unsupported")
BAD = ("fail", "error", "xpass", "crash", "timeout")


def mann_whitney_u(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation with tie and continuity
    corrections; no SciPy)."""
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    allv = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(allv)
    i = 0
    ties = 0.0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        r = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = r
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, allv) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))) if n > 1 else 0.0
    if sigma == 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / sigma
    return math.erfc(max(z, 0.0) / math.sqrt(2))


def _median(v: Sequence[float]) -> float:
    s = sorted(v)
    n = len(s)
    return (s[n // 2] + s[(n - 1) // 2]) / 2 if n else float("nan")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) else None


def compare_runs(base: dict[str, Any], new: dict[str, Any], *, max_slowdown: float = 1.25, alpha: float = 0.05,
                 ulp_slack: float = 1.0, min_time_diff_s: float = 1e-4) -> dict[str, Any]:
    """Everything that changed from ``base`` to ``new``; ``regressions`` decides the exit code.

    A check's error grew when its max ULP rose by more than ``ulp_slack`` and by more than 25 %
    (or its max abs error more than doubled). A check slowed down when its median time rose by more
    than ``max_slowdown`` and the raw samples differ with Mann-Whitney p < ``alpha``.
    """
    key = lambda r: (r["case_id"], r["binding"])  # noqa: E731
    b = {key(r): r for r in base.get("results", [])}
    n = {key(r): r for r in new.get("results", [])}
    out: dict[str, Any] = {"outcome_changes": [], "error_growth": [], "slowdowns": [], "speedups": [],
                           "added": sorted(map(list, n.keys() - b.keys())),
                           "removed": sorted(map(list, b.keys() - n.keys())), "provenance_changes": {}}
    for k in ("upconform", "python", "numpy", "torch", "tensorflow", "keras", "platform", "cpu", "threads", "device"):
        if base.get("provenance", {}).get(k) != new.get("provenance", {}).get(k):
            out["provenance_changes"][k] = [base.get("provenance", {}).get(k), new.get("provenance", {}).get(k)]
    for k in sorted(b.keys() & n.keys()):
        rb, rn = b[k], n[k]
        entry = {"case_id": k[0], "binding": k[1]}
        if rb["outcome"] != rn["outcome"]:
            out["outcome_changes"].append({**entry, "from": rb["outcome"], "to": rn["outcome"],
                                           "regression": rb["outcome"] in GOOD and rn["outcome"] in BAD,
                                           "reason": rn.get("reason", "")})
        ub, un = _num(rb.get("metrics", {}).get("max_ulp")), _num(rn.get("metrics", {}).get("max_ulp"))
        ab, an = _num(rb.get("metrics", {}).get("max_abs_err")), _num(rn.get("metrics", {}).get("max_abs_err"))
        grew_ulp = ub is not None and un is not None and un > ub + ulp_slack and un > 1.25 * ub
        grew_abs = ab is not None and an is not None and an > 2 * ab and an > 0 and grew_ulp
        if grew_ulp or grew_abs:
            out["error_growth"].append({**entry, "max_ulp": [ub, un], "max_abs_err": [ab, an]})
        sb = (rb.get("timing") or {}).get("samples_s") or []
        sn = (rn.get("timing") or {}).get("samples_s") or []
        if len(sb) >= 3 and len(sn) >= 3:
            mb, mn = _median(sb), _median(sn)
            p = mann_whitney_u(sb, sn)
            if mb > 0 and p < alpha and abs(mn - mb) > min_time_diff_s:
                ratio = mn / mb
                rec = {**entry, "median_s": [mb, mn], "ratio": ratio, "p_value": p}
                if ratio > max_slowdown:
                    out["slowdowns"].append(rec)
                elif ratio < 1 / max_slowdown:
                    out["speedups"].append(rec)
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
            if key == "outcome_changes":
                lines.append(f"  {it['from']} -> {it['to']}  {it['case_id']} :: {it['binding']}  {it['reason'][:100]}")
            elif key == "error_growth":
                lines.append(f"  ULP {it['max_ulp'][0]:.3g} -> {it['max_ulp'][1]:.3g}  {it['case_id']} :: {it['binding']}")
            else:
                lines.append(f"  x{it['ratio']:.2f} (p={it['p_value']:.3g}) {it['case_id']} :: {it['binding']}")
    lines.append(f"added checks: {len(c['added'])}, removed checks: {len(c['removed'])}")
    return "\n".join(lines)
