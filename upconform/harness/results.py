"""results.json: the source of truth. Provenance, every check's verdict, the discrepancy reports.

Written compact (:func:`write_results`, schema 4: shared tables, one short line per check) and read
back with :func:`load_results`, which gives one full dict per check (schema 3's fields) for every
reader; files of schema 3 and older load as they are.

Example:
    >>> sorted(provenance(threads=1))[:3]
    ['cpu', 'cpu_count', 'device']
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .stats import iqr, median, median_ci

# 2: every result has ``path`` (eager, compiled, onnx, litert, ...), ``audit`` and ``vs_eager``.
# 3: every result has ``direction`` (forward, backward) and a backward result ``gradients``; a check is keyed
# (case_id, binding, path, direction). Older results read as eager and forward (see :func:`check_key`).
# 4: the file is compact (:func:`compact`: shared tables, defaults and derivable fields left out, timings
# to 4 significant digits); :func:`load_results` expands it to the schema-3 result dicts.
SCHEMA_VERSION = 4


def check_key(r: dict[str, Any]) -> tuple[str, str, str, str]:
    """A result's identity: (case_id, binding, path, direction); results written before paths existed
    are eager, before backward checks existed forward.

    Example:
        >>> check_key({"case_id": "resize/a[float32]", "binding": "b"})
        ('resize/a[float32]', 'b', 'eager', 'forward')
    """
    return r["case_id"], r["binding"], r.get("path") or "eager", r.get("direction") or "forward"


def check_label(r: dict[str, Any]) -> str:
    """The binding as reports name a check's column: ``binding``, or ``binding [path]`` off the eager path.

    Example:
        >>> check_label({"binding": "torch.nn.functional.interpolate", "path": "onnx"})
        'torch.nn.functional.interpolate [onnx]'
    """
    return _labelled(r["binding"], r)


def framework_label(r: dict[str, Any]) -> str:
    """The framework as summaries count a check: ``framework``, or ``framework [path]`` off the eager path.

    Example:
        >>> framework_label({"framework": "torch", "path": "compiled"})
        'torch [compiled]'
    """
    return _labelled(r["framework"], r)


def _labelled(name: str, r: dict[str, Any]) -> str:
    """``name``, with the path off eager and ``backward`` for a gradient check: ``b [compiled, backward]``.

    Example:
        >>> _labelled("torch", {"direction": "backward"})
        'torch [backward]'
    """
    tags = [p for p in (r.get("path") or "eager",) if p != "eager"]
    if (r.get("direction") or "forward") != "forward":
        tags.append(r["direction"])
    return f"{name} [{', '.join(tags)}]" if tags else name


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parents[2])
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def framework_versions(prov: dict[str, Any]) -> dict[str, dict[str, str]]:
    """``{framework: {distribution: version}}`` of a provenance record. Files written before framework
    descriptors kept one top-level key per framework or distribution; those are read back through
    the registered descriptors' names and distributions.

    Example:
        >>> framework_versions({"frameworks": {"fw": {"fw-dist": "1.0"}}})
        {'fw': {'fw-dist': '1.0'}}
    """
    if isinstance(prov.get("frameworks"), dict):
        return {k: dict(v) for k, v in prov["frameworks"].items()}
    from ..adapters import frameworks

    out: dict[str, dict[str, str]] = {}
    for name, fw in frameworks().items():
        found = {d: str(prov[d]) for d in fw.distributions if prov.get(d)}
        if prov.get(name) and not any(d in found for d in (name, f"{name}-cpu")):
            found = {name: str(prov[name]), **{d: v for d, v in found.items() if not d.startswith(name)}}
        if found:
            out[name] = found
    return out


def provenance(*, threads: int, device: str = "cpu", flags: dict[str, Any] | None = None) -> dict[str, Any]:
    """Versions (of every registered framework, from its descriptor), machine, threads, commit and
    UTC time of this run."""
    from .. import __version__
    from ..adapters import frameworks

    fws = {name: fw.versions() for name, fw in sorted(frameworks().items())}
    return {
        "upconform": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "frameworks": fws,
        # one line per framework for readers: its first installed distribution's version
        **{name: next(iter(v.values()), None) for name, v in fws.items()},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "device": device,
        # the name of the `upconform matrix` environment that ran this (None outside a matrix)
        "environment": os.environ.get("UPCONFORM_ENVIRONMENT") or None,
        "git_commit": _git_commit(),
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "flags": flags or {},
    }


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write text to a temporary file beside ``path``, then rename it into place (mode 0644)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, data: Any, *, tight: bool = False) -> None:
    """Write strict JSON to a temporary file beside ``path``, then rename it into place (``tight``: as
    :func:`dumps_lines` with ``tight``)."""
    write_text_atomic(path, dumps_lines(data, tight=tight) + "\n")


def dumps_lines(data: Any, *, tight: bool = False) -> str:
    """Strict JSON with one line per top-level key and per element of a top-level list (one result per
    line: readable and diff-friendly, and encoded by json's C encoder, which ``indent`` turns off:
    17,000 results in 0.3 s instead of 2 s).

    Example:
        >>> print(dumps_lines({"a": 1, "results": [{"x": 1}, {"x": 2}]}))
        {
         "a": 1,
         "results": [
          {"x": 1},
          {"x": 2}
         ]
        }
        >>> json.loads(dumps_lines({1: "x"}))  # keys are strings, as json.dumps writes them
        {'1': 'x'}
        >>> print(dumps_lines({"results": [{"x": 1, "y": [1, 2]}]}, tight=True))  # no spaces within a line
        {
         "results": [
          {"x":1,"y":[1,2]}
         ]
        }
    """
    seps = (",", ":") if tight else None

    def enc(v: Any) -> str:
        return json.dumps(v, default=_json_default, allow_nan=False, separators=seps)

    if not isinstance(data, dict):
        return enc(data)
    parts = []
    for k, v in data.items():
        if isinstance(v, list) and v:
            body = ",\n".join("  " + enc(x) for x in v)
            parts.append(f" {enc(str(k))}: [\n{body}\n ]")
        else:
            parts.append(f" {enc(str(k))}: {enc(v)}")
    return "{\n" + ",\n".join(parts) + "\n}" if parts else "{}"


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "items"):
        return dict(o.items())
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def sanitize(v: Any) -> Any:
    """Replace NaN/Inf floats by strings so that results.json stays strict JSON."""
    if isinstance(v, float) and not np.isfinite(v):
        return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: sanitize(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [sanitize(x) for x in v]
    return v


def summarize(results: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """Outcome counts per framework (``framework [path]`` off the eager path) and op.

    Example:
        >>> summarize([{"framework": "f", "op": "o", "outcome": "pass", "path": "onnx"}])
        {'f [onnx]': {'o': {'pass': 1}}}
    """
    out: dict[str, dict[str, dict[str, int]]] = {}
    for r in results:
        d = out.setdefault(framework_label(r), {}).setdefault(r["op"], {})
        d[r["outcome"]] = d.get(r["outcome"], 0) + 1
    return out


def load(path: str | Path) -> Any:
    """results.json as a pandas DataFrame (one row per check), or the dict (:func:`load_results`) when
    pandas is missing."""
    data = load_results(path)
    try:
        import pandas as pd
    except ImportError:
        return data
    rows = []
    for r in data["results"]:
        row = {k: v for k, v in r.items() if k not in ("metrics", "timing", "canonical", "native", "tolerance")}
        row.update({f"metric_{k}": v for k, v in r.get("metrics", {}).items() if not isinstance(v, (list, dict))})
        row["median_s"] = r.get("timing", {}).get("median_s")
        rows.append(row)
    return pd.DataFrame(rows)



# ------------------------------------------------------------------------------ the compact file (schema 4)

# A result's fields (``runner.Result``, in its order) and the defaults that the compact form leaves out.
RESULT_FIELDS = ("case_id", "op", "binding", "framework", "dtype", "outcome", "path", "direction", "reason",
                 "canonical", "native", "native_call", "notes", "check", "message", "metrics", "tolerance", "timing",
                 "expectation", "source", "device", "repro", "classification", "diff_map", "audit", "vs_eager",
                 "deprecated", "gradients")
RESULT_DEFAULTS: dict[str, Any] = {
    "path": "eager", "direction": "forward", "reason": "", "canonical": {}, "native": None, "native_call": "",
    "notes": [], "check": "", "message": "", "metrics": {}, "tolerance": {}, "timing": {}, "expectation": None,
    "source": "", "device": "cpu", "repro": "", "classification": None, "diff_map": None, "audit": None,
    "vs_eager": None, "deprecated": "", "gradients": None}

TIMING_DIGITS = 4  # significant digits of every timing (the samples; the median and IQR are the rounded samples')
METRIC_DIGITS = 6  # of a passing check's metrics, gradients and vs_eager figures (other outcomes keep all)
MAP_DIGITS = 4  # of heatmap values (``diff_map``, of checks and of discrepancy pairs and calls)

# What a compact result's short keys hold (written into the file as ``keys``); any other key is the
# schema-3 field of that name, as it is.
ROW_KEYS = {
    "c": "index in cases: [case_id, op, dtype, source, index in canonicals, forward tolerance, backward tolerance]",
    "b": "index in bindings: [binding, framework, deprecated]",
    "p": "path (absent: eager)", "d": "direction (absent: forward)", "o": "outcome (absent: unsupported)",
    "r": "reason: index in strings (absent: '')", "k": "check (absent: '')",
    "n": "index in native_calls: [native, native_call] (absent: null, '')",
    "tol": "index in tolerances (absent: the case's tolerance for the direction)",
    "m": "metrics", "t": "timing", "g": "gradients: {name: dict}", "ve": "vs_eager",
    "x": "expectation: index in expectations", "nt": "notes: indices in strings",
    "repro": "absent: repro_text(source, case_id, binding, path, direction) when native is set, else ''",
    "other keys": "the field of that name, as it is",
    "dicts": ("metrics, timing, vs_eager and each gradient are [index in shapes, value per key]; a key written "
              "'=key' has no value: it is computed from the others (median_s, iqr_s, repeats, ci_s from samples_s; "
              "mismatch_fraction from mismatch_count and total)"),
}
_SHORT = frozenset(("c", "b", "p", "d", "o", "r", "k", "n", "tol", "m", "t", "g", "ve", "x", "nt"))
TABLES = ("encoding", "keys", "cases", "canonicals", "bindings", "native_calls", "strings", "tolerances",
          "expectations", "shapes")
_ENCODING = ("compact results (schema 4): upconform.harness.results.load_results expands them to one dict per check "
             f"(schema 3); timings rounded to {TIMING_DIGITS} significant digits, a passing check's metrics to "
             f"{METRIC_DIGITS}, heatmaps (diff_map) to {MAP_DIGITS}")


def repro_text(source: str, case_id: str, binding: str, path: str = "eager", direction: str = "forward") -> str:
    """The Python that reproduces a check (its spec file from ``source``, ``file:line``).

    Example:
        >>> print(repro_text("specs/repeat.yaml:3", "repeat/x[float32]", "b", "onnx"))
        from upconform.harness.repro import reproduce
        actual, expected, comparison = reproduce('specs/repeat.yaml', 'repeat/x[float32]', 'b', path='onnx')
        print(comparison.message)
    """
    src = source.rsplit(":", 1)[0]
    extra = ("" if path == "eager" else f", path={path!r}")
    extra += "" if direction == "forward" else f", direction={direction!r}"
    return (
        "from upconform.harness.repro import reproduce\n"
        f"actual, expected, comparison = reproduce({src!r}, {case_id!r}, {binding!r}{extra})\n"
        "print(comparison.message)"
    )


def round_sig(v: Any, digits: int) -> Any:
    """Every finite float in ``v`` (nested in dicts and lists) to ``digits`` significant digits.

    Example:
        >>> round_sig({"s": [3.7490994145628065e-05, 5], "ok": True}, 4)
        {'s': [3.749e-05, 5], 'ok': True}
    """
    if isinstance(v, float):
        return float(f"{v:.{digits}g}") if math.isfinite(v) else v
    if isinstance(v, dict):
        return {k: round_sig(x, digits) for k, x in v.items()}
    if isinstance(v, list):
        return [round_sig(x, digits) for x in v]
    return v


def _stat(name: str, d: dict[str, Any]) -> Any:
    """A figure computed from the others of its dict (see ``ROW_KEYS["dicts"]``); raises where it cannot be."""
    if name == "mismatch_fraction":
        return d["mismatch_count"] / d["total"] if d["total"] else 0.0
    samples = d["samples_s"]
    if not isinstance(samples, list) or not samples or not all(isinstance(x, float) for x in samples):
        raise ValueError("no samples")
    if name == "ci_s":
        return list(median_ci(samples)[:2])
    return {"median_s": median, "iqr_s": iqr, "repeats": len}[name](samples)


_DERIVED = {"timing": ("median_s", "iqr_s", "repeats", "ci_s"), "metrics": ("mismatch_fraction",)}


def _derives(name: str, d: dict[str, Any]) -> bool:
    """Whether ``d[name]`` is exactly what :func:`_stat` computes from the rest of ``d``."""
    try:
        v = _stat(name, d)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return False
    return type(v) is type(d[name]) and v == d[name]


def lean_timing(t: dict[str, Any]) -> dict[str, Any]:
    """A check's timing as a compact file keeps it: floats to :data:`TIMING_DIGITS` significant digits, a
    median and IQR that were the samples' are the rounded samples' (so they stay ``median(samples_s)``).

    Example:
        >>> lean_timing({"median_s": 2.00004, "samples_s": [1.00004, 2.00004, 3.00004], "check_wall_s": 0.123456})
        {'median_s': 2.0, 'samples_s': [1.0, 2.0, 3.0], 'check_wall_s': 0.1235}
    """
    same = {k for k in ("median_s", "iqr_s", "ci_s") if k in t and _derives(k, t)}
    out = round_sig(t, TIMING_DIGITS)
    for k in ("resolution_s", "overhead_s"):  # the timer's calibration: what decided `number`, to 2 digits
        if isinstance(out.get(k), float):
            out[k] = float(f"{out[k]:.2g}")
    out.update({k: _stat(k, out) for k in same})
    return out


def lean_result(r: dict[str, Any]) -> dict[str, Any]:
    """A schema-3 result as a compact file keeps it: every field (defaults added), timings
    (:func:`lean_timing`), a passing check's figures (:data:`METRIC_DIGITS`) and heatmaps (:data:`MAP_DIGITS`)
    rounded. ``load_results(compact(data))["results"]`` is ``[lean_result(r) for r in data["results"]]``.

    Example:
        >>> lean_result({"case_id": "c", "op": "o", "binding": "b", "framework": "f", "dtype": "float32",
        ...              "outcome": "pass", "timing": {"check_wall_s": 1.23456e-3}})["timing"]
        {'check_wall_s': 0.001235}
    """
    out = {k: r[k] if k in r else _copy(RESULT_DEFAULTS.get(k)) for k in RESULT_FIELDS}
    out.update({k: v for k, v in r.items() if k not in out})
    if isinstance(out["timing"], dict):
        out["timing"] = lean_timing(out["timing"])
    if out["outcome"] == "pass":
        for k in ("metrics", "vs_eager", "gradients"):
            out[k] = round_sig(out[k], METRIC_DIGITS)
    if out["diff_map"] is not None:
        out["diff_map"] = round_sig(out["diff_map"], MAP_DIGITS)
    return out


def _copy(v: Any) -> Any:
    """Dicts and lists rebuilt, leaves kept (each expanded result owns its nested values)."""
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


class _Table:
    """Distinct values in first-seen order; a value's index by its ``repr`` (key order included)."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[str, int] = {}

    def __call__(self, v: Any) -> int:
        key = v if isinstance(v, str) else repr(v)
        i = self._index.get(key)
        if i is None:
            i = self._index[key] = len(self.values)
            self.values.append(v)
        return i


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """results.json data (schema 3: one full dict per result) in the compact form that is written
    (schema 4): what many results share is in tables (cases, canonical parameters, bindings, native
    calls, reason and note strings, tolerances, expectations, the key lists of metrics and timings);
    each result keeps only what differs from its defaults and the tables, and leaves out what is
    computed again on reading (the repro snippet, :func:`repro_text`; a median, IQR and repeat count of
    the timing samples; the mismatch fraction). Timings and a passing check's figures are rounded
    (:func:`lean_result`). :func:`load_results` is the inverse.

    Example:
        >>> r = {"case_id": "repeat/x[float32]", "op": "repeat", "binding": "b", "framework": "f",
        ...      "dtype": "float32", "outcome": "unsupported", "reason": "no", "source": "s.yaml:3"}
        >>> c = compact({"results": [r, {**r, "binding": "b2"}]})
        >>> c["results"], c["strings"]
        ([{'c': 0, 'b': 0, 'r': 0}, {'c': 0, 'b': 1, 'r': 0}], ['no'])
        >>> load_results(c)["results"][1]["binding"], load_results(c)["results"][1]["reason"]
        ('b2', 'no')
    """
    t = {name: _Table() for name in TABLES[2:]}
    case_tols: dict[int, list[int | None]] = {}
    rows = [_compact_result(lean_result(r), t, case_tols) for r in data.get("results", [])]
    out: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "encoding": _ENCODING}
    out.update({k: v for k, v in data.items() if k not in ("schema_version", "results", "discrepancies", *TABLES)})
    out["keys"] = ROW_KEYS
    out.update({name: tab.values for name, tab in t.items()})
    out["cases"] = [[*c, *case_tols[i]] for i, c in enumerate(t["cases"].values)]
    out["results"] = rows
    if "discrepancies" in data:
        out["discrepancies"] = lean_discrepancies(data["discrepancies"])
    return out


