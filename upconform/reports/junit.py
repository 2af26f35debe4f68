"""JUnit XML from results.json: one testcase per (case, binding).

fail/error/xpass/crash/timeout carry the mismatch message; unsupported and xfail are skipped with
their reason.

Example:
    >>> "<testsuites" in to_junit({"results": [], "provenance": {}})
    True
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET


def to_junit(data: dict[str, Any]) -> str:
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
        tc = ET.SubElement(suites[suite_name], "testcase", classname=r["binding"], name=r["case_id"],
                           time=f"{(r.get('timing') or {}).get('median_s') or 0:.6f}")
        out = r["outcome"]
        text = r.get("message") or r.get("reason") or ""
        if out in ("fail", "xpass"):
            c["failures"] += 1
            ET.SubElement(tc, "failure", message=f"{out}: {r.get('reason', '')}"[:1000]).text = text
        elif out in ("error", "crash", "timeout"):
            c["errors"] += 1
            ET.SubElement(tc, "error", message=f"{out}: {r.get('reason', '')}"[:1000]).text = text
        elif out in ("unsupported", "xfail"):
            c["skipped"] += 1
            ET.SubElement(tc, "skipped", message=f"{out}: {r.get('reason', '')}"[:1000])
    for name, el in suites.items():
        for k, v in counts[name].items():
            el.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
