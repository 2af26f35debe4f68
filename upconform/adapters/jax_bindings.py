"""JAX bindings (jax 0.10.2, CPU). JAX is imported when a binding first runs; float64 is enabled
(``jax.config.update("jax_enable_x64", True)``) so that float64 cases run in float64.

Layouts: the image APIs are written as JAX/Flax users write them, channels last: canonical
(N, C, *spatial) <-> native (N, *spatial, C) on the way in and out, so ``shape``, ``spatial_dims``
and ``axis`` count in NHWC (NWC, NDHWC). The lax convolutions take ``dimension_numbers``: the call
says its layouts (None is JAX's default, NHWC / HWIO); the canonical kernel's axis 0 is the
kernel spec's ``O``, axis 1 its ``I``, spatial axes in the order the kernel spec names them.

Vocabulary (canonical normal form <- native call), from jax/_src/image/scale.py and
jax/_src/lax/convolution.py at 0.10.2:

    jax.image.resize(shape, method, antialias=True): half-pixel centres only (scale = out/in, no
      translation), every axis whose size changes (N and C included)
        nearest                  -> floor((i + 0.5) * in / out): half_pixel + round_prefer_ceil
        linear (bi-, tri-)       -> linear; antialias=True (the default!) support-scales on downscale,
                                    taps outside the image dropped: exclude_outside=1
        cubic (bi-, tri-)        -> Keys a=-0.5, outside taps dropped and renormalised (exclude_outside=1)
        cubic-pytorch, antialias=False -> a=-0.75, taps clamped to the edge (exclude_outside=0)
        cubic-pytorch, antialias=True  -> the same as cubic (a=-0.5)
        area                     -> exact fractional coverage (TF's area)
        lanczos3, lanczos5       -> unsupported: no ONNX Resize kernel
    jax.image.scale_and_translate(shape, spatial_dims, scale, translation, method, antialias=True):
      input coordinate x = (i + 0.5 - t) / s - 0.5 on each listed axis; samples outside
      [-0.5, in - 0.5] give 0 (except cubic-pytorch without antialias, which clamps), so a case is
      supported only where no sample falls outside. Per coordinate mode (x = A * i + B):
        half_pixel          s = scale, t = 0
        asymmetric          s = scale, t = 0.5 - 0.5 * s
        align_corners       s = (out - 1) / (in - 1), t = 0.5 - 0.5 * s (jax#11206; in = 1: no finite s)
        pytorch_half_pixel  half_pixel, and t = 0.5 - 0.5 * s on an axis resized to 1 (x = 0)
        half_pixel_symmetric s = scale, t = -s * (in / 2) * (1 - out / (s * in))
      antialias stretches the kernel by max(1 / s, 1): equal to the canonical stretch (1 / min(scale, 1))
      only where s is the canonical scale, so antialias with align_corners on a downscale is unsupported.
    jax.lax.conv_transpose(strides, padding, rhs_dilation, dimension_numbers, transpose_kernel):
      conv_general_dilated(window_strides=1, lhs_dilation=strides) with correlation pads
      (SAME / VALID: _conv_transpose_padding; explicit pairs: taken as they are, unless
      use_consistent_padding=True); transpose_kernel=True flips and swaps the kernel: canonical
      (transposed) weights; False correlates with the kernel as given: weight_convention direct.
      No feature_group_count: groups are unsupported.
    jax.lax.conv_general_dilated(window_strides=1, padding, lhs_dilation=stride, rhs_dilation,
      dimension_numbers, feature_group_count): zero insertion and correlation, direct weights
      (C_out, C_in/g, *k); correlation pads (k_eff - 1 - begin, ...).
    jnp.repeat(repeats, axis): one axis, NHWC.
    jnp.reshape+transpose: pixel shuffle / unshuffle written out (JAX has no pixel_shuffle), NHWC.

Backward checks: ``jax.vjp`` of the prepared call's own function of its native arrays (x; w, b for the
convolutions), the cotangent in the native output layout; the gradients go back through the inverse of each
layout permutation (and ``direct_to_transposed`` where prepare rotated canonical weights). Every float
dtype differentiates (float16 and bfloat16 included); uint8 has no gradient. The compiled path jits the
same vjp.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..canonical import Case, normalize
from ..canonical.conv_transpose import pads_from_begins
from ..canonical.resize import output_shape as resize_output_shape
from ..reference.resize import exact_ratio
from .base import (
    Binding,
    Framework,
    NativeCall,
    Path,
    Unsupported,
    channels_last_repeat_call,
    channels_last_repeat_meaning,
    spatial_rank,
    unsupported_op,
)


def cache_dir(env: Mapping[str, str] | None = None) -> str | None:
    """XLA's persistent compilation cache for upconform's JAX checks (every new shape compiles, eager
    primitives included): ``$UPCONFORM_JAX_CACHE_DIR``, ``off`` for none, by default a folder in the
    temporary directory (as torch.compile's inductor keeps its FX graph cache).

    Example:
        >>> cache_dir({"UPCONFORM_JAX_CACHE_DIR": "off"}) is None, cache_dir({"UPCONFORM_JAX_CACHE_DIR": "/c"})
        (True, '/c')
    """
    import tempfile

    d = (os.environ if env is None else env).get("UPCONFORM_JAX_CACHE_DIR")
    if d is None:
        uid = os.getuid() if hasattr(os, "getuid") else 0
        d = os.path.join(tempfile.gettempdir(), f"upconform-jax-cache-{uid}")
    return None if d.lower() == "off" else d


def _jax() -> Any:
    import jax

    if not getattr(_jax, "ready", False):
        jax.config.update("jax_enable_x64", True)  # float64 cases are float64, not silently float32
        d = cache_dir()
        if d is not None:
            jax.config.update("jax_compilation_cache_dir", d)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        _jax.ready = True  # type: ignore[attr-defined]
    return jax


def _configure_threads(threads: int) -> None:
    """XLA's CPU thread pools are fixed when jax first initialises its backend: set XLA_FLAGS first."""
    if "jax" in sys.modules and getattr(_jax, "ready", False):
        return
    flags = os.environ.get("XLA_FLAGS", "")
    extra = f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} intra_op_parallelism_threads={threads}"
    if "intra_op_parallelism_threads" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()


def _synchronize(device: str) -> None:
    """JAX dispatches asynchronously: every execute blocks on its result (block_until_ready)."""


def _compiled_path() -> Any:
    return JaxCompiled()


# Path: compiled = jax.jit(the native call), compiled in prepare (JaxCompiled below).
# check_cost_s: measured, `upconform run --framework jax --jobs 1`: 0.25 s mean per eager check (XLA
# compiles each new shape; persistent compilation cache warm), median 0.10 s.
FRAMEWORK = Framework("jax", aliases=("jaxlib",), distributions=("jax", "jaxlib"), module="jax", extra="jax",
                      configure_threads=_configure_threads, synchronize=_synchronize,
                      paths=(("compiled", _compiled_path),), check_cost_s=0.25, suite="own")


# ----------------------------------------------------------------------------------- shared


def _channels_last_perm(ndim: int) -> tuple[int, ...]:
    """Canonical (N, C, *sp) -> native (N, *sp, C)."""
    return (0, *range(2, ndim), 1)


def _inverse(perm: Sequence[int]) -> tuple[int, ...]:
    out = [0] * len(perm)
    for i, p in enumerate(perm):
        out[p] = i
    return tuple(out)


def _native_axis_to_canonical(d: int, ndim: int) -> int:
    """NHWC axis -> NCHW axis."""
    return _channels_last_perm(ndim)[d]


@dataclass
class JaxCall:
    """A prepared call: ``fn(*arrays)`` is the native call (everything else closed over); the output,
    transposed by ``out_perm``, is canonical. ``in_perms[i]`` is the permutation that made ``arrays[i]``
    from its canonical tensor (None: as it is); ``info["w_group"]``, where present, says the weights were
    also rotated and swapped by ``transposed_to_direct(w, group=w_group)`` (backward undoes both)."""

    fn: Callable[..., Any]
    arrays: tuple[Any, ...]
    out_perm: tuple[int, ...] | None
    info: dict[str, Any] = field(default_factory=dict)
    in_perms: tuple[tuple[int, ...] | None, ...] = ()


def to_jax(a: np.ndarray, perm: Sequence[int] | None = None) -> Any:
    jnp = _jax().numpy
    if perm is not None:
        a = np.transpose(a, perm)
    return _jax().device_put(jnp.asarray(np.ascontiguousarray(a)))


_GRAD_NAMES = ("x", "w", "b")  # the differentiable arrays of a JaxCall, in order (image calls: x alone)


