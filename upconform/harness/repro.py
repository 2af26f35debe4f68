"""Re-run one check by hand: ``reproduce(spec_file, case_id, binding[, path=...])``.

Example (shell)::

    python -c "from upconform.harness.repro import reproduce; print(reproduce('specs/resize.yaml', \\
        'resize/linear_half_pixel_x2[float32]', 'tf.image.resize')[2].message)"
"""

from __future__ import annotations

import numpy as np

from ..adapters import EAGER, Unsupported, framework, get
from ..canonical import DEFAULT_TOLERANCES, case_tensors, expected_output
from .compare import Comparison, compare
from .spec import load_files


def reproduce(spec_file: str, case_id: str, binding: str, path: str = EAGER) -> tuple[np.ndarray, np.ndarray, Comparison]:
    """(actual, expected, comparison) for one check, computed afresh (on ``path``: eager, compiled, onnx, ...)."""
    cases, _ = load_files([spec_file])
    case = next((c for c in cases if c.id == case_id), None)
    if case is None:
        raise KeyError(f"case {case_id!r} is not in {spec_file}")
    b = get(binding)
    call = b.to_native(case)
    if isinstance(call, Unsupported):
        raise ValueError(f"{binding} cannot express {case_id}: {call.reason}")
    tensors = case_tensors(case)
    expected = expected_output(case, tensors)
    if path == EAGER:
        actual = b.run(call, tensors)
    else:
        p = framework(b.framework).path(path)
        prepared = p.prepare(b, call, tensors)
        actual = p.to_canonical(p.execute(prepared), prepared)
    return actual, expected, compare(actual, expected, case.dtype, case.tolerance or DEFAULT_TOLERANCES[case.dtype])