# the fields that the short keys stand for, and that the compact form takes in whole
_TAKEN = {"case_id", "op", "dtype", "source", "canonical", "binding", "framework", "deprecated", "path", "direction",
          "outcome", "reason", "check", "native", "native_call", "tolerance", "repro"}


def _compact_result(r: dict[str, Any], t: dict[str, _Table], case_tols: dict[int, list[int | None]]) -> dict[str, Any]:
    c = t["cases"]([r["case_id"], r["op"], r["dtype"], r["source"], t["canonicals"](r["canonical"])])
    row: dict[str, Any] = {"c": c, "b": t["bindings"]([r["binding"], r["framework"], r["deprecated"]])}
    for key, name, default in (("p", "path", "eager"), ("d", "direction", "forward"), ("o", "outcome", "unsupported")):
        if r[name] != default:
            row[key] = r[name]
    if r["reason"] != "":
        row["r"] = t["strings"](r["reason"])
    if r["check"] != "":
        row["k"] = r["check"]
    if r["native"] is not None or r["native_call"] != "":
        row["n"] = t["native_calls"]([r["native"], r["native_call"]])
    tol, slot = t["tolerances"](r["tolerance"]), 1 if r["direction"] == "backward" else 0
    tols = case_tols.setdefault(c, [None, None])
    if tols[slot] is None:
        tols[slot] = tol
    if tol != tols[slot]:
        row["tol"] = tol
    taken = set(_TAKEN)
    for key, name in (("m", "metrics"), ("t", "timing"), ("ve", "vs_eager")):
        if isinstance(r[name], dict) and (r[name] or name == "vs_eager"):
            row[key] = _shaped(r[name], t["shapes"], _DERIVED.get(name, ()))
            taken.add(name)
    if isinstance(r["gradients"], dict) and all(isinstance(g, dict) for g in r["gradients"].values()):
        row["g"] = {name: _shaped(g, t["shapes"], ()) for name, g in r["gradients"].items()}
        taken.add("gradients")
    if r["expectation"] is not None:
        row["x"] = t["expectations"](r["expectation"])
        taken.add("expectation")
    if isinstance(r["notes"], list) and all(isinstance(s, str) for s in r["notes"]):
        if r["notes"]:
            row["nt"] = [t["strings"](s) for s in r["notes"]]
        taken.add("notes")
    derived = "" if r["native"] is None else repro_text(r["source"], r["case_id"], r["binding"], r["path"], r["direction"])
    if r["repro"] != derived:
        row["repro"] = r["repro"]
    for k, v in r.items():  # the rest as it is, where it differs from the default
        if k not in taken and (k not in RESULT_DEFAULTS or v != RESULT_DEFAULTS[k]):
            if k in _SHORT:
                raise ValueError(f"a result field is named like a compact key: {k!r}")
            row[k] = v
    return row


