"""Known discrepancies as data: which (case, binding) checks are expected to fail, and why.

``specs/expectations.yaml`` is a list of entries::

    - binding: tf.image.resize
      cases: "resize/cubic_*"          # fnmatch pattern(s) on case ids
      dtypes: [float32]                # optional
      outcome: fail                    # fail | error | any (default any)
      reason: TF looks bicubic weights up in a 1024-entry table
      issue: https://github.com/tensorflow/tensorflow/issues/...
      versions: {tensorflow: "2.21.0"} # where it was seen
      paths: [onnx]                    # optional: the paths it covers (default [eager]; [all]: every path)
      checks: [backward]               # optional: the directions it covers (default [forward])

A matching fail/error becomes ``xfail``; a matching pass becomes ``xpass`` (reported: the
upstream problem may be fixed, or the entry is too broad).

The same entries cover the calls of discrepancy reports: ``cases`` patterns then match the report's
id (``op/id``, no dtype suffix: ``resize/bicubic_port_x2``), and the optional ``calls: [0, 2]``
narrows an entry to those calls of the report (by position; default: every call of the binding).
An entry with ``calls`` never matches a check.

Example:
    >>> e = Expectation("b", ("resize/*",), None, "any", "r", "", {}, ("onnx",))
    >>> e.matches("resize/x[float32]", "b", "float32", "onnx"), e.matches("resize/x[float32]", "b", "float32")
    (True, False)
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import SpecError, field_name, parse_yaml

OUTCOMES = ("fail", "error", "any")
_FIELDS = {"binding", "cases", "dtypes", "outcome", "reason", "issue", "versions", "paths", "calls", "checks"}
CHECKS = ("forward", "backward")


@dataclass(frozen=True)
class Expectation:
    binding: str
    cases: tuple[str, ...]
    dtypes: tuple[str, ...] | None
    outcome: str
    reason: str
    issue: str
    versions: dict[str, str]
    # the paths it covers; None: eager only (a defect seen eagerly says nothing of an exporter or a
    # compiler: each path has its own entries); ("all",): every path (a defect of the call's meaning)
    paths: tuple[str, ...] | None = None
    calls: tuple[int, ...] | None = None  # discrepancy reports only: these calls (positions); None: every call
    # the directions it covers: a forward defect says nothing of the gradient, and the reverse
    checks: tuple[str, ...] = ("forward",)

    def matches(self, case_id: str, binding: str, dtype: str, path: str = "eager", call: int | None = None,
                direction: str = "forward") -> bool:
        """Does this entry cover the check (``call`` None) or the discrepancy call at position ``call``?"""
        if self.calls is not None and (call is None or call not in self.calls):
            return False
        if direction not in self.checks:
            return False
        return (binding == self.binding and (self.dtypes is None or dtype in self.dtypes)
                and (path in (self.paths or ("eager",)) or "all" in (self.paths or ()))
                and any(fnmatch.fnmatchcase(case_id, p) for p in self.cases))

    def covers(self, outcome: str) -> bool:
        """Does the entry expect this bad outcome (``fail`` or ``error``)?"""
        return self.outcome in ("any", outcome)

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "issue": self.issue, "versions": self.versions, "outcome": self.outcome,
                **({"paths": list(self.paths)} if self.paths else {}),
                **({"calls": list(self.calls)} if self.calls is not None else {}),
                **({"checks": list(self.checks)} if self.checks != ("forward",) else {})}


def load(path: str | Path | None) -> list[Expectation]:
    """Read an expectations file; a missing default file means no expectations."""
    if path is None or not Path(path).exists():
        return []
    name = str(path)
    data, lines = parse_yaml(Path(path).read_text(encoding="utf-8"), name)
    problems = []
    out = []
    if not isinstance(data, list):
        raise SpecError([(name, 1, "", "expected a list of expectations")])
    for i, e in enumerate(data):
        where = (i,)
        if not isinstance(e, dict):
            problems.append((name, lines.get(where, 1), field_name(where), "expected a mapping"))
            continue
        for k in e:
            if k not in _FIELDS:
                problems.append((name, lines.get((i, k), 1), f"[{i}].{k}", f"unknown field; expected {sorted(_FIELDS)}"))
        for req in ("binding", "cases", "reason"):
            if not e.get(req):
                problems.append((name, lines.get(where, 1), f"[{i}].{req}", "required"))
        oc = e.get("outcome", "any")
        if oc not in OUTCOMES:
            problems.append((name, lines.get((i, "outcome"), 1), f"[{i}].outcome", f"{oc!r} is not one of {list(OUTCOMES)}"))
        if e.get("paths") is not None:
            from ..adapters import path_names

            bad = [p for p in (e["paths"] if isinstance(e["paths"], list) else [e["paths"]])
                   if p not in (*path_names(), "all")]
            if bad:
                problems.append((name, lines.get((i, "paths"), 1), f"[{i}].paths",
                                 f"{bad[0]!r} is not one of {[*path_names(), 'all']}"))
        checks = e.get("checks", ["forward"])
        checks = checks if isinstance(checks, list) else [checks]
        bad_checks = [c for c in checks if c not in CHECKS]
        if bad_checks or not checks:
            problems.append((name, lines.get((i, "checks"), 1), f"[{i}].checks",
                             f"{bad_checks[0] if bad_checks else checks!r} is not one of {list(CHECKS)}"))
        calls = e.get("calls")
        if calls is not None and (not isinstance(calls, list) or not calls
                                  or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in calls)):
            problems.append((name, lines.get((i, "calls"), 1), f"[{i}].calls",
                             "expected a list of call positions (0, 1, ...) in a discrepancy report"))
        if problems:
            continue
        cases = e["cases"] if isinstance(e["cases"], list) else [e["cases"]]
        out.append(Expectation(
            binding=str(e["binding"]), cases=tuple(map(str, cases)),
            dtypes=tuple(e["dtypes"]) if e.get("dtypes") else None, outcome=oc, reason=str(e["reason"]),
            issue=str(e.get("issue", "")), versions={str(k): str(v) for k, v in (e.get("versions") or {}).items()},
            paths=tuple(e["paths"] if isinstance(e["paths"], list) else [e["paths"]]) if e.get("paths") else None,
            calls=tuple(calls) if calls is not None else None,
            checks=tuple(c for c in CHECKS if c in checks),
        ))
    if problems:
        raise SpecError(problems)
    return out


def find(expectations: list[Expectation], case_id: str, binding: str, dtype: str,
         path: str = "eager", call: int | None = None, direction: str = "forward") -> Expectation | None:
    return next((e for e in expectations if e.matches(case_id, binding, dtype, path, call, direction)), None)
