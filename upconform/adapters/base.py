"""What a binding is: one framework API plus the translation to and from canonical parameters.

A binding never runs a near miss: ``to_native`` returns :class:`Unsupported` with the reason
whenever the API cannot express a case exactly.

Example:
    >>> NativeCall("torch.nn.functional.pixel_shuffle", {"upscale_factor": 2}).render()
    'torch.nn.functional.pixel_shuffle(x, upscale_factor=2)'
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np

from ..canonical import Case, np_dtype


def _no_threads(threads: int) -> None:
    """A framework with no thread pool of its own (the OMP/MKL/OpenBLAS variables still apply)."""


def _no_sync(device: str) -> None:
    """A framework whose calls return when the work is done."""


@dataclass(frozen=True)
class Framework:
    """What a framework is, in one place beside its bindings: the CLI's ``--framework`` choices,
    provenance, thread pinning, device synchronisation and the install hint all read it.

    Example:
        >>> fw = Framework("numpy", aliases=("np",), distributions=("numpy",), module="numpy")
        >>> fw.matches("NP"), "numpy" in fw.versions()
        (True, True)
    """

    name: str
    aliases: tuple[str, ...] = ()
    distributions: tuple[str, ...] = ()  # package names whose versions are recorded (those installed)
    module: str = ""  # the import name that must exist for its bindings to run
    extra: str = ""  # the optional-dependency extra that installs it: pip install 'upconform[EXTRA]'
    configure_threads: Callable[[int], None] = _no_threads  # called once per process, before first use
    synchronize: Callable[[str], None] = _no_sync  # wait for asynchronous devices so timings cover the work
    # the ways to run its bindings besides eagerly: (path name, factory of the Path), e.g. ("compiled", ...)
    paths: tuple[tuple[str, Callable[[], Path]], ...] = ()
    # seconds a check of its bindings takes on the eager path, about (measured; a compiled or exported
    # path costs PATH_CHECK_COST_S): only for ordering the lanes of `--jobs`, longest first
    check_cost_s: float = 0.003
    # "own": in a run that does not name it (--framework/--binding), its bindings take only the cases whose
    # bindings: list names them (its own spec): for frameworks that compile per shape (XLA: 0.1-0.3 s a case);
    # "all": every case of its ops
    suite: str = "all"
    # False: its calls run once (the output is checked) and are not timed; for an executable specification
    # whose speed is no deployment figure (onnx.reference interprets each operator in Python)
    timed: bool = True

    def matches(self, name: str) -> bool:
        return name.lower() in (self.name.lower(), *(a.lower() for a in self.aliases))

    def versions(self) -> dict[str, str]:
        """Installed versions of its distributions, read from package metadata (nothing is imported)."""
        out = {}
        for d in self.distributions:
            v = _dist_version(d)
            if v is not None:
                out[d] = v
        return out

    def missing(self) -> str | None:
        """Why its bindings cannot run here (the module is not installed), or None."""
        return _missing(self.name, self.module, self.extra)

    def path_names(self) -> tuple[str, ...]:
        """``eager`` and the names of its other paths.

        Example:
            >>> Framework("numpy").path_names()
            ('eager',)
        """
        return (EAGER, *(n for n, _ in self.paths))

    def path(self, name: str) -> Path:
        """The :class:`Path` object called ``name`` (created once per process)."""
        key = (self.name, name)
        if key not in _PATHS:
            factories = dict(self.paths)
            if name not in factories:
                raise KeyError(f"path: {name!r} is not one of {list(self.path_names())} for {self.name}")
            _PATHS[key] = factories[name]()
        return _PATHS[key]


def _missing(name: str, module: str, extra: str) -> str | None:
    """Why ``name`` cannot run (its top-level module is not importable; nothing is imported), or None."""
    if not module or _importable(module.split(".")[0]):
        return None
    hint = f" (pip install 'upconform[{extra}]')" if extra else ""
    return f"{name} is not installed{hint}"


@functools.cache
def _dist_version(dist: str) -> str | None:
    """An installed distribution's version, read once per process (translations ask per case)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def _importable(top: str) -> bool:
    """Whether a top-level module can be imported (asked once per process: a run asks for every check)."""
    return importlib.util.find_spec(top) is not None


