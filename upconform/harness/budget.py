"""Memory budget: a case's tensors are sized before anything is allocated.

Example:
    >>> from types import SimpleNamespace as S
    >>> case_bytes(S(op="repeat", params={"repeats": 2}, shapes={"x": (1, 1, 4)}, dtype="float32"))
    224
"""

from __future__ import annotations

import math
from typing import Any

from .canonical import normalize


def output_elements(case: Any) -> int:
    """Elements of the case's output, from its parameters alone."""
    n = normalize(case.op, case.params, case.shapes)
    x = tuple(case.shapes["x"])
    if case.op == "resize":
        if "sizes" in n:
            return math.prod(n["sizes"])
        from ..reference.resize import output_geometry

        out, _ = output_geometry(x, scales=n["scales"], coordinate_transformation_mode=n["coordinate_transformation_mode"],
                                 roi=n.get("roi"), keep_aspect_ratio_policy=n.get("keep_aspect_ratio_policy", "stretch"))
        return math.prod(out)
    if case.op == "repeat":
        return math.prod(x) * math.prod(n["repeats"])
    if case.op == "conv_transpose":
        w = case.shapes["w"]
        cout = w[0] if n["weight_convention"] == "direct" else w[1] * n["group"]
        return x[0] * cout * math.prod(n["output_spatial"])
    if case.op == "max_unpool":
        return x[0] * x[1] * math.prod(n["output_shape"])
    return math.prod(x)  # pixel (un)shuffle: a permutation


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
