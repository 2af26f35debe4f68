"""Pillow: ``PIL.Image.Image.resize``. ``PIL`` is imported when the binding first runs, never at import.

The canonical NCHW tensor becomes Pillow images of the call's ``mode`` (the image's mode, written
beside the ``resize`` arguments): ``"F"`` (float32) and ``"L"`` (uint8) take one image per (n, c)
plane, one ``resize`` call each; ``"RGB"`` (uint8, C = 3) one image per n. Every band of an image
is resized with the same coefficients, so the split changes nothing. Pillow's ``size`` is
(WIDTH, HEIGHT): the canonical (H, W) reversed.

Vocabulary (what each filter computes, read from Pillow's src/libImaging/Resample.c,
Geometry.c and src/PIL/Image.py, checked against the reference in tests/test_pil_bindings.py):

    BILINEAR  -> linear, half_pixel, antialias=1, exclude_outside=1 (the triangle stretched by
                 in/out when downscaling; taps outside the image dropped and the rest renormalised)
    BICUBIC   -> cubic a=-0.5, half_pixel, antialias=1, exclude_outside=1 (Pillow's default filter)
    BOX       -> area when every resized axis changes by an integer factor (in % out == 0 or
                 out % in == 0); nearest, half_pixel when every resized axis upsamples (support 0.5:
                 one tap); otherwise no canonical form (the box keeps whole pixels whose centres
                 fall inside it, weight 1 each, not their coverage)
    NEAREST   -> nearest, half_pixel, round_prefer_ceil: floor((i + 0.5) * in / out), the source
                 position accumulated in double precision (ImagingScaleAffine), so a tie lands on
                 either side; the binding replays that arithmetic and claims the nearest_mode it
                 gives, or nothing when an axis goes both ways
    HAMMING, LANCZOS, MKS2013, MKS2021 -> no canonical kernel (Hamming-windowed sinc, Lanczos-3,
                 Magic Kernel Sharp)

Example:
    >>> PilResize().from_native({"size": [4, 2], "resample": "BILINEAR"}, {"x": (1, 1, 4, 4)})["mode"]
    'linear'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..canonical import Case, normalize, op_info
from .base import Binding, Framework, NativeCall, Unsupported, unsupported_op

# check_cost_s: about 6 ms a check (measured: `upconform run --framework pillow`), mostly the reference
FRAMEWORK = Framework("pillow", aliases=("PIL",), distributions=("pillow",), module="PIL", extra="pillow",
                      check_cost_s=0.006)

# Image.Resampling in Pillow 13.0.0 (src/PIL/Image.py): name -> value
RESAMPLING: dict[str, int] = {"NEAREST": 0, "LANCZOS": 1, "BILINEAR": 2, "BICUBIC": 3, "BOX": 4, "HAMMING": 5,
                              "MKS2013": 6, "MKS2021": 7}
_NAMES = {v: k for k, v in RESAMPLING.items()}


def resample_name(v: Any) -> str:
    """The filter name of a ``resample`` argument (a name such as "BICUBIC" or its value); anything else
    raises naming the field and the allowed values (as Pillow raises "Unknown resampling filter").

    Example:
        >>> resample_name("BOX"), resample_name(3)
        ('BOX', 'BICUBIC')
        >>> resample_name(9)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: PIL.Image.Image.resize: resample=9 is not one of [...] (or their values [0, 1, 2, 3, 4, 5, 6, 7])
    """
    if isinstance(v, str) and v in RESAMPLING:
        return v
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and int(v) in _NAMES:
        return _NAMES[int(v)]
    err = ValueError(f"PIL.Image.Image.resize: resample={v!r} is not one of {list(RESAMPLING)} "
                     f"(or their values {sorted(_NAMES)})")
    err.key = "resample"  # type: ignore[attr-defined]  # the field a located error names
    raise err
# image modes: name -> (canonical dtype, bands); None: the mode has no canonical dtype here
MODES: dict[str, tuple[str | None, int]] = {"F": ("float32", 1), "L": ("uint8", 1), "RGB": ("uint8", 3),
                                            "RGBA": ("uint8", 4), "LA": ("uint8", 2), "I": (None, 1),
                                            "I;16": (None, 1)}
_NO_KERNEL = {
    "HAMMING": "a Hamming-windowed sinc (support 1)",
    "LANCZOS": "Lanczos-3 (a windowed sinc, support 3)",
    "MKS2013": "Magic Kernel Sharp 2013",
    "MKS2021": "Magic Kernel Sharp 2021",
}
_SRC = "https://github.com/python-pillow/Pillow/blob/12.0.0/src/libImaging/Resample.c"


def _pil() -> Any:
    from PIL import Image

    return Image


# ----------------------------------------------------------------------------------- Pillow's arithmetic


def nearest_index(in_len: int, out_len: int) -> list[int]:
    """Source index of every output pixel for ``resample=NEAREST`` on a full-image box, as
    ImagingScaleAffine (Geometry.c) computes it: ``xo = 0.5 * a``, then ``xo += a`` per pixel, in double.

    Example:
        >>> nearest_index(8, 21)[10]  # (10 + 0.5) * 8 / 21 = 4 exactly; the accumulated sum falls short
        3
    """
    a = float(in_len) / out_len
    xo = a * 0.5
    out = []
    for _ in range(out_len):
        out.append(-1 if xo < 0.0 else int(xo))
        xo += a
    return out


def box_index(in_len: int, out_len: int) -> list[list[int]]:
    """Pixels with a non-zero weight for every output pixel of ``resample=BOX`` (precompute_coeffs in
    Resample.c, replayed in double precision).

    Example:
        >>> box_index(2, 4)
        [[0], [0], [1], [1]]
    """
    scale = float(in_len) / out_len
    fs = max(scale, 1.0)
    support, inv = 0.5 * fs, 1.0 / fs
    rows = []
    for xx in range(out_len):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_len) - xmin
        rows.append([x + xmin for x in range(xmax) if -0.5 < (x + xmin - center + 0.5) * inv <= 0.5])
    return rows


def _canonical_nearest(in_len: int, out_len: int, prefer: str) -> list[int]:
    """half_pixel nearest indices, exact: round(x) with x = (2i + 1) in / (2 out) - 1/2."""
    out = []
    for i in range(out_len):
        num, den = (2 * i + 1) * in_len, 2 * out_len  # x + 1/2 = num / den
        r = num // den if prefer == "round_prefer_ceil" else -((-num) // den) - 1
        out.append(min(max(r, 0), in_len - 1))
    return out


def _nearest_modes(picked: Sequence[int], in_len: int, out_len: int) -> set[str]:
    return {m for m in ("round_prefer_ceil", "round_prefer_floor")
            if _canonical_nearest(in_len, out_len, m) == list(picked)}


# ----------------------------------------------------------------------------------- the binding


class PilResize(Binding):
    name = "PIL.Image.Image.resize"
    framework = "pillow"
    ops = ("resize",)
    # 8-bit images: two passes (Resample.c), each rounded and clipped to uint8 (PRECISION_BITS = 22)
    readings = {"integer_rounding": ("per_axis",)}
    native_args = frozenset({"size", "resample", "box", "reducing_gap", "mode"})
    enum_args = {"resample": tuple(RESAMPLING), "mode": tuple(MODES)}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        """The call for a canonical case, checked: what the call means (from_native) must be the case."""
        if case.op != "resize":
            return unsupported_op(self, case.op)
        x = tuple(case.shapes["x"])
        if len(x) != 4:
            return Unsupported(f"{self.name} resizes 2-D images (NCHW input), not a {len(x)}-D tensor")
        mode = {"float32": "F", "uint8": "RGB" if x[1] == 3 else "L"}.get(case.dtype)
        if mode is None:
            return Unsupported(f"Pillow has no {case.dtype} image mode (its float mode F is float32; 8-bit modes "
                               "L and RGB are uint8)")
        n = self.normal_form(case)
        if "sizes" not in n:
            return Unsupported("Pillow takes integer output sizes; this case's scale is not out / in exactly, "
                               "and the coordinates follow the scale")
        if list(n["sizes"][:2]) != list(x[:2]) or "axes" in n:
            return Unsupported(f"{self.name} resizes H and W only, with no keep_aspect_ratio_policy")
        if case.dtype == "uint8" and n["mode"] == "linear" and n.get("integer_rounding") != "per_axis" and \
                sum(i != o for i, o in zip(x[2:], n["sizes"][2:])) == 2:
            return Unsupported("Pillow rounds 8-bit images to uint8 after each pass (integer_rounding: per_axis); "
                               "this case rounds once, at the end, and the two differ by more than one step "
                               "(e.g. 113 for 111.9, 12x16 -> 27x35)")
        resample = {"nearest": "NEAREST", "linear": "BILINEAR", "cubic": "BICUBIC", "area": "BOX"}.get(n["mode"])
        if resample is None:
            return Unsupported(f"Pillow has no filter for mode {n['mode']!r}")
        want = {k: v for k, v in n.items() if k not in op_info(case.op).integer_conventions}
        # nearest: NEAREST, else BOX (one tap per output when every axis upsamples; ties decided apart)
        why = []
        for r in [resample, "BOX"] if resample == "NEAREST" else [resample]:
            args = {"size": [int(n["sizes"][3]), int(n["sizes"][2])], "resample": r, "mode": mode}
            back = self.from_native(args, case.shapes, op=case.op)
            if back == want:
                break
            why.append(f"{self.name}({args}) means {back.reason if isinstance(back, Unsupported) else back}")
        else:
            return Unsupported("no Pillow call computes this case: " + "; ".join(why))
        notes = (f"one resize call per {'image (n)' if mode == 'RGB' else '(n, c) plane'}, as an image of mode "
                 f"{mode!r}; size is (W, H)",)
        return NativeCall(self.name, args, notes=notes)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        """The canonical meaning of ``Image.fromarray(plane, mode).resize(**args)`` on NCHW ``shapes``.

        Example:
            >>> m = PilResize().from_native({"size": [5, 5], "resample": "BICUBIC"}, {"x": (1, 1, 7, 7)})
            >>> m["cubic_coeff_a"], m["antialias"], m["exclude_outside"]
            (-0.5, True, True)
        """
        self.validate_args(args)
        if op not in (None, "resize"):
            return unsupported_op(self, op)
        x = tuple(shapes["x"])
        if len(x) != 4:
            return Unsupported(f"{self.name} resizes 2-D images: the canonical input is NCHW, not {len(x)}-D")
        n_, c, h, w = x
        mode = args.get("mode", "F")
        if mode not in MODES:
            return Unsupported(f"Image.fromarray raises: mode {mode!r} is not one of {list(MODES)}")
        dtype, bands = MODES[mode]
        if mode in ("RGBA", "LA"):
            return Unsupported(f"Pillow resizes {mode} images premultiplied by alpha (Image.resize converts them to "
                               f"{ {'RGBA': 'RGBa', 'LA': 'La'}[mode]} first): the colour bands are not resized one "
                               "by one, so no canonical resize computes them")
        if dtype is None:
            return Unsupported(f"mode {mode!r} (32-bit or 16-bit integers) has no canonical dtype here")
        if bands > 1 and c != bands:
            return Unsupported(f"mode {mode!r} has {bands} bands; the input has C = {c}")
        if h < 1 or w < 1 or n_ < 1 or c < 1:
            return Unsupported("Pillow images are at least 1x1 (no empty N, C, H or W)")
        size = args.get("size")
        if not isinstance(size, (list, tuple)) or len(size) != 2 or \
                not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size):
            return Unsupported(f"{self.name} raises: size={size!r} is not (width, height) integers")
        ow, oh = int(size[0]), int(size[1])
        if ow < 1 or oh < 1:
            return Unsupported(f"{self.name} raises: size={size!r}: height and width must be > 0")
        r = args.get("resample")
        name = "BICUBIC" if r is None else resample_name(r)
        box = args.get("box")
        if box is not None:
            if not isinstance(box, (list, tuple)) or len(box) != 4 or \
                    not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
                return Unsupported(f"{self.name} raises: box={box!r} is not 4 numbers")
            b = [float(np.float32(v)) for v in box]  # the C function takes floats
            if b[0] < 0 or b[1] < 0 or b[2] > w or b[3] > h or b[2] < b[0] or b[3] < b[1]:
                return Unsupported(f"{self.name} raises: box={list(box)} is outside (0, 0, {w}, {h}) or empty")
            if b != [0.0, 0.0, float(w), float(h)]:
                return Unsupported("box crops a source region with half-pixel coordinates (centre in0 + (i + 0.5) "
                                   "* (in1 - in0) / out); ONNX Resize's roi applies only to tf_crop_and_resize, "
                                   "whose coordinates are corner-aligned: no canonical form")
        gap = args.get("reducing_gap")
        if gap is not None:
            if not isinstance(gap, (int, float)) or isinstance(gap, bool) or not gap >= 1.0:
                return Unsupported(f"{self.name} raises: reducing_gap={gap!r} must be 1.0 or greater")
            fx, fy = int(w / ow / gap) or 1, int(h / oh / gap) or 1
            if name != "NEAREST" and (fx > 1 or fy > 1) and (ow, oh) != (w, h):
                return Unsupported(f"reducing_gap={gap} first reduce()s by ({fx}, {fy}) (box averaging of whole "
                                   "blocks, Image.reduce), then resamples: two resizes, not one canonical resize")
        p: dict[str, Any] = {"sizes": [n_, c, oh, ow], "coordinate_transformation_mode": "half_pixel"}
        if (oh, ow) == (h, w):
            p["mode"] = "nearest"  # Image.resize returns a copy (whatever the filter)
            return normalize("resize", p, {"x": x})
        resized = [(i, o) for i, o in ((h, oh), (w, ow)) if i != o]  # an unchanged axis has no pass
        if name in _NO_KERNEL:
            return Unsupported(f"{name} is {_NO_KERNEL[name]}: no canonical resize kernel")
        if name == "NEAREST":
            modes = {"round_prefer_ceil", "round_prefer_floor"}
            for i, o in resized:
                modes &= _nearest_modes(nearest_index(i, o), i, o)
            if not modes:
                return Unsupported("NEAREST accumulates the source position in double precision "
                                   "(Geometry.c ImagingScaleAffine): here its ties go to different sides")
            p.update(mode="nearest", nearest_mode=sorted(modes)[0])
        elif name == "BOX":
            if all(i % o == 0 or o % i == 0 for i, o in resized):
                p["mode"] = "area"
            elif all(o > i for i, o in resized):
                modes = {"round_prefer_ceil", "round_prefer_floor"}
                for i, o in resized:
                    taps = box_index(i, o)
                    if any(len(t) != 1 for t in taps):
                        return Unsupported("BOX upsampling gave an output pixel more or less than one tap")
                    modes &= _nearest_modes([t[0] for t in taps], i, o)
                if not modes:
                    return Unsupported("BOX upsampling picks one pixel per output; here its ties (computed in "
                                       "double precision) go to different sides")
                p.update(mode="nearest", nearest_mode=sorted(modes)[0])
            else:
                return Unsupported("BOX downsampling by a non-integer factor averages the whole pixels whose centres "
                                   "fall in the box (weight 1 each), not their coverage: neither area nor "
                                   f"adaptive_avg ({_SRC})")
        else:
            if dtype == "uint8" and name == "BICUBIC" and len(resized) == 2:
                return Unsupported("8-bit BICUBIC with both axes resized: Pillow 13.0.0 chooses which pass runs "
                                   "first per call (measured: vertical first for e.g. 25x8 -> 5x12), and the uint8 "
                                   "rounding between passes then differs by up to ~15 steps from integer_rounding="
                                   "per_axis (width first)")
            p.update(mode="linear" if name == "BILINEAR" else "cubic", antialias=True, exclude_outside=True)
            if name == "BICUBIC":
                p["cubic_coeff_a"] = -0.5
        return normalize("resize", p, {"x": x})

    def search_space(self, op: str) -> Any:
        """Images of mode F, L, RGB (now and then RGBA, LA); size (W, H) from 1 up; every filter by name
        or Resampling value; box absent, full or a sub-region; reducing_gap absent, None or 1..4."""
        from hypothesis import strategies as st

        if op != "resize":
            return None

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            mode = d(st.sampled_from(["F", "L", "RGB"])) if d(st.integers(0, 9)) < 9 else d(st.sampled_from(["RGBA", "LA"]))
            dtype, bands = MODES[mode]
            c = bands if bands > 1 else d(st.integers(1, 3))
            h, w = d(st.integers(1, 12)), d(st.integers(1, 12))
            x = (d(st.integers(1, 2)), c, h, w)
            a: dict[str, Any] = {"size": [d(st.integers(1, 16)), d(st.integers(1, 16))], "mode": mode}
            r = d(st.sampled_from(["BICUBIC", "BILINEAR", "NEAREST", "BOX", None, "int"])) if d(st.integers(0, 9)) < 9 \
                else d(st.sampled_from(["HAMMING", "LANCZOS", "MKS2013", "MKS2021"]))
            if r == "int":
                r = d(st.integers(0, 7))
            if r is not None or d(st.booleans()):
                a["resample"] = r
            kind = d(st.integers(0, 9))
            if kind == 8:
                a["box"] = [0.0, 0.0, float(w), float(h)]
            elif kind == 9:
                x0, y0 = d(st.integers(0, 4 * w)) / 4, d(st.integers(0, 4 * h)) / 4
                a["box"] = [min(x0, w), min(y0, h), d(st.integers(int(4 * x0), 4 * w)) / 4,
                            d(st.integers(int(4 * y0), 4 * h)) / 4]
            g = d(st.integers(0, 5))
            if g == 4:
                a["reducing_gap"] = None
            elif g == 5:
                a["reducing_gap"] = d(st.sampled_from([1.0, 1.5, 2.0, 3.0]))
            return {"args": a, "shapes": {"x": x}, "dtype": dtype}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        Image = _pil()
        x = tensors["x"]
        args = dict(call.args)
        mode = args.pop("mode", None) or "F"  # as from_native reads a call without mode (a uint8 tensor then raises)
        dtype, bands = MODES.get(mode, (None, 1))
        if dtype is not None and x.dtype != np.dtype(dtype):
            raise TypeError(f"mode {mode!r} takes {dtype} tensors, not {x.dtype}")
        r = args.get("resample")
        if isinstance(r, str):
            args["resample"] = Image.Resampling[r]
        if isinstance(args.get("box"), list):
            args["box"] = tuple(args["box"])
        if isinstance(args.get("size"), list):
            args["size"] = tuple(args["size"])
        if dtype is None:
            raise ValueError(f"mode {mode!r} has no canonical dtype")
        if bands > 1:
            if x.shape[1] != bands:
                raise ValueError(f"mode {mode!r} has {bands} bands; the input has C = {x.shape[1]}")
            images = [[Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)))] for img in x]
        else:
            images = [[Image.fromarray(np.ascontiguousarray(p)) for p in img] for img in x]
        assert all(im.mode == mode for row in images for im in row)  # fromarray infers F, L, LA, RGB, RGBA
        return images, args, bands > 1, x.dtype

    def execute(self, prepared: Any) -> Any:
        images, args, _, _ = prepared
        return [[im.resize(**args) for im in row] for row in images]

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        _, _, interleaved, dtype = prepared
        if interleaved:
            return np.stack([np.asarray(row[0]).transpose(2, 0, 1) for row in out]).astype(dtype, copy=False)
        return np.stack([np.stack([np.asarray(im) for im in row]) for row in out]).astype(dtype, copy=False)
