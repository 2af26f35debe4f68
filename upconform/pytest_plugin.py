"""pytest plugin (entry point ``pytest11``): conformance checks as pytest items.

``pytest --upconform specs/`` (or one spec file) collects one item per (case, binding), with node
id ``FILE::BINDING::CASE_ID`` (JUnit: classname = binding, name = case id, as ``junit.xml`` of
``upconform run``), and the same verdicts as ``upconform run``: pass passes, fail/error fail with
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
    g.addoption("--upconform-framework", action="append", default=None, help="torch or tensorflow (repeatable)")
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
        from .adapters import framework, get, registry
        from .harness.runner import bindings_for
        from .harness.spec import SpecError, load_files

        try:
            cases, _ = load_files([self.path])
        except SpecError as e:
            raise self.CollectError(str(e)) from None
        names = list(registry())
        fws = self.config.getoption("upconform_framework")
        if fws:
            try:
                wanted = {framework(f).name for f in fws}
            except KeyError as e:
                raise self.CollectError(f"--upconform-{e.args[0]}") from None
            names = [n for n in names if get(n).framework in wanted]
        for case in cases:
            for b in bindings_for(case, names):
                yield CheckItem.from_parent(self, name=f"{b}::{case.id}", case=case, binding=b)


class CheckItem(pytest.Item):
    def __init__(self, *, case: Any, binding: str, **kw: Any) -> None:
        super().__init__(**kw)
        self.case = case
        self.binding = binding

    def _shared(self) -> dict[str, Any]:
        store = self.config.stash.setdefault(_STASH, {})
        if "expectations" not in store:
            from .harness import expectations as exp
            from .harness.workers import configure_threads

            store["expectations"] = exp.load(self.config.getoption("upconform_expectations"))
            configure_threads(int(os.environ.get("UPCONFORM_THREADS", os.cpu_count() or 1)), set())
        return store

    def runtest(self) -> None:
        from .canonical import case_tensors, expected_output
        from .harness.runner import check

        store = self._shared()
        cache = store.setdefault("cases", {})
        if self.case.id not in cache:
            tensors = case_tensors(self.case)
            try:
                expected, err = expected_output(self.case, tensors), ""
            except Exception as e:  # noqa: BLE001
                expected, err = None, f"{type(e).__name__}: {e}"
            if len(cache) > 64:  # items of a case are collected together; -k / xdist may interleave
                cache.clear()
            cache[self.case.id] = (tensors, expected, err)
        tensors, expected, err = cache[self.case.id]
        r = check(self.case, self.binding, tensors, expected, expectations=store["expectations"], reference_error=err)
        self.user_properties.append(("outcome", r.outcome))
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
        return self.path, int(line) - 1 if line.isdigit() else None, f"{self.case.id} :: {self.binding}"


_STASH = pytest.StashKey[dict]()
