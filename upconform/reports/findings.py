"""The findings page of ``upconform search``, rendered from findings.json.

Example:
    >>> "No finding" in render({"findings": [], "examples": {}, "seconds": {}, "seed": 0})
    True
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .html import ENV


def render(data: dict[str, Any]) -> str:
    from ..harness.search import Finding, repro

    rows = []
    for f in data["findings"]:
        obj = Finding(**{k: v for k, v in f.items()})
        rows.append({**f, "call": obj.native_call(), "repro": repro(obj),
                     "anchor": "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", f["id"])})
    rates = [{"key": k, "n": n, "s": f"{data['seconds'].get(k, 0):.1f}",
              "rate": f"{n / max(data['seconds'].get(k, 0), 1e-9):.0f}"} for k, n in data["examples"].items()]
    return ENV.get_template("findings.html.j2").render(
        findings=rows, n_new=sum(1 for f in rows if not f["known"]), rates=rates, seed=data.get("seed", 0),
        n_examples=sum(data["examples"].values()), n_pairs=len(data["examples"]),
        seconds=f"{sum(data['seconds'].values()):.1f}")


def write(data: dict[str, Any], path: str | Path) -> Path:
    from ..harness.results import write_text_atomic

    return write_text_atomic(path, render(data))
