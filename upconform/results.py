"""Public access to results: ``upconform.results.load(path)`` gives one DataFrame row per check.

Example:
    >>> callable(load)
    True
"""

from __future__ import annotations

from .harness.results import load, summarize

__all__ = ["load", "summarize"]