@dataclass
class JaxBackward:
    """A prepared backward check: ``fn(*primals)`` is the native call (the prepared forward's own function
    of its native arrays, every one differentiable), ``cotangent`` the canonical cotangent in the native
    output layout; ``call`` says how each native gradient goes back to its canonical tensor."""

    fn: Callable[..., Any]
    primals: tuple[Any, ...]
    cotangent: Any
    names: tuple[str, ...]
    call: JaxCall
    info: dict[str, Any] = field(default_factory=dict)


def _native_cotangent(call: JaxCall, cotangent: np.ndarray) -> Any:
    """The canonical cotangent in the native output layout, checked against the output's shape and dtype
    (jax.vjp takes a cotangent of exactly the primal output's aval)."""
    jax = _jax()
    out = jax.eval_shape(call.fn, *call.arrays)
    perm = _inverse(call.out_perm) if call.out_perm is not None else None
    ct = to_jax(cotangent, perm)
    if ct.shape != out.shape or ct.dtype != out.dtype:
        raise ValueError(f"cotangent {ct.dtype}{list(ct.shape)} (native layout) is not the output's "
                         f"{out.dtype}{list(out.shape)}")
    return ct


def _grads_to_canonical(grads: Sequence[Any], prepared: JaxBackward) -> dict[str, np.ndarray]:
    """Native gradients -> canonical layout: the inverse of each input permutation, then (weights that
    prepare turned from canonical transposed to direct) ``direct_to_transposed``, the inverse permutation
    of ``transposed_to_direct``. Dtypes stay JAX's."""
    call = prepared.call
    out = {}
    for name, g, perm in zip(prepared.names, grads, call.in_perms or (None,) * len(grads)):
        a = np.asarray(g)
        if perm is not None:
            a = a.transpose(_inverse(perm))
        if name == "w" and "w_group" in call.info:
            from ..reference import direct_to_transposed

            a = direct_to_transposed(a, group=call.info["w_group"])
        out[name] = np.ascontiguousarray(a)
    return out


def _vjp(prepared: JaxBackward) -> tuple[Any, ...]:
    """jax.vjp of the native call and its pullback of the cotangent, blocked until ready."""
    jax = _jax()
    _, pullback = jax.vjp(prepared.fn, *prepared.primals)
    return jax.block_until_ready(pullback(prepared.cotangent))


class JaxBinding(Binding):
    framework = "jax"

    def execute(self, prepared: JaxCall) -> Any:
        return prepared.fn(*prepared.arrays).block_until_ready()

    def to_canonical(self, out: Any, prepared: JaxCall) -> np.ndarray:
        a = np.asarray(out)
        return np.ascontiguousarray(a.transpose(prepared.out_perm)) if prepared.out_perm is not None else a

    def backward_unsupported(self, case: Case) -> Unsupported | None:
        """uint8: no gradient; every float dtype differentiates through jax.vjp (float16/bfloat16 included)."""
        if case.dtype == "uint8":
            return Unsupported("integer tensors have no gradient")
        return None

    def prepare_backward(self, call: NativeCall, tensors: Mapping[str, np.ndarray], cotangent: np.ndarray,
                         device: str = "cpu") -> JaxBackward:
        """The native arrays as :meth:`prepare` builds them (x; w, b for convolutions) and the prepared
        call's function of them; the cotangent in the native output layout."""
        p = self.prepare(call, tensors, device)
        return JaxBackward(p.fn, p.arrays, _native_cotangent(p, cotangent), _GRAD_NAMES[:len(p.arrays)], p)

    def execute_backward(self, prepared: JaxBackward) -> Any:
        return _vjp(prepared)

    def grads_to_canonical(self, out: Any, prepared: JaxBackward) -> dict[str, np.ndarray]:
        return _grads_to_canonical(out, prepared)


def _strategies() -> Any:
    from hypothesis import strategies

    return strategies


_ABSENT = object()


def _args(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not _ABSENT}


def _maybe(st: Any, value: Any) -> Any:
    return st.one_of(st.just(_ABSENT), value)


def _int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _ratio(v: Any) -> Fraction:
    return exact_ratio(float(v)) if not isinstance(v, Fraction) else v


# ----------------------------------------------------------------------------------- resize

_LINEAR = ("linear", "bilinear", "trilinear", "triangle")
_CUBIC = ("cubic", "bicubic", "tricubic")
_CUBIC_PT = ("cubic-pytorch", "bicubic-pytorch")
_METHODS = ("nearest", *_LINEAR, "lanczos3", "lanczos5", *_CUBIC, *_CUBIC_PT, "area")


def _kernel_meaning(method: str, antialias: bool, api: str) -> dict[str, Any] | Unsupported:
    """Canonical mode parameters of a (non-nearest) JAX method, and ``edge_padding`` (cubic-pytorch
    without antialias clamps taps to the edge and zeroes no sample)."""
    if method in _LINEAR:
        return {"mode": "linear", "antialias": antialias, "exclude_outside": antialias, "edge_padding": False}
    if method in _CUBIC or (method in _CUBIC_PT and antialias):
        return {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": True, "antialias": antialias,
                "edge_padding": False}
    if method in _CUBIC_PT:
        return {"mode": "cubic", "cubic_coeff_a": -0.75, "exclude_outside": False, "antialias": False,
                "edge_padding": True}
    if method == "area":
        return {"mode": "area", "edge_padding": False}
    if method in ("lanczos3", "lanczos5"):
        return Unsupported(f"{api} method {method!r} (a Lanczos kernel) has no ONNX Resize equivalent")
    return Unsupported(f"{api} raises: Unknown resize method {method!r}")


def _native_shape_to_sizes(shape: Sequence[int], x: tuple[int, ...]) -> list[int]:
    nd = len(x)
    return [int(shape[_inverse(_channels_last_perm(nd))[a]]) for a in range(nd)]


def _sizes_to_native(sizes: Sequence[int]) -> list[int]:
    return [int(sizes[a]) for a in _channels_last_perm(len(sizes))]


def _check_shape(shape: Any, x: tuple[int, ...], api: str) -> list[int] | Unsupported:
    if not isinstance(shape, (list, tuple)) or not all(_int(v) for v in shape):
        return Unsupported(f"{api} raises: shape must be a sequence of integers; got {shape!r}")
    if len(shape) != len(x):
        return Unsupported(f"{api} raises: shape must have length equal to the number of dimensions of x; "
                           f"{list(shape)} vs rank {len(x)}")
    sizes = _native_shape_to_sizes(shape, x)
    if any(v < 0 for v in sizes):
        return Unsupported(f"{api} raises: negative size in shape {list(shape)}")
    if any(o == 0 and i > 0 for o, i in zip(sizes, x)):
        return Unsupported(f"{api} with an empty output axis (shape {list(shape)}) has no canonical resize")
    if any(i == 0 and o > 0 for o, i in zip(sizes, x)):
        return Unsupported(f"{api} raises: it resizes an empty axis (input {x}, shape {list(shape)})")
    return sizes


