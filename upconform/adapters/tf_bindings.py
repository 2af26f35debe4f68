"""TensorFlow and Keras bindings. TensorFlow is imported when a binding first runs.

Layouts: canonical NCHW <-> TF's NHWC (channels last) on the way in and out; conv kernels
(C_in, C_out/g, *k) <-> TF's (*k, C_out, C_in); unpool indices (y * W + x) * C + c <-> per-plane
y * W + x; pixel shuffle DCR only.

Vocabulary (canonical normal form -> tf.image.resize):

    nearest + half_pixel + round_prefer_ceil   -> method="nearest"   (TF: floor((i + 0.5) * in / out))
    linear  + half_pixel                       -> method="bilinear"  (antialias=True: exclude_outside=1)
    cubic a=-0.5, exclude_outside=1            -> method="bicubic"
    area (exact coverage)                      -> method="area"
    size only: a canonical scale must equal out/in exactly.
Non-nearest TF resizes return float32 whatever the input dtype: such cases are unsupported.

Backward checks: tf.GradientTape around the same native call (Keras on its TensorFlow backend), watching
the native inputs (x; a transposed convolution's kernel and bias, a Keras layer's own variables; the
pooled values of max_unpool), the cotangent in the output's native layout; the gradients go back to
canonical layout by the inverse of each input's layout change. uint8 and ResizeArea have no gradient.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..canonical import Case, normalize
from ..canonical.conv_transpose import pads_from_begins
from ..reference.resize import exact_ratio
from .base import (
    Binding,
    Framework,
    NativeCall,
    Unsupported,
    bf16_to_numpy,
    channels_last_repeat_call,
    channels_last_repeat_meaning,
    spatial_rank,
    unsupported_op,
)


def _tf() -> Any:
    import tensorflow as tf

    if not getattr(_tf, "quiet", False):
        tf.get_logger().setLevel("ERROR")  # the v1 resize APIs log deprecation notices on every first use
        _tf.quiet = True  # type: ignore[attr-defined]
    return tf


def to_tf(a: np.ndarray, channels_last: bool = True) -> Any:
    """Canonical numpy -> TF tensor, NCHW -> NHWC when ``channels_last``."""
    tf = _tf()
    if channels_last:
        a = np.moveaxis(a, 1, -1)
    a = np.ascontiguousarray(a)
    if a.dtype.name == "bfloat16":
        return tf.cast(tf.constant(a.astype(np.float32)), tf.bfloat16)
    return tf.constant(a)


def from_tf(t: Any, channels_last: bool = True) -> np.ndarray:
    tf = _tf()
    if t.dtype == tf.bfloat16:
        a = bf16_to_numpy(tf.cast(t, tf.float32).numpy())
    else:
        a = t.numpy()
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if channels_last else a


def _device(device: str) -> str:
    return "/GPU:0" if device.startswith("cuda") else "/CPU:0"


def _configure_threads(threads: int) -> None:
    tf = _tf()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised in this process
        pass


def _compiled_path() -> Any:
    from .tf_paths import TfCompiled

    return TfCompiled()


def _litert_path() -> Any:
    from .tf_paths import TfLiteRT

    return TfLiteRT()


def _keras_jax_path() -> Any:
    from .keras_paths import keras_jax

    return keras_jax()


def _keras_torch_path() -> Any:
    from .keras_paths import keras_torch

    return keras_torch()


# TF's eager ops hand back tensors whose values are ready (to_canonical copies them to host).
# Paths (tf_paths.py): compiled = tf.function(jit_compile=True) (XLA); litert = TFLiteConverter + LiteRT;
# (keras_paths.py) keras_jax / keras_torch = the keras.* bindings on Keras's JAX / PyTorch backend.
FRAMEWORK = Framework("tensorflow", aliases=("tf", "keras"),
                      distributions=("tensorflow", "tensorflow-cpu", "keras", "ai-edge-litert"),
                      module="tensorflow", extra="tensorflow", configure_threads=_configure_threads,
                      paths=(("compiled", _compiled_path), ("litert", _litert_path), ("keras_jax", _keras_jax_path),
                             ("keras_torch", _keras_torch_path)))


def _strategies() -> Any:
    """hypothesis.strategies, imported only when a search space is asked for."""
    from hypothesis import strategies

    return strategies


def _batch_channels(st: Any, c_max: int = 4) -> Any:
    return st.tuples(st.integers(1, 2), st.integers(1, c_max))


def _spatial(st: Any, rank: int, hi: int = 12) -> Any:
    return st.tuples(*[st.integers(1, hi)] * rank)


def _int_or_list(st: Any, values: Any, rank: int, *, four: bool = False) -> Any:
    """An int, a per-axis list or (``four``) the full-rank form [1, *v, 1] of the same values."""
    forms = [values.map(int), st.lists(values, min_size=rank, max_size=rank)]
    if four:
        forms.append(st.lists(values, min_size=rank, max_size=rank).map(lambda v: [1, *v, 1]))
    return st.one_of(*forms)


def _maybe(st: Any, value: Any) -> Any:
    """A strategy for an optional argument: absent (``_ABSENT``) first, so shrinking drops it."""
    return st.one_of(st.just(_ABSENT), value)


_ABSENT = object()


def _args(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not _ABSENT}


def _positive_pair(v: Any, api: str, what: str = "size") -> list[int] | Unsupported:
    """A [h, w] of positive integers, or why TF rejects it."""
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        return Unsupported(f"{api} raises: {what} must be 2 integers (new_height, new_width); got {v!r}")
    if any(isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e <= 0 for e in v):
        return Unsupported(f"{api} raises: {what} must be positive integers; got {v!r}")
    return [int(e) for e in v]


def _spatial_arg(v: Any, rank: int, api: str, what: str, channels_last: bool = True,
                 minimum: int = 1) -> list[int] | Unsupported:
    """An int, a list of 1 or ``rank`` values, or the full-rank form (1 at N and C, in the call's layout)."""
    vals = list(v) if isinstance(v, (list, tuple)) else [v]
    if any(isinstance(e, bool) or not isinstance(e, (int, np.integer)) for e in vals):
        return Unsupported(f"{api} raises: {what} must be integers; got {v!r}")
    vals = [int(e) for e in vals]
    if len(vals) == rank + 2:
        outer = (vals[0], vals[-1]) if channels_last else (vals[0], vals[1])
        if outer != (1, 1):
            return Unsupported(f"{api} raises: {what} {vals} is not 1 on the batch and channel axes")
        vals = vals[1:-1] if channels_last else vals[2:]
    elif len(vals) == 1:
        vals = vals * rank
    elif len(vals) != rank:
        return Unsupported(f"{api} raises: {what} needs 1, {rank} or {rank + 2} values; got {vals}")
    if any(e < minimum for e in vals):
        return Unsupported(f"{api} raises: {what} must be >= {minimum}; got {vals}")
    return vals


# TF data_format strings per spatial rank: (channels-last, channels-first)
_TF_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def _tf_channels_last(args: Mapping[str, Any], rank: int, api: str) -> bool | Unsupported:
    """Whether a tf.nn call's ``data_format`` is channels-last (its default), or why TF rejects it."""
    fmt = args.get("data_format", _TF_FORMATS[rank][0])
    if fmt == _TF_FORMATS[rank][0]:
        return True
    if fmt == _TF_FORMATS[rank][1]:
        return False
    return Unsupported(f"{api} raises: data_format {fmt!r} is not {' or '.join(_TF_FORMATS[rank])}")


def _keras_channels_last(args: Mapping[str, Any], api: str) -> bool | Unsupported:
    """Whether a Keras call's ``data_format`` is channels_last (None: the default config, channels_last)."""
    fmt = args.get("data_format")
    if fmt is None or str(fmt).lower() == "channels_last":
        return True
    if str(fmt).lower() == "channels_first":
        return False
    return Unsupported(f"{api} raises: data_format {fmt!r} is not 'channels_last' or 'channels_first'")


class TfBinding(Binding):
    """A TensorFlow / Keras API. ``prepare`` returns (fn, args, kwargs, device[, channels_last]): the
    last element, when there, says the layout of the output (a call's ``data_format``)."""

    framework = "tensorflow"
    channels_last = True
    dtypes: tuple[str, ...] = ("float32",)  # what search_space draws

    def native_tensor(self, a: np.ndarray, channels_last: bool = True) -> Any:
        """A canonical numpy tensor as the API's input (a TF tensor; NCHW -> NHWC when ``channels_last``)."""
        return to_tf(a, channels_last)

    def device_scope(self, device: str) -> Any:
        """The context that places tensors and layers ``prepare`` builds on ``device``."""
        return _tf().device(_device(device))

    def execute(self, prepared: Any) -> Any:
        fn, args, kwargs, device = prepared[:4]
        with _tf().device(_device(device)):
            return fn(*args, **kwargs)

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        last = prepared[4] if len(prepared) > 4 else self.channels_last
        return from_tf(out, last)

    # backward: tf.GradientTape around the native call ------------------------------------------

    def backward_unsupported(self, case: Case) -> Unsupported | None:
        """uint8 has no gradient; otherwise what :meth:`gradient_missing` says (an op or a dtype whose
        gradient TensorFlow does not register)."""
        if case.dtype == "uint8":
            return Unsupported("integer tensors have no gradient")
        return self.gradient_missing(case)

    def gradient_missing(self, case: Case) -> Unsupported | None:
        """Why TensorFlow has no gradient of this binding's call for ``case`` (measured at 2.21, CPU), or
        None. A resize whose call runs ResizeArea has none (:meth:`runs_resize_area`)."""
        if case.op != "resize":
            return None
        call = self.to_native(case)
        if isinstance(call, NativeCall) and self.runs_resize_area(call):
            return Unsupported(f"{self.name} runs ResizeArea here, and TensorFlow registers no gradient for "
                               f"ResizeArea: {_NO_AREA_GRADIENT!r} (TensorFlow 2.21)")
        return None

    def runs_resize_area(self, call: NativeCall) -> bool:
        """Whether a resize call runs TF's ResizeArea (method or interpolation 'area')."""
        return "area" in (call.args.get("method"), str(call.args.get("interpolation", "")).lower())

    def grad_sources(self, call: NativeCall, prepared: Any,
                     tensors: Mapping[str, np.ndarray]) -> list[tuple[str, Any, str]]:
        """(canonical name, native tensor or tf.Variable, native layout) of each differentiable input of the
        prepared call; layouts are those :func:`_grad_to_canonical` inverts. Default: ``x``, the first
        argument, in the layout of the output."""
        return [("x", prepared[1][0], "last" if _output_last(self, prepared) else "first")]

    def prepare_backward(self, call: NativeCall, tensors: Mapping[str, np.ndarray], cotangent: np.ndarray,
                         device: str = "cpu") -> TfBackward:
        prepared = self.prepare(call, tensors, device)
        fn, args, kwargs, dev = prepared[:4]
        with self.device_scope(device):
            sources = self.grad_sources(call, prepared, tensors)
            cot = self.native_tensor(np.asarray(cotangent), _output_last(self, prepared))
        names, srcs, layouts = zip(*sources)
        return TfBackward(fn, tuple(args), dict(kwargs), dev, list(srcs), cot, names, layouts,
                          bool(call.prep.get("rotate")))

    def execute_backward(self, prepared: TfBackward) -> Any:
        tf = _tf()
        with tf.device(_device(prepared.device)):
            with tf.GradientTape() as tape:
                tape.watch(prepared.sources)
                y = prepared.fn(*prepared.args, **prepared.kwargs)
            return tape.gradient(y, prepared.sources, output_gradients=prepared.cotangent,
                                 unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def grads_to_canonical(self, out: Any, prepared: TfBackward) -> dict[str, np.ndarray]:
        return {n: _grad_to_canonical(g, lay, prepared.rotate) for n, g, lay in zip(prepared.names, out, prepared.layouts)}


# tape.gradient through ResizeArea, TensorFlow 2.21 (image_grad.py registers ResizeNearestNeighbor, ResizeBilinear,
# ResizeBicubic, ScaleAndTranslate and CropAndResize gradients; none for ResizeArea)
_NO_AREA_GRADIENT = "LookupError: gradient registry has no entry for: ResizeArea"


@dataclass(frozen=True)
class TfBackward:
    """A prepared backward check: the native call (``fn(*args, **kwargs)`` on ``device``), the tensors
    and tf.Variables its gradient is taken with respect to (``sources``, all watched), the cotangent
    in the output's native layout, and per source its canonical name and native layout; ``rotate``: the
    kernel was a direct-form one rotated by ``prepare``."""

    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    device: str
    sources: list[Any]
    cotangent: Any
    names: tuple[str, ...]
    layouts: tuple[str, ...]
    rotate: bool = False


def _output_last(binding: Binding, prepared: Any) -> bool:
    """Whether a prepared call's output is channels last (its fifth element, else the binding's default)."""
    return bool(prepared[4]) if len(prepared) > 4 else bool(getattr(binding, "channels_last", True))


def _grad_to_canonical(g: Any, layout: str, rotate: bool = False) -> np.ndarray:
    """A native gradient -> canonical layout, the exact inverse of what ``prepare`` did to that input:
    ``last`` NHWC -> NCHW; ``first`` as it is; ``kernel`` (*k, C_out, C_in) -> (C_in, C_out, *k), then,
    when ``rotate``, back to the direct form (C_out, C_in, *k) rotated 180 degrees."""
    tf = _tf()
    if isinstance(g, tf.IndexedSlices):
        g = tf.convert_to_tensor(g)
    if layout == "kernel":
        from ..reference import transposed_to_direct

        a = from_tf(g, channels_last=False)
        a = np.ascontiguousarray(np.moveaxis(np.moveaxis(a, -1, 0), -1, 1))  # (C_in, C_out, *k)
        return np.ascontiguousarray(transposed_to_direct(a).astype(a.dtype)) if rotate else a
    return from_tf(g, channels_last=layout == "last")


def _float32_only(dtype: str, what: str) -> Unsupported | None:
    if dtype != "float32":
        return Unsupported(f"{what} returns float32 for {dtype} input (documented): no {dtype} result to compare")
    return None


# ----------------------------------------------------------------------------------- resize


def _resize_size(n: dict[str, Any], x: tuple[int, ...], api: str) -> list[int] | Unsupported:
    """The [h, w] a size-only API needs, if the canonical scales mean exactly out / in."""
    if len(x) != 4:
        return Unsupported(f"{api} resizes images: 2-D (4-D NHWC) only")
    if "keep_aspect_ratio_policy" in n:
        return Unsupported(f"{api} has no keep_aspect_ratio_policy equivalent")
    if "sizes" in n:
        out = list(n["sizes"])
    else:
        s = n["scales"]
        out = [int(np.floor(i * exact_ratio(v))) for i, v in zip(x, s)]
        for i, o, v in zip(x, out, s):
            if Fraction(o, i) != exact_ratio(v):
                return Unsupported(f"{api} takes a size, so its coordinates use out/in = {o}/{i}; "
                                   f"the case's scale {v} differs")
    if out[:2] != list(x[:2]):
        return Unsupported(f"{api} resizes H and W only; this case resizes N or C")
    if any(v <= 0 for v in out[2:]):
        return Unsupported(f"{api} raises for an empty output size {out[2:]}")
    return out[2:]


def _canonical_size(size: list[int], shapes: Mapping[str, tuple[int, ...]]) -> list[int]:
    x = shapes["x"]
    return [x[0], x[1], int(size[0]), int(size[1])]


def _tf_aspect_size(hw: tuple[int, ...], size: list[int]) -> list[int]:
    """tf.image.resize(preserve_aspect_ratio=True)'s size: min of the float32 ratios, times each side,
    rounded half to even (tf.round) (image_ops_impl._resize_images_common)."""
    f = np.float32
    scale = min(f(size[0]) / f(hw[0]), f(size[1]) / f(hw[1]))
    return [int(np.round(f(scale * f(v)))) for v in hw]


_TF_METHODS = ("nearest", "bilinear", "area", "bicubic", "lanczos3", "lanczos5", "gaussian", "mitchellcubic")
_DTYPES_ANY = ("float32", "float64", "float16", "bfloat16", "uint8")


def _image_shapes(st: Any) -> Any:
    return st.builds(lambda nc, hw: {"x": (*nc, *hw)}, _batch_channels(st), _spatial(st, 2))


class ImageResize(TfBinding):
    name = "tf.image.resize"
    ops = ("resize",)
    native_args = frozenset({"size", "method", "preserve_aspect_ratio", "antialias", "name"})
    enum_args = {"method": _TF_METHODS}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "resize":
            return unsupported_op(self, case.op)
        n = self.normal_form(case)
        size = _resize_size(n, case.shapes["x"], self.name)
        if isinstance(size, Unsupported):
            return size
        mode, ctm = n["mode"], n["coordinate_transformation_mode"]
        args: dict[str, Any] = {"size": size}
        if mode == "nearest":
            if (ctm, n["nearest_mode"]) != ("half_pixel", "round_prefer_ceil"):
                return Unsupported("tf.image.resize nearest is floor((i + 0.5) * in / out) (half_pixel + "
                                   f"round_prefer_ceil); not {ctm} + {n['nearest_mode']}")
            args["method"] = "nearest"
            return NativeCall(self.name, args)
        bad = _float32_only(case.dtype, f"{self.name} (method {mode})")
        if bad:
            return bad
        if ctm != "half_pixel":
            return Unsupported(f"tf.image.resize uses half-pixel centres only; not {ctm}")
        if mode == "linear":
            if n["antialias"] and not n["exclude_outside"]:
                return Unsupported("tf.image.resize antialias drops taps outside the image (exclude_outside=1)")
            args["method"] = "bilinear"
        elif mode == "cubic":
            if n["cubic_coeff_a"] != -0.5 or not n["exclude_outside"]:
                return Unsupported(f"tf.image.resize bicubic is Keys a=-0.5 with exclude_outside=1; not "
                                   f"a={n['cubic_coeff_a']}, exclude_outside={int(n['exclude_outside'])}")
            args["method"] = "bicubic"
        elif mode == "area":
            args["method"] = "area"
            return NativeCall(self.name, args)
        else:
            return Unsupported("tf.image.resize has no adaptive average pooling ('adaptive_avg'); its 'area' is "
                               "exact fractional coverage")
        if n["antialias"]:
            args["antialias"] = True
        return NativeCall(self.name, args)

    def meaning(self, size: list[int], method: Any, antialias: bool,
                shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | Unsupported:
        """The canonical meaning of tf.image.resize(x, size, method, antialias) (also Keras's resizes)."""
        x = shapes["x"]
        if len(x) != 4:
            return Unsupported(f"{self.name} resizes 2-D images (4-D NHWC or 3-D HWC) only")
        if method not in _TF_METHODS:  # ResizeMethod values are lower-case strings, compared as they are
            return Unsupported(f"{self.name} raises: method {method!r} is not one of {list(_TF_METHODS)}")
        p: dict[str, Any] = {"sizes": _canonical_size(size, shapes)}
        if method == "nearest":  # antialias is ignored (resize_nearest_neighbor)
            p.update(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="floor")
        elif method == "bilinear":
            p.update(mode="linear", antialias=antialias, exclude_outside=antialias)
        elif method == "bicubic":
            p.update(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=True, antialias=antialias)
        elif method == "area":  # antialias is ignored (resize_area)
            p.update(mode="area")
        else:
            return Unsupported(f"method {method!r} (lanczos, gaussian, mitchellcubic kernels of scale_and_translate) "
                               "has no ONNX Resize equivalent")
        return normalize("resize", p, shapes)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        size = _positive_pair(args.get("size"), self.name)
        if isinstance(size, Unsupported):
            return size
        if args.get("preserve_aspect_ratio") and len(shapes["x"]) == 4:
            size = _tf_aspect_size(shapes["x"][2:], size)
            if 0 in size:
                return Unsupported(f"preserve_aspect_ratio rounds a side to 0 ({size}): TF raises")
        return self.meaning(size, args.get("method", "bilinear"), bool(args.get("antialias", False)), shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        def build(shapes: dict, size: tuple, method: str, par: Any, aa: Any, dt: str) -> dict[str, Any]:
            dtype = dt if method == "nearest" else "float32"  # other methods return float32 for any input
            return {"args": _args({"size": list(size), "method": method, "preserve_aspect_ratio": par,
                                   "antialias": aa}), "shapes": shapes, "dtype": dtype}

        return st.builds(build, _image_shapes(st), _spatial(st, 2), st.sampled_from(_TF_METHODS),
                         _maybe(st, st.booleans()), _maybe(st, st.booleans()), st.sampled_from(_DTYPES_ANY))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return _tf().image.resize, (to_tf(tensors["x"]),), dict(call.args), device


class _ResizeV1(TfBinding):
    """tf.compat.v1.image.resize_*: (align_corners, half_pixel_centers) pick the coordinate mode."""

    ops = ("resize",)
    mode = "linear"
    fn = ""
    method = "bilinear"  # tf.image.resize's method of the same mode (the deprecation mark names it)
    native_args = frozenset({"size", "align_corners", "half_pixel_centers", "name"})
    # (align_corners, half_pixel_centers) -> canonical parameters
    table: dict[tuple[bool, bool], dict[str, Any]] = {}

    def _call_args(self, size: list[int], ac: bool, hpc: bool) -> dict[str, Any]:
        return {"size": size, "align_corners": ac, "half_pixel_centers": hpc}

    @property
    def deprecated(self) -> str:  # type: ignore[override]
        return (f"TF1 compatibility API (tf.compat.v1 is TensorFlow 1's API, kept for compatibility): use "
                f"tf.image.resize(..., method={self.method!r}) (half-pixel centres only; no align_corners)")

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "resize":
            return unsupported_op(self, case.op)
        n = self.normal_form(case)
        size = _resize_size(n, case.shapes["x"], self.name)
        if isinstance(size, Unsupported):
            return size
        if self.mode != "nearest":
            bad = _float32_only(case.dtype, self.name)
            if bad:
                return bad
        for (ac, hpc) in self.table:
            want = self.from_native(self._call_args(size, ac, hpc), case.shapes)
            if want == n:
                return NativeCall(self.name, self._call_args(size, ac, hpc))
        if n["mode"] != self.mode:
            return Unsupported(f"{self.name} is mode {self.mode} only")
        options = "; ".join(f"({ac}, {h}) = {c['coordinate_transformation_mode']}"
                            + (f" + {c['nearest_mode']}" if "nearest_mode" in c else "")
                            + (f", a={c['cubic_coeff_a']}" if "cubic_coeff_a" in c else "")
                            + (", exclude_outside" if c.get("exclude_outside") else "")
                            for (ac, h), c in self.table.items())
        return Unsupported(f"{self.name} (align_corners, half_pixel_centers) express only: {options}")

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        size = _positive_pair(args.get("size"), self.name)
        if isinstance(size, Unsupported):
            return size
        if len(shapes["x"]) != 4:
            return Unsupported(f"{self.name} resizes 2-D images (4-D NHWC) only")
        key = (bool(args.get("align_corners", False)), bool(args.get("half_pixel_centers", False)))
        if key not in self.table:
            return Unsupported(f"{self.name} raises for align_corners={key[0]}, half_pixel_centers={key[1]}")
        return normalize("resize", {"sizes": _canonical_size(size, shapes), **self.table[key]}, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()
        keys = [k for k in ("align_corners", "half_pixel_centers") if k in self.native_args]
        dtypes = _DTYPES_ANY if self.mode == "nearest" else ("float32",)

        def build(shapes: dict, size: tuple, flags: tuple, dt: str) -> dict[str, Any]:
            a = {"size": list(size), **dict(zip(keys, flags))}
            return {"args": _args(a), "shapes": shapes, "dtype": dt}

        flags = st.tuples(*[_maybe(st, st.booleans())] * len(keys))
        return st.builds(build, _image_shapes(st), _spatial(st, 2), flags, st.sampled_from(dtypes))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        fn = getattr(_tf().compat.v1.image, self.fn)
        return fn, (to_tf(tensors["x"]),), dict(call.args), device


class ResizeNearestV1(_ResizeV1):
    name = "tf.compat.v1.image.resize_nearest_neighbor"
    method = "nearest"
    fn = "resize_nearest_neighbor"
    mode = "nearest"
    table = {
        (False, False): {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
        # roundf(i * (in - 1) / (out - 1)): ties away from zero, i.e. up for these non-negative coordinates
        (True, False): {"mode": "nearest", "coordinate_transformation_mode": "align_corners",
                        "nearest_mode": "round_prefer_ceil"},
        (False, True): {"mode": "nearest", "coordinate_transformation_mode": "tf_half_pixel_for_nn",
                        "nearest_mode": "floor"},
    }


class ResizeBilinearV1(_ResizeV1):
    name = "tf.compat.v1.image.resize_bilinear"
    fn = "resize_bilinear"
    table = {
        (False, False): {"mode": "linear", "coordinate_transformation_mode": "asymmetric"},
        (True, False): {"mode": "linear", "coordinate_transformation_mode": "align_corners"},
        (False, True): {"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
    }


class ResizeBicubicV1(_ResizeV1):
    name = "tf.compat.v1.image.resize_bicubic"
    method = "bicubic"
    fn = "resize_bicubic"
    mode = "cubic"
    table = {
        (False, False): {"mode": "cubic", "coordinate_transformation_mode": "asymmetric", "cubic_coeff_a": -0.75},
        (True, False): {"mode": "cubic", "coordinate_transformation_mode": "align_corners", "cubic_coeff_a": -0.75},
        (False, True): {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.5,
                        "exclude_outside": True},
    }


class ResizeAreaV1(_ResizeV1):
    """tf.compat.v1.image.resize_area(images, size, align_corners=False, name=None): no half_pixel_centers."""

    name = "tf.compat.v1.image.resize_area"
    method = "area"
    fn = "resize_area"
    mode = "area"
    native_args = frozenset({"size", "align_corners", "name"})
    table = {(False, False): {"mode": "area"}}

    def _call_args(self, size: list[int], ac: bool, hpc: bool) -> dict[str, Any]:
        return {"size": size}

    def runs_resize_area(self, call: NativeCall) -> bool:
        return True

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        if args.get("align_corners"):
            return Unsupported("resize_area with align_corners=True scales boxes by (in-1)/(out-1) and clamps the "
                               "last: no canonical equivalent")
        return super().from_native(args, shapes, op)


class CropAndResize(TfBinding):
    name = "tf.image.crop_and_resize"
    ops = ("resize",)
    native_args = frozenset({"boxes", "box_indices", "crop_size", "method", "extrapolation_value", "name"})
    enum_args = {"method": ("bilinear", "nearest")}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "resize":
            return unsupported_op(self, case.op)
        n = self.normal_form(case)
        x = tuple(case.shapes["x"])
        if len(x) != 4:
            return Unsupported("tf.image.crop_and_resize crops images: 2-D only")
        if n["coordinate_transformation_mode"] != "tf_crop_and_resize":
            return Unsupported("tf.image.crop_and_resize always uses the crop-and-resize coordinates "
                               "(coordinate_transformation_mode tf_crop_and_resize)")
        bad = _float32_only(case.dtype, self.name)
        if bad:
            return bad
        if "scales" in n:
            return Unsupported("tf.image.crop_and_resize takes a crop size: its coordinates use the output length "
                               "(align_corners_length: integer); this case reads L = in * scale")
        from ..reference.resize import output_geometry

        out, _ = output_geometry(x, sizes=n.get("sizes"), scales=n.get("scales"),
                                 coordinate_transformation_mode="tf_crop_and_resize", roi=n["roi"])
        roi = n["roi"]
        if out[:2] != list(x[:2]) or roi[0] != 0 or roi[1] != 0 or roi[4] != 1 or roi[5] != 1:
            return Unsupported("tf.image.crop_and_resize crops H and W only")
        if 0 in out[2:]:
            return Unsupported("tf.image.crop_and_resize raises for an empty crop size")
        if n["mode"] == "linear":
            method = "bilinear"
        elif n["mode"] == "nearest" and n["nearest_mode"] == "round_prefer_ceil":
            method = "nearest"
        else:
            return Unsupported("tf.image.crop_and_resize methods are bilinear and nearest (roundf: "
                               f"round_prefer_ceil); not {n['mode']} {n.get('nearest_mode', '')}".strip())
        box = [roi[2], roi[3], roi[6], roi[7]]
        return NativeCall(self.name, {"boxes": [box] * x[0], "box_indices": list(range(x[0])), "crop_size": out[2:],
                                      "method": method, "extrapolation_value": n["extrapolation_value"]})

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        x = shapes["x"]
        for k in ("boxes", "box_indices", "crop_size"):
            if k not in args:
                raise TypeError(f"{self.name}: missing required argument {k!r}")
        boxes = [list(map(float, b)) for b in args["boxes"]]
        idx = [int(i) for i in args["box_indices"]]
        if any(len(b) != 4 for b in boxes) or len(idx) != len(boxes):
            return Unsupported("tf.image.crop_and_resize raises: boxes must be [num_boxes, 4] and box_indices "
                               "[num_boxes]")
        if any(not 0 <= i < x[0] for i in idx):
            return Unsupported(f"tf.image.crop_and_resize raises: box_indices {idx} outside [0, {x[0]})")
        size = _positive_pair(args["crop_size"], self.name, "crop_size")
        if isinstance(size, Unsupported):
            return size
        method = args.get("method", "bilinear")
        if method not in ("bilinear", "nearest"):
            return Unsupported(f"tf.image.crop_and_resize raises: method {method!r} is not bilinear or nearest")
        if len(x) != 4 or x[1] == 0:
            return Unsupported("tf.image.crop_and_resize takes 4-D NHWC images with at least one channel")
        if idx != list(range(x[0])) or any(b != boxes[0] for b in boxes):
            return Unsupported("only one box per image, the same for every image, has a canonical equivalent")
        y1, x1, y2, x2 = boxes[0]
        p = {"sizes": [x[0], x[1], *size], "roi": [0.0, 0.0, y1, x1, 1.0, 1.0, y2, x2],
             "coordinate_transformation_mode": "tf_crop_and_resize",
             "extrapolation_value": float(args.get("extrapolation_value", 0.0))}
        if method == "bilinear":
            p["mode"] = "linear"
        else:
            p.update(mode="nearest", nearest_mode="round_prefer_ceil")
        return normalize("resize", p, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()
        coord = st.integers(-4, 12).map(lambda v: v / 8)  # -0.5 .. 1.5 in exact eighths

        def build(shapes: dict, box: list, size: tuple, method: str, ext: Any, shuffle: bool) -> dict[str, Any]:
            n = shapes["x"][0]
            idx = list(range(n))[::-1] if shuffle else list(range(n))
            a = {"boxes": [list(box)] * n, "box_indices": idx, "crop_size": list(size), "method": method,
                 "extrapolation_value": ext}
            return {"args": _args(a), "shapes": shapes, "dtype": "float32"}

        return st.builds(build, _image_shapes(st), st.lists(coord, min_size=4, max_size=4), _spatial(st, 2),
                         st.sampled_from(["bilinear", "nearest", "bicubic"]),
                         _maybe(st, st.sampled_from([0.0, -1.0, 2.5])), st.booleans())

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        a = dict(call.args)
        return _tf().image.crop_and_resize, (to_tf(tensors["x"]), a.pop("boxes"), a.pop("box_indices"),
                                              a.pop("crop_size")), a, device


def _keras() -> Any:
    import keras

    return keras


def keras_backend() -> str:
    """The backend Keras runs on in this process (``KERAS_BACKEND``, read once, when keras is imported)."""
    return str(_keras().backend.backend())


def to_keras(a: np.ndarray, channels_last: bool = True) -> Any:
    """Canonical numpy -> a tensor of the backend Keras runs on: on TensorFlow exactly :func:`to_tf`;
    elsewhere ``keras.ops.convert_to_tensor`` (bfloat16 through float32, exact)."""
    if keras_backend() == "tensorflow":
        return to_tf(a, channels_last)
    ops = _keras().ops
    a = np.ascontiguousarray(np.moveaxis(a, 1, -1) if channels_last else a)
    if a.dtype.name == "bfloat16":
        return ops.cast(ops.convert_to_tensor(a.astype(np.float32)), "bfloat16")
    return ops.convert_to_tensor(a, dtype=a.dtype.name)


def from_keras(t: Any, channels_last: bool = True) -> np.ndarray:
    """A Keras backend tensor -> canonical numpy, keeping its dtype (bfloat16 included)."""
    k = _keras()
    if k.backend.standardize_dtype(t.dtype) == "bfloat16":
        a = bf16_to_numpy(k.ops.convert_to_numpy(k.ops.cast(t, "float32")))
    else:
        a = np.asarray(k.ops.convert_to_numpy(t))
    return np.ascontiguousarray(np.moveaxis(a, -1, 1)) if channels_last else a


class KerasBinding(Binding):
    """A ``keras.*`` API: its ``prepare`` builds tensors and layers for the backend Keras runs on in this
    process (TensorFlow by default, where they are TF tensors as for every TF binding; JAX or PyTorch on the
    ``keras_jax`` / ``keras_torch`` paths, keras_paths.py). Put first among the bases."""

    def native_tensor(self, a: np.ndarray, channels_last: bool = True) -> Any:
        return to_keras(a, channels_last)

    def device_scope(self, device: str) -> Any:
        return _tf().device(_device(device)) if keras_backend() == "tensorflow" else contextlib.nullcontext()

    def prepare_backward(self, call: NativeCall, tensors: Mapping[str, np.ndarray], cotangent: np.ndarray,
                         device: str = "cpu") -> Any:
        """tf.GradientTape differentiates Keras only on its TensorFlow backend (the eager path's worker)."""
        have = keras_backend()
        if have != "tensorflow":
            raise RuntimeError(f"{self.name}: Keras runs on {have} in this process; its gradients are taken with "
                               "tf.GradientTape on the TensorFlow backend only")
        return super().prepare_backward(call, tensors, cotangent, device)  # type: ignore[misc]


# Keras 3.15's image resize interpolations (keras/src/backend/tensorflow/image.py RESIZE_INTERPOLATIONS)
_KERAS_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "area", "lanczos3", "lanczos5")


class UpSampling2D(KerasBinding, TfBinding):
    """keras.layers.UpSampling2D(size, data_format, interpolation): nearest is keras.ops.repeat on H and W;
    every other interpolation is keras.ops.image.resize to (H * size[0], W * size[1])."""

    name = "keras.layers.UpSampling2D"
    ops = ("resize", "repeat")
    native_args = frozenset({"size", "data_format", "interpolation"})
    enum_args = {"interpolation": (*_KERAS_INTERPOLATIONS, "gaussian"), "data_format": ("channels_last", "channels_first")}
    enum_case_insensitive = True  # Keras lower-cases both ('BICUBIC' is bicubic)

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        x = tuple(case.shapes["x"])
        if len(x) != 4:
            return Unsupported("UpSampling2D is 2-D only")
        if case.op == "repeat":
            r = case.normal_form()["repeats"]
            return NativeCall(self.name, {"size": r, "interpolation": "nearest"})
        if case.op != "resize":
            return unsupported_op(self, case.op)
        n = self.normal_form(case)
        if "scales" in n:
            s = n["scales"]
        else:
            s = [o / i if i else 1.0 for o, i in zip(n["sizes"], x)]  # an empty axis stays empty
        if s[:2] != [1.0, 1.0] or any(v != int(v) or v < 1 for v in s[2:]) or "keep_aspect_ratio_policy" in n:
            return Unsupported(f"UpSampling2D repeats by integer factors on H and W; scales {s} are not that")
        size = [int(v) for v in s[2:]]
        for interp in ("nearest", "bilinear", "bicubic", "area"):
            want = self.from_native({"size": size, "interpolation": interp}, case.shapes)
            if want == n:
                if interp != "nearest":
                    bad = _float32_only(case.dtype, f"UpSampling2D(interpolation={interp!r})")
                    if bad:
                        return bad
                return NativeCall(self.name, {"size": size, "interpolation": interp})
        return Unsupported("UpSampling2D is nearest (repeat: asymmetric + floor), bilinear (half_pixel), bicubic "
                           "(a=-0.5, exclude_outside, half_pixel) or area only")

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        size = args.get("size", 2)
        size = list(size) if isinstance(size, (list, tuple)) else [size, size]
        if len(size) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0 for v in size):
            return Unsupported(f"UpSampling2D raises: size must be 2 positive integers; got {args.get('size')!r}")
        last = _keras_channels_last(args, self.name)
        if isinstance(last, Unsupported):
            return last
        interp = str(args.get("interpolation", "nearest")).lower()  # the layer lower-cases it
        if interp not in _KERAS_INTERPOLATIONS:
            return Unsupported(f"UpSampling2D raises: interpolation {interp!r} is not one of "
                               f"{list(_KERAS_INTERPOLATIONS)}")
        if len(shapes["x"]) != 4:
            return Unsupported("UpSampling2D takes 4-D inputs")
        if op == "repeat":
            if interp != "nearest":
                return Unsupported("UpSampling2D is a repeat only with interpolation='nearest'")
            return {"repeats": [int(v) for v in size]}
        if interp == "nearest":
            p = {"scales": [1.0, 1.0, *map(float, size)], "mode": "nearest",
                 "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
            return normalize("resize", p, shapes)
        # keras.ops.image.resize(x, (H * size[0], W * size[1]), interpolation) = tf.image.resize
        x = shapes["x"]
        return ImageResize().meaning([x[2] * int(size[0]), x[3] * int(size[1])], interp, False, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()
        interps = ("nearest",) if op == "repeat" else (*_KERAS_INTERPOLATIONS, "gaussian")

        def build(shapes: dict, size: Any, fmt: Any, interp: Any, dt: str) -> dict[str, Any]:
            dtype = dt if interp in ("nearest", _ABSENT) else "float32"
            return {"args": _args({"size": size, "data_format": fmt, "interpolation": interp}), "shapes": shapes,
                    "dtype": dtype}

        size = st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4)))
        return st.builds(build, _image_shapes(st), _maybe(st, size),
                         _maybe(st, st.sampled_from(["channels_last", "channels_first"])),
                         _maybe(st, st.sampled_from(interps)), st.sampled_from(_DTYPES_ANY))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        x = tensors["x"]
        kw = dict(call.args)
        last = _keras_channels_last(kw, self.name)
        last = True if isinstance(last, Unsupported) else last
        if x.dtype.kind == "f" or x.dtype.name == "bfloat16":
            kw["dtype"] = x.dtype.name  # no autocast to float32
        with self.device_scope(device):
            layer = _keras().layers.UpSampling2D(**kw)
        return layer, (self.native_tensor(x, last),), {}, device, last


# ----------------------------------------------------------------------------------- conv_transpose


def _tf_same_begin(in_len: int, out_len: int, k_eff: int, s: int) -> int | None:
    """Begin pad of TF's SAME conv-transpose for output ``out_len``, or None if TF rejects it."""
    if -(-out_len // s) != in_len:
        return None
    total = max((in_len - 1) * s + k_eff - out_len, 0)
    return total // 2


def _tf_valid_ok(in_len: int, out_len: int, k_eff: int, s: int) -> bool:
    return out_len >= k_eff and (out_len - k_eff) // s + 1 == in_len


def _out_channels(shapes: Mapping[str, tuple[int, ...]]) -> int:
    """C_out of canonical weights (C_in, C_out, *k); a direct-form case's (C_out, C_in, *k) is rotated
    by ``prepare`` (call.prep), so its C_out is w[0]."""
    x, w = shapes["x"], shapes["w"]
    return int(w[1]) if w[0] == x[1] else int(w[0])


def _conv_shapes(st: Any, rank: int, bias: Any) -> Any:
    """x (N, C_in, *sp), w (C_in, C_out, *k) with k 1..5, and sometimes b (C_out,)."""
    def build(nc: tuple, sp: tuple, cout: int, k: tuple, b: bool) -> dict[str, tuple[int, ...]]:
        out = {"x": (*nc, *sp), "w": (nc[1], cout, *k)}
        if b:
            out["b"] = (cout,)
        return out

    return st.builds(build, _batch_channels(st), _spatial(st, rank, 8), st.integers(1, 4),
                     st.tuples(*[st.integers(1, 5)] * rank), bias)


class _TfConvTranspose(TfBinding):
    """tf.nn.conv{1,2,3}d_transpose(input, filters, output_shape, strides, padding, data_format, dilations):
    output_shape and strides in the call's layout (NHWC by default); the kernel is (*k, C_out, C_in)."""

    ops = ("conv_transpose",)
    rank = 2
    fn = "conv2d_transpose"
    explicit = False  # explicit [[0, 0], [t, b], [l, r], [0, 0]] paddings (conv2d_transpose only)
    cpu_dilations = False  # TF's CPU kernels reject dilations > 1
    native_args = frozenset({"output_shape", "strides", "padding", "data_format", "dilations", "name"})
    enum_args = {"padding": ("SAME", "VALID"), "data_format": ("NWC", "NCW", "NHWC", "NCHW", "NDHWC", "NCDHW")}
    dtypes = ("float32", "float64")  # half precision: see docs/coverage-tensorflow.md

    def _geometry(self, case: Case) -> tuple[dict[str, Any], list[int], list[int], list[int]] | Unsupported:
        if case.op != "conv_transpose":
            return unsupported_op(self, case.op)
        k = spatial_rank(case.shapes)
        if self.rank and k != self.rank or not 1 <= k <= 3:
            return Unsupported(f"{self.name} is {self.rank or '1-D to 3'}-D; this case is {k}-D")
        n = self.normal_form(case)
        if n["group"] != 1:
            return Unsupported(f"{self.name} has no groups")
        if any(d > 1 for d in n["dilations"]) and not self.cpu_dilations:
            return Unsupported("TensorFlow's CPU conv-transpose kernels (Conv2DBackpropInput) reject dilation "
                               "rates > 1: 'Current CPU implementations do not yet support dilation rates larger "
                               "than 1'")
        x, w = case.shapes["x"], case.shapes["w"]
        k_eff = [(w[2 + i] - 1) * n["dilations"][i] + 1 for i in range(k)]
        return n, list(x[2:]), k_eff, n["output_spatial"]

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        g = self._geometry(case)
        if isinstance(g, Unsupported):
            return g
        n, ins, k_eff, outs = g
        k = len(ins)
        st, begins = n["strides"], n["pads"][:k]
        w = case.shapes["w"]
        cout = w[0] if n["weight_convention"] == "direct" else w[1]
        padding: Any = None
        if all(_tf_same_begin(ins[i], outs[i], k_eff[i], st[i]) == begins[i] for i in range(k)):
            padding = "SAME"
        elif all(begins[i] == 0 and _tf_valid_ok(ins[i], outs[i], k_eff[i], st[i]) for i in range(k)):
            padding = "VALID"
        elif self.explicit:
            ends = []
            for i in range(k):
                e = max((ins[i] - 1) * st[i] + k_eff[i] - outs[i] - begins[i], 0)
                if (outs[i] + begins[i] + e - k_eff[i]) // st[i] + 1 != ins[i]:
                    return Unsupported(f"no TF padding reproduces begin {begins[i]} with output {outs[i]}")
                ends.append(e)
            padding = [[0, 0]] + [[begins[i], ends[i]] for i in range(k)] + [[0, 0]]
        if padding is None:
            return Unsupported(f"{self.name} pads SAME (begin = total // 2) or VALID; begin pads {begins} with "
                               f"output {outs} are neither")
        prep = {"rotate": n["weight_convention"] == "direct"}
        notes = ["kernel (C_in, C_out, *k) -> (*k, C_out, C_in); input and output NHWC"]
        if prep["rotate"]:
            notes.insert(0, "direct (zero-insertion) kernel rotated 180 degrees and channel axes swapped")
        return NativeCall(self.name, {"output_shape": [case.shapes["x"][0], *outs, cout], "strides": st,
                                      "padding": padding, "dilations": n["dilations"]}, prep, tuple(notes))

    def _meaning(self, st: list[int], dl: list[int], padding: Any, outs: list[int],
                 shapes: Mapping[str, tuple[int, ...]], api: str) -> dict[str, Any] | Unsupported:
        """The canonical meaning of TF's conv-transpose geometry (TF's checks included), channels last."""
        if isinstance(padding, Unsupported):
            return padding
        x, w = shapes["x"], shapes["w"]
        k = len(x) - 2
        if self.rank and k != self.rank:
            return Unsupported(f"{api} is {self.rank}-D; the input is {k}-D")
        if any(d > 1 for d in dl) and not self.cpu_dilations:
            return Unsupported(f"{api} with dilations {dl}: TF's CPU kernels raise 'Current CPU implementations do "
                               "not yet support dilation rates larger than 1' (GPU only)")
        if any(s > 1 for s in st) and any(d > 1 for d in dl):
            return Unsupported(f"{api} raises for strides {st} with dilations {dl} (both > 1)")
        k_eff = [(w[2 + i] - 1) * dl[i] + 1 for i in range(k)]
        begins = []
        for i in range(k):
            if padding == "SAME":
                b = _tf_same_begin(x[2 + i], outs[i], k_eff[i], st[i])
                if b is None:
                    return Unsupported(f"{api} raises: SAME needs ceil(output / stride) == input on axis {i}")
            elif padding == "VALID":
                if not _tf_valid_ok(x[2 + i], outs[i], k_eff[i], st[i]):
                    return Unsupported(f"{api} raises: VALID output {outs[i]} does not convolve back to {x[2 + i]}")
                b = 0
            else:
                b, e = padding[i]
                t = outs[i] + b + e - k_eff[i]
                if t < 0 or t // st[i] + 1 != x[2 + i]:
                    return Unsupported(f"{api} raises: output {outs[i]} with explicit pads ({b}, {e}) does not "
                                       f"convolve back to {x[2 + i]}")
            begins.append(b)
        return self._canonical_from_begins(st, dl, begins, outs, shapes)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("output_shape", "strides"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        k = self.rank
        last = _tf_channels_last(args, k, self.name)
        if isinstance(last, Unsupported):
            return last
        if not last:
            return Unsupported(f"{self.name} with data_format {args['data_format']!r}: TF's CPU kernels raise "
                               "('only supports N...C'; GPU only)")
        st = _spatial_arg(args["strides"], k, self.name, "strides")
        dl = _spatial_arg(args.get("dilations") or 1, k, self.name, "dilations")
        if isinstance(st, Unsupported) or isinstance(dl, Unsupported):
            return st if isinstance(st, Unsupported) else dl
        x = shapes["x"]
        shape = [int(v) for v in args["output_shape"]]
        if len(shape) != k + 2 or shape[0] != x[0] or shape[-1] != _out_channels(shapes):
            return Unsupported(f"{self.name} raises: output_shape {shape} is not [N={x[0]}, *spatial, "
                               f"C_out={_out_channels(shapes)}] "
                               "(NHWC)")
        return self._meaning(st, dl, self._padding(args.get("padding", "SAME")), shape[1:-1], shapes, self.name)

    def _padding(self, pad: Any) -> Any:
        """'SAME', 'VALID', per-axis (begin, end) pairs, or Unsupported (as TF would raise)."""
        if pad in ("SAME", "VALID"):
            return pad
        if isinstance(pad, (list, tuple)) and self.explicit:
            pairs = [list(p) for p in pad]
            if len(pairs) == self.rank + 2 and pairs[0] == [0, 0] and pairs[-1] == [0, 0] \
                    and all(len(p) == 2 and min(p) >= 0 for p in pairs):
                return [(int(b), int(e)) for b, e in pairs[1:-1]]
            return Unsupported(f"{self.name} raises: explicit padding {pad} is not [[0, 0], *[begin, end] >= 0, "
                               "[0, 0]] (NHWC)")
        return Unsupported(f"{self.name} raises: padding {pad!r} is not 'SAME', 'VALID'"
                           + (" or explicit pairs" if self.explicit else ""))

    @staticmethod
    def _canonical_from_begins(st: list[int], dl: list[int], begins: list[int], outs: list[int],
                               shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
        pads, extra = pads_from_begins(shapes["x"], shapes["w"], st, dl, begins, outs)
        return normalize("conv_transpose", {"strides": st, "dilations": dl, "pads": pads, "output_padding": extra},
                         shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()
        k = self.rank
        pads = ["SAME", "VALID", "same"] + (["explicit"] if self.explicit else [])

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            shapes = d(_conv_shapes(st, k, st.just(False)))
            x, w = shapes["x"], shapes["w"]
            s = d(st.lists(st.integers(1, 4), min_size=k, max_size=k))
            dl = d(st.lists(st.integers(1, 2), min_size=k, max_size=k)) if d(st.booleans()) else [1] * k
            pad = d(st.sampled_from(pads))
            k_eff = [(w[2 + i] - 1) * dl[i] + 1 for i in range(k)]
            outs, padding = [], pad
            if pad == "explicit":
                pairs = [d(st.tuples(st.integers(0, 3), st.integers(0, 3))) for _ in range(k)]
                padding = [[0, 0], *[list(p) for p in pairs], [0, 0]]
                base = [(x[2 + i] - 1) * s[i] + k_eff[i] - sum(pairs[i]) for i in range(k)]
            elif pad.upper() == "SAME":
                base = [(x[2 + i] - 1) * s[i] + 1 for i in range(k)]
            else:
                base = [(x[2 + i] - 1) * s[i] + k_eff[i] for i in range(k)]
            for i in range(k):  # inside the valid range mostly; one past either end sometimes
                outs.append(max(base[i] + d(st.integers(-1, s[i])), 1))
            a = {"output_shape": [x[0], *outs, w[1]], "strides": d(st.sampled_from([s, [1, *s, 1]])),
                 "padding": padding}
            if any(v > 1 for v in dl):
                a["dilations"] = dl
            if d(st.booleans()):
                a["data_format"] = d(st.sampled_from(_TF_FORMATS[k]))
            return {"args": a, "shapes": shapes, "dtype": d(st.sampled_from(self.dtypes))}

        return draw()

    def _kernel(self, call: NativeCall, w: np.ndarray) -> np.ndarray:
        from ..reference import direct_to_transposed

        if call.prep.get("rotate"):
            w = direct_to_transposed(w).astype(w.dtype)
        return np.ascontiguousarray(np.moveaxis(np.moveaxis(w, 0, -1), 0, -2))  # (*k, C_out, C_in)

    def _bias_run(self, fn: Any, tensors: Mapping[str, np.ndarray], last: bool = True) -> Any:
        tf = _tf()
        b = tensors.get("b")
        bias = None if b is None else self.native_tensor(b, channels_last=False)

        def run(x: Any, f: Any, **kw: Any) -> Any:
            y = fn(x, f, **kw)
            return y if bias is None else tf.nn.bias_add(y, bias, data_format="N...C" if last else "NC...")

        run.bias = bias  # type: ignore[attr-defined]  # the tensor a backward check differentiates
        return run

    def grad_sources(self, call: NativeCall, prepared: Any,
                     tensors: Mapping[str, np.ndarray]) -> list[tuple[str, Any, str]]:
        """x, the kernel (*k, C_out, C_in) and, when the case has one, the bias the run adds."""
        fn, args = prepared[0], prepared[1]
        out = [("x", args[0], "last" if _output_last(self, prepared) else "first"), ("w", args[1], "kernel")]
        if "b" in tensors:
            out.append(("b", fn.bias, "first"))
        return out

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        last = _tf_channels_last(call.args, self.rank, self.name)
        last = True if isinstance(last, Unsupported) else last
        filt = self.native_tensor(self._kernel(call, tensors["w"]), channels_last=False)
        run = self._bias_run(getattr(_tf().nn, self.fn), tensors, last)
        return run, (self.native_tensor(tensors["x"], last), filt), dict(call.args), device, last


class Conv1dTranspose(_TfConvTranspose):
    name = "tf.nn.conv1d_transpose"
    rank = 1
    fn = "conv1d_transpose"


class Conv2dTranspose(_TfConvTranspose):
    name = "tf.nn.conv2d_transpose"
    rank = 2
    fn = "conv2d_transpose"
    explicit = True


class Conv3dTranspose(_TfConvTranspose):
    name = "tf.nn.conv3d_transpose"
    rank = 3
    fn = "conv3d_transpose"


class AtrousConv2dTranspose(Conv2dTranspose):
    """tf.nn.atrous_conv2d_transpose(value, filters, output_shape, rate, padding): stride 1, dilation
    ``rate`` (runs on CPU: space_to_batch around a VALID conv2d_backprop_input, nn_ops.py)."""

    name = "tf.nn.atrous_conv2d_transpose"
    explicit = False
    cpu_dilations = True
    native_args = frozenset({"output_shape", "rate", "padding", "name"})
    enum_args = {"padding": ("SAME", "VALID")}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        g = self._geometry(case)
        if isinstance(g, Unsupported):
            return g
        n = g[0]
        if n["strides"] != [1, 1] or n["dilations"][0] != n["dilations"][1]:
            return Unsupported(f"{self.name} is stride 1 with one dilation rate for H and W; not strides "
                               f"{n['strides']}, dilations {n['dilations']}")
        call = Conv2dTranspose.to_native(self, case)
        if isinstance(call, Unsupported):
            return call
        if not isinstance(call.args["padding"], str):
            return Unsupported(f"{self.name} pads SAME or VALID only")
        args = {"output_shape": call.args["output_shape"], "rate": n["dilations"][0], "padding": call.args["padding"]}
        if self.from_native(args, case.shapes) != n | {"weight_convention": "transposed"}:
            return Unsupported(f"{self.name} cannot express pads {n['pads']} with output {n['output_spatial']}")
        return NativeCall(self.name, args, call.prep, call.notes)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("output_shape", "rate", "padding"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        rate = args["rate"]
        if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate < 1:
            return Unsupported(f"{self.name} raises: rate must be an integer >= 1; got {rate!r}")
        x = shapes["x"]
        shape = [int(v) for v in args["output_shape"]]
        if len(shape) != 4 or shape[0] != x[0] or shape[-1] != _out_channels(shapes):
            return Unsupported(f"{self.name} raises: output_shape {shape} is not [N={x[0]}, H, W, "
                               f"C_out={_out_channels(shapes)}]")
        pad = args["padding"]
        if pad not in ("SAME", "VALID"):
            return Unsupported(f"{self.name} raises: padding {pad!r} is not 'SAME' or 'VALID'")
        # rate > 1: space_to_batch, a VALID stride-1 conv2d_backprop_input, batch_to_space and a crop of the
        # SAME pads; it raises unless output_shape is what stride 1 with dilation rate gives (SAME: the input
        # size, VALID: in + (k - 1) * rate), so the meaning is conv2d_transpose(strides 1, dilations rate)
        return self._meaning([1, 1], [int(rate)] * 2, pad, shape[1:3], shapes, self.name)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        def build(shapes: dict, rate: int, pad: str, delta: tuple) -> dict[str, Any]:
            x, w = shapes["x"], shapes["w"]
            outs = [max(x[2 + i] + (0 if pad == "SAME" else (w[2 + i] - 1) * rate) + delta[i], 1) for i in range(2)]
            return {"args": {"output_shape": [x[0], *outs, w[1]], "rate": rate, "padding": pad}, "shapes": shapes,
                    "dtype": "float32"}

        return st.builds(build, _conv_shapes(st, 2, st.just(False)), st.integers(1, 3),
                         st.sampled_from(["SAME", "VALID"]), st.tuples(*[st.sampled_from([0, 0, 0, 1, -1])] * 2))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        filt = to_tf(self._kernel(call, tensors["w"]), channels_last=False)
        run = self._bias_run(_tf().nn.atrous_conv2d_transpose, tensors)
        return run, (to_tf(tensors["x"]), filt), dict(call.args), device


def _keras_conv_output(x: tuple[int, ...], w: tuple[int, ...], strides: Any, padding: str, output_padding: Any,
                       dilation_rate: Any) -> list[int]:
    """Keras's output spatial size (backend_utils.compute_conv_transpose_output_shape), channels last."""
    from keras.src.backend.common.backend_utils import compute_conv_transpose_output_shape

    k = len(x) - 2
    shape = compute_conv_transpose_output_shape((x[0], *x[2:], x[1]), list(w[2:]), w[1], strides, padding,
                                                output_padding, "channels_last", dilation_rate)
    return [int(v) for v in shape[1:1 + k]]


class _KerasConvTranspose(KerasBinding, _TfConvTranspose):
    """Keras's conv transpose: tf.nn.conv_transpose(output_shape from Keras's formula, padding.upper())."""

    dtypes = ("float32", "float64")
    layer = False  # the layer (not keras.ops) raises for output_padding >= strides
    enum_args = {"padding": ("valid", "same"), "data_format": ("channels_last", "channels_first")}
    enum_case_insensitive = True
    translate_in_worker = True  # the output size comes from Keras's own function (imports Keras and TF)

    @property
    def cpu_dilations(self) -> bool:  # type: ignore[override]
        """TF's CPU kernels reject dilation rates > 1; Keras on JAX and PyTorch takes them."""
        return keras_backend() != "tensorflow"

    def _bias_run(self, fn: Any, tensors: Mapping[str, np.ndarray], last: bool = True) -> Any:
        if keras_backend() == "tensorflow":
            return super()._bias_run(fn, tensors, last)
        ops = _keras().ops
        b = tensors.get("b")

        def run(x: Any, f: Any, **kw: Any) -> Any:
            y = fn(x, f, **kw)
            if b is None:
                return y
            shape = [1] * len(y.shape)
            shape[-1 if last else 1] = b.shape[0]
            return ops.add(y, self.native_tensor(b.reshape(shape), channels_last=False))

        return run

    def keras_meaning(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                      rate_key: str = "dilation_rate") -> dict[str, Any] | Unsupported:
        x, w = shapes["x"], shapes["w"]
        k = len(x) - 2
        if k != self.rank and self.rank:
            return Unsupported(f"{self.name} is {self.rank}-D; the input is {k}-D")
        last = _keras_channels_last(args, self.name)
        if isinstance(last, Unsupported):
            return last
        if not last and keras_backend() == "tensorflow":
            return Unsupported(f"{self.name} with data_format='channels_first': TF's CPU conv-transpose kernels "
                               "raise 'Conv2DCustomBackpropInputOp only supports NHWC' (GPU only)")
        padding = str(args.get("padding", "valid")).lower()
        if padding not in ("valid", "same"):
            return Unsupported(f"{self.name} raises: padding {args.get('padding')!r} is not 'valid' or 'same'")
        st = _spatial_arg(args.get("strides", 1), k, self.name, "strides")
        dl = _spatial_arg(args.get(rate_key, 1), k, self.name, rate_key)
        if isinstance(st, Unsupported) or isinstance(dl, Unsupported):
            return st if isinstance(st, Unsupported) else dl
        op = args.get("output_padding")
        if op is not None:
            op = _spatial_arg(op, k, self.name, "output_padding", minimum=0)
            if isinstance(op, Unsupported):
                return op
            if self.layer and any(o >= s for o, s in zip(op, st)):  # the layer checks; keras.ops does not
                return Unsupported(f"{self.name} raises: output_padding {op} must be less than strides {st}")
        outs = _keras_conv_output(x, w, st, padding, op, dl)
        if min(outs) < 1:
            return Unsupported(f"{self.name} raises: empty output {outs}")
        return self._meaning(st, dl, padding.upper(), outs, shapes, self.name)

    def keras_args(self, n: dict[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | None:
        """Keras arguments (padding, output_padding) that reproduce a normal form, or None."""
        st, dl = n["strides"], n["dilations"]
        ops = [None] + [list(p) for p in itertools.product(*[range(s) for s in st])]
        for padding in ("valid", "same"):
            for op in ops:
                args = {"strides": st, "padding": padding, "output_padding": op, "dilation_rate": dl}
                canon = self.keras_meaning(args, shapes)
                if not isinstance(canon, Unsupported) and {**canon, "weight_convention": n["weight_convention"]} == n:
                    return args
        return None

    def prepare_keras(self, call: NativeCall, tensors: Mapping[str, np.ndarray]) -> tuple[Any, Any]:
        """(NHWC input, (*k, C_out, C_in) kernel) as TF tensors."""
        return self.native_tensor(tensors["x"]), self.native_tensor(self._kernel(call, tensors["w"]), channels_last=False)


class KerasConv2DTranspose(_KerasConvTranspose):
    """keras.layers.Conv2DTranspose(filters, kernel_size, strides, padding, output_padding, data_format,
    dilation_rate, activation, use_bias, ...): weights set with layer.set_weights([kernel, bias])."""

    name = "keras.layers.Conv2DTranspose"
    rank = 2
    layer = True
    native_args = frozenset({"filters", "kernel_size", "strides", "padding", "output_padding", "data_format",
                             "dilation_rate", "activation", "use_bias", "kernel_initializer", "bias_initializer",
                             "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                             "bias_constraint"})

    def implied_shapes(self, args: Mapping[str, Any], x: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """(C_in of the input, filters, *kernel_size), and the bias (filters,) unless use_bias=False."""
        try:
            ks = args["kernel_size"]
            ks = list(ks) if isinstance(ks, (list, tuple)) else [ks, ks]
            out = {"w": (int(x[1]), int(args["filters"]), *(int(v) for v in ks))}
        except (KeyError, TypeError, ValueError, IndexError):
            return {}
        if args.get("use_bias", True):
            out["b"] = (int(args["filters"]),)
        return out

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        g = self._geometry(case)
        if isinstance(g, Unsupported):
            return g
        n = g[0]
        args = self.keras_args(n, case.shapes)
        if args is None:
            return Unsupported("no Conv2DTranspose padding ('valid'/'same') and output_padding reproduce these pads")
        w = case.shapes["w"]
        cout = w[0] if n["weight_convention"] == "direct" else w[1]
        ksize = list(w[2:])
        call = {"filters": cout, "kernel_size": ksize, **args, "use_bias": "b" in case.shapes}
        prep = {"rotate": n["weight_convention"] == "direct"}
        return NativeCall(self.name, call, prep, ("layer.set_weights([kernel (kH, kW, C_out, C_in), bias])",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("filters", "kernel_size"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        w = shapes["w"]
        ks = _spatial_arg(args["kernel_size"], 2, self.name, "kernel_size")
        if isinstance(ks, Unsupported):
            return ks
        if int(args["filters"]) != _out_channels(shapes) or ks != list(w[2:]):
            return Unsupported(f"filters={args['filters']}, kernel_size={ks} do not fit weights {tuple(w)} "
                               "(C_in, C_out, kH, kW)")
        if args.get("activation") not in (None, "linear"):
            return Unsupported(f"activation {args['activation']!r} follows the transposed convolution")
        if not args.get("use_bias", True) and "b" in shapes:
            return Unsupported("use_bias=False adds no bias: the case's bias 'b' is not used")
        return self.keras_meaning(args, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        def build(shapes: dict, s: list, pad: str, op_: Any, dl: Any, fmt: Any, int_k: bool, dt: str) -> dict:
            w = shapes["w"]
            a = {"filters": w[1], "kernel_size": w[2] if int_k and w[2] == w[3] else list(w[2:]), "strides": s,
                 "padding": pad, "output_padding": op_, "dilation_rate": dl, "data_format": fmt,
                 "use_bias": "b" in shapes}
            return {"args": _args(a), "shapes": shapes, "dtype": dt}

        return st.builds(build, _conv_shapes(st, 2, st.booleans()), st.lists(st.integers(1, 4), min_size=2, max_size=2),
                         st.sampled_from(["valid", "same"]),
                         _maybe(st, st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=2, max_size=2))),
                         _maybe(st, st.integers(1, 2)), _maybe(st, st.sampled_from(["channels_last", "channels_first"])),
                         st.booleans(), st.sampled_from(self.dtypes))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        x = tensors["x"]
        kernel = self._kernel(call, tensors["w"])  # (kH, kW, C_out, C_in)
        kw = {k: v for k, v in call.args.items() if k in self.native_args}
        kw["dtype"] = x.dtype.name
        # set_weights replaces them: zeros cost nothing, where a random initializer compiles per shape on JAX
        kw.setdefault("kernel_initializer", "zeros")
        kw.setdefault("bias_initializer", "zeros")
        last = _keras_channels_last(kw, self.name)
        last = True if isinstance(last, Unsupported) else last
        with self.device_scope(device):
            layer = _keras().layers.Conv2DTranspose(**kw)
            layer.build((x.shape[0], x.shape[2], x.shape[3], x.shape[1]) if last else x.shape)
            weights = [kernel.astype(x.dtype)]
            if layer.use_bias:
                b = tensors.get("b")
                weights.append(np.zeros(kernel.shape[-2], x.dtype) if b is None else b.astype(x.dtype))
            layer.set_weights(weights)
        return layer, (self.native_tensor(x, last),), {}, device, last

    def grad_sources(self, call: NativeCall, prepared: Any,
                     tensors: Mapping[str, np.ndarray]) -> list[tuple[str, Any, str]]:
        """x and the layer's own kernel and bias variables (the tf.Variables under Keras's)."""
        layer = prepared[0]
        out = [("x", prepared[1][0], "last" if _output_last(self, prepared) else "first"),
               ("w", layer.kernel.value, "kernel")]
        if "b" in tensors:
            out.append(("b", layer.bias.value, "first"))
        return out


class KerasOpsConvTranspose(_KerasConvTranspose):
    """keras.ops.conv_transpose(inputs, kernel, strides, padding, output_padding, data_format, dilation_rate),
    1-D to 3-D, kernel (*k, C_out, C_in)."""

    name = "keras.ops.conv_transpose"
    rank = 0  # any of 1, 2, 3
    native_args = frozenset({"strides", "padding", "output_padding", "data_format", "dilation_rate"})

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        g = self._geometry(case)
        if isinstance(g, Unsupported):
            return g
        args = self.keras_args(g[0], case.shapes)
        if args is None:
            return Unsupported("no keras.ops.conv_transpose padding ('valid'/'same') and output_padding reproduce "
                               "these pads")
        return NativeCall(self.name, args, {"rotate": g[0]["weight_convention"] == "direct"},
                          ("kernel (C_in, C_out, *k) -> (*k, C_out, C_in); input and output channels last",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        if not 1 <= spatial_rank(shapes) <= 3:
            return Unsupported(f"{self.name} is 1-D to 3-D")
        return self.keras_meaning(args, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 3))
            shapes = d(_conv_shapes(st, k, st.booleans()))
            a = {"strides": d(_int_or_list(st, st.integers(1, 4), k)), "padding": d(st.sampled_from(["valid", "same"])),
                 "output_padding": d(_maybe(st, _int_or_list(st, st.integers(0, 3), k))),
                 "dilation_rate": d(_maybe(st, st.integers(1, 2))),
                 "data_format": d(_maybe(st, st.sampled_from(["channels_last", "channels_first"])))}
            return {"args": _args(a), "shapes": shapes, "dtype": d(st.sampled_from(self.dtypes))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        last = _keras_channels_last(call.args, self.name)
        last = True if isinstance(last, Unsupported) else last
        k = self._kernel(call, tensors["w"])
        run = self._bias_run(_keras().ops.conv_transpose, tensors, last)
        return run, (self.native_tensor(tensors["x"], last), self.native_tensor(k, channels_last=False)), \
            dict(call.args), device, last


# ----------------------------------------------------------------------------------- pixel shuffle


class DepthToSpace(TfBinding):
    """tf.nn.depth_to_space(input, block_size, data_format='NHWC'): DCR channel order."""

    name = "tf.nn.depth_to_space"
    ops = ("pixel_shuffle",)
    arg = "upscale_factor"
    fn = "depth_to_space"
    native_args = frozenset({"block_size", "data_format", "name"})
    enum_args = {"data_format": ("NHWC", "NCHW", "NCHW_VECT_C")}
    dtypes = _DTYPES_ANY

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op not in self.ops:
            return unsupported_op(self, case.op)
        if spatial_rank(case.shapes) != 2:
            return Unsupported(f"{self.name} is 2-D (NHWC) only")
        n = self.normal_form(case)
        if n.get("mode", "CRD") != "DCR":
            return Unsupported(f"{self.name} uses the DCR channel order only; this case is {n.get('mode', 'CRD')}")
        return NativeCall(self.name, {"block_size": int(n[self.arg])})

    def layout(self, args: Mapping[str, Any]) -> bool | Unsupported:
        """Channels last, or why the call cannot run (NCHW has no CPU kernel)."""
        last = _tf_channels_last(args, 2, self.name)
        if last is False:
            return Unsupported(f"{self.name} with data_format='NCHW': no CPU kernel ('Could not find device for "
                               "node'; GPU only)")
        return last

    def block_meaning(self, bs: Any, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | Unsupported:
        """The canonical meaning of a block size on an input of ``shapes`` (TF's checks included)."""
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 2:
            return Unsupported(f"{self.name} raises: block_size must be an integer >= 2; got {bs!r}")
        x = shapes["x"]
        if len(x) != 4:
            return Unsupported(f"{self.name} takes 4-D inputs")
        if self.arg == "upscale_factor" and x[1] % (bs * bs):
            return Unsupported(f"{self.name} raises: depth {x[1]} is not divisible by block_size^2 = {bs * bs}")
        if self.arg == "downscale_factor" and (x[2] % bs or x[3] % bs):
            return Unsupported(f"{self.name} raises: H, W = {x[2:]} are not divisible by block_size {bs}")
        return normalize(self.ops[0], {self.arg: int(bs), "mode": "DCR"}, shapes)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        if "block_size" not in args:
            raise TypeError(f"{self.name}: missing required argument 'block_size'")
        last = self.layout(args)
        return last if isinstance(last, Unsupported) else self.block_meaning(args["block_size"], shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()
        formats = ["NHWC", "NCHW"] if self.native_args != frozenset({"block_size", "data_format"}) else \
            ["channels_last", "channels_first"]

        def build(n: int, c: int, hw: tuple, bs: int, fmt: Any, dt: str) -> dict[str, Any]:
            if self.arg == "upscale_factor":
                shape = (n, c * bs * bs, *hw)
            else:
                shape = (n, c, *(v * bs for v in hw))
            return {"args": _args({"block_size": bs, "data_format": fmt}), "shapes": {"x": shape}, "dtype": dt}

        return st.builds(build, st.integers(1, 2), st.integers(1, 3), _spatial(st, 2, 4), st.integers(1, 4),
                         _maybe(st, st.sampled_from(formats)), st.sampled_from(self.dtypes))

    def api(self) -> Any:
        """The namespace that holds ``fn``."""
        return _tf().nn

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        last = self.layout(call.args)
        last = True if isinstance(last, Unsupported) else last
        return getattr(self.api(), self.fn), (self.native_tensor(tensors["x"], last),), dict(call.args), device, last


class SpaceToDepth(DepthToSpace):
    name = "tf.nn.space_to_depth"
    ops = ("pixel_unshuffle",)
    arg = "downscale_factor"
    fn = "space_to_depth"


class KerasDepthToSpace(KerasBinding, DepthToSpace):
    """keras.ops.depth_to_space(x, block_size, data_format='channels_last'): tf.nn.depth_to_space, with
    channels_first transposed to NHWC and back by Keras (so it runs on CPU)."""

    name = "keras.ops.depth_to_space"
    native_args = frozenset({"block_size", "data_format"})
    enum_args = {"data_format": ("channels_last", "channels_first")}
    enum_case_insensitive = True  # Keras lower-cases data_format

    def layout(self, args: Mapping[str, Any]) -> bool | Unsupported:
        fmt = args.get("data_format", "channels_last")
        if fmt not in ("channels_last", "channels_first"):  # compared as given (keras.ops.nn)
            return Unsupported(f"{self.name} raises: data_format {fmt!r} is not 'channels_last' or 'channels_first'")
        return fmt == "channels_last"

    def api(self) -> Any:
        return _keras().ops


class KerasSpaceToDepth(KerasDepthToSpace):
    name = "keras.ops.space_to_depth"
    ops = ("pixel_unshuffle",)
    arg = "downscale_factor"
    fn = "space_to_depth"


# ----------------------------------------------------------------------------------- max_unpool


def _unpool_run(x: Any, ksize: Any, strides: Any, padding: str, out: list[int], include_batch_in_index: bool = False,
                output_dtype: Any = "int64") -> Any:
    """Pool with argmax, then scatter per plane: the index is (y * W + x) * C + c, plus b * H * W * C
    with include_batch_in_index, so the plane position is (index mod H * W * C) // C."""
    values, argmax = _unpool_pool(x, ksize, strides, padding, include_batch_in_index, output_dtype)
    return _unpool_scatter(x, values, argmax, out)


def _unpool_pool(x: Any, ksize: Any, strides: Any, padding: str, include_batch_in_index: bool,
                 output_dtype: Any) -> tuple[Any, Any]:
    """The pooling half of :func:`_unpool_run`: (values, argmax), NHWC."""
    tf = _tf()
    return tf.nn.max_pool_with_argmax(x, ksize, strides, padding, output_dtype=tf.as_dtype(output_dtype),
                                      include_batch_in_index=include_batch_in_index)


def _unpool_scatter(x: Any, values: Any, argmax: Any, out: list[int]) -> Any:
    """The unpooling half of :func:`_unpool_run`: ``values`` at their argmax planes, canonical NCHW."""
    tf = _tf()
    shape = tf.shape(x, out_type=argmax.dtype)
    n, c = tf.shape(x)[0], tf.shape(x)[3]
    plane = (argmax % (shape[1] * shape[2] * shape[3])) // shape[3]  # y * W + x
    plane = tf.cast(plane, tf.int64)
    vals = tf.reshape(tf.transpose(values, [0, 3, 1, 2]), [-1])
    pos = tf.reshape(tf.transpose(plane, [0, 3, 1, 2]), [-1])
    m = tf.size(values) // tf.maximum(n * c, 1)
    ni = tf.repeat(tf.range(n, dtype=tf.int64), c * m)
    ci = tf.tile(tf.repeat(tf.range(c, dtype=tf.int64), m), [n])
    idx = tf.stack([ni, ci, pos], axis=1)
    flat = tf.tensor_scatter_nd_update(tf.zeros([n, c, int(np.prod(out))], dtype=values.dtype), idx, vals)
    return tf.reshape(flat, [n, c, *out])  # canonical NCHW already


class MaxPoolWithArgmaxUnpool(TfBinding):
    """tf.nn.max_pool_with_argmax(input, ksize, strides, padding, data_format, output_dtype,
    include_batch_in_index), then the values scattered at their argmax into ``output_shape`` (the
    unpooled [H, W], or [N, H, W, C] NHWC; by default the input's [H, W], whose positions argmax
    numbers): the unpooling a TF program writes."""

    name = "tf.nn.max_pool_with_argmax"
    ops = ("max_unpool",)
    channels_last = False  # the scatter writes NCHW directly
    native_args = frozenset({"ksize", "strides", "padding", "data_format", "output_dtype", "include_batch_in_index",
                             "name", "output_shape"})
    enum_args = {"padding": ("SAME", "VALID")}
    dtypes = ("float32", "float64", "float16", "bfloat16")

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "max_unpool":
            return unsupported_op(self, case.op)
        x = case.shapes["x"]
        if len(x) != 4:
            return Unsupported("tf.nn.max_pool_with_argmax is 2-D only")
        n = self.normal_form(case)
        ks, st, pads = n["kernel_shape"], n["strides"], n["pads"]
        padding = None
        if pads == [0, 0, 0, 0]:
            padding = "VALID"
        else:
            same = []
            for i in range(2):
                o = -(-x[2 + i] // st[i])
                t = max((o - 1) * st[i] + ks[i] - x[2 + i], 0)
                same.append((t // 2, t - t // 2))
            if pads == [same[0][0], same[1][0], same[0][1], same[1][1]]:
                padding = "SAME"
        if padding is None:
            return Unsupported(f"max_pool_with_argmax pads VALID or SAME only; pads {pads} are neither")
        args = {"ksize": ks, "strides": st, "padding": padding, "output_shape": n["output_shape"]}
        if self.from_native(args, case.shapes) != n:
            return Unsupported(f"{self.name} cannot express {n}")
        return NativeCall(self.name, args,
                          notes=("values scattered with tf.tensor_scatter_nd_update at argmax // C (per-plane index)",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("ksize", "strides", "padding"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        x = shapes["x"]
        if len(x) != 4:
            return Unsupported(f"{self.name} takes 4-D NHWC inputs")
        if args.get("data_format", "NHWC") != "NHWC":
            return Unsupported(f"{self.name} raises: data_format {args['data_format']!r} (only 'NHWC' is supported)")
        if str(args.get("output_dtype", "int64")).removeprefix("<dtype: '").rstrip("'>") not in ("int32", "int64"):
            return Unsupported(f"{self.name} raises: output_dtype {args['output_dtype']!r} is not int32 or int64")
        ks = _spatial_arg(args["ksize"], 2, self.name, "ksize")
        st = _spatial_arg(args["strides"], 2, self.name, "strides")
        if isinstance(ks, Unsupported) or isinstance(st, Unsupported):
            return ks if isinstance(ks, Unsupported) else st
        padding = args["padding"]
        if padding == "SAME":
            t = [max((-(-x[2 + i] // st[i]) - 1) * st[i] + ks[i] - x[2 + i], 0) for i in range(2)]
            pads = [t[0] // 2, t[1] // 2, t[0] - t[0] // 2, t[1] - t[1] // 2]
        elif padding == "VALID":
            if ks[0] > x[2] or ks[1] > x[3]:
                return Unsupported(f"VALID pooling with ksize {ks} > input {list(x[2:])} pools nothing (an empty "
                                   "output); the canonical MaxPool needs kernel <= input")
            pads = [0, 0, 0, 0]
        else:
            return Unsupported(f"{self.name} raises: padding {padding!r} is not 'SAME' or 'VALID'")
        p: dict[str, Any] = {"kernel_shape": list(ks), "strides": list(st), "pads": pads}
        out = args.get("output_shape", list(x[2:]))  # default: the pooled input's shape (what argmax indexes)
        if out is not None:
            out = [int(v) for v in out]
            if len(out) == 4:
                if (out[0], out[3]) != (x[0], x[1]):
                    return Unsupported(f"output_shape {out} is not [N={x[0]}, H, W, C={x[1]}] (NHWC)")
                out = out[1:3]
            if len(out) != 2 or min(out) < 1:
                return Unsupported(f"output_shape {args['output_shape']} is not [H, W] or [N, H, W, C]")
            if out[0] * out[1] < x[2] * x[3]:
                return Unsupported(f"output_shape {out} holds fewer than the {x[2] * x[3]} input positions the "
                                   "argmax indices can name: the scatter raises")
            p["output_shape"] = out
        return normalize("max_unpool", p, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            shapes = d(_image_shapes(st))
            x = shapes["x"]
            ks = d(st.lists(st.integers(1, 4), min_size=2, max_size=2))
            ss = d(st.lists(st.integers(1, 4), min_size=2, max_size=2))
            a: dict[str, Any] = {"ksize": d(st.sampled_from([ks, [1, *ks, 1], ks[0]])),
                                 "strides": d(st.sampled_from([ss, [1, *ss, 1], ss[0]])),
                                 "padding": d(st.sampled_from(["VALID", "SAME"]))}
            if d(st.booleans()):
                a["output_shape"] = d(st.sampled_from([list(x[2:]), [x[0], *x[2:], x[1]]]))
            if d(st.booleans()):
                a["include_batch_in_index"] = True
            if d(st.booleans()):
                a["output_dtype"] = d(st.sampled_from(["int32", "int64"]))
            return {"args": a, "shapes": shapes, "dtype": d(st.sampled_from(self.dtypes))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        a = call.args
        x = tensors["x"]
        n = self.from_native(a, {"x": tuple(x.shape)})
        out = n["output_shape"] if isinstance(n, dict) else list(x.shape[2:])
        return _unpool_run, (to_tf(x), a["ksize"], a["strides"], a["padding"], out,
                             bool(a.get("include_batch_in_index", False)), a.get("output_dtype", "int64")), {}, device

    def prepare_backward(self, call: NativeCall, tensors: Mapping[str, np.ndarray], cotangent: np.ndarray,
                         device: str = "cpu") -> TfBackward:
        """The pool-and-scatter call; its gradient is taken with respect to the pooled values, the unpool's
        input (:meth:`execute_backward` watches them as the pooling makes them)."""
        _, args, kwargs, dev = self.prepare(call, tensors, device)
        with self.device_scope(device):
            cot = to_tf(np.asarray(cotangent), channels_last=False)
        return TfBackward(_unpool_run, tuple(args), dict(kwargs), dev, [], cot, ("values",), ("last",))

    def execute_backward(self, prepared: TfBackward) -> Any:
        """The whole call, pooling unrecorded (no MaxPoolGradWithArgmax: the values are the input whose
        gradient is asked), the scatter recorded."""
        tf = _tf()
        x, ksize, strides, padding, out, batch_index, index_dtype = prepared.args
        with tf.device(_device(prepared.device)):
            with tf.GradientTape() as tape:
                with tape.stop_recording():
                    values, argmax = _unpool_pool(x, ksize, strides, padding, batch_index, index_dtype)
                tape.watch(values)
                y = _unpool_scatter(x, values, argmax, out)
            return tape.gradient(y, [values], output_gradients=prepared.cotangent,
                                 unconnected_gradients=tf.UnconnectedGradients.ZERO)


# ----------------------------------------------------------------------------------- repeat


class TfRepeat(TfBinding):
    """tf.repeat(input, repeats, axis): one axis, in the call's layout (NHWC: spatial axes 1..rank,
    negative from the end: -1 is C); axis=None flattens (no canonical meaning)."""

    name = "tf.repeat"
    ops = ("repeat",)
    fn = "repeat"
    native_args = frozenset({"repeats", "axis", "name"})
    dtypes = _DTYPES_ANY

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        return channels_last_repeat_call(self.name, case)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        return channels_last_repeat_meaning(self.name, args, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 3))
            shapes = {"x": (*d(_batch_channels(st)), *d(_spatial(st, k, 6)))}
            axis = d(st.integers(-(k + 2), k + 1))
            length = shapes["x"][2 + (axis % (k + 2)) - 1] if 1 <= axis % (k + 2) <= k else 1
            reps = d(st.one_of(st.integers(1, 4), st.integers(0, 3).map(lambda v: [v] * length),
                               st.lists(st.integers(0, 3), min_size=length, max_size=length)))
            a = {"repeats": reps, "axis": axis if d(st.integers(0, 9)) else None}
            return {"args": a, "shapes": shapes, "dtype": d(st.sampled_from(self.dtypes))}

        return draw()

    def _fn(self) -> Any:
        return _tf().repeat

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return self._fn(), (self.native_tensor(tensors["x"]),), dict(call.args), device


class KerasRepeat(KerasBinding, TfRepeat):
    """keras.ops.repeat(x, repeats, axis=None): numpy's repeat, the same reading as tf.repeat."""

    name = "keras.ops.repeat"
    native_args = frozenset({"repeats", "axis"})

    def _fn(self) -> Any:
        return _keras().ops.repeat


# ----------------------------------------------------------------------------------- Keras resizes


class KerasImageResize(KerasBinding, TfBinding):
    """keras.ops.image.resize(images, size, interpolation, antialias, crop_to_aspect_ratio,
    pad_to_aspect_ratio, fill_mode, fill_value, data_format): tf.image.resize after an optional
    centred crop or pad to the target aspect ratio (a no-op when the ratio already matches)."""

    name = "keras.ops.image.resize"
    ops = ("resize",)
    native_args = frozenset({"size", "interpolation", "antialias", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
                             "fill_mode", "fill_value", "data_format"})
    enum_args = {"interpolation": _KERAS_INTERPOLATIONS}
    size_keys: tuple[str, ...] = ("size",)

    def _size(self, args: Mapping[str, Any]) -> Any:
        return args.get("size")

    def _call(self, size: list[int], interp: str) -> dict[str, Any]:
        return {"size": size, "interpolation": interp}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        call = ImageResize().to_native(case)
        if isinstance(call, Unsupported):
            return call
        a = self._call(list(call.args["size"]), call.args["method"])
        if call.args.get("antialias"):
            a["antialias"] = True
        return NativeCall(self.name, a)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        size = _positive_pair(self._size(args), self.name)
        if isinstance(size, Unsupported):
            return size
        interp = args.get("interpolation", "bilinear")
        if interp not in _KERAS_INTERPOLATIONS:
            return Unsupported(f"{self.name} raises: interpolation {interp!r} is not one of "
                               f"{list(_KERAS_INTERPOLATIONS)}")
        if args.get("fill_mode", "constant") != "constant":
            return Unsupported(f"{self.name} raises: fill_mode {args['fill_mode']!r} (only 'constant')")
        last = _keras_channels_last(args, self.name)
        if isinstance(last, Unsupported):
            return last
        crop, pad = bool(args.get("crop_to_aspect_ratio")), bool(args.get("pad_to_aspect_ratio"))
        if crop and pad:
            return Unsupported(f"{self.name} raises: crop_to_aspect_ratio and pad_to_aspect_ratio together")
        x = shapes["x"]
        if (crop or pad) and len(x) == 4:
            h, w = x[2], x[3]
            f = np.float32
            ch, cw = int(f(w * size[0]) / f(size[1])), int(f(h * size[1]) / f(size[0]))
            box = (max(min(h, ch), 1), max(min(w, cw), 1)) if crop else (max(h, ch), max(w, cw))
            if box != (h, w):
                return Unsupported(f"{'crop' if crop else 'pad'}_to_aspect_ratio changes the image to {box} before "
                                   "resizing: no canonical resize")
        return ImageResize().meaning(size, interp, bool(args.get("antialias", False)), shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        def build(shapes: dict, size: tuple, interp: Any, aa: Any, crop: Any, pad: Any, fmt: Any) -> dict:
            a = {**dict(zip(self.size_keys, size if len(self.size_keys) == 2 else [list(size)])),
                 "interpolation": interp, "antialias": aa, "crop_to_aspect_ratio": crop, "pad_to_aspect_ratio": pad,
                 "data_format": fmt}
            return {"args": _args(a), "shapes": shapes, "dtype": "float32"}

        return st.builds(build, _image_shapes(st), _spatial(st, 2), _maybe(st, st.sampled_from(_KERAS_INTERPOLATIONS)),
                         _maybe(st, st.booleans()), _maybe(st, st.booleans()), _maybe(st, st.booleans()),
                         _maybe(st, st.sampled_from(["channels_last", "channels_first"])))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        last = _keras_channels_last(call.args, self.name)
        last = True if isinstance(last, Unsupported) else last
        return _keras().ops.image.resize, (self.native_tensor(tensors["x"], last),), dict(call.args), device, last


class KerasResizing(KerasImageResize):
    """keras.layers.Resizing(height, width, interpolation, crop_to_aspect_ratio, pad_to_aspect_ratio,
    fill_mode, fill_value, antialias, data_format): keras.ops.image.resize in a layer."""

    name = "keras.layers.Resizing"
    native_args = frozenset({"height", "width", "interpolation", "crop_to_aspect_ratio", "pad_to_aspect_ratio",
                             "fill_mode", "fill_value", "antialias", "data_format"})
    size_keys = ("height", "width")

    def _size(self, args: Mapping[str, Any]) -> Any:
        for req in self.size_keys:
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        return [args["height"], args["width"]]

    def _call(self, size: list[int], interp: str) -> dict[str, Any]:
        return {"height": size[0], "width": size[1], "interpolation": interp}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        bad = _float32_only(case.dtype, f"{self.name} (a float32 layer; nearest included)")
        return bad or super().to_native(case)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        last = _keras_channels_last(call.args, self.name)
        last = True if isinstance(last, Unsupported) else last
        with self.device_scope(device):
            layer = _keras().layers.Resizing(**call.args)
        return layer, (self.native_tensor(tensors["x"], last),), {}, device, last
