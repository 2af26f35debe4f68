"""Memory budget: a case's tensors are sized before anything is allocated.

Example:
    >>> from types import SimpleNamespace as S
    >>> case_bytes(S(op="repeat", normal={"repeats": [2]}, shapes={"x": (1, 1, 4)}, dtype="float32"))
    224
"""

from __future__ import annotations

import math
from typing import Any

from ..canonical import op_info


def output_elements(case: Any) -> int:
    """Elements of the case's output, from its operator's record and normal form alone."""
    return math.prod(op_info(case.op).output_shape(case.normal, case.shapes))


def case_bytes(case: Any) -> int:
    """Bytes the run holds for one case: inputs as float64, reference and framework outputs."""
    inputs = sum(math.prod(s) for s in case.shapes.values())
    return 8 * inputs + 8 * 3 * output_elements(case)


def over_budget(cases: list[Any], max_bytes: int) -> list[tuple[str, int, str, str]]:
    """(file, line, field, message) for every case above ``max_bytes``; shapes checked, never allocated."""
    problems = []
    for c in cases:
        try:
            size = case_bytes(c)
        except (ValueError, TypeError, KeyError):
            continue  # the reference's own error is reported where the case runs
        if size > max_bytes:
            f, _, line = c.source.rpartition(":")
            problems.append((f, int(line) if line.isdigit() else 1, "shapes",
                             f"{c.id} needs about {size / 2**20:.1f} MiB (inputs, float64 reference and output), "
                             f"over --max-case-bytes {max_bytes / 2**20:.1f} MiB; refused without allocating"))
    return problems