class JaxImageResize(JaxBinding):
    """jax.image.resize(image, shape, method, antialias=True, precision=HIGHEST), NHWC."""

    name = "jax.image.resize"
    ops = ("resize", "repeat")  # repeat: method='nearest' to integer multiples (floor((i + 0.5) / r) = i // r)
    native_args = frozenset({"shape", "method", "antialias", "precision"})
    enum_args = {"method": _METHODS}

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("shape", "method"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        x = tuple(shapes["x"])
        sizes = _check_shape(args["shape"], x, self.name)
        if isinstance(sizes, Unsupported):
            return sizes
        method = args["method"]
        if method not in _METHODS:
            return Unsupported(f"{self.name} raises: Unknown resize method {method!r}")
        if op == "repeat":
            if method != "nearest":
                return Unsupported(f"{self.name} is a repeat only with method='nearest'")
            if sizes[:2] != list(x[:2]) or any(i == 0 or o % i for i, o in zip(x[2:], sizes[2:])):
                return Unsupported(f"{self.name} to shape {list(args['shape'])} is no integer repeat of {x} on the "
                                   "spatial axes")
            return {"repeats": [o // i for i, o in zip(x[2:], sizes[2:])]}
        if method == "nearest":  # antialias and precision are ignored
            p: dict[str, Any] = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                                 "nearest_mode": "round_prefer_ceil"}
        else:
            k = _kernel_meaning(method, bool(args.get("antialias", True)), self.name)
            if isinstance(k, Unsupported):
                return k
            p = {key: v for key, v in k.items() if key != "edge_padding"}
            p["coordinate_transformation_mode"] = "half_pixel"
        p["sizes"] = sizes
        return normalize("resize", p, shapes)

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op == "repeat":
            r = case.normal_form()["repeats"]
            x = case.shapes["x"]
            shape = _sizes_to_native([x[0], x[1], *(v * f for v, f in zip(x[2:], r))])
            return NativeCall(self.name, {"shape": shape, "method": "nearest"},
                              notes=("shape is NHWC; nearest at an integer factor r picks floor((i + 0.5) / r) = i // r",))
        if case.op != "resize":
            return unsupported_op(self, case.op)
        n = self.normal_form(case)
        if "keep_aspect_ratio_policy" in n:
            return Unsupported(f"{self.name} has no keep_aspect_ratio_policy equivalent")
        if "scales" in n:
            return Unsupported(f"{self.name} takes an output shape, so its coordinates use out/in; the case's "
                               f"scales {n['scales']} differ (jax.image.scale_and_translate takes a scale)")
        if n["mode"] != "nearest" and case.dtype == "uint8":
            return Unsupported(f"{self.name} (method {n['mode']}) returns a float array for uint8 input "
                               "(documented): no uint8 result to compare")
        shape = _sizes_to_native(n["sizes"])
        for method, aa in (("nearest", None), ("linear", None), ("linear", False), ("cubic", None),
                           ("cubic", False), ("cubic-pytorch", False), ("area", None)):
            args: dict[str, Any] = {"shape": shape, "method": method}
            if aa is not None:
                args["antialias"] = aa
            if self.from_native(args, case.shapes) == n:
                return NativeCall(self.name, args, notes=("shape is NHWC (channels last): the input is "
                                                          "transposed NCHW -> NHWC and back",))
        mode, ctm = n["mode"], n["coordinate_transformation_mode"]
        if ctm != "half_pixel" and not (mode == "nearest" and ctm == "half_pixel"):
            return Unsupported(f"{self.name} uses half-pixel centres only (scale out/in, no translation); not {ctm}"
                               + (" (no align_corners: jax#11206; scale_and_translate emulates it)"
                                  if ctm == "align_corners" else ""))
        if mode == "nearest":
            return Unsupported(f"{self.name} nearest is floor((i + 0.5) * in / out) (half_pixel + round_prefer_ceil);"
                               f" not {n['nearest_mode']}")
        if mode == "cubic":
            return Unsupported(f"{self.name} cubic is Keys a=-0.5 with exclude_outside=1, or (cubic-pytorch, "
                               f"antialias=False) a=-0.75 clamped; not a={n['cubic_coeff_a']}, "
                               f"exclude_outside={int(n['exclude_outside'])}, antialias={int(n['antialias'])}")
        if mode == "linear":
            return Unsupported(f"{self.name} antialias drops taps outside the image (exclude_outside=1)")
        return Unsupported(f"{self.name} has no adaptive average pooling ('adaptive_avg'); its 'area' is exact "
                           "fractional coverage")

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 3))
            x = (d(st.integers(1, 2)), d(st.integers(1, 3)), *[d(st.integers(1, 9 if k < 3 else 5)) for _ in range(k)])
            if op == "repeat":
                out = [v * d(st.integers(1, 3)) + (1 if d(st.integers(0, 9)) == 0 else 0) for v in x[2:]]
                dt = d(st.sampled_from(_DTYPES_ANY))
                return {"args": {"shape": _sizes_to_native([*x[:2], *out]), "method": "nearest"}, "shapes": {"x": x},
                        "dtype": dt}
            out = [d(st.integers(1, 12 if k < 3 else 6)) for _ in range(k)]
            sizes = [x[0], x[1], *out]
            if d(st.integers(0, 9)) == 0:  # resize N or C too (JAX resizes every axis whose size changes)
                sizes[1] = d(st.integers(1, 4))
            method = d(st.sampled_from(_METHODS))
            dt = d(st.sampled_from(["float32", "float64", "float16", "bfloat16", "uint8"]))
            if method != "nearest" and dt == "uint8":
                dt = "float32"
            a = {"shape": _sizes_to_native(sizes), "method": method, "antialias": d(_maybe(st, st.booleans()))}
            return {"args": _args(a), "shapes": {"x": x}, "dtype": dt}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> JaxCall:
        jax = _jax()
        x = tensors["x"]
        kw = dict(call.args)
        shape = tuple(kw.pop("shape"))

        def fn(v: Any) -> Any:
            return jax.image.resize(v, shape, **kw)

        return JaxCall(fn, (to_jax(x, _channels_last_perm(x.ndim)),), _inverse(_channels_last_perm(x.ndim)),
                       in_perms=(_channels_last_perm(x.ndim),))


# --- scale_and_translate


def _coordinate_map(n: Mapping[str, Any], axis: int, in_len: int, out_len: int,
                    scale: Fraction) -> tuple[Fraction, Fraction] | Unsupported:
    """x_in = A * i + B, exactly, for the canonical coordinate mode (docs: reference/resize.py)."""
    ctm = n["coordinate_transformation_mode"]
    length = scale * in_len if "scales" in n and n.get("align_corners_length", "scaled") == "scaled" else \
        Fraction(out_len)
    if ctm == "half_pixel":
        return 1 / scale, 1 / (2 * scale) - Fraction(1, 2)
    if ctm == "pytorch_half_pixel":
        if length > 1:
            return 1 / scale, 1 / (2 * scale) - Fraction(1, 2)
        return 1 / scale, Fraction(0)
    if ctm == "asymmetric":
        return 1 / scale, Fraction(0)
    if ctm == "half_pixel_symmetric":
        adj = Fraction(in_len, 2) * (1 - Fraction(out_len) / (scale * in_len))
        return 1 / scale, adj + 1 / (2 * scale) - Fraction(1, 2)
    if ctm == "align_corners":
        if length <= 1:
            return 1 / scale, Fraction(0)  # x = 0 (one output pixel)
        if in_len == 1:
            return Unsupported("align_corners from one pixel: scale (out - 1) / (in - 1) is infinite")
        return Fraction(in_len - 1) / (length - 1), Fraction(0)
    return Unsupported(f"jax.image.scale_and_translate has no {ctm} coordinates "
                       + ("(nearest only)" if ctm == "tf_half_pixel_for_nn" else "(extrapolation outside the box)"))


def _st_geometry(n: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], jax_antialias: bool,
                 edge_padding: bool) -> dict[int, tuple[Fraction, Fraction]] | Unsupported:
    """{canonical axis: (scale, translation)} of scale_and_translate for a canonical resize, for every axis
    that is not the identity; Unsupported where JAX would compute something else."""
    x = tuple(shapes["x"])
    out = resize_output_shape(n, shapes)
    res: dict[int, tuple[Fraction, Fraction]] = {}
    for a, (i, o) in enumerate(zip(x, out)):
        sc = _ratio(n["scales"][a]) if "scales" in n else (Fraction(o, i) if i else Fraction(1))
        if i == 0 or (i == o and sc == 1):
            continue
        m = _coordinate_map(n, a, i, o, sc)
        if isinstance(m, Unsupported):
            return m
        big_a, big_b = m
        if big_a == 0:
            return Unsupported("every output samples one input coordinate: JAX's scale would be infinite")
        s = 1 / big_a
        t = Fraction(1, 2) - s * (big_b + Fraction(1, 2))
        lo, hi = big_b, big_a * (o - 1) + big_b
        if not edge_padding and (min(lo, hi) < Fraction(-1, 2) or max(lo, hi) > Fraction(2 * i - 1, 2)):
            return Unsupported(f"axis {a}: input coordinates {float(lo):g}..{float(hi):g} leave [-0.5, {i - 0.5}]: "
                               "scale_and_translate gives 0 there (the canonical modes clamp)")
        if n["mode"] != "area":
            canon = 1 / min(sc, Fraction(1)) if n.get("antialias") else Fraction(1)
            mine = max(1 / s, Fraction(1)) if jax_antialias else Fraction(1)
            if canon != mine:
                return Unsupported(f"axis {a}: JAX stretches the kernel by {float(mine):g} (antialias="
                                   f"{jax_antialias}, max(1 / scale, 1) with scale {float(s):g}); the case by "
                                   f"{float(canon):g}")
        res[a] = (s, t)
    return res


