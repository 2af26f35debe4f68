"""Run history in SQLite, for regression tracking across framework versions.

Schema version 3 (``PRAGMA user_version``; documented in the README):

    runs(run_id INTEGER PRIMARY KEY, time_utc TEXT, git_commit TEXT, upconform TEXT, python TEXT,
         numpy TEXT, versions TEXT, platform TEXT, cpu TEXT, threads INTEGER, device TEXT,
         n_checks INTEGER, n_bad INTEGER, results_path TEXT)
    checks(run_id INTEGER, case_id TEXT, binding TEXT, op TEXT, framework TEXT, dtype TEXT,
           outcome TEXT, max_abs_err REAL, max_ulp REAL, median_s REAL, path TEXT, direction TEXT)

``versions`` is the JSON of ``framework_versions(provenance)``: ``{framework: {distribution: version}}``.
Older databases are migrated forward when opened, every row kept: version 0 (one column per
framework) has its framework columns moved into ``versions``; version 1 gains ``checks.path``
(``eager`` for the rows written before paths existed); version 2 gains ``checks.direction``
(``forward`` for the rows written before backward checks existed).

Example:
    >>> import tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "h.sqlite")
    >>> append(db, {"provenance": {"frameworks": {"fw": {"fw-cpu": "1.0"}}}, "results": []}, "r.json")
    1
    >>> runs(db)[0]["versions"]
    {'fw': {'fw-cpu': '1.0'}}
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ..harness.outcome import is_bad
from ..harness.results import framework_versions
from ..harness.stats import median

SCHEMA_VERSION = 3
_RUN_COLUMNS = ("run_id", "time_utc", "git_commit", "upconform", "python", "numpy", "versions", "platform", "cpu",
                "threads", "device", "n_checks", "n_bad", "results_path")
_RUNS = """CREATE TABLE IF NOT EXISTS {name} (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT, time_utc TEXT, git_commit TEXT, upconform TEXT, python TEXT,
  numpy TEXT, versions TEXT, platform TEXT, cpu TEXT, threads INTEGER, device TEXT,
  n_checks INTEGER, n_bad INTEGER, results_path TEXT)"""
_SCHEMA = (
    _RUNS.format(name="runs"),
    """CREATE TABLE IF NOT EXISTS checks (
  run_id INTEGER REFERENCES runs(run_id), case_id TEXT, binding TEXT, op TEXT, framework TEXT, dtype TEXT,
  outcome TEXT, max_abs_err REAL, max_ulp REAL, median_s REAL, path TEXT DEFAULT 'eager',
  direction TEXT DEFAULT 'forward')""",
    "CREATE INDEX IF NOT EXISTS checks_run ON checks(run_id)",
)


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) else None


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]


def _up_to_date(con: sqlite3.Connection) -> bool:
    return con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION and "versions" in _columns(con, "runs")


def _migrate_v0(con: sqlite3.Connection) -> None:
    """Version 0 -> 1, inside the caller's transaction: rebuild ``runs`` with the framework columns
    (those not in version 1) folded into ``versions``; run_ids and the AUTOINCREMENT counter are kept."""
    legacy = [c for c in _columns(con, "runs") if c not in _RUN_COLUMNS]
    kept = [c for c in _RUN_COLUMNS if c != "versions"]
    seq = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'runs'").fetchone()
    con.execute(_RUNS.format(name="runs_v1"))
    rows = con.execute(f"SELECT {', '.join(f'[{c}]' for c in kept + legacy)} FROM runs ORDER BY run_id").fetchall()
    con.executemany(
        f"INSERT INTO runs_v1 ({', '.join(kept)}, versions) VALUES ({', '.join('?' * (len(kept) + 1))})",
        [(*r[:len(kept)], json.dumps(framework_versions(dict(zip(legacy, r[len(kept):])))))
         for r in rows])
    con.execute("DROP TABLE runs")
    con.execute("ALTER TABLE runs_v1 RENAME TO runs")
    if seq is not None:
        con.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'runs'", (seq[0],))


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating or migrating to schema version ``SCHEMA_VERSION``) the history database.

    A version-0 database (``user_version`` 0, a ``runs`` table without ``versions``) is migrated in one
    transaction, so an interrupted migration leaves the old database as it was.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path))
    if _up_to_date(con):
        return con
    con.isolation_level = None  # explicit transaction: the schema statements are part of it
    try:
        con.execute("BEGIN IMMEDIATE")  # the write lock first: a concurrent opener migrates only once
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{path}: history schema version {version} is newer than this upconform's "
                               f"({SCHEMA_VERSION})")
        if _columns(con, "runs") and "versions" not in _columns(con, "runs"):
            _migrate_v0(con)
        if _columns(con, "checks") and "path" not in _columns(con, "checks"):  # version 1 -> 2
            con.execute("ALTER TABLE checks ADD COLUMN path TEXT DEFAULT 'eager'")
        if _columns(con, "checks") and "direction" not in _columns(con, "checks"):  # version 2 -> 3
            con.execute("ALTER TABLE checks ADD COLUMN direction TEXT DEFAULT 'forward'")
        for stmt in _SCHEMA:
            con.execute(stmt)
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        con.close()
        raise
    con.isolation_level = ""
    return con


def append(path: str | Path, data: dict[str, Any], results_path: str) -> int:
    """Add one run (from results.json data); returns its run_id."""
    p = data.get("provenance", {})
    res = data.get("results", [])
    with connect(path) as con:
        cur = con.execute(
            "INSERT INTO runs (time_utc, git_commit, upconform, python, numpy, versions, platform, cpu, "
            "threads, device, n_checks, n_bad, results_path) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (p.get("time_utc"), p.get("git_commit"), p.get("upconform"), p.get("python"), p.get("numpy"),
             json.dumps(framework_versions(p)), p.get("platform"), p.get("cpu"), p.get("threads"),
             p.get("device"), len(res), sum(is_bad(r["outcome"]) for r in res), results_path))
        run_id = int(cur.lastrowid)
        con.executemany(
            "INSERT INTO checks (run_id, case_id, binding, op, framework, dtype, outcome, max_abs_err, max_ulp, "
            "median_s, path, direction) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            [(run_id, r["case_id"], r["binding"], r["op"], r["framework"], r["dtype"], r["outcome"],
              _num(r.get("metrics", {}).get("max_abs_err")), _num(r.get("metrics", {}).get("max_ulp")),
              _num((r.get("timing") or {}).get("median_s")), r.get("path") or "eager", r.get("direction") or "forward")
             for r in res])
    return run_id


def runs(path: str | Path) -> list[dict[str, Any]]:
    """Every run, oldest first, each a dict of the ``runs`` columns with ``versions`` as a dict."""
    if not Path(path).exists():
        return []
    with connect(path) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM runs ORDER BY run_id")]
    for r in rows:
        r["versions"] = json.loads(r["versions"]) if r["versions"] else {}
    return rows


def format_versions(versions: dict[str, str], framework: str) -> str:
    """One table cell for one framework's ``{distribution: version}``: the version alone when the
    distribution is named after the framework and is its only one, else ``distribution version`` pairs.

    Example:
        >>> format_versions({"fw": "1.0"}, "fw"), format_versions({"fw-cpu": "2.0", "ext": "3.1"}, "fw")
        ('1.0', 'fw-cpu 2.0, ext 3.1')
    """
    if list(versions) == [framework]:
        return str(versions[framework])
    return ", ".join(f"{d} {v}" for d, v in versions.items()) or "-"


def format_runs(rows: list[dict[str, Any]]) -> str:
    """The runs as a text table: run, time, commit, one column per framework seen in ``rows``, checks, bad.

    Example:
        >>> print(format_runs([{"run_id": 1, "time_utc": "2025-01-01", "git_commit": "abcdef123", "n_checks": 4,
        ...                     "n_bad": 1, "versions": {"fw": {"fw": "1.0"}}}]))
         run time (UTC)                commit   fw   checks   bad
           1 2025-01-01                abcdef12 1.0       4     1
    """
    fws = sorted({fw for r in rows for fw in r.get("versions") or {}})
    cells = [[format_versions((r.get("versions") or {}).get(fw, {}), fw) for fw in fws] for r in rows]
    widths = [max([len(fw), *(len(c[i]) for c in cells)]) for i, fw in enumerate(fws)]
    head = f"{'run':>4s} {'time (UTC)':25s} {'commit':8s} " + "".join(f"{fw:{w}s} " for fw, w in zip(fws, widths))
    lines = [head + f"{'checks':>7s} {'bad':>5s}"]
    for r, c in zip(rows, cells):
        lines.append(f"{r['run_id']:4d} {str(r['time_utc']):25s} {str(r['git_commit'])[:8]:8s} "
                     + "".join(f"{v:{w}s} " for v, w in zip(c, widths)) + f"{r['n_checks']:7d} {r['n_bad']:5d}")
    return "\n".join(lines)


def trends(path: str | Path) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Per op (backward checks apart: ``resize [backward]``): median check time (s) and worst ULP per run,
    over passing-or-failing checks."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {"time": {}, "ulp": {}, "bad": {}}
    if not Path(path).exists():
        return out
    with connect(path) as con:
        rows = con.execute("SELECT run_id, CASE WHEN direction = 'forward' THEN op ELSE op || ' [' || direction || ']' END,"
                           " median_s, max_ulp, outcome FROM checks WHERE outcome != 'unsupported'"
                           " ORDER BY run_id").fetchall()
    per: dict[tuple[str, int], list[tuple[float | None, float | None, str]]] = {}
    for run_id, op, t, u, o in rows:
        per.setdefault((op, run_id), []).append((t, u, o))
    for (op, run_id), vals in sorted(per.items(), key=lambda kv: kv[0][1]):
        ts = [t for t, _, _ in vals if t is not None]
        us = [u for _, u, _ in vals if u is not None]
        if ts:
            out["time"].setdefault(op, []).append((run_id, median(ts)))
        if us:
            out["ulp"].setdefault(op, []).append((run_id, max(us)))
        out["bad"].setdefault(op, []).append((run_id, float(sum(is_bad(o) for _, _, o in vals))))
    return out


def change_points(series: list[tuple[int, float]], factor: float = 1.25) -> list[int]:
    """Runs where a value moved by more than ``factor`` from the previous run (where a change began)."""
    marks = []
    for (_, a), (rb, b) in zip(series, series[1:]):
        lo, hi = min(a, b), max(a, b)
        if (lo <= 0 < hi) or (lo > 0 and hi / lo > factor):
            marks.append(rb)
    return marks
