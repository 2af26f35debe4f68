"""results.json: the source of truth. Provenance, every check's verdict, the discrepancy reports.

Example:
    >>> sorted(provenance(threads=1))[:3]
    ['cpu', 'cpu_count', 'device']
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

# 2: every result has ``path`` (eager, compiled, onnx, litert, ...), ``audit`` and ``vs_eager``.
# 3: every result has ``direction`` (forward, backward) and a backward result ``gradients``; a check is keyed
# (case_id, binding, path, direction). Older results read as eager and forward (see :func:`check_key`).
SCHEMA_VERSION = 3


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


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write strict JSON to a temporary file beside ``path``, then rename it into place."""
    write_text_atomic(path, dumps_lines(data) + "\n")


def dumps_lines(data: Any) -> str:
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
    """
    def enc(v: Any) -> str:
        return json.dumps(v, default=_json_default, allow_nan=False)

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
    """results.json as a pandas DataFrame (one row per check), or the dict when pandas is missing."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
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