EAGER = "eager"
PATH_CHECK_COST_S = 0.5  # about what building (compiling, exporting, converting) a call costs; --jobs ordering only
_PATHS: dict[tuple[str, str], Path] = {}


class Path:
    """A way to run a binding's native call other than eagerly: compiled (torch.compile, XLA) or
    exported (torch.onnx.export and ONNX Runtime, TFLiteConverter and LiteRT). The same native call,
    the same canonical tensors; only the route differs. Subclasses set ``name``, ``framework`` and
    ``module`` (what must be importable besides the framework) and implement ``prepare``/``execute``/
    ``to_canonical``; exporters also implement :meth:`audit`.

    Example:
        >>> p = Path()
        >>> p.name, p.missing()
        ('', None)
    """

    name: str = ""
    framework: str = ""
    module: str = ""
    extra: str = ""
    description: str = ""
    # environment set before any framework import in a worker of its own (e.g. {"KERAS_BACKEND": "jax"});
    # a path with a non-empty worker_env runs in that worker ("tensorflow[keras_jax]"), never in the
    # framework's own process, and its checks make a lane of their own under --jobs
    worker_env: Mapping[str, str] = {}
    # the frameworks whose threads that worker pins (default: the path's framework); names without a
    # descriptor are skipped
    configures: tuple[str, ...] = ()

    def missing(self) -> str | None:
        """Why this path cannot run here, or None."""
        return _missing(f"{self.module} (for the {self.name} path)", self.module, self.extra) if self.module else None

    def accepts(self, binding: Binding) -> Unsupported | None:
        """Why this path takes none of a binding's calls (checked before translation and before any worker
        starts), or None."""
        return None

    def supports(self, binding: Binding, call: NativeCall, case: Case) -> Unsupported | None:
        """Why this path cannot take this call (the exporter has no such operator), or None."""
        return None

    def runs_here(self) -> Unsupported | None:
        """Why this process cannot run the path at all (Keras imported with another backend), or None."""
        return None

    def prepare(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                device: str = "cpu") -> Any:  # pragma: no cover - interface
        """Compile or export the call (untimed; its seconds go in ``build_info``)."""
        raise NotImplementedError

    def execute(self, prepared: Any) -> Any:  # pragma: no cover - interface
        """Run the compiled or exported call alone (this is what is timed)."""
        raise NotImplementedError

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def build_info(self, prepared: Any) -> dict[str, Any]:
        """What building took and made: ``{"build_s": ..., "ops": [...]}`` (JSON-able)."""
        return {}

    def backward_unsupported(self, binding: Binding, case: Case) -> Unsupported | None:
        """Why this path takes no backward check of a binding's case (default: not run on this path; a path
        whose gradients upconform takes overrides this and the three backward methods)."""
        return Unsupported(f"backward checks do not run on the {self.framework} {self.name} path (gradients are "
                           "checked eagerly, and jitted or compiled where the path says so)")

    def prepare_backward(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                         cotangent: np.ndarray, device: str = "cpu") -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def execute_backward(self, prepared: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def grads_to_canonical(self, out: Any, prepared: Any) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def audit(self, binding: Binding, call: NativeCall, prepared: Any, shapes: Mapping[str, tuple[int, ...]],
              op: str) -> dict[str, Any] | None:
        """What the exported graph means, read back from its nodes' attributes: ``{"nodes": [op types],
        "meaning": canonical normal form, or None with "reason": why it cannot be read}``; None for a
        path that exports nothing (compiled graphs)."""
        return None


@dataclass(frozen=True)
class Unsupported:
    """The binding cannot express this case exactly; ``reason`` says why."""

    reason: str


@dataclass(frozen=True)
class NativeCall:
    """A native call as a user writes it: the API's own keyword arguments (JSON-able).

    ``prep`` says how canonical tensors become native ones (weight rotation, layouts); ``notes``
    is the human version of it.
    """

    binding: str
    args: Mapping[str, Any]
    prep: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def render(self, tensor_names: tuple[str, ...] = ("x",)) -> str:
        parts = list(tensor_names) + [f"{k}={v!r}" for k, v in self.args.items()]
        return f"{self.binding}({', '.join(parts)})"


class Binding:
    """Base class: subclasses set ``name``, ``framework``, ``ops`` and implement the five methods."""

    name: str = ""
    framework: str = ""
    ops: tuple[str, ...] = ()
    # non-default readings of ambiguous operator text that this API follows (docs/conventions.md),
    # e.g. {"integer_rounding": ("per_axis",)}; a case asking for any other is unsupported
    readings: Mapping[str, tuple[str, ...]] = {}
    # every keyword argument the API takes, as a user writes it (empty: not declared, not checked)
    native_args: frozenset[str] = frozenset()
    # string arguments that take one of a fixed set of values, e.g. {"method": ("nearest", ...)}: another
    # string is an error in validate_args (as the framework would raise)
    enum_args: Mapping[str, tuple[str, ...]] = {}
    enum_case_insensitive = False  # the API lower-cases them first (Keras)
    # a deprecated API: what it is and the modern alternative, e.g. "tf.compat.v1 is TF1's API; use ..."
    deprecated: str = ""
    # to_native needs the framework itself (Keras' own output-shape rule): the parent process leaves the
    # translation to the worker instead of deciding unsupported checks itself (harness.runner.unsupported_here)
    translate_in_worker = False
    # registered only so that explain, port and run say why the API has no canonical meaning (cv2.pyrUp):
    # every case and every native call is Unsupported with the reason
    always_unsupported = False

    def check_args(self, args: Mapping[str, Any]) -> None:
        """Raise ``TypeError`` naming an argument the API does not take (as the framework would).

        Example:
            >>> class B(Binding):
            ...     name, native_args = "f", frozenset({"size"})
            >>> B().check_args({"sise": 2})
            Traceback (most recent call last):
            TypeError: f: unknown argument 'sise'; it takes ['size']
        """
        if not self.native_args:
            return
        unknown = [k for k in args if k not in self.native_args]
        if unknown:
            err = TypeError(f"{self.name}: unknown argument {unknown[0]!r}; it takes {sorted(self.native_args)}")
            err.key = unknown[0]  # type: ignore[attr-defined]
            raise err

    def validate_args(self, args: Mapping[str, Any]) -> None:
        """The one check of a native call's text, before any translation: ``TypeError`` for an argument
        the API does not take (:meth:`check_args`), ``ValueError`` for a string argument outside its
        declared values (:attr:`enum_args`). spec validation, ``explain`` and ``port`` call it.

        Example:
            >>> class B(Binding):
            ...     name, enum_args = "f", {"method": ("nearest", "bicubic")}
            >>> B().validate_args({"method": "bicubc"})
            Traceback (most recent call last):
            ValueError: f: method='bicubc' is not one of ['nearest', 'bicubic']
        """
        self.check_args(args)
        for key, allowed in self.enum_args.items():
            v = args.get(key)
            if isinstance(v, str) and (v.lower() if self.enum_case_insensitive else v) not in allowed:
                err = ValueError(f"{self.name}: {key}={v!r} is not one of {list(allowed)}")
                err.key = key  # type: ignore[attr-defined]  # the field a located error names
                raise err

    def implied_shapes(self, args: Mapping[str, Any], x: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """Tensor shapes besides ``x`` that the call's own arguments fix (a module's weight from its
        channels and kernel size, its bias when ``bias=True``), canonical layout; {} when none."""
        return {}

    def search_space(self, op: str) -> Any:
        """A Hypothesis strategy over this API's *native* calls for ``op``, or None (then ``upconform
        search`` draws canonical cases from the operator's record and uses :meth:`to_native`).

        Each drawn value is a dict ``{"args": {...native keyword arguments...}, "shapes": {"x": (N, C,
        *spatial), "w": ...}, "dtype": "float32"}``: shapes are canonical (NCHW; weights
        (C_in, C_out/g, *k)), args are the API's own (its layout: NHWC for TensorFlow unless
        ``data_format`` says otherwise). Cover everything the API accepts, sizes from 1 up, and
        order the choices so that shrinking goes to small shapes, few channels, integers first.
        """
        return None

    def unsupported_reading(self, case: Case) -> Unsupported | None:
        """Why this binding cannot run a case that asks for a reading it does not follow, or None.

        Example:
            >>> from types import MappingProxyType as M
            >>> c = Case(id="r", op="resize", name="r", dtype="float32", shapes=M({"x": (1, 1, 4)}),
            ...          params=M({"scales": [1, 1, 0.3], "mode": "linear",
            ...                    "coordinate_transformation_mode": "pytorch_half_pixel",
            ...                    "align_corners_length": "integer"}))
            >>> "not align_corners_length=integer" in Binding().unsupported_reading(c).reason
            True
        """
        from ..canonical import op_info

        for k, v in op_info(case.op).readings(case.normal, case.dtype).items():
            if v not in self.readings.get(k, ()):
                return Unsupported(f"{self.name} follows the text's default reading of {k}, not {k}={v} "
                                   "(docs/conventions.md)")
        return None

    def to_native(self, case: Case) -> NativeCall | Unsupported:  # pragma: no cover - interface
        """The native call for a canonical case, or why there is none."""
        raise NotImplementedError

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:  # pragma: no cover
        """The canonical (normalised) parameters that a native call means for inputs of ``shapes``."""
        raise NotImplementedError

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        """Canonical numpy tensors -> native tensors and a ready-to-run closure state (not timed)."""
        raise NotImplementedError  # pragma: no cover

    def execute(self, prepared: Any) -> Any:
        """Run the framework call alone (this is what is timed)."""
        raise NotImplementedError  # pragma: no cover

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        """Native output -> numpy in canonical layout, keeping the framework's output dtype."""
        raise NotImplementedError  # pragma: no cover

    # backward checks ----------------------------------------------------------------------
    # A backward check feeds a seeded cotangent (canonical layout, the case dtype) to the framework's own
    # automatic differentiation through the binding's native call and compares each gradient, back in
    # canonical layout, with the reference's vector-Jacobian product (OpInfo.gradients). Gradient names are
    # the canonical tensors': "x", "w", "b" (max_unpool: "values", the unpooled input; indices get none).

    def backward_unsupported(self, case: Case) -> Unsupported | None:
        """Why this binding takes no backward check of ``case``, or None. The default: its framework's
        gradients are not wired here (a framework without automatic differentiation keeps it).

        Example:
            >>> Binding().backward_unsupported(None).reason.startswith("no gradient")
            True
        """
        return Unsupported(f"no gradient: {self.framework or 'this framework'} has no automatic differentiation "
                           f"that upconform drives for {self.name or 'this binding'}")

    def prepare_backward(self, call: NativeCall, tensors: Mapping[str, np.ndarray], cotangent: np.ndarray,
                         device: str = "cpu") -> Any:
        """Canonical tensors and cotangent -> a state whose :meth:`execute_backward` computes the
        gradients (untimed)."""
        raise NotImplementedError  # pragma: no cover - interface

    def execute_backward(self, prepared: Any) -> Any:
        """Run the forward call and its vector-Jacobian product (this is what a backward check times)."""
        raise NotImplementedError  # pragma: no cover - interface

    def grads_to_canonical(self, out: Any, prepared: Any) -> dict[str, np.ndarray]:
        """Native gradients -> {name: numpy array in canonical layout}, keeping the framework's dtype."""
        raise NotImplementedError  # pragma: no cover - interface

    def run_backward(self, call: NativeCall, tensors: Mapping[str, np.ndarray], cotangent: np.ndarray,
                     device: str = "cpu") -> dict[str, np.ndarray]:
        """prepare_backward + execute_backward + grads_to_canonical, untimed (discrepancy reports, tests)."""
        prepared = self.prepare_backward(call, tensors, cotangent, device)
        return self.grads_to_canonical(self.execute_backward(prepared), prepared)

    # helpers ------------------------------------------------------------------------------

    @staticmethod
    def normal_form(case: Case) -> dict[str, Any]:
        """The case's normal form (computed once, at load), as a fresh mutable dict."""
        return case.normal_form()

    def run(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> np.ndarray:
        """prepare + execute + to_canonical, untimed (for explain, repro and tests).

        Example: ``binding.run(binding.to_native(case), case_tensors(case))``.
        """
        prepared = self.prepare(call, tensors, device)
        return self.to_canonical(self.execute(prepared), prepared)


def unsupported_op(binding: Binding, op: str) -> Unsupported:
    return Unsupported(f"{binding.name} does not implement {op}")


def bf16_to_numpy(a: np.ndarray) -> np.ndarray:
    """float32 values that are exact bfloat16 -> an ml_dtypes bfloat16 array."""
    return np.asarray(a, dtype=np.float32).astype(np_dtype("bfloat16"))


def spatial_rank(shapes: Mapping[str, tuple[int, ...]]) -> int:
    return len(shapes["x"]) - 2


def spatial_repeats(axes: Any, reps: Any, rank: int, api: str) -> list[int] | Unsupported:
    """Per-spatial-axis repeat factors from an API's (axis, repeats) lists; NCHW axes 2.. are spatial.

    Example:
        >>> spatial_repeats([3], [2], 2, "tf.repeat")
        [1, 2]
    """
    axes = list(axes) if isinstance(axes, (list, tuple)) else [axes]
    reps = list(reps) if isinstance(reps, (list, tuple)) else [reps] * len(axes)
    r = [1] * rank
    for a, v in zip(axes, reps):
        if not 2 <= a < 2 + rank:
            return Unsupported(f"{api} along axis {a} is not a spatial axis")
        r[a - 2] = int(v)
    return r


def channels_last_repeat_call(name: str, case: Case) -> NativeCall | Unsupported:
    """The call of a numpy-style ``repeat(x, repeats, axis)`` on a channels-last array (``tf.repeat``,
    ``keras.ops.repeat``, ``jnp.repeat``) for a canonical repeat case: one axis per call.

    Example:
        >>> from types import MappingProxyType as M
        >>> c = Case(id="r", op="repeat", name="r", dtype="float32", shapes=M({"x": (1, 1, 2, 3)}),
        ...          params=M({"repeats": [1, 2]}))
        >>> channels_last_repeat_call("tf.repeat", c).args
        {'repeats': 2, 'axis': 2}
    """
    if case.op != "repeat":
        return Unsupported(f"{name} does not implement {case.op}")
    r = case.normal_form()["repeats"]
    axes = [i for i, v in enumerate(r) if v != 1] or [0]
    if len(axes) > 1:
        return Unsupported(f"{name} repeats along one axis; repeats {r} need one call per axis")
    return NativeCall(name, {"repeats": r[axes[0]], "axis": 1 + axes[0]},
                      notes=("axis counts in NHWC: 1 is the first spatial axis",))


def channels_last_repeat_meaning(name: str, args: Mapping[str, Any],
                                 shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | Unsupported:
    """What a numpy-style ``repeat(x, repeats, axis)`` on a channels-last array means canonically: a
    uniform repeat of one spatial axis, or why it is none (no axis flattens; N or C; per-element or zero
    repeats). ``TypeError`` without ``repeats``, as the API raises.

    Example:
        >>> channels_last_repeat_meaning("tf.repeat", {"repeats": 2, "axis": 1}, {"x": (1, 3, 4, 5)})
        {'repeats': [2, 1]}
    """
    if "repeats" not in args:
        raise TypeError(f"{name}: missing required argument 'repeats'")
    x = shapes["x"]
    k = spatial_rank(shapes)
    axis = args.get("axis")
    if axis is None:
        return Unsupported(f"{name} without axis repeats the flattened input: a 1-D result")
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        return Unsupported(f"{name} raises: axis must be an int; got {axis!r}")
    if not -(k + 2) <= axis < k + 2:
        return Unsupported(f"{name} raises: axis {axis} is out of range for rank {k + 2}")
    a = int(axis) % (k + 2)
    if not 1 <= a <= k:
        return Unsupported(f"{name} along axis {axis} ({'N' if a == 0 else 'C'} in channels-last order) "
                           "is not a spatial repeat")
    reps = args["repeats"]
    reps = list(reps) if isinstance(reps, (list, tuple)) else [reps]
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in reps):
        return Unsupported(f"{name} raises: repeats must be non-negative integers; got {args['repeats']!r}")
    length = x[2 + a - 1]
    if len(reps) not in (1, length):
        return Unsupported(f"{name} raises: {len(reps)} repeats for an axis of length {length}")
    if len(set(reps)) > 1:
        return Unsupported(f"per-element repeats {reps} (not all equal) are not a uniform repeat")
    if reps[0] == 0:
        return Unsupported(f"{name} with repeats 0 empties the axis; the canonical repeat is >= 1")
    r = [1] * k
    r[a - 1] = int(reps[0])
    return {"repeats": r}
