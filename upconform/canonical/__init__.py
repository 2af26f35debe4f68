"""The canonical vocabulary: the layer between the reference and the adapters.

What a case is (:class:`Case`, with its normal form), which operators exist (:data:`OPS`, one
:class:`OpInfo` record per operator), dtypes, the tolerance table, and the deterministic inputs and
expected output of a case. Imports only ``upconform.reference``, numpy and the standard library.

Example:
    >>> from types import MappingProxyType as M
    >>> c = Case(id="repeat/x2[float32]", op="repeat", name="x2", dtype="float32",
    ...          params=M({"repeats": 2}), shapes=M({"x": (1, 1, 3)}), generator="arange")
    >>> expected_output(c, case_tensors(c)).tolist()
    [[[0.0, 0.0, 1.0, 1.0, 2.0, 2.0]]]
"""

from __future__ import annotations

from .case import BACKWARD, CHECK_KINDS, FORWARD, Case
from .dtypes import DTYPES, MissingDtype, np_dtype, spacing
from .inputs import (
    COTANGENT_SEED_OFFSET,
    GENERATORS,
    case_tensors,
    cotangent,
    expected_gradients,
    expected_output,
    generate,
)
from .opinfo import OpInfo
from .registry import OPS, normalize, op_info
from .tolerances import DEFAULT_TOLERANCES, Tolerance, for_magnitude
from .values import freeze, per_axis, plain

__all__ = [
    "BACKWARD", "CHECK_KINDS", "COTANGENT_SEED_OFFSET", "DEFAULT_TOLERANCES", "DTYPES", "FORWARD", "GENERATORS",
    "OPS", "Case",
    "MissingDtype", "OpInfo", "Tolerance", "case_tensors", "cotangent", "expected_gradients",
    "expected_output", "for_magnitude", "freeze", "generate", "normalize", "np_dtype", "op_info", "per_axis",
    "plain", "spacing",
]