def _shaped(d: dict[str, Any], shapes: _Table, derivable: tuple[str, ...]) -> list[Any]:
    """A dict as [index of its key list in ``shapes``, its values in that order]; a key in ``derivable``
    whose value :func:`_stat` computes is written ``=key``, without its value."""
    gone = {k for k in derivable if k in d and _derives(k, d)}
    return [shapes([f"={k}" if k in gone else k for k in d]), *(v for k, v in d.items() if k not in gone)]


def _unshape(v: list[Any], shapes: list[list[str]]) -> dict[str, Any]:
    keys = shapes[v[0]]
    if not any(k.startswith("=") for k in keys):
        return dict(zip(keys, v[1:]))
    given = iter(v[1:])
    out = {k: None if k.startswith("=") else next(given) for k in keys}
    for k in keys:
        if k.startswith("="):
            out[k[1:]] = _stat(k[1:], out)
    return {k.lstrip("="): out[k.lstrip("=")] for k in keys}


def lean_discrepancies(discs: Any) -> Any:
    """The discrepancy reports as written: heatmaps (``diff_map`` of calls and pairs) to :data:`MAP_DIGITS`.

    Example:
        >>> lean_discrepancies([{"id": "d", "pairs": [{"diff_map": [[0.123456]]}]}])
        [{'id': 'd', 'pairs': [{'diff_map': [[0.1235]]}]}]
    """
    if not isinstance(discs, list):
        return discs
    out = []
    for d in discs:
        if isinstance(d, dict):
            d = {**d, **{k: [{**x, "diff_map": round_sig(x["diff_map"], MAP_DIGITS)}
                             if isinstance(x, dict) and x.get("diff_map") is not None else x for x in d[k]]
                         for k in ("calls", "pairs") if isinstance(d.get(k), list)}}
        out.append(d)
    return out


