"""pytest plugin (entry point ``pytest11``): conformance checks as pytest items.

``pytest --upconform specs/`` (or one spec file) collects one item per (case, binding, path), with
node id ``FILE::BINDING::CASE_ID`` (``FILE::BINDING [PATH]::CASE_ID`` off the eager path; JUnit:
classname = binding or ``binding [path]``, name = case id, as ``junit.xml`` of ``upconform run``),
and the same verdicts as ``upconform run``: pass passes, fail/error fail with
the mismatch message, unsupported is skipped with its reason, xfail is xfailed, xpass fails.
It works with ``-k``, ``-x``, ``--junitxml`` and xdist.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("upconform", "upsampling conformance")
    g.addoption("--upconform", action="store_true", help="collect spec files (*.yaml) given as paths as checks")
    g.addoption("--upconform-framework", action="append", default=None, help="a framework name or alias (repeatable)")
    g.addoption("--upconform-expectations", default="specs/expectations.yaml", help="known discrepancies file")


def pytest_collect_file(file_path: Any, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("upconform", default=False):
        return None
    if file_path.suffix in (".yaml", ".yml") and file_path.name != "expectations.yaml":
        return SpecFile.from_parent(parent, path=file_path)
    return None


class CheckFailed(Exception):
    """A non-conforming verdict; carries the result."""

    def __init__(self, result: Any) -> None:
        super().__init__(result.reason)
        self.result = result


class SpecFile(pytest.File):
    def collect(self) -> Any:
        from .harness.spec import SpecError
        from .session import Options, Session, UsageError

        try:
            session = Session(Options(
                specs=[str(self.path)], frameworks=self.config.getoption("upconform_framework"),
                expectations=self.config.getoption("upconform_expectations"), isolation=False, out=None,
                history=None, threads=int(os.environ.get("UPCONFORM_THREADS", os.cpu_count() or 1))))
        except (SpecError, UsageError) as e:
            raise self.CollectError(str(e)) from None
        from .harness.results import check_label

        for case, b, p, d in session.checks():
            label = check_label({"binding": b, "path": p, "direction": d})
            yield CheckItem.from_parent(self, name=f"{label}::{case.id}", case=case, binding=b, path=p, direction=d,
                                        suite=session)


class CheckItem(pytest.Item):
    def __init__(self, *, case: Any, binding: str, suite: Any, path: str = "eager", direction: str = "forward",
                 **kw: Any) -> None:
        super().__init__(**kw)
        self.case = case
        self.binding = binding
        self.check_path = path
        self.direction = direction
        self.suite = suite

    def runtest(self) -> None:
        r = self.suite.check_one(self.case, self.binding, self.check_path, self.direction)
        self.user_properties.append(("outcome", str(r.outcome)))
        if r.outcome == "pass":
            return
        if r.outcome == "unsupported":
            pytest.skip(f"unsupported: {r.reason}")
        if r.outcome == "xfail":
            pytest.xfail(r.reason)
        raise CheckFailed(r)

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            r = excinfo.value.result
            return f"{r.outcome}: {r.message or r.reason}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        line = self.case.source.rsplit(":", 1)[-1]
        from .harness.results import check_label

        label = check_label({"binding": self.binding, "path": self.check_path, "direction": self.direction})
        return self.path, int(line) - 1 if line.isdigit() else None, f"{self.case.id} :: {label}"

