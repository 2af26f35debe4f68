"""``upconform search``: property-based exploration of native calls, binding by binding.

Each binding's ``search_space(op)`` draws native calls (args in the API's own terms, canonical
shapes, a dtype); without one, canonical cases are drawn from the operator's record and turned into
native calls with ``to_native``. Every example runs in the framework's worker (``explore``): what
the call means (``from_native``), what it computes, and whether ``to_native`` of that meaning gives
the call back. A **finding** is any of:

- ``values`` / ``shape`` / ``dtype`` / ``nonfinite``: the claimed canonical meaning does not
  conform (the comparison's first failing check, at the dtype tolerance);
- ``native_raises``: the framework raises where the canonical meaning is valid;
  ``invalid_claim``: the binding claims a meaning the reference rejects while the call runs;
- ``from_native_crash``: the translation itself raised;
- ``round_trip``: ``to_native(from_native(call))`` means something else;
- ``to_native_values`` (``_shape``, ``_dtype``, ``_nonfinite``; canonical draws only): the call
  ``to_native`` wrote does not compute the case;
- ``crash`` / ``timeout``: the framework's worker died or hung.

A kind ends in ``_special`` when the behaviour shows only with special input values (NaN, +-Inf,
-0.0, subnormals, float16 overflow): such rules (how a framework propagates NaN) are recorded as
data in the expectations file.

Hypothesis shrinks each distinct finding (its *signature*: binding, kind, the categorical canonical
parameters involved, the mismatch classification) to a small example; the engine counts the
examples behind each. Findings matching ``specs/expectations.yaml`` are known, the rest new.

Example:
    >>> signature_slug(("b", "values", (("mode", "linear"),), "shifted"))
    'values_linear_shifted'
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..adapters import get
from ..canonical import Case, freeze, generate, op_info, plain
from . import expectations as exp
from .classify import classify
from .compare import compare

KINDS = ("values", "shape", "dtype", "nonfinite", "native_raises", "invalid_claim", "from_native_crash",
         "round_trip", "to_native_values", "to_native_shape", "to_native_dtype", "to_native_nonfinite", "crash",
         "timeout")  # each but crash and timeout gets a `_special` suffix when only special inputs show it


@dataclass
class Finding:
    """One behaviour: the smallest example Hypothesis found for it, and how many examples showed it."""

    id: str
    kind: str
    binding: str
    op: str
    dtype: str
    args: dict[str, Any]
    shapes: dict[str, list[int]]
    seed: int
    generator: str
    canonical: dict[str, Any] | None
    message: str
    classification: str | None = None
    max_abs_err: float | None = None
    examples: int = 1
    known: dict[str, Any] | None = None
    signature: list[Any] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def key(self) -> str:
        """The behaviour (binding, kind, categorical parameters), whatever the dtype of the example."""
        return json.dumps(self.signature, sort_keys=True)

    def native_call(self) -> str:
        return f"{self.binding}({', '.join(['x', *[f'{k}={v!r}' for k, v in self.args.items()]])})"


class _Found(Exception):
    """Raised inside the Hypothesis test for a finding; one subclass per signature, so that
    Hypothesis shrinks each behaviour separately."""

    finding: Finding


_EXC: dict[str, type[_Found]] = {}


def _exception_for(slug: str) -> type[_Found]:
    if slug not in _EXC:
        _EXC[slug] = type(f"Finding_{re.sub(r'[^A-Za-z0-9_]', '_', slug)[:60]}", (_Found,), {})
    return _EXC[slug]


def signature_slug(sig: tuple[Any, ...]) -> str:
    """A readable slug of a signature (kind, categorical values, classification)."""
    _, kind, params, cls = sig
    parts = [kind, *[str(v) for _, v in params if isinstance(v, str)], *([cls] if cls else [])]
    return "_".join(re.sub(r"[^A-Za-z0-9_]+", "", p) or "x" for p in parts)


def _categorical(meaning: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    if not meaning:
        return ()
    return tuple(sorted((k, v) for k, v in meaning.items() if isinstance(v, (str, bool))))


# ------------------------------------------------------------------------------------------ one example


def example_tensors(op: str, shapes: Mapping[str, Sequence[int]], dtype: str, generator: str,
                    seed: int) -> dict[str, np.ndarray]:
    """The example's tensors: ``x`` from the generator, the rest from the operator's record."""
    sh = {k: tuple(int(v) for v in s) for k, s in shapes.items()}
    out = {"x": generate(generator, {}, sh["x"], dtype, seed)}
    out.update(op_info(op).extra_tensors(sh, dtype, seed))
    return out


def evaluate(binding: str, op: str, ex: Mapping[str, Any], executor: Any, timeout: float) -> Finding | None:
    """Run one example (``{"args", "shapes", "dtype", "seed", "generator", "claim"?}``); its finding or None."""
    dtype, seed, gen = ex["dtype"], int(ex.get("seed", 0)), ex.get("generator", "normal")
    shapes = {k: [int(v) for v in s] for k, s in ex["shapes"].items()}
    tensors = example_tensors(op, shapes, dtype, gen, seed)
    got = executor.call(binding, "explore", {"binding": binding, "op": op, "args": dict(ex["args"]),
                                             "shapes": shapes, "tensors": tensors, "dtype": dtype}, timeout)

    def finding(kind: str, message: str, canonical: Any = None, cls: str | None = None,
                err: float | None = None) -> Finding:
        if gen == "special" and kind not in ("crash", "timeout"):
            kind += "_special"  # shows only with NaN, Inf, -0.0, ... in the input: a rule about special values
        # the classification (shifted, border, ...) describes one example; it is not part of the
        # behaviour's signature, or one bug would show as several findings
        sig = (binding, kind, _categorical(canonical), None)
        slug = signature_slug(sig)
        return Finding(id=f"{op}/search_{slug}[{dtype}]", kind=kind, binding=binding, op=op, dtype=dtype,
                       args=plain(dict(ex["args"])), shapes=shapes, seed=seed, generator=gen,
                       canonical=plain(canonical) if canonical else None, message=message, classification=cls,
                       max_abs_err=err, signature=[binding, kind, [list(p) for p in sig[2]]])

    status = got.get("status")
    if status in ("crash", "timeout"):
        return finding(status, got.get("reason", ""))
    if status == "error":  # the worker's handler itself failed
        return finding("from_native_crash", got.get("reason", ""))
    if got["args_error"]:
        return None  # the strategy drew an argument the API does not take: not an example
    if got["from_native_error"]:
        return finding("from_native_crash", got["from_native_error"])
    info = op_info(op)
    claim = ex.get("claim")
    with np.errstate(all="ignore"):  # special values (NaN, Inf) flow through the reference on purpose
        return _judge(binding, op, ex, got, tensors, info, claim, dtype, finding)


def _judge(binding: str, op: str, ex: Mapping[str, Any], got: Mapping[str, Any], tensors: Mapping[str, np.ndarray],
           info: Any, claim: Any, dtype: str, finding: Callable[..., Finding]) -> Finding | None:
    if claim is not None and got["error"] is None:  # to_native wrote this call for the case `claim`
        try:
            want = info.expected(tensors, claim)
        except Exception:  # noqa: BLE001 - not for search to judge: the case came from the record
            want = None
        if want is not None:
            c = compare(got["output"], want, dtype)
            if not c.ok:
                return finding(f"to_native_{c.check}", c.message.splitlines()[0], claim, None,
                               c.metrics.get("max_abs_err"))
    meaning = got["canonical"]
    if meaning is None:
        return None  # no claim (unsupported, with its reason): nothing to judge
    try:
        expected: np.ndarray | None = info.expected(tensors, meaning)
        ref_err = ""
    except Exception as e:  # noqa: BLE001
        expected, ref_err = None, f"{type(e).__name__}: {e}"
    if expected is None and got["error"] is None:
        return finding("invalid_claim", f"the call runs, but the meaning it was given is invalid: {ref_err}", meaning)
    if expected is not None and got["error"] is not None:
        return finding("native_raises", got["error"], meaning, got["error"].split(":")[0])
    if expected is not None:
        c = compare(got["output"], expected, dtype)
        if not c.ok:
            cls = None
            if c.check == "values":
                cls = classify(got["output"], expected, dtype, params=meaning, max_ulp=c.metrics.get("max_ulp"))["kind"]
            return finding(c.check, c.message.splitlines()[0], meaning, cls, c.metrics.get("max_abs_err"))
    rt = got.get("round_trip") or {}
    if rt.get("status") in ("differs", "error"):
        return finding("round_trip", rt.get("reason", ""), meaning)
    return None


# ------------------------------------------------------------------------------------------ the search


@dataclass
class SearchReport:
    findings: list[Finding]
    examples: dict[str, int]
    seconds: dict[str, float]
    startup: dict[str, float] = field(default_factory=dict)  # framework -> its worker's start, not in any share

    def new(self) -> list[Finding]:
        return [f for f in self.findings if f.known is None]


def _space(binding: str, op: str) -> tuple[Any, bool]:
    """The binding's native strategy, or canonical draws turned into native calls (``True``)."""
    b = get(binding)
    s = b.search_space(op)
    if s is not None:
        return s, False
    info = op_info(op)
    if info.search_space is None:
        return None, True
    return info.search_space(), True


