"""Run history in SQLite, for regression tracking across framework versions.

Schema (documented in the README):

    runs(run_id INTEGER PRIMARY KEY, time_utc TEXT, git_commit TEXT, upconform TEXT, python TEXT,
         numpy TEXT, torch TEXT, tensorflow TEXT, platform TEXT, cpu TEXT, threads INTEGER,
         device TEXT, n_checks INTEGER, n_bad INTEGER, results_path TEXT)
    checks(run_id INTEGER, case_id TEXT, binding TEXT, op TEXT, framework TEXT, dtype TEXT,
           outcome TEXT, max_abs_err REAL, max_ulp REAL, median_s REAL)

Example:
    >>> import tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "h.sqlite")
    >>> append(db, {"provenance": {}, "results": []}, "r.json")
    1
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT, time_utc TEXT, git_commit TEXT, upconform TEXT, python TEXT,
  numpy TEXT, torch TEXT, tensorflow TEXT, platform TEXT, cpu TEXT, threads INTEGER, device TEXT,
  n_checks INTEGER, n_bad INTEGER, results_path TEXT);
CREATE TABLE IF NOT EXISTS checks (
  run_id INTEGER REFERENCES runs(run_id), case_id TEXT, binding TEXT, op TEXT, framework TEXT, dtype TEXT,
  outcome TEXT, max_abs_err REAL, max_ulp REAL, median_s REAL);
CREATE INDEX IF NOT EXISTS checks_run ON checks(run_id);
"""
_BAD = ("fail", "error", "xpass", "crash", "timeout")


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) else None


def connect(path: str | Path) -> sqlite3.Connection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path))
    con.executescript(_SCHEMA)
    return con


def append(path: str | Path, data: dict[str, Any], results_path: str) -> int:
    """Add one run (from results.json data); returns its run_id."""
    p = data.get("provenance", {})
    res = data.get("results", [])
    with connect(path) as con:
        cur = con.execute(
            "INSERT INTO runs (time_utc, git_commit, upconform, python, numpy, torch, tensorflow, platform, cpu, "
            "threads, device, n_checks, n_bad, results_path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (p.get("time_utc"), p.get("git_commit"), p.get("upconform"), p.get("python"), p.get("numpy"),
             p.get("torch"), p.get("tensorflow"), p.get("platform"), p.get("cpu"), p.get("threads"),
             p.get("device"), len(res), sum(r["outcome"] in _BAD for r in res), results_path))
        run_id = int(cur.lastrowid)
        con.executemany(
            "INSERT INTO checks VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(run_id, r["case_id"], r["binding"], r["op"], r["framework"], r["dtype"], r["outcome"],
              _num(r.get("metrics", {}).get("max_abs_err")), _num(r.get("metrics", {}).get("max_ulp")),
              _num((r.get("timing") or {}).get("median_s"))) for r in res])
    return run_id


def runs(path: str | Path) -> list[dict[str, Any]]:
    if not Path(path).exists():
        return []
    with connect(path) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY run_id")]


def trends(path: str | Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Per op: median check time (s) and worst ULP per run, over passing-or-failing checks."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {"time": {}, "ulp": {}, "bad": {}}
    if not Path(path).exists():
        return out
    with connect(path) as con:
        rows = con.execute("SELECT run_id, op, median_s, max_ulp, outcome FROM checks WHERE outcome != 'unsupported'"
                           " ORDER BY run_id").fetchall()
    per: dict[tuple[str, int], list[tuple[float | None, float | None, str]]] = {}
    for run_id, op, t, u, o in rows:
        per.setdefault((op, run_id), []).append((t, u, o))
    for (op, run_id), vals in sorted(per.items(), key=lambda kv: kv[0][1]):
        ts = sorted(t for t, _, _ in vals if t is not None)
        us = [u for _, u, _ in vals if u is not None]
        if ts:
            out["time"].setdefault(op, []).append((run_id, ts[len(ts) // 2]))
        if us:
            out["ulp"].setdefault(op, []).append((run_id, max(us)))
        out["bad"].setdefault(op, []).append((run_id, float(sum(o in _BAD for _, _, o in vals))))
    return out


def change_points(series: list[tuple[int, float]], factor: float = 1.25) -> list[int]:
    """Runs where a value moved by more than ``factor`` from the previous run (where a change began)."""
    marks = []
    for (_, a), (rb, b) in zip(series, series[1:]):
        lo, hi = min(a, b), max(a, b)
        if (lo <= 0 < hi) or (lo > 0 and hi / lo > factor):
            marks.append(rb)
    return marks
