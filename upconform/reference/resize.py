"""ONNX Resize (opset 21) in float64, plus TensorFlow's ``area`` and PyTorch's ``adaptive_avg``.

The operator is separable: for every resized axis we build, per output index ``i``, a small set
of input taps ``idx[i, t]`` with weights ``w[i, t]`` and apply them one axis after another
(``y[..., i, ...] = sum_t w[i, t] * x[..., idx[i, t], ...]``). Only taps and axes are looped over.

Coordinate transforms (ONNX Resize, "coordinate_transformation_mode"), mapping an output index
``i`` on an axis of input length ``L_in``, output length ``L_out`` and scale ``s`` to an input
coordinate ``x`` (pixel centres at integers):

    half_pixel            x = (i + 0.5) / s - 0.5
    half_pixel_symmetric  x = L_in/2 * (1 - L_out / (s * L_in)) + (i + 0.5) / s - 0.5
    pytorch_half_pixel    x = (i + 0.5) / s - 0.5 if L > 1 else 0
    align_corners         x = i * (L_in - 1) / (L - 1) if L > 1 else 0
                          (L = s * L_in: the output size when sizes are given, possibly
                          fractional when scales are, as ONNX's reference and tests compute it)
    asymmetric            x = i / s
    tf_half_pixel_for_nn  x = (i + 0.5) / s
    tf_crop_and_resize    x = start * (L_in - 1) + i * (end - start) * (L_in - 1) / (L_out - 1)
                          if L_out > 1 else 0.5 * (start + end) * (L_in - 1)

When the scale is a ratio of small integers (always, when it derives from ``sizes``) the
coordinates are kept as exact integer fractions ``num / den``, so that nearest rounding at
ties (x = k + 0.5) is decided exactly rather than by float rounding.

Readings of the operator text (``docs/conventions.md``; the default is the text's own reading):

    output_size_rule       spec_text:  tf_crop_and_resize with scales sizes the output
                                       floor(L_in * (roi_end - roi_start) * s), as the text says
                           ignore_roi: floor(L_in * s), as ONNX Runtime, ONNX shape inference and
                                       onnx.reference compute it
    align_corners_length   scaled:  align_corners and pytorch_half_pixel use L = s * L_in (possibly
                                    fractional), as the text and onnx.reference do
                           integer: they use the integer output length, as ONNX Runtime and
                                    PyTorch (scale_factor with align_corners=True) do
    integer_rounding       final:     integer outputs are rounded once, at the end (the text has
                                      no intermediate rounding)
                           per_axis:  one axis at a time, last axis first, each pass rounded
                                      (floor(v + 0.5)) and saturated to the integer type, as
                                      ONNX Runtime's antialias kernels (Pillow's scheme) do

Sources: https://onnx.ai/onnx/operators/onnx__Resize.html and onnx/reference/ops/op_resize.py
(edge taps clamp to the border unless ``exclude_outside``; antialias stretches the kernel by
1/scale when downsampling and renormalises the taps); TensorFlow resize_area_op.cc (``area``:
exact coverage of the box [i/s, (i+1)/s)); PyTorch AdaptiveAvgPooling (``adaptive_avg``: bins
floor(i*L_in/L_out) .. ceil((i+1)*L_in/L_out)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ._common import as_float64, check_enum, parallel_over_leading, scratch

MODES = ("nearest", "linear", "cubic", "area", "adaptive_avg")
COORDINATE_TRANSFORMATION_MODES = (
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_half_pixel_for_nn",
    "tf_crop_and_resize",
)
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
KEEP_ASPECT_RATIO_POLICIES = ("stretch", "not_larger", "not_smaller")
OUTPUT_SIZE_RULES = ("spec_text", "ignore_roi")
ALIGN_CORNERS_LENGTHS = ("scaled", "integer")
INTEGER_ROUNDINGS = ("final", "per_axis")

# Largest denominator tried when recognising a float scale as an exact ratio (1.5 -> 3/2).
_MAX_DEN = 10**6


def resize(
    x: Any,
    *,
    scales: Sequence[float] | None = None,
    sizes: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    mode: str = "nearest",
    coordinate_transformation_mode: str = "half_pixel",
    nearest_mode: str = "round_prefer_floor",
    cubic_coeff_a: float = -0.75,
    exclude_outside: bool = False,
    extrapolation_value: float = 0.0,
    roi: Sequence[float] | None = None,
    antialias: bool = False,
    keep_aspect_ratio_policy: str = "stretch",
    output_size_rule: str = "spec_text",
    align_corners_length: str = "scaled",
    integer_rounding: str = "final",
) -> np.ndarray:
    """Resize ``x`` with ONNX Resize semantics, computed in float64. The last three parameters
    choose a reading where implementations read the text differently (module docstring).

    Example:
        >>> resize(np.array([[[0.0, 1, 2, 3]]]), scales=[1, 1, 2], mode="linear").tolist()
        [[[0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]]]
    """
    ctm = _check_options(mode, coordinate_transformation_mode, nearest_mode, keep_aspect_ratio_policy,
                         output_size_rule, align_corners_length, integer_rounding, antialias)
    xf = as_float64(x)
    integer = np.issubdtype(np.asarray(x).dtype, np.integer)
    rounding = _saturate(np.iinfo(np.asarray(x).dtype)) if integer and integer_rounding == "per_axis" else None
    steps, mask, out_shape = _steps(
        xf.shape, scales, sizes, axes, mode, ctm, nearest_mode, cubic_coeff_a, exclude_outside, roi, antialias,
        keep_aspect_ratio_policy, output_size_rule, align_corners_length, last_axis_first=rounding is not None)
    plans = [_plan(step, xf.ndim) for step in steps]
    y = parallel_over_leading(xf, out_shape, [a for a, _, _ in steps],
                              lambda part, out: _apply_steps(part, plans, rounding, out=out), into=True)
    if mask is not None and mask.any():
        y = np.where(mask, float(extrapolation_value), y)
    if integer and rounding is None:
        # the text converts the weighted sum to the output type once: a cubic overshoot below 0 or above
        # the type's maximum saturates there (rounding is left to the comparison's one-step tolerance)
        info = np.iinfo(np.asarray(x).dtype)
        y = np.clip(y, info.min, info.max)
    return np.ascontiguousarray(y)


def resize_vjp(
    x: Any,
    cotangent: Any,
    *,
    scales: Sequence[float] | None = None,
    sizes: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    mode: str = "nearest",
    coordinate_transformation_mode: str = "half_pixel",
    nearest_mode: str = "round_prefer_floor",
    cubic_coeff_a: float = -0.75,
    exclude_outside: bool = False,
    extrapolation_value: float = 0.0,
    roi: Sequence[float] | None = None,
    antialias: bool = False,
    keep_aspect_ratio_policy: str = "stretch",
    output_size_rule: str = "spec_text",
    align_corners_length: str = "scaled",
    integer_rounding: str = "final",
    absolute: bool = False,
) -> np.ndarray:
    """The vector-Jacobian product of :func:`resize` with respect to ``x``: the exact adjoint, float64.

    The forward is ``y = M * (A_k ... A_1 x) + (1 - M) * extrapolation_value`` with one tap matrix
    ``A_a[i, j] = sum_t w[t, i] [idx[t, i] == j]`` per resized axis (the very taps and weights
    :func:`resize` applies, from the same ``_steps``) and ``M`` the tf_crop_and_resize mask of
    outputs inside the image. Its adjoint is ``x_bar = A_1^T ... A_k^T (M * y_bar)``: every output
    cotangent is scatter-added back to the taps that produced it, times their weights
    (``x_bar[..., j, ...] = sum_{(t, i): idx[t, i] = j} w[t, i] * y_bar[..., i, ...]``).
    ``absolute``: the same sums over ``|w| * |y_bar|`` (negative cubic lobes included).
    The saturation and per-axis rounding of integer inputs are not differentiated (the gradient is
    that of the float64 linear map). Source: the forward (ONNX Resize text; module docstring).

    Example:
        >>> resize_vjp(np.zeros((1, 1, 2)), np.array([[[1.0, 2.0, 3.0, 4.0]]]), scales=[1, 1, 2], mode="linear").tolist()
        [[[3.25, 6.75]]]
    """
    ctm = _check_options(mode, coordinate_transformation_mode, nearest_mode, keep_aspect_ratio_policy,
                         output_size_rule, align_corners_length, integer_rounding, antialias)
    xf = as_float64(x)
    steps, mask, out_shape = _steps(
        xf.shape, scales, sizes, axes, mode, ctm, nearest_mode, cubic_coeff_a, exclude_outside, roi, antialias,
        keep_aspect_ratio_policy, output_size_rule, align_corners_length, last_axis_first=False)
    g = np.asarray(cotangent, dtype=np.float64)
    if g.shape != tuple(out_shape):
        raise ValueError(f"cotangent: shape {g.shape} differs from the output shape {tuple(out_shape)}")
    if absolute:
        g = np.abs(g)
    if mask is not None and mask.any():
        g = np.where(mask, 0.0, g)  # extrapolated outputs are constants: no gradient flows through them
    lengths = {axis: xf.shape[axis] for axis, _, _ in steps}
    rev = steps[::-1]  # the transpose of A_k ... A_1 applies A_1^T last
    g = parallel_over_leading(g, xf.shape, [a for a, _, _ in steps],
                              lambda part: _adjoint_steps(part, rev, lengths, absolute))
    return np.ascontiguousarray(g)


def _check_options(mode: str, ctm: str, nearest_mode: str, policy: str, size_rule: str, length: str,
                   integer_rounding: str, antialias: bool) -> str:
    """Validate the enums and the combinations :func:`resize` refuses; return the coordinate mode."""
    check_enum("mode", mode, MODES)
    check_enum("coordinate_transformation_mode", ctm, COORDINATE_TRANSFORMATION_MODES)
    check_enum("nearest_mode", nearest_mode, NEAREST_MODES)
    check_enum("keep_aspect_ratio_policy", policy, KEEP_ASPECT_RATIO_POLICIES)
    check_enum("output_size_rule", size_rule, OUTPUT_SIZE_RULES)
    check_enum("align_corners_length", length, ALIGN_CORNERS_LENGTHS)
    check_enum("integer_rounding", integer_rounding, INTEGER_ROUNDINGS)
    if mode in ("area", "adaptive_avg") and ctm != "half_pixel":
        raise ValueError(
            f"coordinate_transformation_mode: mode={mode!r} defines its own pixel boxes and takes only "
            f"'half_pixel', got {ctm!r}"
        )
    if mode in ("area", "adaptive_avg") and antialias:
        raise ValueError(f"antialias: mode={mode!r} is already a box filter; antialias must be False")
    return ctm


Step = tuple[int, np.ndarray, np.ndarray | None]


def _steps(shape: tuple[int, ...], scales: Sequence[float] | None, sizes: Sequence[int] | None,
           axes: Sequence[int] | None, mode: str, ctm: str, nearest_mode: str, cubic_coeff_a: float,
           exclude_outside: bool, roi: Sequence[float] | None, antialias: bool, policy: str, size_rule: str,
           length_reading: str, *, last_axis_first: bool) -> tuple[list[Step], np.ndarray | None, list[int]]:
    """The taps of every resized axis in the order they are applied, as ``(axis, idx, w)`` with one
    row per tap (``w`` None for nearest: one tap of weight 1); the tf_crop_and_resize mask of
    extrapolated outputs (or None); the output shape. Shared by :func:`resize` and :func:`resize_vjp`."""
    ndim = len(shape)
    ax = _normalise_axes(axes, ndim)
    plan = _output_plan(shape, ax, scales, sizes, roi, ctm, policy, size_rule)
    # Downscaled axes first, and among equal ratios the last (contiguous) axis first: the
    # intermediate arrays stay small and the strided gathers touch the fewest elements. Rounding
    # per axis fixes the order instead: last axis first (width, then height, then depth).
    order = (lambda p: -p[0]) if last_axis_first else (lambda p: (p[2] / p[1], -p[0]))
    steps: list[Step] = []
    mask = None
    for axis, in_len, out_len, scale, start, end in sorted(plan, key=order):
        # the resized length L before flooring: the output length, or in * scale (times the roi width
        # for tf_crop_and_resize sized by the text's rule) when scales are given
        crop_width = (end - start) if ctm == "tf_crop_and_resize" and scales is not None and \
            size_rule == "spec_text" else 1.0
        length = in_len * scale * crop_width if scales is not None else in_len * scale
        coord = _coordinates(ctm, in_len, out_len, scale, start, end, length_reading, length)
        if mode == "nearest":
            idx = np.clip(_round(coord, nearest_mode), 0, in_len - 1)[None, :]
            w = None
        else:
            idx, w = _taps(mode, coord, in_len, out_len, scale, cubic_coeff_a, bool(exclude_outside),
                           bool(antialias))
            idx, w = np.ascontiguousarray(idx.T), np.ascontiguousarray(w.T)  # one row per tap
        steps.append((axis, idx, w))
        if ctm == "tf_crop_and_resize":
            xc = coord.as_float()
            outside = (xc < 0) | (xc > in_len - 1)
            mshape = [1] * ndim
            mshape[axis] = out_len
            m = outside.reshape(mshape)
            mask = m if mask is None else (mask | m)
    out_shape = list(shape)
    for axis, _, out_len, _, _, _ in plan:
        out_shape[axis] = out_len
    return steps, mask, out_shape


# --------------------------------------------------------------------------- sizes and scales


def output_geometry(
    shape: Sequence[int],
    *,
    scales: Sequence[float] | None = None,
    sizes: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    coordinate_transformation_mode: str = "half_pixel",
    roi: Sequence[float] | None = None,
    keep_aspect_ratio_policy: str = "stretch",
    output_size_rule: str = "spec_text",
) -> tuple[list[int], list[float]]:
    """Output shape and the per-axis scale the coordinate transform uses, for an input ``shape``.

    Example:
        >>> output_geometry((1, 1, 5), scales=[1, 1, 1.5])
        ([1, 1, 7], [1.0, 1.0, 1.5])
    """
    ax = _normalise_axes(axes, len(shape))
    out = list(shape)
    used = [1.0] * len(shape)
    for axis, _in_len, out_len, scale, _s, _e in _output_plan(
        tuple(shape), ax, scales, sizes, roi, coordinate_transformation_mode, keep_aspect_ratio_policy,
        output_size_rule,
    ):
        out[axis] = out_len
        used[axis] = float(scale)
    return out, used




def _normalise_axes(axes: Sequence[int] | None, ndim: int) -> list[int]:
    if axes is None:
        return list(range(ndim))
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool) or not -ndim <= a < ndim:
            raise ValueError(f"axes: {list(axes)} has {a!r}, not an axis of a {ndim}-D input")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"axes: {list(axes)} repeats an axis")
    return out


def exact_ratio(value: float) -> Fraction:
    """The closest ratio of integers with a denominator up to 10**6: how a float scale is read
    (1.5 -> 3/2, 0.3333333 -> 1/3). The one place where that denominator is chosen.

    Example:
        >>> exact_ratio(2.5)
        Fraction(5, 2)
    """
    return Fraction(float(value)).limit_denominator(_MAX_DEN)


def _as_ratio(value: float) -> Fraction | float:
    """A float scale as an exact small-integer ratio when it is one (1.5 -> 3/2), else the float."""
    f = exact_ratio(value)
    return f if float(f) == float(value) else float(value)


def _output_plan(
    shape: tuple[int, ...],
    axes: list[int],
    scales: Sequence[float] | None,
    sizes: Sequence[int] | None,
    roi: Sequence[float] | None,
    ctm: str,
    policy: str,
    size_rule: str = "spec_text",
) -> list[tuple[int, int, int, Fraction | float, float, float]]:
    """(axis, in_len, out_len, scale, roi_start, roi_end) for every axis that changes or crops."""
    if (scales is None) == (sizes is None):
        raise ValueError("scales/sizes: give exactly one of them")
    k = len(axes)
    if roi is not None and ctm == "tf_crop_and_resize":
        r = [float(v) for v in roi]
        if len(r) != 2 * k:
            raise ValueError(f"roi: expected {2 * k} values [starts..., ends...] for axes {axes}, got {r}")
        starts, ends = r[:k], r[k:]
    else:
        starts, ends = [0.0] * k, [1.0] * k
    plan = []
    if scales is not None:
        sc = [float(s) for s in scales]
        if len(sc) != k:
            raise ValueError(f"scales: expected {k} values (one per axis {axes}), got {sc}")
        if any(not np.isfinite(s) or s <= 0 for s in sc):
            raise ValueError(f"scales: every scale must be a finite number > 0, got {sc}")
        for a, s, st, en in zip(axes, sc, starts, ends):
            in_len = shape[a]
            r = _as_ratio(s)
            if ctm == "tf_crop_and_resize" and size_rule == "spec_text":
                out_len = int(np.floor(in_len * (en - st) * s))
            elif isinstance(r, Fraction):
                out_len = (in_len * r.numerator) // r.denominator
            else:
                out_len = int(np.floor(in_len * s))
            if out_len < 1 and in_len > 0:  # an empty axis (N or C = 0) stays empty
                raise ValueError(f"scales: axis {a} of length {in_len} with scale {s} gives an empty output")
            plan.append((a, in_len, out_len, r, st, en))
    else:
        sz = list(sizes)  # type: ignore[arg-type]
        if len(sz) != k:
            raise ValueError(f"sizes: expected {k} values (one per axis {axes}), got {sz}")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in sz) or \
                any(o < 1 and shape[a] > 0 for a, o in zip(axes, sz)):
            raise ValueError(f"sizes: every size must be an integer >= 1 (0 only for an empty axis), got {sz}")
        if any(o != 0 and shape[a] == 0 for a, o in zip(axes, sz)):
            raise ValueError(f"sizes: {sz} resizes an empty axis of input shape {list(shape)}")
        # an empty axis has no ratio: it stays empty, whatever the policy
        ratios = [Fraction(int(o), shape[a]) if shape[a] else Fraction(1) for a, o in zip(axes, sz)]
        if policy == "stretch":
            for a, o, r, st, en in zip(axes, sz, ratios, starts, ends):
                plan.append((a, shape[a], int(o), r, st, en))
        else:
            # ONNX Resize text: one scale for all axes, min (not_larger) or max (not_smaller) of
            # sizes / in over the non-empty axes; out = round(scale * in), "halfway cases rounded up"
            # (floor(x + 1/2), as ONNX Runtime and onnx.reference compute it; not Python's round()).
            live = [r for r, a in zip(ratios, axes) if shape[a]] or [Fraction(1)]
            r = min(live) if policy == "not_larger" else max(live)
            for a, st, en in zip(axes, starts, ends):
                out = math.floor(r * shape[a] + Fraction(1, 2))
                plan.append((a, shape[a], max(1, out) if shape[a] else 0, r, st, en))
    # an axis that does not change (or is empty: N or C = 0) needs no taps
    return [p for p in plan if p[1] > 0 and not (p[1] == p[2] and p[3] == 1 and ctm != "tf_crop_and_resize")]


# --------------------------------------------------------------------------- coordinates


class _Coord:
    """Input coordinates of every output index: exact ``num / den`` (ints) or plain floats."""

    def __init__(self, num: np.ndarray, den: int | None = None) -> None:
        self.num = num
        self.den = den

    def as_float(self) -> np.ndarray:
        if self.den is None:
            return self.num
        if self.num.dtype == object:  # Python ints: exact true division, correctly rounded
            return np.array([n / self.den for n in self.num], dtype=np.float64)
        return self.num / self.den


def _coordinates(ctm: str, in_len: int, out_len: int, scale: Fraction | float, start: float,
                 end: float, length_reading: str = "scaled", length: Fraction | float | None = None) -> _Coord:
    i = np.arange(out_len, dtype=np.int64)
    if ctm == "tf_crop_and_resize" and length_reading == "scaled" and length is not None and length != out_len:
        # the text's length_resized, fractional with scales (onnx.reference): L - 1 in the divisor
        if float(length) == 1:
            return _Coord(np.full(out_len, 0.5 * (start + end) * (in_len - 1)))
        return _Coord(start * (in_len - 1) + i * (end - start) * (in_len - 1) / (float(length) - 1))
    if ctm == "tf_crop_and_resize":
        # Exact fractions of the binary floats start and end: a coordinate that lands on a pixel, on
        # a half (a nearest tie) or on the border (0, L_in - 1) lands there exactly, not a rounding
        # error beside it (which would pick the other pixel, or extrapolate).
        s, e = Fraction(start), Fraction(end)
        if out_len > 1:
            xs = [s * (in_len - 1) + Fraction(k * (in_len - 1), out_len - 1) * (e - s) for k in range(out_len)]
        else:
            xs = [(s + e) / 2 * (in_len - 1)]
        den = math.lcm(*(x.denominator for x in xs))
        return _Coord(np.array([x.numerator * (den // x.denominator) for x in xs], dtype=object), den)
    # align_corners and pytorch_half_pixel use the resized length L = scale * L_in, which is the
    # output size when sizes are given but may be fractional with scales (ONNX's reference
    # implementation and backend tests: 4 -> scale 0.6 maps output 1 to 1 * 3 / (2.4 - 1)).
    # The `integer` reading uses the output length instead (ONNX Runtime, PyTorch: 1 * 3 / (2 - 1)).
    if ctm in ("align_corners", "pytorch_half_pixel") and length_reading == "integer":
        if out_len == 1:
            return _Coord(np.zeros(out_len, np.int64), 1)
        if ctm == "align_corners":
            return _Coord(i * (in_len - 1), out_len - 1)
    elif ctm in ("align_corners", "pytorch_half_pixel"):
        if isinstance(scale, Fraction):
            p, q = scale.numerator, scale.denominator
            den = p * in_len - q  # (L - 1) * q
            if den == 0:
                return _Coord(np.zeros(out_len, np.int64), 1)
            if ctm == "align_corners":
                return _Coord(i * (in_len - 1) * q, den)
        else:
            length = float(scale) * in_len
            if length == 1:
                return _Coord(np.zeros(out_len))
            if ctm == "align_corners":
                return _Coord(i * (in_len - 1) / (length - 1))
    if isinstance(scale, Fraction):
        p, q = scale.numerator, scale.denominator  # s = p / q, so 1 / s = q / p
        if ctm in ("half_pixel", "pytorch_half_pixel"):
            return _Coord((2 * i + 1) * q - p, 2 * p)
        if ctm == "half_pixel_symmetric":
            return _Coord(in_len * p - out_len * q + (2 * i + 1) * q - p, 2 * p)
        if ctm == "asymmetric":
            return _Coord(i * q, p)
        return _Coord((2 * i + 1) * q, 2 * p)  # tf_half_pixel_for_nn
    s = float(scale)
    if ctm in ("half_pixel", "pytorch_half_pixel"):
        return _Coord((i + 0.5) / s - 0.5)
    if ctm == "half_pixel_symmetric":
        adjustment = out_len / (s * in_len)
        return _Coord(in_len / 2 * (1 - adjustment) + (i + 0.5) / s - 0.5)
    if ctm == "asymmetric":
        return _Coord(i / s)
    return _Coord((i + 0.5) / s)  # tf_half_pixel_for_nn


def _round(coord: _Coord, nearest_mode: str) -> np.ndarray:
    """Nearest index; exact integer arithmetic when the coordinate is a fraction."""
    if coord.den is not None:
        n, d = coord.num, coord.den
        if nearest_mode == "floor":
            r = n // d
        elif nearest_mode == "ceil":
            r = -((-n) // d)
        elif nearest_mode == "round_prefer_floor":  # ceil(x - 1/2)
            r = -((-(2 * n - d)) // (2 * d))
        else:
            r = (2 * n + d) // (2 * d)  # round_prefer_ceil: floor(x + 1/2)
        return np.asarray(r).astype(np.int64)
    xf = coord.num
    if nearest_mode == "floor":
        r = np.floor(xf)
    elif nearest_mode == "ceil":
        r = np.ceil(xf)
    elif nearest_mode == "round_prefer_floor":
        r = np.ceil(xf - 0.5)
    else:
        r = np.floor(xf + 0.5)
    return r.astype(np.int64)


# --------------------------------------------------------------------------- kernels and taps


def _cubic(d: np.ndarray, a: float) -> np.ndarray:
    """Keys cubic convolution kernel with coefficient ``a`` (ONNX ``cubic_coeff_a``)."""
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _taps(mode: str, coord: _Coord, in_len: int, out_len: int, scale: Fraction | float, a: float,
          exclude_outside: bool, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Input indices and weights, both (out_len, taps), for one axis."""
    if mode == "area":
        return _area_taps(in_len, out_len, scale)
    if mode == "adaptive_avg":
        return _adaptive_taps(in_len, out_len)
    x = coord.as_float()
    radius = 1 if mode == "linear" else 2
    f = min(float(scale), 1.0) if antialias else 1.0  # kernel stretch (ONNX antialias)
    reach = int(np.ceil(radius / f))
    base = np.floor(x).astype(np.int64)
    offsets = np.arange(-reach + 1, reach + 1, dtype=np.int64)
    idx = base[:, None] + offsets[None, :]
    d = (idx - x[:, None]) * f
    if mode == "linear":
        w = np.clip(1.0 - np.abs(d), 0.0, None)
    else:
        w = _cubic(d, a)
    if antialias:
        w = w / w.sum(axis=1, keepdims=True)
    if exclude_outside:
        w = np.where((idx < 0) | (idx > in_len - 1), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = np.divide(w, total, out=np.zeros_like(w), where=total != 0)
    return np.clip(idx, 0, in_len - 1), w


def _area_taps(in_len: int, out_len: int, scale: Fraction | float) -> tuple[np.ndarray, np.ndarray]:
    # Output i covers the input box [i / s, (i + 1) / s) in pixel-edge coordinates; each input
    # pixel j = [j, j + 1) contributes its overlap with the box, divided by the box length 1 / s.
    inv = 1.0 / float(scale)
    i = np.arange(out_len, dtype=np.float64)
    lo = i * inv
    hi = (i + 1) * inv
    first = np.floor(lo).astype(np.int64)
    taps = int(np.ceil(inv)) + 1
    idx = first[:, None] + np.arange(taps, dtype=np.int64)[None, :]
    overlap = np.minimum(idx + 1, hi[:, None]) - np.maximum(idx, lo[:, None])
    w = np.clip(overlap, 0.0, None) / inv
    w = np.where(idx > in_len - 1, 0.0, w)
    return np.clip(idx, 0, in_len - 1), w


def _adaptive_taps(in_len: int, out_len: int) -> tuple[np.ndarray, np.ndarray]:
    # Bin i spans [floor(i * L_in / L_out), ceil((i + 1) * L_in / L_out)), averaged with equal weights.
    i = np.arange(out_len, dtype=np.int64)
    start = (i * in_len) // out_len
    stop = -((-(i + 1) * in_len) // out_len)
    taps = int((stop - start).max())
    idx = start[:, None] + np.arange(taps, dtype=np.int64)[None, :]
    w = np.where(idx < stop[:, None], 1.0 / (stop - start)[:, None], 0.0)
    return np.clip(idx, 0, in_len - 1), w


def _saturate(info: np.iinfo) -> Any:
    """Round half up and saturate to an integer type's range (integer_rounding=per_axis)."""
    lo, hi = float(info.min), float(info.max)
    return lambda v: np.clip(np.floor(v + 0.5), lo, hi)


# How one axis's taps are applied, built once per call and used by every tile: ``(axis, length,
# terms)``, one term ``(idx, weight)`` per tap that is not of weight 0 everywhere, in tap order, with
# the weights shaped to broadcast along the axis (None: one tap of weight 1, nearest).
_Plan = tuple[int, int, list[tuple[np.ndarray, np.ndarray | None]]]


def _plan(step: Step, ndim: int) -> _Plan:
    """The plan (:data:`_Plan`) of one step of :func:`_steps`, for an array of ``ndim`` axes.

    Example:
        >>> _plan((2, np.array([[0, 0, 1], [1, 1, 1]]), np.array([[1.0, 0.5, 0.0], [0.0, 0.5, 1.0]])), 3)[2][1]
        (array([1, 1, 1]), array([[[0. , 0.5, 1. ]]]))
    """
    axis, idx, w = step
    shape = [1] * ndim
    shape[axis] = idx.shape[1]
    terms = [(idx[t], None if w is None else w[t].reshape(shape))
             for t in range(idx.shape[0]) if w is None or w[t].any()]
    return axis, idx.shape[1], terms


def _apply_steps(y: np.ndarray, plans: list[_Plan], rounding: Any = None, *, out: np.ndarray | None = None
                 ) -> np.ndarray:
    """Apply every axis's taps in turn (:func:`_plan`): ``y[..., i, ...] = sum_t w[t, i] * y[..., idx[t, i],
    ...]``, summed in tap order, rounding after each axis when ``rounding`` is given. The last axis
    writes into ``out`` when given (and fills it); the axes before it write into this thread's scratch
    buffers (:func:`scratch`), which the tiles reuse instead of allocating afresh."""
    if not plans and out is not None:
        out[...] = y if rounding is None else rounding(y)
        return out
    for k, (axis, length, terms) in enumerate(plans):
        shape_out = list(y.shape)
        shape_out[axis] = length
        last = k == len(plans) - 1
        if last:
            acc = out if out is not None else np.empty(shape_out)
        else:
            acc = scratch(f"resize.y{k % 2}", shape_out)  # ping-pong: step k reads step k - 1's buffer
        if not terms:
            acc[...] = 0.0
        for n, (idx, wt) in enumerate(terms):
            g = acc if n == 0 else scratch("resize.tmp", shape_out)
            # every index is already in [0, L_in - 1]: mode="clip" changes none, and lets take write in place
            np.take(y, idx, axis=axis, out=g, mode="clip")
            if wt is not None:
                g *= wt
            if n:
                acc += g
        if rounding is not None:
            acc[...] = rounding(acc)
        y = acc
    return y


def _adjoint_steps(g: np.ndarray, steps: list[Step], lengths: dict[int, int], absolute: bool) -> np.ndarray:
    """The transpose of :func:`_apply_steps` (``steps`` already reversed): per axis, scatter-add
    ``w[t, i] * g[..., i, ...]`` into input index ``idx[t, i]`` (``|w|`` when ``absolute``). The
    (tap, output) pairs are sorted by input index and summed with one ``add.reduceat``: vectorised,
    O(taps * out) per line, no dense matrix."""
    for axis, idx, w in steps:
        ntap, out_len = idx.shape
        out_shape = list(g.shape)
        out_shape[axis] = lengths[axis]
        j = idx.reshape(-1)
        i = np.broadcast_to(np.arange(out_len, dtype=np.int64), idx.shape).reshape(-1)
        ww = None
        if w is not None:
            ww = (np.abs(w) if absolute else w).reshape(-1)
            keep = ww != 0
            j, i, ww = j[keep], i[keep], ww[keep]
        if j.size == 0:
            g = np.zeros(out_shape)
            continue
        order = np.argsort(j, kind="stable")
        j, i = j[order], i[order]
        terms = np.take(g, i, axis=axis)
        if ww is not None:
            shape = [1] * g.ndim
            shape[axis] = ww.size
            terms *= ww[order].reshape(shape)
        starts = np.flatnonzero(np.concatenate(([True], j[1:] != j[:-1])))
        out = np.zeros(out_shape)
        sel = [slice(None)] * g.ndim
        sel[axis] = j[starts]
        out[tuple(sel)] = np.add.reduceat(terms, starts, axis=axis)
        g = out
    return g
