"""Run cases through bindings: reference once per case, then per binding translate, run, time, compare.

Example:
    >>> from upconform.harness.spec import load_text
    >>> cases, _ = load_text("op: repeat\\ncases:\\n  - {id: x2, params: {repeats: 2}, shapes: {x: [1, 1, 3]}}\\n")
    >>> [str(r.outcome) for r in run_cases(cases, ["torch.repeat_interleave"])]
    ['pass']
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from ..adapters import EAGER, Unsupported, framework, get, paths_of
from ..canonical import (
    BACKWARD,
    DEFAULT_TOLERANCES,
    FORWARD,
    Case,
    MissingDtype,
    case_tensors,
    cotangent,
    expected_gradients,
    expected_output,
    plain,
)
from . import expectations as exp
from .classify import classify, diff_map
from .compare import compare
from .outcome import OUTCOMES, Outcome
from .results import repro_text
from .timer import MAX_SAMPLES
from .workers import InProcess, case_to_wire, path_refuses

_IN_PROCESS = InProcess()

__all__ = ["OUTCOMES", "Outcome", "Result", "audit_verdict", "bindings_for", "check", "checks_for", "deprecation",
           "repro_snippet", "run_cases"]


@dataclass
class Result:
    """The verdict of one check (case x binding x path x direction). ``outcome`` is one of :data:`OUTCOMES`.

    ``direction`` is ``forward`` (the output is compared with the reference) or ``backward`` (the
    framework's gradients for a seeded output cotangent are compared with the reference's vector-Jacobian
    product; ``gradients`` holds each gradient's comparison, ``metrics`` the worst one's).

    ``path`` is how the native call ran: ``eager``, or a compiled or exported path of its framework;
    for those, ``audit`` holds what the exported graph means next to what the eager call means, and
    ``vs_eager`` the comparison of the path's output with the eager output.
    """

    case_id: str
    op: str
    binding: str
    framework: str
    dtype: str
    outcome: Outcome
    path: str = EAGER
    direction: str = FORWARD
    reason: str = ""
    canonical: dict[str, Any] = field(default_factory=dict)
    native: dict[str, Any] | None = None
    native_call: str = ""
    notes: list[str] = field(default_factory=list)
    check: str = ""
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    tolerance: dict[str, Any] = field(default_factory=dict)
    timing: dict[str, Any] = field(default_factory=dict)
    expectation: dict[str, Any] | None = None
    source: str = ""
    device: str = "cpu"
    repro: str = ""
    classification: dict[str, Any] | None = None
    diff_map: list[list[float]] | None = None
    audit: dict[str, Any] | None = None
    vs_eager: dict[str, Any] | None = None
    deprecated: str = ""  # the binding's deprecation mark (what to use instead), "" if the API is current
    gradients: dict[str, Any] | None = None  # backward: {"x": {"ok", "check", "max_abs_err", ...}, "w": ...}

    def to_json(self) -> dict[str, Any]:
        """The result as a dict of fresh dicts and lists (what ``dataclasses.asdict`` gives, without its
        deep copy of every leaf: a run converts ~17,000 results, and asdict took 19 s of them).

        Example:
            >>> r = Result("c", "repeat", "b", "f", "float32", Outcome.PASS, metrics={"max_ulp": [1.0]})
            >>> j = r.to_json(); j["metrics"]["max_ulp"].append(2.0); r.metrics
            {'max_ulp': [1.0]}
        """
        return {f.name: _fresh(getattr(self, f.name)) for f in fields(self)}


def _fresh(v: Any) -> Any:
    """Dicts, lists and tuples rebuilt (as ``asdict`` does); leaves kept as they are."""
    if isinstance(v, dict):
        return {k: _fresh(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_fresh(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_fresh(x) for x in v)
    return v


def deprecation(binding: str) -> str:
    """The binding's declared deprecation mark (``Binding.deprecated``), "" for a current or unknown API.

    Example:
        >>> deprecation("torch.nn.functional.interpolate"), bool(deprecation("tf.compat.v1.image.resize_bilinear"))
        ('', True)
    """
    try:
        return str(getattr(get(binding), "deprecated", "") or "")
    except KeyError:
        return ""


def bindings_for(case: Case, names: Sequence[str]) -> list[str]:
    """Which of ``names`` apply to ``case`` (its op, and the case's own ``bindings:`` restriction)."""
    out = []
    for n in names:
        if case.bindings is not None and n not in case.bindings:
            continue
        if case.op in get(n).ops:
            out.append(n)
    return out


def checks_for(case: Case, names: Sequence[str], paths: Sequence[str] | None = None,
               own_only: Collection[str] = ()) -> list[tuple[str, str, str]]:
    """The (binding, path, direction) checks of a case: each applicable binding on each wanted path that
    its framework has, in each direction the case asks for (``checks:``; forward by default). ``paths``
    (the run's ``--path``) overrides the case's own ``paths:``; by default a case runs eagerly only.
    Bindings of the frameworks in ``own_only`` (``Framework.suite == "own"``, in a run that did not name
    them) take only cases whose ``bindings:`` list names them.

    Example:
        >>> from upconform.canonical import Case
        >>> c = Case(id="repeat/x[float32]", op="repeat", name="x", dtype="float32", params={"repeats": 2},
        ...          shapes={"x": (1, 1, 3)}, paths=("eager", "litert"))
        >>> checks_for(c, ["torch.repeat_interleave"])
        [('torch.repeat_interleave', 'eager', 'forward')]
    """
    wanted = tuple(paths) if paths else (case.paths or (EAGER,))
    out = []
    for n in bindings_for(case, names):
        if own_only and case.bindings is None and get(n).framework in own_only:
            continue
        have = paths_of(n)
        out += [(n, p, d) for p in wanted if p in have for d in case.checks]
    return out


def repro_snippet(case: Case, binding: str, path: str = EAGER, direction: str = FORWARD) -> str:
    """Python that rebuilds the inputs, runs the binding and the reference, and compares them
    (:func:`results.repro_text`, which the compact results.json also makes it again with)."""
    return repro_text(case.source, case.id, binding, path, direction)


def audit_verdict(eager: Any, exported: dict[str, Any] | None) -> dict[str, Any] | None:
    """The attribute audit: does the exported graph mean the same canonical case as the eager call?

    ``eager`` is the eager call's ``from_native`` (a dict, or a string saying why it has none);
    ``exported`` is the path's reading of its graph. Status ``same``, ``differs`` (with the differing
    parameters, eager value first) or ``unreadable`` (with the reason).

    Example:
        >>> audit_verdict({"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
        ...               {"nodes": ["Resize"], "meaning": {"mode": "linear",
        ...                "coordinate_transformation_mode": "pytorch_half_pixel"}})["differs"]
        {'coordinate_transformation_mode': ['half_pixel', 'pytorch_half_pixel']}
    """
    if exported is None:
        return None
    out = {"nodes": list(exported.get("nodes", [])), "eager": eager, "exported": exported.get("meaning")}
    if exported.get("attributes") is not None:  # the exported op's own attributes, as read back
        out["attributes"] = exported["attributes"]
    if out["exported"] is None or not isinstance(eager, dict):
        why = exported.get("reason") or "the exported graph has no canonical reading"
        if not isinstance(eager, dict):
            why = f"the eager call has no canonical reading: {eager}"
        return {**out, "status": "unreadable", "reason": why}
    a, b = plain(eager), plain(out["exported"])
    diff = {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
    return {**out, "status": "differs" if diff else "same", "differs": diff}


def check(case: Case, binding_name: str, tensors: dict[str, np.ndarray] | None, expected: np.ndarray | None,
          *, expectations: Sequence[exp.Expectation] = (), device: str = "cpu", timing_budget_s: float = 0.02,
          max_repeats: int = MAX_SAMPLES, reference_error: str = "", executor: Any = None, timeout: float = 60.0,
          path: str = EAGER, direction: str = FORWARD, backward: dict[str, Any] | None = None) -> Result:
    """One (case, binding, path, direction) check, never raising: framework errors become ``error`` results.

    A backward check needs ``backward``, the case's reference gradients (:func:`backward_reference`):
    the seeded cotangent goes to the worker, its gradients are compared here, each with its own scale.

    The executor (in this process, or an isolated worker per framework) translates, runs and times
    the native call; the verdict is decided here, against the reference computed once per case. On a
    compiled or exported path the output is judged against the reference like any other; an export
    whose attributes mean another case fails the ``attributes`` check even where the values agree.
    """
    ex = executor or _IN_PROCESS
    t0 = time.perf_counter()
    res = Result(case.id, case.op, binding_name, ex.framework_of(binding_name), case.dtype, Outcome.ERROR,
                 path=path, direction=direction, source=case.source, device=device)
    res.canonical = case.normal_form()
    res.deprecated = deprecation(binding_name)
    tol = (direction == BACKWARD and case.backward_tolerance) or case.tolerance or DEFAULT_TOLERANCES[case.dtype]
    res.tolerance = tol.to_json()
    payload = {"case": case_to_wire(case), "binding": binding_name, "tensors": tensors, "device": device,
               "timing_budget_s": timing_budget_s, "max_repeats": max_repeats,
               "execute": not reference_error and expected is not None, "path": path}
    if direction == BACKWARD and backward is None and tensors is not None and expected is not None:
        backward = backward_reference(case, tensors, expected)  # a caller that asked for no backward reference
    if direction == BACKWARD:
        reference_error = reference_error or (backward or {}).get("error", "")
        payload.update(direction=BACKWARD, execute=payload["execute"] and not reference_error,
                       cotangent=(backward or {}).get("cotangent"))
    if direction == BACKWARD and case.dtype == "uint8":
        out = {"status": "unsupported", "reason": "no gradient: uint8 tensors are integers"}
    elif tensors is None:
        out = {"status": "unsupported", "reason": reference_error}
    else:
        why = unsupported_here(case, binding_name, path, direction) if getattr(ex, "isolated", False) else None
        out = {"status": "unsupported", "reason": why} if why else ex.call(binding_name, "check", payload, timeout)
    status = out["status"]
    if status == "unsupported":
        res.outcome, res.reason = Outcome.UNSUPPORTED, out["reason"]
        return _finish(res, t0)
    if "native" in out:
        res.native = dict(plain(out["native"]))
        res.native_call = out["native_call"]
        res.notes = list(out.get("notes", []))
        res.repro = repro_snippet(case, binding_name, path, direction)
    if status in ("crash", "timeout"):
        res.outcome, res.reason = Outcome(status), out["reason"]
        return _finish(res, t0)
    if reference_error or expected is None:
        res.reason = f"reference rejected the case: {reference_error}"
        return _finish(res, t0)
    if status == "error":
        res.reason = out["reason"]
        res.message = out.get("traceback", "")
    elif direction == BACKWARD:
        res.timing = out["timing"]
        _judge_gradients(res, out["grads"], backward or {}, case, tol, binding_name, path)
    else:
        res.timing = out["timing"]
        actual = out["actual"]
        cmp = compare(actual, expected, case.dtype, tol)
        res.outcome = Outcome.PASS if cmp.ok else Outcome.FAIL
        res.check, res.metrics = cmp.check, cmp.metrics
        if "eager_actual" in out:
            ve = compare(actual, out["eager_actual"], case.dtype, tol)
            res.vs_eager = {"ok": ve.ok, "check": ve.check, **{k: ve.metrics.get(k) for k in
                                                                ("max_abs_err", "max_ulp", "mismatch_count")}}
        if "audit" in out:
            res.audit = audit_verdict(out.get("eager_meaning"), out["audit"])
            if res.audit and res.audit["status"] == "differs" and cmp.ok:
                res.outcome, res.check = Outcome.FAIL, "attributes"
                res.reason = f"the exported graph means another case: {_differs(res.audit)}"
                res.message = (f"{case.id} on {binding_name} [{path}]: {res.reason}\nnodes: {res.audit['nodes']}\n"
                               f"native call: {res.native_call}")
        if not cmp.ok:
            if cmp.check == "values":
                res.classification = classify(actual, expected, case.dtype, params=res.canonical,
                                              tolerance=tol, max_ulp=cmp.metrics.get("max_ulp"))
                res.diff_map = diff_map(actual, expected)
            res.reason = cmp.message.splitlines()[0]
            if res.audit and res.audit["status"] == "differs":
                res.reason += f"; the exported graph means another case: {_differs(res.audit)}"
            where = binding_name if path == EAGER else f"{binding_name} [{path}]"
            dep = f" [deprecated: {res.deprecated}]" if res.deprecated else ""
            res.message = (f"{case.id} on {where}: {cmp.message}\nnative call: {res.native_call}{dep}\n"
                           f"repro:\n{res.repro}")
    e = exp.find(list(expectations), case.id, binding_name, case.dtype, path, direction=direction)
    if e is not None:
        if res.outcome in (Outcome.FAIL, Outcome.ERROR) and e.covers(res.outcome.value):
            res.expectation = e.to_json()
            res.reason = f"known: {e.reason} ({res.reason})"
            res.outcome = Outcome.XFAIL
        elif res.outcome is Outcome.PASS:
            res.expectation = e.to_json()
            res.outcome = Outcome.XPASS
            res.reason = f"expected to {e.outcome if e.outcome != 'any' else 'fail'} ({e.reason}) but passed"
    return _finish(res, t0)


def _judge_gradients(res: Result, grads: dict[str, np.ndarray], ref: dict[str, Any], case: Case, tol: Any,
                     binding_name: str, path: str) -> None:
    """Compare each gradient with the reference (in the order of the operator's inputs); the check passes
    when every gradient does. ``res.metrics`` is the first failing gradient's (else the one with the
    largest ULP error), with ``grad`` naming it; ``res.gradients`` has each one's figures."""
    res.gradients = {}
    worst: tuple[str, Any] | None = None
    missing = [name for name in ref["grads"] if name not in grads]
    for name, want in ref["grads"].items():
        if name in missing:
            res.gradients[name] = {"ok": False, "check": "missing"}
            continue
        c = compare(grads[name], want, case.dtype, tol, scale=ref["scales"].get(name))
        figures = ("max_abs_err", "max_ulp", "tol_used", "mismatch_count", "total")
        res.gradients[name] = {"ok": c.ok, "check": c.check, **{k: c.metrics.get(k) for k in figures}}
        w = worst[1] if worst else None
        if w is None or (w.ok and (not c.ok or c.metrics.get("max_ulp", 0.0) > w.metrics.get("max_ulp", 0.0))):
            worst = (name, c)
    where = binding_name if path == EAGER else f"{binding_name} [{path}]"
    if missing:
        res.outcome, res.check = Outcome.FAIL, "gradients"
        res.reason = f"no gradient with respect to {', '.join(missing)} (the framework returned {sorted(grads) or 'none'})"
        res.message = f"{case.id} on {where} [backward]: {res.reason}\nnative call: {res.native_call}"
        return
    extra = sorted(set(grads) - set(ref["grads"]))
    if extra:
        res.notes.append(f"gradients not compared (the reference has none): {extra}")
    if worst is None:
        res.outcome, res.check, res.reason = Outcome.ERROR, "gradients", "the reference has no gradient to compare"
        return
    name, c = worst
    res.outcome = Outcome.PASS if c.ok else Outcome.FAIL
    res.check, res.metrics = c.check, {**c.metrics, "grad": name}
    used = [g["tol_used"] for g in res.gradients.values() if g.get("tol_used") is not None]
    if used:  # the share of the tolerance used: the largest over the gradients
        res.metrics["tol_used"] = max(used)
    if not c.ok:
        if c.check == "values":
            res.diff_map = diff_map(grads[name], ref["grads"][name])
        res.reason = f"d/d{name}: {c.message.splitlines()[0]}"
        dep = f" [deprecated: {res.deprecated}]" if res.deprecated else ""
        res.message = (f"{case.id} on {where} [backward], gradient with respect to {name}: {c.message}\n"
                       f"native call: {res.native_call}{dep}\nrepro:\n{res.repro}")


def unsupported_here(case: Case, binding_name: str, path: str = EAGER, direction: str = FORWARD) -> str | None:
    """Why a binding cannot take a case, decided in this process without asking its worker, in the
    worker's own order (the framework is not installed, the path takes none of the binding's calls,
    the translation says ``Unsupported``); None when the worker must
    run it or decide. Translation is pure Python, so most unsupported checks of a run cost no round
    trip; a binding whose translation needs its framework (``translate_in_worker``) and a translation
    that raises are left to the worker, which reports them as it always has.

    Example:
        >>> from upconform.canonical import Case
        >>> c = Case(id="repeat/x[float32]", op="repeat", name="x", dtype="float32", params={"repeats": [2]},
        ...          shapes={"x": (1, 1, 3)})
        >>> unsupported_here(c, "torch.repeat_interleave") is None
        True
    """
    b = get(binding_name)
    if b.translate_in_worker:
        return None
    missing = framework(b.framework).missing() or path_refuses(b, path)
    if missing:
        return missing
    try:
        call = b.unsupported_reading(case) or b.to_native(case)
        if not isinstance(call, Unsupported) and direction == BACKWARD:
            call = b.backward_unsupported(case) or call
    except Exception:  # noqa: BLE001 - the worker reports the failure with its traceback
        return None
    return call.reason if isinstance(call, Unsupported) else None


def _differs(audit: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {a!r} (eager) vs {b!r} (exported)" for k, (a, b) in audit["differs"].items())


def _finish(res: Result, t0: float) -> Result:
    res.timing = {**res.timing, "check_wall_s": time.perf_counter() - t0}
    return res


def backward_reference(case: Case, tensors: dict[str, np.ndarray], expected: np.ndarray) -> dict[str, Any]:
    """A backward check's reference, once per case: the seeded cotangent (case dtype), the float64
    gradients of ``<forward, cotangent>`` and their scales (the same sums over absolute terms); or
    ``{"error": why}``."""
    if case.dtype == "uint8":
        return {"error": "uint8 tensors are integers: no gradient"}
    try:
        cot = cotangent(case, expected.shape)
        c64 = cot.astype(np.float64)
        return {"cotangent": cot, "grads": expected_gradients(case, tensors, c64),
                "scales": expected_gradients(case, tensors, c64, absolute=True)}
    except Exception as e:  # noqa: BLE001
        return {"error": f"reference gradients failed: {type(e).__name__}: {e}"}


def _reference(case: Case) -> tuple[dict[str, np.ndarray] | None, np.ndarray | None, str, float, dict[str, Any] | None]:
    """(tensors, expected, why the reference rejected the case, seconds, backward reference or None):
    computed once per case."""
    ref_err = ""
    expected = None
    t0 = time.perf_counter()
    try:
        tensors: dict[str, np.ndarray] | None = case_tensors(case)
    except MissingDtype as e:  # every check of this case is unsupported, with the reason
        tensors, ref_err = None, str(e)
    if tensors is not None:
        try:
            expected = expected_output(case, tensors)
        except Exception as e:  # noqa: BLE001
            ref_err = f"{type(e).__name__}: {e}"
    bw = None
    if BACKWARD in case.checks and tensors is not None and expected is not None:
        bw = backward_reference(case, tensors, expected)
    return tensors, expected, ref_err, time.perf_counter() - t0, bw


reference_of = _reference  # the public name (the session's one-check-at-a-time path shares it)


def run_cases(cases: Iterable[Case], binding_names: Sequence[str], *, expectations: Sequence[exp.Expectation] = (),
              device: str = "cpu", timing_budget_s: float = 0.02, max_repeats: int = MAX_SAMPLES,
              on_result: Callable[[Result], None] | None = None, skip: set[tuple[str, str, str, str]] | None = None,
              executor: Any = None, timeout: float = 60.0, paths: Sequence[str] | None = None,
              jobs: int = 1, own_only: Collection[str] = ()) -> list[Result]:
    """Every applicable (case, binding, path) check; the reference runs once per case and is shared.

    ``skip`` holds (case_id, binding, path, direction) keys already done (for resumed runs); ``paths`` overrides
    the cases' own ``paths:``. With ``jobs`` > 1 and an isolated executor, up to ``jobs`` frameworks
    run at once, each in its own worker process, each framework's checks in suite order (a lane per
    framework); results come back lane by lane, ``on_result`` is called from one thread at a time as
    each check completes. An executor whose ``lanes`` is True (Ray's: each of its workers holds
    resources of a cluster) runs lanes at any ``jobs``, one worker after another with ``jobs`` 1, and
    hears ``release(key)`` when a worker's lane is done, ``release(None)`` when every lane is.
    """
    plan = []
    for case in cases:
        names = [(n, p, d) for n, p, d in checks_for(case, binding_names, paths, own_only)
                 if not skip or (case.id, n, p, d) not in skip]
        if names:
            plan.append((case, names))
    ex = executor or _IN_PROCESS
    if not getattr(ex, "isolated", False) or (jobs <= 1 and not getattr(ex, "lanes", False)):
        return _run_lane(plan, expectations=expectations, device=device, timing_budget_s=timing_budget_s,
                         max_repeats=max_repeats, on_result=on_result, executor=executor, timeout=timeout)
    return _run_lanes(plan, jobs, expectations=expectations, device=device, timing_budget_s=timing_budget_s,
                      max_repeats=max_repeats, on_result=on_result, executor=ex, timeout=timeout)


def _run_lane(plan: list[tuple[Case, list[tuple[str, str, str]]]], *, on_result: Callable[[Result], None] | None,
              references: Any = None, stop: Any = None, **kw: Any) -> list[Result]:
    results = []
    for case, names in plan:
        if stop is not None and stop.is_set():
            break
        tensors, expected, ref_err, ref_s, bw = references(case) if references else _reference(case)
        for n, p, d in names:
            if stop is not None and stop.is_set():
                break
            r = check(case, n, tensors, expected, reference_error=ref_err, path=p, direction=d, backward=bw, **kw)
            r.timing["reference_s"] = ref_s / len(names)  # the case's reference time, shared by its checks
            results.append(r)
            if on_result:
                on_result(r)
    return results


def lane_cost(framework_name: str, lane: Sequence[tuple[Case, Sequence[tuple[str, ...]]]]) -> float:
    """A lane's expected seconds: its eager checks at its framework's ``check_cost_s``, its compiled and
    exported checks at ``PATH_CHECK_COST_S``. ``--jobs`` starts the longest lanes first, so that a long
    lane started last does not keep the run waiting (longest-processing-time-first scheduling).
    ``framework_name`` may name a path's own worker, ``tensorflow[keras_jax]`` (its lane's checks are
    all on that path).

    Example:
        >>> from upconform.canonical import Case
        >>> c = Case(id="repeat/x[float32]", op="repeat", name="x", dtype="float32", params={"repeats": 2},
        ...          shapes={"x": (1, 1, 3)})
        >>> lane_cost("torch", [(c, [("b", "eager", "forward"), ("b", "onnx", "forward")])])
        0.503
    """
    from ..adapters import PATH_CHECK_COST_S, framework

    per_check = framework(framework_name.split("[", 1)[0]).check_cost_s
    return round(sum(per_check if c[1] == EAGER else PATH_CHECK_COST_S for _, ns in lane for c in ns), 9)


def _run_lanes(plan: list[tuple[Case, list[tuple[str, str, str]]]], jobs: int, *,
               on_result: Callable[[Result], None] | None, executor: Any, **kw: Any) -> list[Result]:
    """One lane per worker (per framework, and per path with a worker of its own: ``tensorflow[keras_jax]``),
    ``jobs`` lanes at a time; a case's reference is computed by the first lane that needs it and dropped
    when its last lane is done with it."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    lanes: dict[str, list[tuple[Case, list[tuple[str, str, str]]]]] = {}
    for case, names in plan:
        by_fw: dict[str, list[tuple[str, str, str]]] = {}
        lane_of = getattr(executor, "worker_of", None)
        for n, p, d in names:
            by_fw.setdefault(lane_of(n, p) if lane_of else executor.framework_of(n), []).append((n, p, d))
        for fw, ns in by_fw.items():
            lanes.setdefault(fw, []).append((case, ns))
    users = {}
    for fw_plan in lanes.values():
        for case, _ in fw_plan:
            users[case.id] = users.get(case.id, 0) + 1
    refs: dict[str, Any] = {}
    locks: dict[str, threading.Lock] = {}
    guard, emit = threading.Lock(), threading.Lock()

    def references(case: Case) -> Any:
        with guard:
            lock = locks.setdefault(case.id, threading.Lock())
        with lock:
            if case.id not in refs:
                refs[case.id] = _reference(case)
            out = refs[case.id]
        with guard:
            users[case.id] -= 1
            if users[case.id] == 0:
                refs.pop(case.id, None)
                locks.pop(case.id, None)
        return out

    def report(r: Result) -> None:
        if on_result:
            with emit:
                on_result(r)

    stop = threading.Event()
    release = getattr(executor, "release", None)

    def run_lane(key: str, lane: list[tuple[Case, list[tuple[str, str, str]]]]) -> list[Result]:
        out = _run_lane(lane, on_result=report, references=references, executor=executor, stop=stop, **kw)
        if release is not None and not stop.is_set():  # its worker may give its resources back
            release(key)
        return out

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="upconform-lane")
    order = sorted(lanes.items(), key=lambda kv: lane_cost(kv[0], kv[1]), reverse=True)
    futures = [pool.submit(run_lane, key, lane) for key, lane in order]
    try:
        out = [r for f in futures for r in f.result()]
    except BaseException:  # Ctrl-C / SIGTERM: lanes stop after their current check; the caller closes the workers
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    if release is not None:  # every lane is done
        release(None)
    return out
