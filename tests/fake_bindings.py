"""A deliberately imperfect third-party binding, loaded through the public adapter interface."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from upconform import reference
from upconform.adapters import Binding, Framework, NativeCall, Unsupported
from upconform.canonical import DEFAULT_TOLERANCES


class FakeRepeat(Binding):
    """Computes repeat with numpy; ``fault`` in the case params' repeats picks a misbehaviour:
    repeats [2] -> correct, [3] -> off by 0.5 (fail), [4] -> raises (error), [5] -> unsupported."""

    name = "fake.repeat"
    framework = "fake"
    ops = ("repeat",)
    offset = 0.0  # tests inject a numeric regression
    tolerance_multiple = 0.0  # tests inject a fault of k times the dtype's allowed error
    grad_scale = 1.0  # tests inject a gradient-only fault (the forward stays right)

    def to_native(self, case: Any) -> NativeCall | Unsupported:
        r = list(case.params["repeats"]) if isinstance(case.params["repeats"], (list, tuple)) else [case.params["repeats"]]
        if r[0] == 5:
            return Unsupported("fake.repeat cannot repeat by 5")
        return NativeCall(self.name, {"repeats": r})

    def from_native(self, args, shapes, op=None):
        return {"repeats": list(args["repeats"]) * (len(shapes["x"]) - 2 if len(args["repeats"]) == 1 else 1)}

    def prepare(self, call, tensors, device="cpu"):
        return tensors["x"], call.args["repeats"]

    def execute(self, prepared):
        x, r = prepared
        if r[0] == 4:
            raise RuntimeError("fake.repeat exploded")
        y = reference.repeat(x, repeats=r[0]).astype(x.dtype)
        if r[0] == 3:
            y = y + np.asarray(0.5, dtype=x.dtype)
        if self.offset:
            y = y + np.asarray(self.offset, dtype=x.dtype)
        if self.tolerance_multiple:
            tol = DEFAULT_TOLERANCES[x.dtype.name]
            exact = reference.repeat(x.astype(np.float64), repeats=r[0])
            y = (exact + self.tolerance_multiple * (tol.atol + tol.rtol * np.abs(exact))).astype(x.dtype)
        return y

    def to_canonical(self, out, prepared):
        return out

    # backward: the block sums of the cotangent (numpy plays the framework); repeats [3] is 1.5x too large
    def backward_unsupported(self, case: Any) -> Unsupported | None:
        return Unsupported("fake.repeat has no gradient in float16") if case.dtype == "float16" else None

    def prepare_backward(self, call, tensors, cotangent, device="cpu"):
        return tensors["x"], call.args["repeats"], np.asarray(cotangent)

    def execute_backward(self, prepared):
        x, r, y = prepared
        if r[0] == 4:
            raise RuntimeError("fake.repeat backward exploded")
        k = x.ndim - 2
        g = y.astype(np.float64).reshape(*x.shape[:2], *[v for n in x.shape[2:] for v in (n, r[0])])
        g = g.sum(axis=tuple(3 + 2 * i for i in range(k)))
        return (g * (1.5 if r[0] == 3 else self.grad_scale)).astype(x.dtype)

    def grads_to_canonical(self, out, prepared):
        return {"x": out}



class CrashyRepeat(FakeRepeat):
    """Misbehaves by process: repeats 6 -> os._exit(3), 7 -> SIGSEGV, 8 -> hangs; else as FakeRepeat.
    ``sleep_s`` in the environment (UPCONFORM_FAKE_SLEEP) slows every check down."""

    name = "fake.crashy"

    def to_native(self, case: Any) -> NativeCall | Unsupported:
        r = case.params["repeats"]
        r = list(r) if isinstance(r, (list, tuple)) else [r]
        return NativeCall(self.name, {"repeats": r})

    def execute(self, prepared):
        import os
        import signal

        x, r = prepared
        delay = float(os.environ.get("UPCONFORM_FAKE_SLEEP", "0"))
        if delay:
            time.sleep(delay)
        if r[0] == 6:
            os._exit(3)
        if r[0] == 7:
            os.kill(os.getpid(), signal.SIGSEGV)
        if r[0] == 8:
            time.sleep(3600)
        return reference.repeat(x, repeats=r[0]).astype(x.dtype)


BINDINGS = [FakeRepeat(), CrashyRepeat()]


class OwnSuiteRepeat(FakeRepeat):
    """FakeRepeat in a framework whose descriptor says ``suite="own"`` (like JAX: costly per shape)."""

    name = "ownfw.repeat"
    framework = "ownfw"


OWN_SUITE = [Framework("ownfw", suite="own"), OwnSuiteRepeat()]


class UntimedRepeat(FakeRepeat):
    """FakeRepeat in a framework whose descriptor says ``timed=False`` (like onnx.reference)."""

    name = "untimedfw.repeat"
    framework = "untimedfw"


UNTIMED = [Framework("untimedfw", timed=False), UntimedRepeat()]
