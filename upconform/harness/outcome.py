"""The one outcome type: what a check's verdict is, whether it is bad, and how every report shows it.

Example:
    >>> Outcome("xpass").bad, Outcome("xpass").junit
    (True, 'failure')
"""

from __future__ import annotations

import enum


class Outcome(str, enum.Enum):
    """A check's verdict. A ``str`` subclass: it is written to results.json as its value ("pass")."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    UNSUPPORTED = "unsupported"
    XFAIL = "xfail"
    XPASS = "xpass"
    CRASH = "crash"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value

    @property
    def bad(self) -> bool:
        """Does this outcome make a run exit 1 (and a CI red)?"""
        return self in _BAD

    @property
    def junit(self) -> str | None:
        """The JUnit child element of the testcase: failure, error, skipped, or None for a pass."""
        return _JUNIT[self]

    @property
    def css(self) -> str:
        """The HTML report's class for this outcome: ok, bad, known (xfail) or skip."""
        return "bad" if self.bad else {"pass": "ok", "xfail": "known"}.get(self.value, "skip")

    @property
    def compared(self) -> bool:
        """Did the check compare values with the reference (so that its errors and timings mean something)?"""
        return self in (Outcome.PASS, Outcome.FAIL, Outcome.XFAIL, Outcome.XPASS)


_BAD = frozenset({Outcome.FAIL, Outcome.ERROR, Outcome.XPASS, Outcome.CRASH, Outcome.TIMEOUT})
_JUNIT = {Outcome.PASS: None, Outcome.FAIL: "failure", Outcome.XPASS: "failure", Outcome.ERROR: "error",
          Outcome.CRASH: "error", Outcome.TIMEOUT: "error", Outcome.UNSUPPORTED: "skipped", Outcome.XFAIL: "skipped"}

OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
BAD_OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome if o.bad)


def is_bad(outcome: str) -> bool:
    """``Outcome(outcome).bad`` for a value read back from results.json.

    Example:
        >>> is_bad("fail"), is_bad("xfail")
        (True, False)
    """
    return Outcome(outcome).bad
