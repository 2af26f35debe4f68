"""Throw-away bindings with planted bugs, for the search tests (loaded with --adapter)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from upconform import reference
from upconform.adapters import Binding, NativeCall, Unsupported
from upconform.canonical import normalize


class PlantedResize(Binding):
    """`planted.resize(x, scale=s)`: nearest, floor(i * in / out) with out = floor(in * s). The
    translation claims ONNX `scales` (floor(i / s)), which is right only when s is an integer."""

    name = "planted.resize"
    framework = "planted"
    ops = ("resize",)
    native_args = frozenset({"scale"})

    def search_space(self, op: str) -> Any:
        from hypothesis import strategies as st

        return st.fixed_dictionaries({
            "args": st.fixed_dictionaries({"scale": st.one_of(st.integers(1, 4), st.sampled_from([1.5, 2.5, 1.25]))}),
            "shapes": st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 12)).map(lambda s: {"x": s}),
            "dtype": st.just("float32")})

    def to_native(self, case: Any) -> NativeCall | Unsupported:
        n = case.normal_form()
        if n["mode"] != "nearest" or "scales" not in n:
            return Unsupported("planted.resize takes a scale")
        return NativeCall(self.name, {"scale": n["scales"][-1]})

    def from_native(self, args: Any, shapes: Any, op: str | None = None) -> dict[str, Any] | Unsupported:
        x = shapes["x"]
        return normalize("resize", {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                                    "nearest_mode": "floor", "scales": [1.0] * (len(x) - 1) + [float(args["scale"])]},
                         shapes)

    def prepare(self, call: NativeCall, tensors: Any, device: str = "cpu") -> Any:
        return tensors["x"], float(call.args["scale"])

    def execute(self, prepared: Any) -> Any:
        x, s = prepared
        n_in = x.shape[-1]
        n_out = math.floor(n_in * s)
        idx = np.minimum((np.arange(n_out) * n_in) // n_out, n_in - 1)  # sizes semantics: in / out
        return x[..., idx]

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return out


class PlantedRepeat(Binding):
    """`planted.repeat(x, repeats=r)`: right, except that an axis of size 1 comes back as zeros."""

    name = "planted.repeat"
    framework = "planted"
    ops = ("repeat",)
    native_args = frozenset({"repeats"})

    def search_space(self, op: str) -> Any:
        from hypothesis import strategies as st

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 2))
            x = (d(st.integers(1, 2)), d(st.integers(1, 3)), *[d(st.integers(1, 9)) for _ in range(k)])
            return {"args": {"repeats": [d(st.integers(1, 3)) for _ in range(k)]}, "shapes": {"x": x},
                    "dtype": "float32"}

        return draw()

    def to_native(self, case: Any) -> NativeCall | Unsupported:
        return NativeCall(self.name, {"repeats": case.normal_form()["repeats"]})

    def from_native(self, args: Any, shapes: Any, op: str | None = None) -> dict[str, Any] | Unsupported:
        return {"repeats": list(args["repeats"])}

    def prepare(self, call: NativeCall, tensors: Any, device: str = "cpu") -> Any:
        return tensors["x"], list(call.args["repeats"])

    def execute(self, prepared: Any) -> Any:
        x, r = prepared
        y = reference.repeat(x, repeats=r).astype(x.dtype)
        if 1 in x.shape[2:]:
            y = np.zeros_like(y)
        return y

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return out


BINDINGS = [PlantedResize(), PlantedRepeat()]
