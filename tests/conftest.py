from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def fake_bindings() -> list[str]:
    """tests/fake_bindings.py registered through the public --adapter mechanism; returns the names."""
    from upconform.adapters import load_adapter

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    return load_adapter("fake_bindings:BINDINGS")

# the verbatim pre-rewrite reference (the oracle of tests/test_reference_fast.py): loaded by path, not collected
collect_ignore = ["_slow_reference"]
