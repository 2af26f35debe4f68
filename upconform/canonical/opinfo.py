"""What an operator is, in one record: :class:`OpInfo`.

Everything the harness needs to know about an operator family lives in its record (one module per
family beside this one): the reference function, the tensors of a case and how the extra ones are
generated, the enums and their allowed values, the normal form, the output shape (and so the memory
budget). The harness iterates over the registry (``upconform.canonical.OPS``); it never branches
on an operator's name.

Example:
    >>> from upconform.canonical import OPS
    >>> OPS["repeat"].output_shape({"repeats": [2, 3]}, {"x": (1, 2, 4, 5)})
    (1, 2, 8, 15)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

Shapes = Mapping[str, tuple[int, ...]]


def _no_extra_tensors(shapes: Shapes, dtype: str, seed: int) -> dict[str, np.ndarray]:
    return {}


@dataclass(frozen=True)
class OpInfo:
    """One canonical operator.

    ``normalize(params, shapes)`` receives the spec's parameters with the reference's defaults filled
    in and returns the normal form: equal semantics give equal dicts. Keys of the normal form listed
    in ``derived`` (e.g. conv_transpose's ``output_spatial``) describe the result and are not passed
    to the reference. ``compute`` replaces the plain reference call where a case's tensors are not the
    reference's arguments (max_unpool pools ``x`` first).
    """

    name: str
    family: str  # which spec file holds it: specs/<family>.yaml
    reference: Callable[..., np.ndarray]
    normalize: Callable[[dict[str, Any], Shapes], dict[str, Any]]
    output_shape: Callable[[Mapping[str, Any], Shapes], tuple[int, ...]]
    tensors: tuple[str, ...] = ("x",)
    optional_tensors: tuple[str, ...] = ()
    enums: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    uint8_ok: bool = True
    derived: tuple[str, ...] = ()
    extra_tensors: Callable[[Shapes, str, int], dict[str, np.ndarray]] = _no_extra_tensors
    compute: Callable[..., np.ndarray] | None = None
    explain_shapes: Callable[[tuple[int, ...], tuple[int, ...] | None], dict[str, tuple[int, ...]]] | None = None
    # parameters that choose a reading where the operator text is ambiguous (docs/conventions.md),
    # and those of them that change the result for integer inputs only
    conventions: tuple[str, ...] = ()
    integer_conventions: tuple[str, ...] = ()
    # a Hypothesis strategy of {"params", "shapes", "dtype"} (``upconform search`` for bindings without
    # a native strategy of their own); hypothesis is imported only when it is called
    search_space: Callable[[], Any] | None = None
    # ``upconform port``: the input generators a port is measured on (the first is the normal one; add
    # one with ties or distinct integers where ties or index choices matter), and the canonical
    # neighbours of a normal form worth trying as candidates: (label, parameter overrides) pairs
    port_inputs: tuple[str, ...] = ("normal",)
    port_variants: Callable[[Mapping[str, Any], Shapes], list[tuple[str, dict[str, Any]]]] | None = None
    # backward checks: ``vjp(tensors, kw, cotangent, absolute)`` -> {gradient name: float64 array}, the exact
    # adjoint of the forward (``kw`` as ``expected`` passes it; ``absolute``: the same sums taken over
    # absolute values of every term, for the tolerance of a sum that cancels); ``grads(shapes)``: the
    # names of the differentiable inputs of a case, in order ("x", "w", "b"; max_unpool: "values")
    vjp: Callable[[Mapping[str, np.ndarray], Mapping[str, Any], np.ndarray, bool], dict[str, np.ndarray]] | None = None
    grads: Callable[[Shapes], tuple[str, ...]] = lambda shapes: ("x",)

    def readings(self, normal: Mapping[str, Any], dtype: str) -> dict[str, Any]:
        """The non-default readings a normal form asks for that matter for ``dtype``.

        Example:
            >>> from upconform.canonical import OPS
            >>> OPS["resize"].readings({"integer_rounding": "per_axis"}, "float32")
            {}
        """
        return {k: normal[k] for k in self.conventions if k in normal
                and (k not in self.integer_conventions or dtype == "uint8")}

    @cached_property
    def params(self) -> tuple[str, ...]:
        """The spec's parameter names: the reference function's keyword-only parameters."""
        sig = inspect.signature(self.reference)
        return tuple(p.name for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)

    @cached_property
    def defaults(self) -> dict[str, Any]:
        """The reference's default for every keyword parameter that has one."""
        sig = inspect.signature(self.reference)
        return {p.name: p.default for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}

    def normal_form(self, params: Mapping[str, Any], shapes: Shapes) -> dict[str, Any]:
        """The normal form of ``params`` for inputs of ``shapes`` (ValueError as the reference would)."""
        return self.normalize({**self.defaults, **dict(params)}, shapes)

    def expected(self, tensors: Mapping[str, np.ndarray], normal: Mapping[str, Any]) -> np.ndarray:
        """The float64 reference output of a case with these tensors and this normal form."""
        kw = {k: v for k, v in normal.items() if k not in self.derived}
        if self.compute is not None:
            return self.compute(tensors, kw)
        args = [tensors[t] for t in self.tensors] + [tensors.get(t) for t in self.optional_tensors]
        return self.reference(*args, **kw)

    def gradients(self, tensors: Mapping[str, np.ndarray], normal: Mapping[str, Any], cotangent: np.ndarray,
                  *, absolute: bool = False) -> dict[str, np.ndarray]:
        """The float64 vector-Jacobian product of a case: the gradient of ``<forward(tensors), cotangent>``
        with respect to each differentiable input (:attr:`grads`), by the reference's exact adjoint.
        ``absolute``: every term of each sum taken by absolute value (the scale a rounding error of that
        sum is judged against).

        Example:
            >>> from upconform.canonical import OPS
            >>> OPS["repeat"].gradients({"x": np.zeros((1, 1, 2))}, {"repeats": [2]},
            ...                         np.arange(4.0).reshape(1, 1, 4))["x"].tolist()
            [[[1.0, 5.0]]]
        """
        if self.vjp is None:
            raise NotImplementedError(f"{self.name} has no reference vector-Jacobian product")
        kw = {k: v for k, v in normal.items() if k not in self.derived}
        return self.vjp(tensors, kw, np.asarray(cotangent, dtype=np.float64), absolute)

    def variants(self, normal: Mapping[str, Any], shapes: Shapes) -> list[tuple[str, dict[str, Any]]]:
        """Canonical neighbours of ``normal`` as (label, overrides), for ``upconform port`` (none by default).

        Example:
            >>> from upconform.canonical import OPS
            >>> OPS["repeat"].variants({"repeats": [2]}, {"x": (1, 1, 3)})
            []
        """
        return self.port_variants(normal, shapes) if self.port_variants else []

    def apply_variant(self, normal: Mapping[str, Any], overrides: Mapping[str, Any], shapes: Shapes) -> dict[str, Any]:
        """The normal form of ``normal`` with ``overrides`` (ValueError as the reference would)."""
        base = {k: v for k, v in normal.items() if k not in self.derived}
        return self.normal_form({**base, **overrides}, shapes)

    @staticmethod
    def probe_shapes(shapes: Shapes) -> list[dict[str, tuple[int, ...]]]:
        """Other inputs on which ``port`` re-checks a claim that holds at the user's shape: the spatial
        axes one longer, and about half as long plus one (odd, so integer ratios change).

        Example:
            >>> OpInfo.probe_shapes({"x": (1, 2, 8, 9)})[0]["x"]
            (1, 2, 9, 10)
        """
        x = tuple(shapes["x"])
        out = []
        for sp in ([v + 1 for v in x[2:]], [v // 2 + 1 + (v // 2) % 2 for v in x[2:]]):
            s = {**dict(shapes), "x": (*x[:2], *sp)}
            if s["x"] != x and s not in out:
                out.append(s)
        return out

    def shapes_for_explain(self, x: tuple[int, ...], w: tuple[int, ...] | None = None) -> dict[str, tuple[int, ...]]:
        """The tensor shapes ``upconform explain`` assumes for an input of shape ``x``."""
        return self.explain_shapes(x, w) if self.explain_shapes else {"x": x}