def search_binding(binding: str, op: str, *, executor: Any, max_examples: int, share_s: float, seed: int,
                   special_share: float, timeout: float, on_example: Callable[[Finding | None], None],
                   shrink_s: float | None = None) -> list[Finding]:
    """Explore one (binding, op) for ``share_s`` seconds; the shrunk findings, one per signature.

    The clock starts after the first example: what it costs once (the framework's first call, its
    kernels' initialisation, a worker's start) is not charged to this binding's share, or the first
    binding of each framework gets one example (torch.nn.functional.interpolate and tf.image.resize
    did). Shrinking may go on past the share for ``shrink_s`` more seconds (default: another share);
    after that the smallest failing example found so far is the finding."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st
    from hypothesis.errors import Unsatisfiable

    space, canonical = _space(binding, op)
    if space is None:
        return []
    b = get(binding)
    counts: dict[str, set[str]] = {}
    # shrinking goes towards 0: towards ordinary inputs
    gen = st.just("special") if special_share >= 1 else \
        st.integers(0, 99).map(lambda v: "special" if v >= 100 * (1 - special_share) else "normal")

    total = [0]
    done: set[str] = set()
    inf = float("inf")
    clock = {"deadline": inf, "hard": inf}  # set after the first example
    extra = share_s if shrink_s is None else shrink_s
    failed: dict[str, _Found] = {}  # example -> the exception it raised (replayed once shrinking is cut short)

    def one_round(round_seed: int, budget: int) -> list[Finding]:
        shrinking = [False]

        @hyp_seed(round_seed)
        @settings(max_examples=budget, database=None, deadline=None, derandomize=False, report_multiple_bugs=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
        @given(space, st.integers(0, 2**31 - 1), gen)
        def explore(drawn: Mapping[str, Any], tensor_seed: int, generator: str) -> None:
            from hypothesis import assume

            now = time.perf_counter()
            if not shrinking[0] and (now >= clock["deadline"] or total[0] >= max_examples):
                return  # the budget is spent: pass quickly until Hypothesis stops (while shrinking, go on)
            ex = {"args": dict(drawn.get("args", {})), "shapes": drawn["shapes"],
                  "dtype": drawn.get("dtype", "float32"), "seed": tensor_seed, "generator": generator}
            cut = shrinking[0] and now >= clock["hard"]  # shrinking is over time: only replay known failures
            if canonical:  # drawn is a canonical case: write the native call
                try:
                    case = Case(id=f"{op}/search[{ex['dtype']}]", op=op, name="search", dtype=ex["dtype"],
                                params=freeze(drawn["params"]),
                                shapes=freeze({k: tuple(v) for k, v in drawn["shapes"].items()}))
                except (ValueError, TypeError):
                    assume(False)  # the reference rejects the drawn parameters: not a case
                call = b.unsupported_reading(case) or b.to_native(case)
                assume(not hasattr(call, "reason"))
                ex["args"], ex["claim"] = dict(call.args), plain(case.normal)
            key = hashlib.sha1(json.dumps([ex["args"], ex["shapes"], ex["dtype"], ex["seed"], ex["generator"]],
                                          sort_keys=True, default=str).encode()).hexdigest()
            if cut:
                if key in failed:
                    raise failed[key]  # Hypothesis replays its smallest failing example: it still fails
                return
            f = evaluate(binding, op, ex, executor, timeout)
            if f is not None and generator == "special" and special_share < 1:
                # the same call on ordinary values: a finding there is the behaviour, not the special values
                f = evaluate(binding, op, {**ex, "generator": "normal"}, executor, timeout) or f
            total[0] += 1
            if clock["deadline"] == inf:  # the first example is not charged (see above)
                clock["deadline"] = time.perf_counter() + share_s
                clock["hard"] = clock["deadline"] + extra
            on_example(f)
            if f is not None:
                counts.setdefault(f.key, set()).add(key)
                if f.key in done:
                    return  # found in an earlier round: counted, not raised, so the search goes on
                shrinking[0] = True
                err = _exception_for(f.key)(f.message)
                err.finding = f
                failed[key] = err
                raise err

        try:
            explore()
        except Unsatisfiable:
            return []  # no drawn case is one this binding expresses
        except Exception as e:  # one finding, a group of them (several behaviours), or Hypothesis' flaky report
            leaves = [x for x in _leaves(e) if isinstance(x, _Found)]
            if not leaves:
                raise
            return [x.finding for x in leaves]
        return []

    # Hypothesis stops exploring at a failure and shrinks it: explore again, with the behaviours
    # already found counted but no longer failing, until the budget is spent or nothing new shows up
    found: list[Finding] = []
    for round_no in range(20):
        if total[0] >= max_examples or time.perf_counter() >= clock["deadline"]:
            break
        new = [f for f in one_round(seed * 1000 + round_no, max_examples - total[0]) if f.key not in done]
        if not new:
            break
        found.extend(new)
        done.update(f.key for f in new)
    for f in found:
        f.examples = max(len(counts.get(f.key, ())), 1)
    return found


def _leaves(e: BaseException) -> list[BaseException]:
    """The exceptions inside exception groups (Hypothesis reports several bugs as one group)."""
    subs = getattr(e, "exceptions", None)
    if subs:
        return [x for sub in subs for x in _leaves(sub)]
    return [e]


def shares(budget_s: float, n_pairs: int, spent_s: float, done: int) -> float:
    """The next pair's seconds: what is left of the budget, evenly over the pairs left, but never
    less than half the even share (a pair that overran, shrinking, does not starve the last ones).

    Example:
        >>> shares(100, 10, 0, 0), shares(100, 10, 20, 5), shares(100, 10, 95, 9)
        (10.0, 16.0, 5.0)
    """
    even = budget_s / n_pairs
    return max((budget_s - spent_s) / max(n_pairs - done, 1), even / 2)


def run_search(bindings: Sequence[str], *, executor: Any, max_examples: int = 200, budget_s: float | None = None,
               seed: int = 0, special_share: float = 0.15, timeout: float = 60.0,
               expectations: Sequence[exp.Expectation] = (),
               progress: Callable[[str, int, int, float], None] | None = None) -> SearchReport:
    """Search every (binding, op); ``budget_s`` is shared out over them (see :func:`shares`).

    Each framework's worker is started (and its framework imported) before its first pair, outside
    every share: that start-up is reported per framework in ``SearchReport.startup``."""
    pairs = [(b, op) for b in bindings for op in get(b).ops if _space(b, op)[0] is not None]
    examples: dict[str, int] = {}
    seconds: dict[str, float] = {}
    startup: dict[str, float] = {}
    findings: list[Finding] = []
    spent = 0.0
    for i, (b, op) in enumerate(pairs):
        fw = executor.framework_of(b)
        if fw not in startup:
            t = time.perf_counter()
            try:
                executor.call(b, "warmup", {"binding": b}, timeout)
            except Exception:  # noqa: BLE001 - a framework that cannot start shows in its examples, not here
                pass
            startup[fw] = time.perf_counter() - t
        start = time.perf_counter()
        share = shares(budget_s, len(pairs), spent, i) if budget_s else float("inf")
        n = [0, 0]

        def tick(f: Finding | None, b: str = b, n: list[int] = n, start: float = start) -> None:
            n[0] += 1
            n[1] += f is not None
            if progress:
                progress(b, n[0], n[1], time.perf_counter() - start)

        got = search_binding(b, op, executor=executor, max_examples=max_examples, share_s=share,
                             seed=seed + i, special_share=special_share, timeout=timeout, on_example=tick)
        key = f"{b} {op}"
        examples[key] = n[0]
        seconds[key] = time.perf_counter() - start
        spent += seconds[key]
        for f in got:
            e = exp.find(list(expectations), f.id, f.binding, f.dtype)
            f.known = e.to_json() if e is not None else None
        findings.extend(got)
    return SearchReport(findings, examples, seconds, startup)


# ------------------------------------------------------------------------------------------ outputs


def findings_spec(findings: Sequence[Finding]) -> dict[str, Any]:
    """A spec file (discrepancy entries) that ``upconform run`` replays: each finding's native call
    on its shrunk input, explained and checked against the reference."""
    discs = []
    for f in findings:
        shapes = f.shapes
        entry: dict[str, Any] = {
            "id": f.id.split("/", 1)[1].split("[")[0] + f"_{f.dtype}", "op": f.op, "shape": list(shapes["x"]),
            "dtype": f.dtype, "seed": f.seed, "input": f.generator,
            "calls": [{"binding": f.binding, "args": f.args}],
            "description": f"{f.kind}: {f.message} ({f.examples} examples; found by upconform search)",
        }
        if "w" in shapes:
            entry["weight_shape"] = list(shapes["w"])
            entry["bias"] = "b" in shapes
        discs.append(entry)
    return {"description": "Findings of upconform search, shrunk; `upconform run` replays them.",
            "discrepancies": discs}


def repro(f: Finding) -> str:
    """Python that re-runs a finding's native call and compares it with the reference."""
    return (
        "from upconform.harness.search import evaluate, Finding\n"
        "from upconform.harness.workers import InProcess\n"
        f"ex = {{'args': {f.args!r}, 'shapes': {f.shapes!r}, 'dtype': {f.dtype!r}, 'seed': {f.seed}, "
        f"'generator': {f.generator!r}}}\n"
        f"print(evaluate({f.binding!r}, {f.op!r}, ex, InProcess(), 60.0))"
    )