def load_results(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """results.json (a path, its folder, or its parsed dict) with one full dict per result (schema 3's
    fields): a compact file (schema 4) is expanded, an older one returned as it is.

    Raises ``OSError`` when the file cannot be read and ``ValueError`` when it is not results.json.

    Example:
        >>> load_results({"schema_version": 3, "results": []})
        {'schema_version': 3, 'results': []}
    """
    if isinstance(source, dict):
        data = source
    else:
        p = Path(source)
        p = p / "results.json" if p.is_dir() else p
        data = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("results", []), list):
        raise ValueError("not a results.json (no list of results)")
    if "cases" not in data or not isinstance(data.get("schema_version"), int) or data["schema_version"] < 4:
        return data
    try:
        # each result gets its own copy of a table's dicts and lists: parsed again from the entry's JSON text
        t = {**data, **{name: [_Fresh(v) for v in data[name]] for name in ("canonicals", "native_calls", "tolerances",
                                                                          "expectations")}}
        out = {k: v for k, v in data.items() if k not in TABLES}
        out["results"] = [_expand_result(row, t) for row in data["results"]]
        return out
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"a compact results.json with a broken table or result: {type(e).__name__}: {e}") from None


class _Fresh:
    """A table entry that gives a fresh copy of itself (``json.loads`` of its text: C speed)."""

    def __init__(self, v: Any) -> None:
        self.text = json.dumps(v) if isinstance(v, (dict, list)) else None
        self.value = v

    def __call__(self) -> Any:
        return json.loads(self.text) if self.text is not None else self.value


