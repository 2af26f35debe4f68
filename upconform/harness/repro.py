"""Re-run one check by hand: ``reproduce(spec_file, case_id, binding[, path=...][, direction="backward"])``.

Example (shell)::

    python -c "from upconform.harness.repro import reproduce; print(reproduce('specs/resize.yaml', \\
        'resize/linear_half_pixel_x2[float32]', 'tf.image.resize')[2].message)"
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..adapters import EAGER, Unsupported, framework, get
from ..canonical import DEFAULT_TOLERANCES, case_tensors, cotangent, expected_gradients, expected_output
from .compare import Comparison, compare
from .spec import load_files


def reproduce(spec_file: str, case_id: str, binding: str, path: str = EAGER,
              direction: str = "forward") -> tuple[np.ndarray, np.ndarray, Comparison]:
    """(actual, expected, comparison) for one check, computed afresh (on ``path``: eager, compiled, onnx, ...).

    ``direction="backward"``: the gradients for the case's seeded cotangent, as a backward check takes
    them; the three values are those of the first gradient that does not conform (else the last one), and
    the comparison's message names it."""
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
    if direction == "backward":
        return _backward(case, b, call, tensors, expected, path)
    if path == EAGER:
        actual = b.run(call, tensors)
    else:
        p = framework(b.framework).path(path)
        prepared = p.prepare(b, call, tensors)
        actual = p.to_canonical(p.execute(prepared), prepared)
    return actual, expected, compare(actual, expected, case.dtype, case.tolerance or DEFAULT_TOLERANCES[case.dtype])


def _backward(case: Any, b: Any, call: Any, tensors: dict[str, np.ndarray], expected: np.ndarray,
              path: str) -> tuple[np.ndarray, np.ndarray, Comparison]:
    why = b.backward_unsupported(case) if path == EAGER else framework(b.framework).path(path).backward_unsupported(b, case)
    if why is not None:
        raise ValueError(f"{b.name} takes no backward check of {case.id}: {why.reason}")
    cot = cotangent(case, expected.shape)
    want = expected_gradients(case, tensors, cot.astype(np.float64))
    scale = expected_gradients(case, tensors, cot.astype(np.float64), absolute=True)
    if path == EAGER:
        got = b.run_backward(call, tensors, cot)
    else:
        p = framework(b.framework).path(path)
        prepared = p.prepare_backward(b, call, tensors, cot)
        got = p.grads_to_canonical(p.execute_backward(prepared), prepared)
    tol = case.backward_tolerance or case.tolerance or DEFAULT_TOLERANCES[case.dtype]
    last: tuple[np.ndarray, np.ndarray, Comparison] | None = None
    for name, e in want.items():
        if name not in got:
            raise ValueError(f"{b.name} returned no gradient with respect to {name} (it returned {sorted(got)})")
        c = compare(got[name], e, case.dtype, tol, scale=scale[name])
        c = Comparison(c.ok, c.check, f"gradient with respect to {name}: {c.message}", c.metrics)
        last = (got[name], e, c)
        if not c.ok:
            break
    assert last is not None
    return last
