"""OpenCV bindings: ``cv2.resize`` and ``cv2.pyrUp``. ``cv2`` is imported when a binding first runs.

Layouts: canonical NCHW -> one call per image (N calls; cv2 has no batch axis), each image HWC with
C channels (1 <= C <= 128: OpenCV 5.0's Python binding refuses a third axis over 128), or a 2-D
HxW array when C == 1 (the same one-channel Mat; cv2 returns 2-D for an HxWx1 input too). The
outputs are stacked back to NCHW. ``dsize`` is (WIDTH, HEIGHT): cv2's order, the reverse of
PyTorch's ``size=(H, W)`` and TensorFlow's ``size=[h, w]``.

Vocabulary (canonical normal form -> cv2.resize interpolation), read from
https://github.com/opencv/opencv/blob/5.0.0/modules/imgproc/src/resize.cpp (``cv::resize``,
``hal::resize``, ``resizeNN``, ``resizeNN_bitexact``, ``computeResizeAreaTab``) and measured on
opencv-python-headless 5.0.0.93:

    nearest + asymmetric + floor               -> INTER_NEAREST        (floor(x * (1 / inv_scale)) in double)
    nearest + half_pixel + round_prefer_ceil   -> INTER_NEAREST_EXACT  (no ties: 16-bit fixed point decides them)
    linear  + half_pixel (edge clamp)          -> INTER_LINEAR, INTER_LINEAR_EXACT
    cubic a=-0.75, half_pixel, clamped taps    -> INTER_CUBIC
    area (exact coverage)                      -> INTER_AREA (shrinking both axes, or growing both)
    no canonical mode                          -> INTER_LANCZOS4 (8-tap windowed sinc)
    dsize (non-zero area) -> sizes; else fx, fy -> scales, the output round(L * f) (cvRound).

Example:
    >>> _geometry({"dsize": [5, 3]}, (7, 7))
    ([3, 5], None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from ..canonical import Case, normalize, op_info
from ..reference.resize import exact_ratio
from .base import Binding, Framework, NativeCall, Unsupported, unsupported_op

SOURCE = "https://github.com/opencv/opencv/blob/5.0.0/modules/imgproc/src/resize.cpp"


def _cv2() -> Any:
    import cv2

    return cv2


def _configure_threads(threads: int) -> None:
    _cv2().setNumThreads(threads)


# cv2 returns when the work is done (CPU); no paths: cv2.resize is not traced or exported. check_cost_s:
# measured, 2.6-5.1 s of lane time (machine load) over 1,535 checks of `upconform run --framework opencv --jobs 1`.
FRAMEWORK = Framework("opencv", aliases=("cv2",),
                      distributions=("opencv-python-headless", "opencv-python", "opencv-contrib-python",
                                     "opencv-contrib-python-headless"),
                      module="cv2", extra="opencv", configure_threads=_configure_threads, check_cost_s=0.0025)

# cv::InterpolationFlags (imgproc.hpp): the names a user writes (cv2.INTER_AREA) and their values
INTERPOLATIONS: dict[str, int] = {
    "INTER_NEAREST": 0, "INTER_LINEAR": 1, "INTER_CUBIC": 2, "INTER_AREA": 3, "INTER_LANCZOS4": 4,
    "INTER_LINEAR_EXACT": 5, "INTER_NEAREST_EXACT": 6,
}
_NAMES = {v: k for k, v in INTERPOLATIONS.items()}
CN_MAX = 128  # measured: cv2.resize(np.zeros((3, 3, 129), np.float32), (2, 2)) raises in 5.0.0
_NEAREST = ("INTER_NEAREST", "INTER_NEAREST_EXACT")
DTYPES = ("uint8", "float32", "float64", "float16")  # float16: the two nearest flags only (no other kernel)

# the canonical parameters each flag means (besides the size), where it means one
_MODES: dict[str, dict[str, Any]] = {
    "INTER_NEAREST": {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"},
    "INTER_NEAREST_EXACT": {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                            "nearest_mode": "round_prefer_ceil"},
    "INTER_LINEAR": {"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
    "INTER_LINEAR_EXACT": {"mode": "linear", "coordinate_transformation_mode": "half_pixel"},
    "INTER_CUBIC": {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.75,
                    "exclude_outside": False},
    "INTER_AREA": {"mode": "area"},
}
_LANCZOS = ("INTER_LANCZOS4 is an 8-tap Lanczos (windowed sinc, a=4) filter with weights normalised to sum 1; "
            "ONNX Resize (the canonical vocabulary) has no Lanczos mode")
_MIXED_AREA = ("cv2 INTER_AREA shrinking one axis and growing the other is not area: 'true area is only implemented "
               "for scale_x >= 1 && scale_y >= 1' (hal::resize); otherwise both axes take the upscaling weights "
               "(1 - f, f), f = (dx + 1) - (sx + 1) * out / in, which on the shrinking axis blend two pixels and skip "
               "the rest: no canonical mode")


def interpolation_flag(v: Any) -> int:
    """The integer flag of an ``interpolation`` argument (a name such as "INTER_AREA" or its value).

    Example:
        >>> interpolation_flag("INTER_AREA"), interpolation_flag(6)
        (3, 6)
    """
    if isinstance(v, str) and v in INTERPOLATIONS:
        return INTERPOLATIONS[v]
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and int(v) in _NAMES:
        return int(v)
    raise ValueError(f"cv2.resize: interpolation={v!r} is not one of {list(INTERPOLATIONS)} "
                     f"(or their values {sorted(_NAMES)})")


def _cv_round(v: float) -> int:
    """saturate_cast<int>(double): cvRound, round half to even (lrint)."""
    return int(round(v))


def _geometry(args: Mapping[str, Any], hw: tuple[int, ...]) -> tuple[list[int], list[float] | None] | Unsupported:
    """([out_h, out_w], [fy, fx] or None) for cv::resize's rule: a dsize of non-zero area wins (coordinates
    then use out/in); otherwise the output is (round(H * fy), round(W * fx)) and fx, fy drive the coordinates."""
    dsize = args.get("dsize")
    if dsize is not None:
        if not isinstance(dsize, (list, tuple)) or len(dsize) != 2 or any(
                isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 0 for e in dsize):
            return Unsupported(f"cv2.resize raises: dsize must be 2 non-negative integers (width, height); got {dsize!r}")
        w, h = (int(e) for e in dsize)
        if w * h > 0:
            return [h, w], None
    fx, fy = args.get("fx", 0), args.get("fy", 0)
    for name, f in (("fx", fx), ("fy", fy)):
        if isinstance(f, bool) or not isinstance(f, (int, float, np.integer, np.floating)) or not math.isfinite(f):
            return Unsupported(f"cv2.resize raises: {name} must be a finite number; got {f!r}")
    if not (fx > 0 and fy > 0):
        return Unsupported(f"cv2.resize raises: dsize {dsize!r} is empty and fx={fx}, fy={fy} are not both > 0 "
                           "(Assertion dsize.area() > 0 || (inv_scale_x > 0 && inv_scale_y > 0))")
    out = [_cv_round(hw[0] * float(fy)), _cv_round(hw[1] * float(fx))]
    if 0 in out:
        return Unsupported(f"cv2.resize raises: round({hw[0]} * {fy}), round({hw[1]} * {fx}) = {out} is empty")
    return out, [float(fy), float(fx)]


def _floor_slip(in_len: int, out_len: int, inv_scale: float, exact: Fraction) -> int | None:
    """The first output index x where cv2's ``cvFloor(x * (1. / inv_scale))`` (doubles: resizeNN, and
    INTER_AREA's upscaling taps) differs from the exact ``floor(x / exact)``, or None.

    Example (6 -> 34 pixels: 1 / (34 / 6) rounds down, and 17 * it lands just below 3):
        >>> _floor_slip(6, 34, 34 / 6, Fraction(34, 6)), _floor_slip(6, 12, 2.0, Fraction(2))
        (17, None)
    """
    ifx = 1.0 / inv_scale
    for x in range(out_len):
        if math.floor(x * ifx) != (x * exact.denominator) // exact.numerator and (x * exact.denominator) // \
                exact.numerator < in_len:
            return x
    return None


def _area_up_slip(in_len: int, out_len: int, inv_scale: float, exact: Fraction) -> int | None:
    """The first output index where cv2's INTER_AREA upscaling taps (``sx = cvFloor(dx * scale)``, ``fx =
    (float)((dx + 1) - (sx + 1) * inv_scale)``, ``fx - cvFloor(fx)``) put the whole weight on the wrong
    pixel: the double floor slipped to k - 1 where the box lies in pixel k and fx rounded to 1.0f, which
    the wrap ``fx - cvFloor(fx)`` turns into 0. A slip where fx stays below 1.0f costs < 1e-7 (no finding).

    Example (2 -> 98 pixels: output 49 reads pixel 0 instead of pixel 1):
        >>> _area_up_slip(2, 98, 98 / 2, Fraction(98, 2))
        49
    """
    scale = 1.0 / inv_scale
    for dx in range(out_len):
        sx = math.floor(dx * scale)
        if sx == (dx * exact.denominator) // exact.numerator or sx >= in_len - 1:
            continue
        fx = float(np.float32((dx + 1) - (sx + 1) * inv_scale))
        if fx >= 1.0 and fx - math.floor(fx) == 0.0:
            return dx
    return None


def _area_slivers(in_len: int, out_len: int, scale: float) -> int | None:
    """The first output index whose coverage box computeResizeAreaTab trims: it drops a partial pixel
    covering 1e-3 or less (``if (sx1 - fsx1 > 1e-3)``), so the weights stop summing to 1; or None."""
    for dx in range(out_len):
        f1 = dx * scale
        f2 = f1 + scale
        s1, s2 = math.ceil(f1), min(math.floor(f2), in_len - 1)
        if 0 < s1 - f1 <= 1e-3 or 0 < f2 - s2 <= 1e-3 and s2 < in_len:
            return dx
    return None


def _ties(in_len: int, out_len: int) -> int | None:
    """The first output index whose half-pixel source coordinate (x + 0.5) * in / out - 0.5 is exactly
    between two pixels (INTER_NEAREST_EXACT's fixed point breaks such ties either way), or None.

    Example:
        >>> _ties(4, 6), _ties(3, 7)
        (1, None)
    """
    for x in range(out_len):
        if ((2 * x + 1) * in_len) % (2 * out_len) == 0:
            return x
    return None


def _image_shape(x: tuple[int, ...], api: str) -> Unsupported | None:
    """Why an NCHW shape is no batch of cv2 images, or None."""
    if len(x) != 4:
        return Unsupported(f"{api} resizes 2-D images (canonical NCHW, run as HxWxC per image) only")
    n, c, h, w = x
    if n == 0:
        return Unsupported(f"{api} takes one image per call: N = 0 leaves nothing to call it on")
    if not 1 <= c <= CN_MAX:
        return Unsupported(f"{api} takes 1 to {CN_MAX} channels (HxWxC; OpenCV 5.0's Python binding refuses more, "
                           f"and no Mat has 0 channels); got C = {c}")
    if h == 0 or w == 0:
        return Unsupported(f"{api} raises for an empty image ({h}x{w}): Assertion ssize.width > 0 && ssize.height > 0")
    return None


def _images(x: np.ndarray) -> list[np.ndarray]:
    """NCHW -> one contiguous HxWxC (or HxW when C == 1) array per image."""
    if x.shape[1] == 1:
        return [np.ascontiguousarray(img[0]) for img in x]
    return [np.ascontiguousarray(np.moveaxis(img, 0, -1)) for img in x]


def _stack(outs: list[np.ndarray], c: int) -> np.ndarray:
    """cv2's per-image outputs (HxW or HxWxC) -> NCHW."""
    return np.stack([np.moveaxis(o.reshape(*o.shape[:2], c), -1, 0) for o in outs])


class CvBinding(Binding):
    """An OpenCV image function: ``prepare`` returns (fn, images, positional args, kwargs, C)."""

    framework = "opencv"

    def execute(self, prepared: Any) -> Any:
        fn, images, pos, kwargs, _ = prepared
        return [fn(img, *pos, **kwargs) for img in images]

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return _stack(out, prepared[4])


class Resize(CvBinding):
    """cv2.resize(src, dsize[, dst[, fx[, fy[, interpolation]]]]); ``interpolation`` as a name
    ("INTER_AREA") or its value (3). Default INTER_LINEAR."""

    name = "cv2.resize"
    ops = ("resize",)
    native_args = frozenset({"dsize", "dst", "fx", "fy", "interpolation"})
    enum_args = {"interpolation": tuple(INTERPOLATIONS)}

    # ------------------------------------------------------------------ meaning

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.validate_args(args)
        if op not in (None, "resize"):
            return unsupported_op(self, op)
        if args.get("dst") is not None:
            return Unsupported("cv2.resize(dst=...) writes into a caller's buffer: not modelled (pass dst=None)")
        flag = _NAMES[interpolation_flag(args.get("interpolation", "INTER_LINEAR"))]
        x = tuple(shapes["x"])
        bad = _image_shape(x, self.name)
        if bad:
            return bad
        geo = _geometry(args, x[2:])
        if isinstance(geo, Unsupported):
            return geo
        out, scales = geo
        hw = list(x[2:])
        full = [x[0], x[1], *out]
        if flag == "INTER_LANCZOS4":
            return Unsupported(_LANCZOS)
        if out == hw:  # cv::resize copies when dsize == ssize, whatever the scale: every mode's identity
            return normalize("resize", {**_MODES[flag], "sizes": full}, shapes)
        if flag == "INTER_AREA" and x[1] > 4 and not self._area_fast(hw, out, scales) and \
                all(self._scale(i, o, scales, a) >= 1 for a, (i, o) in enumerate(zip(hw, out))):
            return Unsupported(f"cv2.resize raises for INTER_AREA at a non-integer shrink with C = {x[1]} > 4 "
                               "channels (Assertion func != 0 && cn <= 4; resizeArea_ has 1-4 channel kernels)")
        p: dict[str, Any] = {"sizes": full} if scales is None else {"scales": [1.0, 1.0, *scales]}
        p.update(_MODES[flag])
        if flag == "INTER_NEAREST":
            for a, (i, o) in enumerate(zip(hw, out)):
                slip = _floor_slip(i, o, self._inv(i, o, scales, a), self._exact(i, o, scales, a))
                if slip is not None:
                    axis = ("height", "width")[a]
                    exact = self._exact(i, o, scales, a)
                    return Unsupported(
                        f"INTER_NEAREST computes floor(x * (1 / inv_scale)) in double: on the {axis} ({i} -> {o}) "
                        f"output {slip} reads pixel {math.floor(slip * (1.0 / self._inv(i, o, scales, a)))}, "
                        f"not floor({slip} / ({exact})) = {slip * exact.denominator // exact.numerator} "
                        "(no canonical mode rounds that way)")
        elif flag == "INTER_NEAREST_EXACT":
            # resizeNN_bitexact maps with ssize/dsize only (its fx, fy parameters are unused): always sizes
            p = {"sizes": full, **_MODES[flag]}
            for a, (i, o) in enumerate(zip(hw, out)):
                tie = _ties(i, o)
                if tie is not None:
                    axis = ("height", "width")[a]
                    return Unsupported(
                        f"INTER_NEAREST_EXACT picks floor((x + 0.5) * in / out) in 16-bit fixed point: on the {axis} "
                        f"({i} -> {o}) output {tie} is exactly between two pixels, and the fixed point breaks such "
                        "ties up at some outputs and down at others (4 -> 6: output 1 up, output 4 down; measured "
                        "on 5.0.0): neither round_prefer_ceil nor round_prefer_floor")
        elif flag == "INTER_AREA":
            ups = [self._scale(i, o, scales, a) < 1 for a, (i, o) in enumerate(zip(hw, out))]
            downs = [self._scale(i, o, scales, a) > 1 for a, (i, o) in enumerate(zip(hw, out))]
            if any(ups) and any(downs):
                return Unsupported(_MIXED_AREA)
            for a, (i, o) in enumerate(zip(hw, out)):
                axis = ("height", "width")[a]
                if any(ups):
                    slip = _area_up_slip(i, o, self._inv(i, o, scales, a), self._exact(i, o, scales, a))
                    if slip is not None:
                        return Unsupported(
                            f"INTER_AREA upscaling takes sx = floor(dx * in / out) in double: on the {axis} ({i} -> "
                            f"{o}) output {slip} lands just below its pixel, and the weight wrap fx - floor(fx) puts "
                            f"all of it on the previous pixel (exact coverage reads pixel "
                            f"{slip * self._exact(i, o, scales, a).denominator // self._exact(i, o, scales, a).numerator})")
                elif not self._area_fast(hw, out, scales):
                    sliver = _area_slivers(i, o, self._scale(i, o, scales, a))
                    if sliver is not None:
                        return Unsupported(
                            f"INTER_AREA (computeResizeAreaTab) drops a partial pixel covering 1e-3 or less: on the "
                            f"{axis} ({i} -> {o}) output {sliver}'s box loses a sliver, so it is not exact coverage")
        if scales is not None:
            floors = [math.floor(i * exact_ratio(f)) for i, f in zip(hw, scales)]
            if floors != out:
                return Unsupported(f"cv2.resize sizes the output round(L * f) = {out[0]}x{out[1]} (fx={scales[1]}, "
                                   f"fy={scales[0]}); canonical scales give floor(L * scale) = {floors[0]}x{floors[1]}: "
                                   "no canonical resize has cv2's size with these coordinates")
        return normalize("resize", p, shapes)

    @staticmethod
    def _inv(i: int, o: int, scales: list[float] | None, a: int) -> float:
        """cv2's inv_scale on an axis (a double): out / in from dsize, else the given fx or fy."""
        return o / i if scales is None else scales[a]

    @staticmethod
    def _exact(i: int, o: int, scales: list[float] | None, a: int) -> Fraction:
        """The exact scale the canonical meaning uses: out / in, or the given scale as a ratio."""
        return Fraction(o, i) if scales is None else exact_ratio(scales[a])

    def _scale(self, i: int, o: int, scales: list[float] | None, a: int) -> float:
        """cv2's scale_x = 1. / inv_scale_x (> 1: shrinking)."""
        return 1.0 / self._inv(i, o, scales, a)

    def _area_fast(self, hw: list[int], out: list[int], scales: list[float] | None) -> bool:
        """hal::resize's is_area_fast: both scales within DBL_EPSILON of integers."""
        s = [self._scale(i, o, scales, a) for a, (i, o) in enumerate(zip(hw, out))]
        return all(abs(v - round(v)) < np.finfo(np.float64).eps for v in s)

    # ------------------------------------------------------------------ translation

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "resize":
            return unsupported_op(self, case.op)
        x = tuple(case.shapes["x"])
        bad = _image_shape(x, self.name)
        if bad:
            return bad
        n = self.normal_form(case)
        if "keep_aspect_ratio_policy" in n:
            return Unsupported("cv2.resize has no keep_aspect_ratio_policy: it takes dsize or fx, fy")
        if "sizes" in n and list(n["sizes"][:2]) != list(x[:2]) or "scales" in n and n["scales"][:2] != [1.0, 1.0]:
            return Unsupported("cv2.resize resizes H and W only; this case resizes N or C")
        mode, ctm = n["mode"], n["coordinate_transformation_mode"]
        if case.dtype not in DTYPES[:3] and not (case.dtype == "float16" and mode == "nearest"):
            return Unsupported(f"cv2.resize has no {case.dtype} kernel for mode {mode} (float16: the nearest flags "
                               "only; resize.cpp asserts func != 0)" if case.dtype == "float16" else
                               f"cv2 has no {case.dtype} images")
        if mode == "nearest" and (ctm, n["nearest_mode"]) == ("asymmetric", "floor"):
            flag = "INTER_NEAREST"
        elif mode == "nearest" and (ctm, n["nearest_mode"]) == ("half_pixel", "round_prefer_ceil"):
            flag = "INTER_NEAREST_EXACT"  # read as round_prefer_ceil (torch's nearest-exact, TF's nearest)
        elif mode == "nearest":
            return Unsupported(f"cv2.resize's nearest flags are INTER_NEAREST (asymmetric + floor) and "
                               f"INTER_NEAREST_EXACT (half_pixel + round_prefer_ceil where no output is at a tie, "
                               f"when both roundings agree); not {ctm} + {n['nearest_mode']}")
        elif mode in ("linear", "cubic"):
            flag = "INTER_LINEAR" if mode == "linear" else "INTER_CUBIC"
            if ctm != "half_pixel":
                return Unsupported(f"cv2.resize {flag} uses half-pixel centres only; not {ctm}")
            if n.get("antialias"):
                return Unsupported(f"cv2.resize {flag} has no antialias: shrinking samples {2 if mode == 'linear' else 4}"
                                   " taps whatever the scale")
            if mode == "cubic" and (n["cubic_coeff_a"], n["exclude_outside"]) != (-0.75, False):
                return Unsupported("cv2.resize INTER_CUBIC is Keys a=-0.75 with clamped border taps (exclude_outside=0);"
                                   f" not a={n['cubic_coeff_a']}, exclude_outside={int(n['exclude_outside'])}")
        elif mode == "area":
            flag = "INTER_AREA"
        else:
            return Unsupported("cv2.resize has no adaptive average pooling ('adaptive_avg'); INTER_AREA is exact "
                               "coverage")
        if "scales" in n and flag != "INTER_NEAREST_EXACT":
            args: dict[str, Any] = {"dsize": None, "fx": n["scales"][3], "fy": n["scales"][2]}
        else:
            out = [int(v) for v in (n["sizes"] if "sizes" in n else [])] or None
            if out is None:
                return Unsupported("INTER_NEAREST_EXACT maps with the output size only; this case's scale is not "
                                   "out/in")
            if 0 in out[2:]:
                return Unsupported(f"cv2.resize raises for an empty output size {out[2:]}")
            args = {"dsize": [out[3], out[2]]}
        args["interpolation"] = flag
        back = self.from_native(args, case.shapes, op=case.op)
        want = {k: v for k, v in n.items() if k not in op_info(case.op).integer_conventions}
        if isinstance(back, Unsupported):
            return Unsupported(f"cv2.resize({args}) does not compute this case: {back.reason}")
        if back != want:
            return Unsupported(f"cv2.resize({args}) does not compute this case: it means {back}")
        notes = ["dsize is (width, height): cv2's order, the reverse of torch's size=(H, W)"]
        if x[0] > 1:
            notes.append(f"cv2 has no batch axis: one call per image ({x[0]} calls), outputs stacked")
        layout = "HW" if x[1] == 1 else "HWC"
        notes.append(f"each image is passed as {layout} ({'2-D, one channel' if x[1] == 1 else 'channels last'})")
        return NativeCall(self.name, args, {"layout": layout, "per_image": x[0]}, tuple(notes))

    # ------------------------------------------------------------------ running

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        a = dict(call.args)
        dsize = a.get("dsize")
        kwargs: dict[str, Any] = {k: float(a[k]) for k in ("fx", "fy") if k in a}
        if "interpolation" in a:
            kwargs["interpolation"] = interpolation_flag(a["interpolation"])
        pos = (tuple(int(v) for v in dsize) if dsize is not None else None,)
        x = tensors["x"]
        return _cv2().resize, _images(x), pos, kwargs, x.shape[1]

    def search_space(self, op: str) -> Any:
        """dsize (including empty ones), fx/fy (with or without a dsize, which then wins), every flag by
        name or value, uint8/float32/float64 (float16 with the nearest flags), HWC with 1-5 channels (C = 1
        is the 2-D form), N 1-2, sizes from 1 up."""
        if op not in self.ops:
            return None
        from hypothesis import strategies as st

        names = list(INTERPOLATIONS)
        factor = st.one_of(st.sampled_from([1.0, 2.0, 0.5, 3.0, 1.5, 0.25, 0.75, 4.0]),
                           st.integers(1, 40).map(lambda v: v / 10),
                           st.floats(0.05, 4.0, allow_nan=False, allow_infinity=False))

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            x = (d(st.integers(1, 2)), d(st.integers(1, 5)), d(st.integers(1, 12)), d(st.integers(1, 12)))
            flag = d(st.sampled_from(names))
            interp: Any = flag if d(st.booleans()) else INTERPOLATIONS[flag]
            form = d(st.sampled_from(["dsize", "scale", "both", "empty"]))
            a: dict[str, Any] = {}
            if form in ("dsize", "both"):
                a["dsize"] = [d(st.integers(1, 16)), d(st.integers(1, 16))]
            else:
                a["dsize"] = d(st.sampled_from([None, [0, 0]]))
            if form in ("scale", "both"):
                a["fx"], a["fy"] = d(factor), d(factor)
            if d(st.integers(0, 9)) > 0:
                a["interpolation"] = interp
            else:
                flag = "INTER_LINEAR"  # the default
            dtypes = DTYPES if flag in _NEAREST else DTYPES[:3]  # float16 has no other kernel
            return {"args": a, "shapes": {"x": x}, "dtype": d(st.sampled_from(dtypes))}

        return draw()


class PyrUp(CvBinding):
    """cv2.pyrUp(src[, dst[, dstsize[, borderType]]]): 2x upsampling by zero insertion and a 5x5 Gaussian.
    Always unsupported: no canonical resize means it (see :data:`PYRUP_REASON`)."""

    name = "cv2.pyrUp"
    ops = ("resize",)
    always_unsupported = True
    native_args = frozenset({"dst", "dstsize", "borderType"})
    enum_args = {"borderType": ("BORDER_DEFAULT", "BORDER_REFLECT_101", "BORDER_REPLICATE")}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        return unsupported_op(self, case.op) if case.op != "resize" else Unsupported(PYRUP_REASON)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.validate_args(args)
        return Unsupported(PYRUP_REASON)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        cv2 = _cv2()
        a = dict(call.args)
        kwargs: dict[str, Any] = {}
        if a.get("dstsize") is not None:
            kwargs["dstsize"] = tuple(int(v) for v in a["dstsize"])
        if "borderType" in a:
            b = a["borderType"]
            kwargs["borderType"] = getattr(cv2, b) if isinstance(b, str) else int(b)
        x = tensors["x"]
        return cv2.pyrUp, _images(x), (), kwargs, x.shape[1]


PYRUP_REASON = (
    "cv2.pyrUp inserts zeros between pixels and filters with the 5x5 Gaussian outer([1, 4, 6, 4, 1]) / 64, times 4 "
    "(pyramids.cpp): inside the image each axis is y[2i] = (x[i-1] + 6 x[i] + x[i+1]) / 8, y[2i+1] = (x[i] + "
    "x[i+1]) / 2, i.e. a depthwise conv_transpose (stride 2, kernel [1, 4, 6, 4, 1] / 8 per axis, pads 2 and 1); "
    "but the border reflects (BORDER_DEFAULT = BORDER_REFLECT_101: x[-1] = x[1]) where conv_transpose pads "
    "with zeros, and no canonical resize mode smooths the even outputs: neither op means it exactly")
