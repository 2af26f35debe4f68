"""Every registered binding runs real cases of the default suite, in every dtype it supports, and
its output is compared with the reference: a binding that stops conforming turns `make test` red.

The cases are a deterministic sample (evenly spaced over the supported cases of each binding and
dtype), so the test stays within seconds; `make run` (in `.ci/run` too) runs the whole suite.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from upconform.adapters import _BUILTIN as BUILTIN_BINDINGS
from upconform.adapters import Unsupported, framework_of, get
from upconform.harness import expectations as exp
from upconform.harness.runner import run_cases
from upconform.harness.spec import default_spec_paths, load_files

ROOT = Path(__file__).resolve().parents[1]

PER_DTYPE = 4  # checks per (binding, dtype)


@cache
def suite():
    cases, _ = load_files(default_spec_paths(ROOT / "specs"))
    return cases


@cache
def expectations():
    return exp.load(ROOT / "specs" / "expectations.yaml")


def sample(name: str) -> dict[str, list]:
    """Supported cases of the default suite per dtype, PER_DTYPE of them spread evenly."""
    b = get(name)
    by_dtype: dict[str, list] = {}
    for case in suite():
        if case.paths and "eager" not in case.paths:  # a case for another path only (an exporter's finding)
            continue
        if case.op in b.ops and (case.bindings is None or name in case.bindings):
            if not isinstance(b.to_native(case), Unsupported):
                by_dtype.setdefault(case.dtype, []).append(case)
    out = {}
    for dt, cs in by_dtype.items():
        step = max(len(cs) // PER_DTYPE, 1)
        out[dt] = cs[::step][:PER_DTYPE]
    return out


@pytest.mark.parametrize("name", sorted(BUILTIN_BINDINGS))
def test_binding_conforms_on_real_cases(name):
    pytest.importorskip(framework_of(name).module)
    picked = sample(name)
    if get(name).always_unsupported:  # registered to say why (cv2.pyrUp): nothing to run
        assert not picked, name
        return
    assert picked, f"{name} expresses no case of the default suite"
    for dtype, cases in picked.items():
        results = run_cases(cases, [name], expectations=expectations(), timing_budget_s=0.0, max_repeats=1,
                            paths=["eager"])  # the binding itself; compiled and exported paths: test_*_paths.py
        forward = [r for r in results if r.direction == "forward"]  # and a backward check where the case asks
        assert len(forward) == len(cases)
        assert len(results) == len(cases) + sum("backward" in c.checks for c in cases)
        bad = [f"{r.case_id} [{r.direction}]: {r.outcome}: {r.reason}" for r in results if r.outcome.bad]
        assert not bad, f"{name} [{dtype}]:\n" + "\n".join(bad)
        # each checked output really was compared value by value with the reference
        for r in results:  # each gradient too: a backward pass compared values (or is an empty batch)
            if r.direction == "backward" and r.outcome == "pass":
                case = next(c for c in cases if c.id == r.case_id)
                assert all(g["total"] > 0 for g in r.gradients.values()) or 0 in case.shapes["x"], r.case_id
        for r, case in zip(forward, cases):
            if r.outcome == "pass":  # an empty batch (N = 0) has nothing to compare but its shape
                assert r.check == "values" and (r.metrics["total"] > 0 or 0 in case.shapes["x"]), r.case_id
    passed = [dt for dt, cs in picked.items() if cs]
    assert passed, name


def test_sample_covers_every_binding_and_its_dtypes():
    """The sample is not empty anywhere: every binding has cases, in more than one dtype where it can."""
    counts = {n: {dt: len(cs) for dt, cs in sample(n).items()} for n in BUILTIN_BINDINGS if not get(n).always_unsupported}
    assert all(counts.values()), {n: c for n, c in counts.items() if not c}
    assert set(counts["torch.nn.functional.interpolate"]) >= {"float16", "bfloat16", "float32", "float64", "uint8"}
    assert set(counts["tf.nn.conv2d_transpose"]) >= {"float32", "float64"}
