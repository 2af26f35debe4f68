"""upconform: a cross-framework conformance harness for upsampling operators."""

from __future__ import annotations

__version__ = "0.1.0"