class JaxScaleAndTranslate(JaxBinding):
    """jax.image.scale_and_translate(image, shape, spatial_dims, scale, translation, method,
    antialias=True, precision=HIGHEST), NHWC."""

    name = "jax.image.scale_and_translate"
    ops = ("resize",)
    native_args = frozenset({"shape", "spatial_dims", "scale", "translation", "method", "antialias", "precision"})
    enum_args = {"method": _METHODS}

    def _candidates(self, k: dict[str, Any], x: tuple[int, ...], sizes: list[int],
                    st: dict[int, tuple[Fraction, Fraction]]) -> list[dict[str, Any]]:
        base = {key: v for key, v in k.items() if key != "edge_padding"}
        if k["mode"] == "area":
            return [{**base, "sizes": sizes}]
        ctms = ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel", "half_pixel_symmetric")
        out = [{**base, "coordinate_transformation_mode": ctm, "sizes": sizes} for ctm in ctms]  # sizes first
        for ctm in ctms:
            scales = [1.0] * len(x)
            for a, (s, _) in st.items():
                sc = (s * (x[a] - 1) + 1) / x[a] if ctm == "align_corners" else s
                scales[a] = float(sc)
            out.append({**base, "coordinate_transformation_mode": ctm, "scales": scales})
        return out

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("shape", "spatial_dims", "scale", "translation", "method"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        x = tuple(shapes["x"])
        nd = len(x)
        sizes = _check_shape(args["shape"], x, self.name)
        if isinstance(sizes, Unsupported):
            return sizes
        method = args["method"]
        if method == "nearest":
            return Unsupported(f"{self.name} raises: Nearest neighbor resampling is not currently supported")
        aa = bool(args.get("antialias", True))
        k = _kernel_meaning(method, aa, self.name)
        if isinstance(k, Unsupported):
            return k
        dims, sc, tr = list(args["spatial_dims"]), list(args["scale"]), list(args["translation"])
        if not len(dims) == len(sc) == len(tr) or not all(_int(d) and -nd <= d < nd for d in dims):
            return Unsupported(f"{self.name} raises: spatial_dims {dims}, scale {sc}, translation {tr} must have "
                               f"one entry each per axis of a rank-{nd} array")
        canon = [_native_axis_to_canonical(int(d) % nd, nd) for d in dims]
        if len(set(canon)) != len(canon):
            return Unsupported(f"{self.name}: spatial_dims {dims} names an axis twice")
        if any(not np.isfinite(float(v)) or float(v) <= 0 for v in sc):
            return Unsupported(f"{self.name} with scale {sc}: only positive finite scales sample the image")
        st = {}
        for a, s, t in zip(canon, sc, tr):
            if not np.isfinite(float(t)):
                return Unsupported(f"{self.name} with translation {t}: not finite")
            s_, t_ = _ratio(s), _ratio(t)
            if s_ == 1 and t_ == 0 and sizes[a] == x[a]:
                continue  # the identity (the kernels interpolate)
            st[a] = (s_, t_)
        for a in range(nd):
            if a not in canon and sizes[a] != x[a]:
                return Unsupported(f"{self.name} raises: axis {a} changes size but is not in spatial_dims")
        if any(x[a] == 0 for a in st):
            return Unsupported(f"{self.name} on an empty axis")
        for p in self._candidates(k, x, sizes, st):
            try:
                n = normalize("resize", p, shapes)
            except ValueError:
                continue
            if list(resize_output_shape(n, shapes)) != sizes:
                continue
            if k["mode"] == "area":
                if any(s != Fraction(sizes[a], x[a]) or t != 0 for a, (s, t) in st.items()):
                    return Unsupported(f"{self.name} method 'area' with a scale other than out/in or a translation: "
                                       "boxes that do not tile the input have no canonical area")
                return n
            if _st_geometry(n, shapes, aa, k["edge_padding"]) == st:
                return n
        return Unsupported(f"{self.name}: scale {sc} with translation {tr} on spatial_dims {dims} is no canonical "
                           "coordinate mode (half_pixel, align_corners, asymmetric, pytorch_half_pixel, "
                           "half_pixel_symmetric) on these sizes, or samples outside the image (zeros)")

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "resize":
            return unsupported_op(self, case.op)
        n = self.normal_form(case)
        x = tuple(case.shapes["x"])
        nd = len(x)
        if "keep_aspect_ratio_policy" in n:
            return Unsupported(f"{self.name} has no keep_aspect_ratio_policy equivalent")
        mode = n["mode"]
        if mode == "nearest":
            return Unsupported(f"{self.name} raises for nearest ('not currently supported'); jax.image.resize has it")
        if mode == "adaptive_avg":
            return Unsupported(f"{self.name} has no adaptive average pooling")
        if case.dtype == "uint8":
            return Unsupported(f"{self.name} returns a float array for uint8 input: no uint8 result to compare")
        aa = bool(n.get("antialias", False))
        if mode == "linear":
            if aa and not n["exclude_outside"]:
                return Unsupported(f"{self.name} drops taps outside the image (exclude_outside=1)")
            method, edge = "linear", False
        elif mode == "cubic":
            a, ex = n["cubic_coeff_a"], n["exclude_outside"]
            if (a, ex) == (-0.5, True):
                method, edge = "cubic", False
            elif (a, ex, aa) == (-0.75, False, False):
                method, edge = "cubic-pytorch", True
            else:
                return Unsupported(f"{self.name} cubic is Keys a=-0.5 with exclude_outside=1, or (cubic-pytorch, "
                                   f"antialias=False) a=-0.75 clamped; not a={a}, exclude_outside={int(ex)}, "
                                   f"antialias={int(aa)}")
        else:
            method, edge = "area", False
            if "scales" in n or n["coordinate_transformation_mode"] != "half_pixel":
                return Unsupported(f"{self.name} area boxes tile the input only with scale out/in")
        out = list(resize_output_shape(n, case.shapes))
        geo = _st_geometry(n, case.shapes, aa, edge)
        if isinstance(geo, Unsupported):
            return geo
        if not geo:
            geo = {nd - 1 if nd > 2 else 0: (Fraction(1), Fraction(0))}  # nothing changes: one identity axis
        perm = _inverse(_channels_last_perm(nd))  # canonical axis -> native axis
        axes = sorted(geo, key=lambda a: perm[a])
        args = {"shape": _sizes_to_native(out), "spatial_dims": [perm[a] for a in axes],
                "scale": [float(geo[a][0]) for a in axes], "translation": [float(geo[a][1]) for a in axes],
                "method": method, "antialias": aa if method != "cubic-pytorch" else False}
        back = self.from_native(args, case.shapes)
        if back != n:
            return Unsupported(f"{self.name}: the call that computes this case also means {back} "
                               "(upconform reads it so)")
        return NativeCall(self.name, args, notes=("shape and spatial_dims are NHWC (channels last)",
                                                  "input coordinate x = (i + 0.5 - translation) / scale - 0.5"))

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()
        scales = st.sampled_from([2.0, 0.5, 1.5, 3.0, 0.75, 1.0, 0.3, 2.5])
        trans = st.sampled_from([0.0, -0.5, 0.5, 0.25, -1.0, 1.0])

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 2))
            x = (d(st.integers(1, 2)), d(st.integers(1, 3)), *[d(st.integers(1, 8)) for _ in range(k)])
            style = d(st.sampled_from(["half_pixel", "align_corners", "asymmetric", "free"]))
            dims, sc, tr, out = [], [], [], list(x)
            for j in range(k):
                i = x[2 + j]
                if style == "align_corners" and i > 1:
                    o = d(st.integers(2, 12))
                    s = Fraction(o - 1, i - 1)
                    t = Fraction(1, 2) - s / 2
                else:
                    s = Fraction(d(scales)).limit_denominator(100)
                    o = d(st.integers(1, 12)) if d(st.integers(0, 4)) == 4 else max(1, int(i * s))
                    t = Fraction(0) if style == "half_pixel" else Fraction(1, 2) - s / 2 \
                        if style == "asymmetric" else Fraction(d(trans))
                dims.append(1 + j)
                sc.append(float(s))
                tr.append(float(t))
                out[2 + j] = o
            method = d(st.sampled_from(["linear", "cubic", "cubic-pytorch", "area", "lanczos3", "nearest", "bilinear"]))
            a = {"shape": _sizes_to_native(out), "spatial_dims": dims, "scale": sc, "translation": tr,
                 "method": method, "antialias": d(_maybe(st, st.booleans()))}
            return {"args": _args(a), "shapes": {"x": x}, "dtype": d(st.sampled_from(["float32", "float64"]))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> JaxCall:
        jax = _jax()
        x = tensors["x"]
        kw = dict(call.args)
        shape, dims = tuple(kw.pop("shape")), tuple(kw.pop("spatial_dims"))
        scale = np.asarray(kw.pop("scale"), dtype=np.float64)
        trans = np.asarray(kw.pop("translation"), dtype=np.float64)

        def fn(v: Any) -> Any:
            return jax.image.scale_and_translate(v, shape, dims, scale, trans, **kw)

        return JaxCall(fn, (to_jax(x, _channels_last_perm(x.ndim)),), _inverse(_channels_last_perm(x.ndim)),
                       in_perms=(_channels_last_perm(x.ndim),))


# ----------------------------------------------------------------------------------- conv_transpose

_DEFAULT_DN = {1: ("NHC", "HIO", "NHC"), 2: ("NHWC", "HWIO", "NHWC"), 3: ("NHWDC", "HWDIO", "NHWDC")}
_FIRST_DN = {1: ["NCH", "OIH", "NCH"], 2: ["NCHW", "OIHW", "NCHW"], 3: ["NCDHW", "OIDHW", "NCDHW"]}


@dataclass(frozen=True)
class _Specs:
    """Native layouts: perms from canonical (N, C, *sp) / (O, I, *k) to the call's arrays."""

    lhs: tuple[int, ...]
    rhs: tuple[int, ...]
    out: tuple[int, ...]


def _dimension_numbers(dn: Any, k: int, api: str, channels_first: bool = False) -> _Specs | Unsupported:
    """JAX's rule (lax.conv_general_permutations): spatial axes in the order the kernel spec names them;
    the input and output specs name the same letters in any order. None is the API's default:
    conv_transpose NHWC / HWIO, conv_general_dilated (``channels_first``) NCHW / OIHW."""
    if dn is None:
        dn = (_FIRST_DN if channels_first else _DEFAULT_DN).get(k)
        if dn is None:
            return Unsupported(f"{api} raises: No 4+ dimensional dimension_number defaults")
    if not isinstance(dn, (list, tuple)) or len(dn) != 3 or not all(isinstance(s, str) for s in dn):
        return Unsupported(f"{api}: dimension_numbers {dn!r} is not three spec strings (ConvDimensionNumbers "
                           "objects are not modelled)")
    lhs, rhs, out = dn
    if not (len(lhs) == len(rhs) == len(out) == k + 2):
        return Unsupported(f"{api} raises: dimension_numbers {list(dn)} do not have rank {k + 2}")
    sp = [c for c in rhs if c not in "OI"]
    if sorted(rhs) != sorted(["O", "I", *sp]) or len(set(rhs)) != k + 2 or \
            sorted(lhs) != sorted(["N", "C", *sp]) or sorted(out) != sorted(["N", "C", *sp]):
        return Unsupported(f"{api} raises: dimension_numbers {list(dn)} must name N, C / O, I and the same spatial "
                           "letters once each")

    def perm(spec: str, pair: str) -> tuple[int, ...]:
        return tuple(0 if c == pair[0] else 1 if c == pair[1] else 2 + sp.index(c) for c in spec)

    return _Specs(perm(lhs, "NC"), perm(rhs, "OI"), perm(out, "NC"))


def _native_padding(pad: Any, lhs_dilation: list[int], x: tuple[int, ...], k_eff: list[int],
                      api: str) -> list[Any] | Unsupported:
    """The (low, high) pads of the correlation that conv_general_dilated runs (both JAX transposed-convolution
    bindings reach it): a string padding ('SAME', 'VALID') only without input dilation, as JAX raises
    otherwise, else explicit pairs.

    Example:
        >>> _native_padding([[1, 2], [0, 0]], [2, 2], (1, 1, 3, 3), [3, 3], "f")
        [(1, 2), (0, 0)]
    """
    k = len(k_eff)
    if not isinstance(pad, str):
        return _pairs(pad, k, api)
    if any(v != 1 for v in lhs_dilation):
        return Unsupported(f"{api} raises: padding {pad!r} with lhs_dilation > 1 ('String padding is not implemented "
                           "for transposed convolution using this op')")
    got = [_padtype(pad, x[2 + i], k_eff[i]) for i in range(k)]
    if any(v is None for v in got):
        return Unsupported(f"{api} raises: Unrecognized padding type {pad!r}")
    return [v for v in got if v is not None]


def _ints(v: Any, k: int, api: str, what: str, minimum: int = 1) -> list[int] | Unsupported:
    if v is None:
        return [1] * k
    vals = list(v) if isinstance(v, (list, tuple)) else None
    if vals is None or len(vals) != k or not all(_int(e) for e in vals):
        return Unsupported(f"{api} raises: {what} must be {k} integers; got {v!r}")
    if any(e < minimum for e in vals):
        return Unsupported(f"{api} raises: {what} must be >= {minimum}; got {vals}")
    return [int(e) for e in vals]


def _pairs(v: Any, k: int, api: str) -> list[tuple[int, int]] | Unsupported:
    if not isinstance(v, (list, tuple)) or len(v) != k or \
            not all(isinstance(p, (list, tuple)) and len(p) == 2 and all(_int(e) for e in p) for p in v):
        return Unsupported(f"{api} raises: padding {v!r} is not 'SAME', 'VALID' or {k} (low, high) pairs")
    return [(int(a), int(b)) for a, b in v]


def _padtype(pad: str, in_len: int, k_eff: int) -> tuple[int, int] | None:
    """lax.padtype_to_pads at window stride 1 (SAME, SAME_LOWER, VALID; case-insensitive)."""
    p = pad.upper()
    total = max(k_eff - 1, 0)
    if p == "VALID":
        return 0, 0
    if p == "SAME":
        return total // 2, total - total // 2
    if p == "SAME_LOWER":
        return total - total // 2, total // 2
    return None


def _transpose_padding(k_eff: int, s: int, p: Any) -> tuple[int, int]:
    """jax/_src/lax/convolution.py _conv_transpose_padding."""
    if p == "SAME":
        pad_len = k_eff + s - 2
        pad_a = k_eff - 1 if s > k_eff - 1 else -(-pad_len // 2)
    elif p == "VALID":
        pad_len = k_eff + s - 2 + max(k_eff - s, 0)
        pad_a = k_eff - 1
    else:
        pads = tuple(k_eff - v - 1 for v in p)
        pad_a, pad_len = pads[0], sum(pads)
    return pad_a, pad_len - pad_a


def _correlation_meaning(shapes: Mapping[str, tuple[int, ...]], lhs_dil: list[int], pads: list[tuple[int, int]],
                         rhs_dil: list[int], group: int, convention: str, api: str) -> dict[str, Any] | Unsupported:
    """The canonical ConvTranspose that correlating the zero-inserted (lhs_dil), padded input with the
    (dilated) kernel computes: begin = k_eff - 1 - low pad."""
    x, w = tuple(shapes["x"]), tuple(shapes["w"])
    k = len(x) - 2
    begins, outs = [], []
    for i in range(k):
        k_eff = (w[2 + i] - 1) * rhs_dil[i] + 1
        length = (x[2 + i] - 1) * lhs_dil[i] + 1 + pads[i][0] + pads[i][1] - (k_eff - 1)
        if x[2 + i] == 0 or length < 1:
            return Unsupported(f"{api}: output length {length} on spatial axis {i} (empty or negative)")
        begin = k_eff - 1 - pads[i][0]
        if begin < 0:
            return Unsupported(f"{api}: low pad {pads[i][0]} > k_eff - 1 = {k_eff - 1} on axis {i} adds zero rows "
                               "before the full output: no canonical ConvTranspose")
        begins.append(begin)
        outs.append(length)
    pads_c, extra = pads_from_begins(x, w, lhs_dil, rhs_dil, begins, outs)
    try:
        return normalize("conv_transpose", {"strides": lhs_dil, "dilations": rhs_dil, "pads": pads_c,
                                            "output_padding": extra, "group": group,
                                            "weight_convention": convention}, shapes)
    except ValueError as e:
        return Unsupported(f"{api}: {e}")


def _correlation_pads(n: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> list[tuple[int, int]]:
    """Correlation (low, high) pads of a canonical normal form: low = k_eff - 1 - begin."""
    x, w = shapes["x"], shapes["w"]
    k = len(x) - 2
    out = []
    for i in range(k):
        k_eff = (w[2 + i] - 1) * n["dilations"][i] + 1
        lo = k_eff - 1 - n["pads"][i]
        hi = n["output_spatial"][i] + (k_eff - 1) - ((x[2 + i] - 1) * n["strides"][i] + 1) - lo
        out.append((lo, hi))
    return out


def _conv_shapes(st: Any, rank: int, group: Any, direct: bool) -> Any:
    def build(n: int, g: int, cig: int, cog: int, sp: tuple, ker: tuple, bias: bool) -> dict[str, tuple[int, ...]]:
        w = (g * cog, cig, *ker) if direct else (g * cig, cog, *ker)
        out = {"x": (n, g * cig, *sp), "w": w}
        if bias:
            out["b"] = (g * cog,)
        return out

    return st.builds(build, st.integers(1, 2), group, st.integers(1, 3), st.integers(1, 3),
                     st.tuples(*[st.integers(1, 6)] * rank), st.tuples(*[st.integers(1, 4)] * rank), st.booleans())


class _JaxConv(JaxBinding):
    ops = ("conv_transpose",)
    channels_first = False  # what dimension_numbers=None means
    # what search_space draws: half precision accumulates on the CPU beyond the default tolerances on
    # near-zero outputs (a tolerance question, not a meaning; as for TF's conv-transpose search)
    dtypes = ("float32", "float64")

    def _prepare_conv(self, fn: Callable[..., Any], call: NativeCall, tensors: Mapping[str, np.ndarray],
                      kw: dict[str, Any]) -> JaxCall:
        jnp = _jax().numpy
        x, w = tensors["x"], tensors["w"]
        k = x.ndim - 2
        specs = _dimension_numbers(call.args.get("dimension_numbers"), k, self.name, self.channels_first)
        assert not isinstance(specs, Unsupported), specs
        g = int(call.args.get("feature_group_count", 1))
        info: dict[str, Any] = {}
        if call.prep.get("to_direct") or (self.name == JaxConvGeneralDilated.name
                                          and _direct_reading(x.shape, w.shape, g) == "transposed"):
            from ..reference import transposed_to_direct

            w = transposed_to_direct(w, group=g).astype(w.dtype)
            info["w_group"] = g
        dn = call.args.get("dimension_numbers")
        if dn is not None:
            kw["dimension_numbers"] = tuple(dn)
        b = tensors.get("b")
        arrays = [to_jax(x, specs.lhs), to_jax(w, specs.rhs)]
        c_axis = specs.out.index(1)
        if b is not None:
            arrays.append(to_jax(b))

        def run(xv: Any, wv: Any, *bv: Any) -> Any:
            y = fn(xv, wv, **kw)
            if bv:
                shape = [1] * (k + 2)
                shape[c_axis] = -1
                y = y + jnp.reshape(bv[0], shape)
            return y

        perms = (specs.lhs, specs.rhs, None)[:len(arrays)]
        return JaxCall(run, tuple(arrays), _inverse(specs.out), info, perms)


class JaxConvTranspose(_JaxConv):
    """jax.lax.conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
    transpose_kernel=False, precision=None, preferred_element_type=None, use_consistent_padding=False)."""

    name = "jax.lax.conv_transpose"
    native_args = frozenset({"strides", "padding", "rhs_dilation", "dimension_numbers", "transpose_kernel",
                             "precision", "preferred_element_type", "use_consistent_padding"})

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("strides", "padding"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        x, w = tuple(shapes["x"]), tuple(shapes["w"])
        k = len(x) - 2
        if len(w) != len(x):
            return Unsupported(f"{self.name} raises: lhs and rhs ranks differ")
        specs = _dimension_numbers(args.get("dimension_numbers"), k, self.name)
        if isinstance(specs, Unsupported):
            return specs
        st = _ints(args["strides"], k, self.name, "strides")
        dl = _ints(args.get("rhs_dilation"), k, self.name, "rhs_dilation")
        if isinstance(st, Unsupported) or isinstance(dl, Unsupported):
            return st if isinstance(st, Unsupported) else dl
        tk = bool(args.get("transpose_kernel", False))
        # canonical w axis 0 is the spec's O: with transpose_kernel JAX swaps O and I (O holds C_in)
        if (w[0] if tk else w[1]) != x[1]:
            return Unsupported(f"{self.name} raises: the kernel's {'O' if tk else 'I'} axis ({w[0] if tk else w[1]}) "
                               f"is not the input's {x[1]} channels (transpose_kernel={tk})")
        k_eff = [(w[2 + i] - 1) * dl[i] + 1 for i in range(k)]
        pad = args["padding"]
        consistent = bool(args.get("use_consistent_padding", False))
        if consistent or pad in ("SAME", "VALID"):
            if isinstance(pad, str):
                if pad not in ("SAME", "VALID"):
                    return Unsupported(f"{self.name} raises: Invalid padding mode: {pad!r}")
                per = [pad] * k
            else:
                pairs = _pairs(pad, k, self.name)
                if isinstance(pairs, Unsupported):
                    return pairs
                per = pairs  # JSON pairs are passed as tuples (JAX rejects lists here: 'Invalid padding mode')
            pads = [_transpose_padding(k_eff[i], st[i], per[i]) for i in range(k)]
        else:
            got = _native_padding(pad, st, x, k_eff, self.name)
            if isinstance(got, Unsupported):
                return got
            pads = got
        return _correlation_meaning(shapes, st, pads, dl, 1, "transposed" if tk else "direct", self.name)

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "conv_transpose":
            return unsupported_op(self, case.op)
        k = spatial_rank(case.shapes)
        if not 1 <= k <= 3:
            return Unsupported(f"{self.name}: {k}-D is not modelled")
        n = self.normal_form(case)
        if n["group"] != 1:
            return Unsupported(f"{self.name} takes no feature_group_count: groups need "
                               "jax.lax.conv_general_dilated(feature_group_count=...)")
        direct = n["weight_convention"] == "direct"
        pads = _correlation_pads(n, case.shapes)
        args: dict[str, Any] = {"strides": list(n["strides"])}
        w = case.shapes["w"]
        k_eff = [(w[2 + i] - 1) * n["dilations"][i] + 1 for i in range(k)]
        for s in ("SAME", "VALID"):
            if all(_transpose_padding(k_eff[i], n["strides"][i], s) == pads[i] for i in range(k)):
                args["padding"] = s
                break
        else:
            args["padding"] = [list(p) for p in pads]
        if any(d > 1 for d in n["dilations"]):
            args["rhs_dilation"] = list(n["dilations"])
        args["dimension_numbers"] = _FIRST_DN[k]
        args["transpose_kernel"] = not direct
        if self.from_native(args, case.shapes) != n:
            return Unsupported(f"{self.name} cannot express pads {n['pads']} with output {n['output_spatial']}")
        notes = ("dimension_numbers channels first: the canonical arrays as they are (w axis 0 is the spec's O)",
                 "transpose_kernel=True flips the kernel and swaps O/I: canonical (C_in, C_out, *k) weights"
                 if not direct else "transpose_kernel=False correlates with the kernel as given: direct weights "
                 "(C_out, C_in, *k), rotated relative to canonical")
        return NativeCall(self.name, args, notes=notes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 3))
            tk = d(st.booleans())
            shapes = d(_conv_shapes(st, k, st.just(1), direct=not tk))
            s = d(st.lists(st.integers(1, 3), min_size=k, max_size=k))
            dl = d(st.lists(st.integers(1, 2), min_size=k, max_size=k))
            style = d(st.sampled_from(["SAME", "VALID", "pairs", "consistent", "same"]))
            a: dict[str, Any] = {"strides": s}
            if style in ("SAME", "VALID", "same"):
                a["padding"] = style
            else:
                a["padding"] = [[d(st.integers(-1, 4)), d(st.integers(-1, 4))] for _ in range(k)]
                if style == "consistent":
                    a["use_consistent_padding"] = True
            if any(v > 1 for v in dl):
                a["rhs_dilation"] = dl
            if d(st.booleans()):
                a["dimension_numbers"] = _FIRST_DN[k]
            a["transpose_kernel"] = d(_maybe(st, st.just(tk)))
            if a["transpose_kernel"] is _ABSENT and tk:
                a["transpose_kernel"] = True
            return {"args": _args(a), "shapes": shapes, "dtype": d(st.sampled_from(self.dtypes))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> JaxCall:
        lax = _jax().lax
        kw = {key: v for key, v in call.args.items() if key != "dimension_numbers"}
        kw["strides"] = tuple(kw["strides"])
        if "rhs_dilation" in kw and kw["rhs_dilation"] is not None:
            kw["rhs_dilation"] = tuple(kw["rhs_dilation"])
        if not isinstance(kw["padding"], str):
            kw["padding"] = tuple(tuple(p) for p in kw["padding"])
        return self._prepare_conv(lax.conv_transpose, call, tensors, kw)


def _direct_reading(x: Sequence[int], w: Sequence[int], g: Any) -> str | None:
    """How canonical weights of shape ``w`` reach conv_general_dilated's kernel (O = C_out, I = C_in/g):
    ``direct`` as they are; ``transposed`` (C_in, C_out/g, *k) through transposed_to_direct (a case in
    canonical weights, as call.prep says); None: neither fits (JAX raises)."""
    if not _int(g) or g < 1 or x[1] % g:
        return None
    if w[1] * g == x[1] and w[0] % g == 0:
        return "direct"
    if w[0] == x[1]:
        return "transposed"
    return None


class JaxConvGeneralDilated(_JaxConv):
    """jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
    dimension_numbers=None, feature_group_count=1, batch_group_count=1, precision=None,
    preferred_element_type=None): with lhs_dilation = stride, a transposed convolution in its
    zero-insertion form."""

    name = "jax.lax.conv_general_dilated"
    channels_first = True
    native_args = frozenset({"window_strides", "padding", "lhs_dilation", "rhs_dilation", "dimension_numbers",
                             "feature_group_count", "batch_group_count", "precision", "preferred_element_type"})

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        for req in ("window_strides", "padding"):
            if req not in args:
                raise TypeError(f"{self.name}: missing required argument {req!r}")
        x, w = tuple(shapes["x"]), tuple(shapes["w"])
        k = len(x) - 2
        ws = _ints(args["window_strides"], k, self.name, "window_strides")
        specs = _dimension_numbers(args.get("dimension_numbers"), k, self.name, True)
        if isinstance(specs, Unsupported):
            return specs
        ld = _ints(args.get("lhs_dilation"), k, self.name, "lhs_dilation")
        dl = _ints(args.get("rhs_dilation"), k, self.name, "rhs_dilation")
        for v in (ws, ld, dl):
            if isinstance(v, Unsupported):
                return v
        if any(s != 1 for s in ws):  # type: ignore[union-attr]
            return Unsupported(f"{self.name} with window_strides {ws}: a strided correlation of the zero-inserted "
                               "input is no transposed convolution")
        if args.get("batch_group_count", 1) != 1:
            return Unsupported(f"{self.name} with batch_group_count > 1 (a weight-gradient form) is no transposed "
                               "convolution")
        g = args.get("feature_group_count", 1)
        reading = _direct_reading(x, w, g)
        if reading is None:
            return Unsupported(f"{self.name} raises: feature_group_count {g!r} with input channels {x[1]} and kernel "
                               f"O={w[0]}, I={w[1]}")
        k_eff = [(w[2 + i] - 1) * dl[i] + 1 for i in range(k)]  # type: ignore[index]
        pads = _native_padding(args["padding"], ld, x, k_eff, self.name)  # type: ignore[arg-type]
        if isinstance(pads, Unsupported):
            return pads
        return _correlation_meaning(shapes, ld, pads, dl, int(g), reading, self.name)  # type: ignore[arg-type]

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "conv_transpose":
            return unsupported_op(self, case.op)
        k = spatial_rank(case.shapes)
        if not 1 <= k <= 3:
            return Unsupported(f"{self.name}: {k}-D is not modelled")
        n = self.normal_form(case)
        g = n["group"]
        args: dict[str, Any] = {"window_strides": [1] * k, "padding": [list(p) for p in _correlation_pads(n, case.shapes)],
                                "lhs_dilation": list(n["strides"])}
        if any(d > 1 for d in n["dilations"]):
            args["rhs_dilation"] = list(n["dilations"])
        args["dimension_numbers"] = _FIRST_DN[k]
        if g > 1:
            args["feature_group_count"] = g
        to_direct = n["weight_convention"] == "transposed"
        back = self.from_native(args, case.shapes)
        if isinstance(back, Unsupported) or {**back, "weight_convention": n["weight_convention"]} != n:
            return Unsupported(f"{self.name} cannot express pads {n['pads']} with output {n['output_spatial']}")
        notes = ["zero insertion (lhs_dilation = stride) and correlation with padding (k_eff - 1 - begin, ...)"]
        if to_direct:
            notes.insert(0, "kernel rotated 180 degrees and in/out swapped: canonical (C_in, C_out/g, *k) -> "
                            "(C_out, C_in/g, *k) (OIHW)")
        return NativeCall(self.name, args, {"to_direct": to_direct, "group": g}, tuple(notes))

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 3))
            shapes = d(_conv_shapes(st, k, st.integers(1, 2), direct=True))
            ld = d(st.lists(st.integers(1, 3), min_size=k, max_size=k))
            dl = d(st.lists(st.integers(1, 2), min_size=k, max_size=k))
            a: dict[str, Any] = {"window_strides": [2] * k if d(st.integers(0, 9)) == 9 else [1] * k}
            k_eff = [(shapes["w"][2 + i] - 1) * dl[i] + 1 for i in range(k)]
            if d(st.integers(0, 5)) == 5:
                a["padding"] = d(st.sampled_from(["SAME", "VALID", "SAME_LOWER"]))
            else:  # low pads 0..k_eff - 1 (begin >= 0) mostly, one past now and then; high pads from -1
                a["padding"] = [[d(st.integers(0, k_eff[i])), d(st.integers(-1, k_eff[i]))] for i in range(k)]
            a["lhs_dilation"] = ld
            if any(v > 1 for v in dl):
                a["rhs_dilation"] = dl
            if d(st.booleans()):
                a["dimension_numbers"] = _FIRST_DN[k]
            g = shapes["w"][0] and shapes["x"][1] // shapes["w"][1]
            if g > 1:
                a["feature_group_count"] = g
            return {"args": a, "shapes": shapes, "dtype": d(st.sampled_from(self.dtypes))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> JaxCall:
        lax = _jax().lax
        kw = {key: v for key, v in call.args.items() if key != "dimension_numbers"}
        for key in ("window_strides", "lhs_dilation", "rhs_dilation"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        if not isinstance(kw["padding"], str):
            kw["padding"] = tuple(tuple(p) for p in kw["padding"])
        return self._prepare_conv(lax.conv_general_dilated, call, tensors, kw)


# ----------------------------------------------------------------------------------- repeat

_DTYPES_ANY = ("float32", "float64", "float16", "bfloat16", "uint8")


class JnpRepeat(JaxBinding):
    """jnp.repeat(a, repeats, axis=None, total_repeat_length=None): one axis, NHWC (axis 1 is the first
    spatial axis; -1 is C); axis=None flattens (no canonical meaning)."""

    name = "jax.numpy.repeat"
    ops = ("repeat",)
    native_args = frozenset({"repeats", "axis", "total_repeat_length"})

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        return channels_last_repeat_call(self.name, case)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        meaning = channels_last_repeat_meaning(self.name, args, shapes)
        total = args.get("total_repeat_length")
        if isinstance(meaning, Unsupported) or total is None:
            return meaning
        r = [v for v in meaning["repeats"] if v != 1] or [1]
        a = int(args["axis"]) % (len(shapes["x"]))
        want = r[0] * shapes["x"][2 + a - 1]
        if total != want:
            return Unsupported(f"{self.name} with total_repeat_length {total} != {want} truncates or "
                               "repeats the last value: not a uniform repeat")
        return meaning

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 3))
            shapes = {"x": (d(st.integers(1, 2)), d(st.integers(1, 3)), *[d(st.integers(1, 6)) for _ in range(k)])}
            axis = d(st.integers(-(k + 2), k + 1))
            length = shapes["x"][2 + (axis % (k + 2)) - 1] if 1 <= axis % (k + 2) <= k else 1
            reps = d(st.one_of(st.integers(1, 4), st.integers(0, 3).map(lambda v: [v] * length),
                               st.lists(st.integers(0, 3), min_size=length, max_size=length)))
            a = {"repeats": reps, "axis": None if d(st.integers(0, 9)) == 9 else axis}
            if d(st.integers(0, 4)) == 4 and isinstance(reps, int):
                a["total_repeat_length"] = reps * length + d(st.integers(-1, 1))
            return {"args": a, "shapes": shapes, "dtype": d(st.sampled_from(_DTYPES_ANY))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> JaxCall:
        jnp = _jax().numpy
        x = tensors["x"]
        kw = dict(call.args)
        if isinstance(kw["repeats"], list):
            kw["repeats"] = np.asarray(kw["repeats"])
            if kw.get("total_repeat_length") is None:
                kw["total_repeat_length"] = int(kw["repeats"].sum())  # static under jit

        def fn(v: Any) -> Any:
            return jnp.repeat(v, **kw)

        return JaxCall(fn, (to_jax(x, _channels_last_perm(x.ndim)),), _inverse(_channels_last_perm(x.ndim)),
                       in_perms=(_channels_last_perm(x.ndim),))


# ----------------------------------------------------------------------------------- pixel shuffle

_ORDERS = ("DCR", "CRD")


def pixel_shuffle_nhwc(x: Any, r: int, order: str) -> Any:
    """What the binding runs (``x`` NHWC, jnp or numpy):

    DCR: x.reshape(n, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, c)
    CRD: x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3).reshape(n, h * r, w * r, c)

    Example:
        >>> pixel_shuffle_nhwc(np.arange(4).reshape(1, 1, 1, 4), 2, "DCR")[0, :, :, 0].tolist()
        [[0, 1], [2, 3]]
    """
    n, h, w, cc = x.shape
    c = cc // (r * r)
    if order == "DCR":
        return x.reshape(n, h, w, r, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, c)
    return x.reshape(n, h, w, c, r, r).transpose(0, 1, 4, 2, 5, 3).reshape(n, h * r, w * r, c)


def pixel_unshuffle_nhwc(x: Any, r: int, order: str) -> Any:
    """The inverse (``x`` NHWC):

    DCR: x.reshape(n, h, r, w, r, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h, w, r * r * c)
    CRD: x.reshape(n, h, r, w, r, c).transpose(0, 1, 3, 5, 2, 4).reshape(n, h, w, c * r * r)

    Example:
        >>> pixel_unshuffle_nhwc(np.arange(4).reshape(1, 2, 2, 1), 2, "CRD")[0, 0, 0].tolist()
        [0, 1, 2, 3]
    """
    n, hh, ww, c = x.shape
    h, w = hh // r, ww // r
    y = x.reshape(n, h, r, w, r, c)
    if order == "DCR":
        return y.transpose(0, 1, 3, 2, 4, 5).reshape(n, h, w, r * r * c)
    return y.transpose(0, 1, 3, 5, 2, 4).reshape(n, h, w, c * r * r)


class JnpPixelShuffle(JaxBinding):
    """Pixel shuffle as JAX users write it (JAX has no pixel_shuffle): reshape + transpose on NHWC
    arrays (:func:`pixel_shuffle_nhwc`); ``order`` says the channel order, DCR (TF's depth_to_space,
    Flax/einops' usual ``(h r1) (w r2) c`` from ``h w (r1 r2 c)``) or CRD (PyTorch's pixel_shuffle)."""

    name = "jnp.reshape+transpose (pixel shuffle)"
    ops = ("pixel_shuffle",)
    arg = "upscale_factor"
    native_args = frozenset({"upscale_factor", "order"})
    enum_args = {"order": _ORDERS}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op not in self.ops:
            return unsupported_op(self, case.op)
        if spatial_rank(case.shapes) != 2:
            return Unsupported(f"{self.name} is written for 2-D (NHWC) images")
        n = self.normal_form(case)
        fn = pixel_shuffle_nhwc if self.arg == "upscale_factor" else pixel_unshuffle_nhwc
        return NativeCall(self.name, {self.arg: int(n[self.arg]), "order": n.get("mode", "CRD")},
                          notes=(f"NHWC; {fn.__doc__.splitlines()[2 if n.get('mode', 'CRD') == 'DCR' else 3].strip()}",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        if self.arg not in args:
            raise TypeError(f"{self.name}: missing required argument {self.arg!r}")
        r, order = args[self.arg], args.get("order", "DCR")
        x = shapes["x"]
        if order not in _ORDERS:
            return Unsupported(f"{self.name}: order {order!r} is not DCR or CRD")
        if not _int(r) or r < 1:
            return Unsupported(f"{self.name}: {self.arg} must be an integer >= 1; got {r!r}")
        if len(x) != 4:
            return Unsupported(f"{self.name} is written for 4-D NHWC arrays")
        if self.arg == "upscale_factor" and x[1] % (r * r):
            return Unsupported(f"{self.name}: reshape fails: C={x[1]} is not divisible by r^2 = {r * r}")
        if self.arg == "downscale_factor" and (x[2] % r or x[3] % r):
            return Unsupported(f"{self.name}: reshape fails: H, W = {x[2:]} are not divisible by {r}")
        return normalize(self.ops[0], {self.arg: int(r), "mode": order}, shapes)

    def search_space(self, op: str) -> Any:
        if op not in self.ops:
            return None
        st = _strategies()

        def build(n: int, c: int, hw: tuple, r: int, order: Any, dt: str, off: int) -> dict[str, Any]:
            if self.arg == "upscale_factor":
                shape = (n, c * r * r + off, *hw)
            else:
                shape = (n, c, *(v * r + off for v in hw))
            return {"args": _args({self.arg: r, "order": order}), "shapes": {"x": shape}, "dtype": dt}

        return st.builds(build, st.integers(1, 2), st.integers(1, 3), st.tuples(st.integers(1, 4), st.integers(1, 4)),
                         st.integers(1, 4), _maybe(st, st.sampled_from(_ORDERS)), st.sampled_from(_DTYPES_ANY),
                         st.sampled_from([0, 0, 0, 1]))

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> JaxCall:
        x = tensors["x"]
        r, order = int(call.args[self.arg]), call.args.get("order", "DCR")
        f = pixel_shuffle_nhwc if self.arg == "upscale_factor" else pixel_unshuffle_nhwc

        def fn(v: Any) -> Any:
            return f(v, r, order)

        return JaxCall(fn, (to_jax(x, _channels_last_perm(4)),), _inverse(_channels_last_perm(4)),
                       in_perms=(_channels_last_perm(4),))


class JnpPixelUnshuffle(JnpPixelShuffle):
    name = "jnp.reshape+transpose (pixel unshuffle)"
    ops = ("pixel_unshuffle",)
    arg = "downscale_factor"
    native_args = frozenset({"downscale_factor", "order"})


# ----------------------------------------------------------------------------------- compiled path


class JaxCompiled(Path):
    """``jax.jit`` around the binding's own call (its arrays are the jitted function's arguments;
    shapes, methods, strides are closed over, static); XLA compiles on the first call, in ``prepare``
    (untimed). ``execute`` blocks until the result is ready. Backward: ``jax.jit`` of the forward and its
    ``jax.vjp`` pullback (primals and cotangent as arguments), compiled in ``prepare_backward``."""

    name = "compiled"
    framework = "jax"
    description = "jax.jit (XLA, CPU)"

    def prepare(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                device: str = "cpu") -> JaxCall:
        jax = _jax()
        p = binding.prepare(call, tensors, device)
        t0 = time.perf_counter()
        jitted = jax.jit(p.fn)
        compiled = jitted.lower(*p.arrays).compile()
        return JaxCall(compiled, p.arrays, p.out_perm, {"compile_s": time.perf_counter() - t0, "jit": True})

    def execute(self, prepared: JaxCall) -> Any:
        return prepared.fn(*prepared.arrays).block_until_ready()

    def to_canonical(self, out: Any, prepared: JaxCall) -> np.ndarray:
        a = np.asarray(out)
        return np.ascontiguousarray(a.transpose(prepared.out_perm)) if prepared.out_perm is not None else a

    def build_info(self, prepared: JaxCall | JaxBackward) -> dict[str, Any]:
        return {"build_s": prepared.info["compile_s"], **prepared.info}

    def backward_unsupported(self, binding: Binding, case: Case) -> Unsupported | None:
        """What the binding's eager backward says: jit compiles the same jax.vjp."""
        return binding.backward_unsupported(case)

    def prepare_backward(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                         cotangent: np.ndarray, device: str = "cpu") -> JaxBackward:
        """``jax.jit`` of the forward and its pullback (``jax.vjp`` of the binding's own call, the cotangent an
        argument), compiled here (untimed)."""
        jax = _jax()
        p = binding.prepare_backward(call, tensors, cotangent, device)
        fn = p.fn

        def grads(*args: Any) -> Any:
            _, pullback = jax.vjp(fn, *args[:-1])
            return pullback(args[-1])

        t0 = time.perf_counter()
        compiled = jax.jit(grads).lower(*p.primals, p.cotangent).compile()
        return JaxBackward(compiled, p.primals, p.cotangent, p.names, p.call,
                           {"compile_s": time.perf_counter() - t0, "jit": True})

    def execute_backward(self, prepared: JaxBackward) -> Any:
        return _jax().block_until_ready(prepared.fn(*prepared.primals, prepared.cotangent))

    def grads_to_canonical(self, out: Any, prepared: JaxBackward) -> dict[str, np.ndarray]:
        return _grads_to_canonical(out, prepared)


BINDINGS = [JaxImageResize, JaxScaleAndTranslate, JaxConvTranspose, JaxConvGeneralDilated, JnpRepeat,
            JnpPixelShuffle, JnpPixelUnshuffle]
