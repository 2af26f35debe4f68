"""JUnit XML from results.json: one testcase per (case, binding, path); classname is the binding, or
``binding [path]`` off the eager path (so eager names stay as they were before paths existed).

Which child element a testcase gets comes from ``Outcome(...).junit``: failures and errors carry the
mismatch message, skipped ones (unsupported, xfail) their reason.

Example:
    >>> "<testsuites" in to_junit({"results": [], "provenance": {}})
    True
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from ..harness.outcome import Outcome
from ..harness.results import check_label

_COUNTER = {"failure": "failures", "error": "errors", "skipped": "skipped"}  # JUnit element -> testsuite attribute


def to_junit(data: dict[str, Any]) -> str:
    """The JUnit XML text; each testcase's child element (failure, error, skipped or none) is ``Outcome.junit``."""
    results = data.get("results", [])
    root = ET.Element("testsuites", name="upconform")
    suites: dict[str, ET.Element] = {}
    counts: dict[str, dict[str, int]] = {}
    for r in results:
        suite_name = f"{r['framework']}.{r['op']}"
        if suite_name not in suites:
            suites[suite_name] = ET.SubElement(root, "testsuite", name=suite_name)
            counts[suite_name] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        c = counts[suite_name]
        c["tests"] += 1
        tc = ET.SubElement(suites[suite_name], "testcase", classname=check_label(r), name=r["case_id"],
                           time=f"{(r.get('timing') or {}).get('median_s') or 0:.6f}")
        out = Outcome(r["outcome"])
        kind = out.junit
        if kind is None:
            continue
        c[_COUNTER[kind]] += 1
        child = ET.SubElement(tc, kind, message=f"{out}: {r.get('reason', '')}"[:1000])
        if kind != "skipped":
            child.text = r.get("message") or r.get("reason") or ""
    for name, el in suites.items():
        for k, v in counts[name].items():
            el.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