def _expand_result(row: dict[str, Any], t: dict[str, Any]) -> dict[str, Any]:
    case_id, op, dtype, source, canonical, fwd_tol, bwd_tol = t["cases"][row["c"]]
    binding, fw, deprecated = t["bindings"][row["b"]]
    path, direction = row.get("p", "eager"), row.get("d", "forward")
    native, native_call = t["native_calls"][row["n"]]() if "n" in row else (None, "")
    shapes, strings = t["shapes"], t["strings"]
    r: dict[str, Any] = {
        "case_id": case_id, "op": op, "binding": binding, "framework": fw, "dtype": dtype,
        "outcome": row.get("o", "unsupported"), "path": path, "direction": direction,
        "reason": strings[row["r"]] if "r" in row else "", "canonical": t["canonicals"][canonical](),
        "native": native, "native_call": native_call,
        "notes": [strings[i] for i in row["nt"]] if "nt" in row else [],
        "check": row.get("k", ""), "message": "",
        "metrics": _unshape(row["m"], shapes) if "m" in row else {},
        "tolerance": t["tolerances"][row["tol"] if "tol" in row else (bwd_tol if direction == "backward" else fwd_tol)](),
        "timing": _unshape(row["t"], shapes) if "t" in row else {},
        "expectation": t["expectations"][row["x"]]() if "x" in row else None,
        "source": source, "device": "cpu",
        "repro": repro_text(source, case_id, binding, path, direction) if native is not None else "",
        "classification": None, "diff_map": None, "audit": None,
        "vs_eager": _unshape(row["ve"], shapes) if "ve" in row else None,
        "deprecated": deprecated,
        "gradients": {k: _unshape(g, shapes) for k, g in row["g"].items()} if "g" in row else None,
    }
    r.update({k: v for k, v in row.items() if k not in _SHORT})
    return r


def write_results(path: str | Path, data: dict[str, Any]) -> None:
    """Write results.json data (schema 3 form, as :func:`load_results` gives it) compact and atomically:
    one line per result and per table entry, no spaces within a line."""
    write_json_atomic(path, compact(data), tight=True)
