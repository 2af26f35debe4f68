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
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from ..canonical import Case, normalize, per_axis
from ..canonical.conv_transpose import pads_from_begins
from ..reference.resize import exact_ratio
from .base import Binding, Framework, NativeCall, Unsupported, bf16_to_numpy, spatial_rank, spatial_repeats, unsupported_op


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


# TF's eager ops hand back tensors whose values are ready (to_canonical copies them to host).
FRAMEWORK = Framework("tensorflow", aliases=("tf", "keras"), distributions=("tensorflow", "tensorflow-cpu", "keras"),
                      module="tensorflow", extra="tensorflow", configure_threads=_configure_threads)


class TfBinding(Binding):
    framework = "tensorflow"
    channels_last = True

    def execute(self, prepared: Any) -> Any:
        fn, args, kwargs, device = prepared
        with _tf().device(_device(device)):
            return fn(*args, **kwargs)

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return from_tf(out, self.channels_last)


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
    return out[2:]


def _canonical_size(args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> list[int]:
    x = shapes["x"]
    size = args["size"]
    return [x[0], x[1], int(size[0]), int(size[1])]


class ImageResize(TfBinding):
    name = "tf.image.resize"
    ops = ("resize",)

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

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        method = str(args.get("method", "bilinear")).lower()
        if args.get("preserve_aspect_ratio"):
            return Unsupported("preserve_aspect_ratio: TF picks the size itself; give the resulting size instead")
        p: dict[str, Any] = {"sizes": _canonical_size(args, shapes)}
        aa = bool(args.get("antialias", False))
        if method == "nearest":
            p.update(mode="nearest", coordinate_transformation_mode="tf_half_pixel_for_nn", nearest_mode="floor")
        elif method == "bilinear":
            p.update(mode="linear", antialias=aa, exclude_outside=aa)
        elif method == "bicubic":
            p.update(mode="cubic", cubic_coeff_a=-0.5, exclude_outside=True, antialias=aa)
        elif method == "area":
            p.update(mode="area")
        else:
            return Unsupported(f"method {method!r} (lanczos, gaussian, mitchellcubic) has no ONNX Resize equivalent")
        return normalize("resize", p, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return _tf().image.resize, (to_tf(tensors["x"]),), dict(call.args), device


class _ResizeV1(TfBinding):
    """tf.compat.v1.image.resize_*: (align_corners, half_pixel_centers) pick the coordinate mode."""

    ops = ("resize",)
    mode = "linear"
    fn = ""
    # (align_corners, half_pixel_centers) -> canonical parameters
    table: dict[tuple[bool, bool], dict[str, Any]] = {}

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
        shapes = case.shapes
        for (ac, hpc), canon in self.table.items():
            want = normalize("resize", {"sizes": [*shapes["x"][:2], *size], **canon}, shapes)
            if want == n:
                return NativeCall(self.name, {"size": size, "align_corners": ac, "half_pixel_centers": hpc})
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
        key = (bool(args.get("align_corners", False)), bool(args.get("half_pixel_centers", False)))
        if key not in self.table:
            return Unsupported(f"{self.name} raises for align_corners={key[0]}, half_pixel_centers={key[1]}")
        return normalize("resize", {"sizes": _canonical_size(args, shapes), **self.table[key]}, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        fn = getattr(_tf().compat.v1.image, self.fn)
        return fn, (to_tf(tensors["x"]),), dict(call.args), device


class ResizeNearestV1(_ResizeV1):
    name = "tf.compat.v1.image.resize_nearest_neighbor"
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
    fn = "resize_bicubic"
    mode = "cubic"
    table = {
        (False, False): {"mode": "cubic", "coordinate_transformation_mode": "asymmetric", "cubic_coeff_a": -0.75},
        (True, False): {"mode": "cubic", "coordinate_transformation_mode": "align_corners", "cubic_coeff_a": -0.75},
        (False, True): {"mode": "cubic", "coordinate_transformation_mode": "half_pixel", "cubic_coeff_a": -0.5,
                        "exclude_outside": True},
    }


class ResizeAreaV1(_ResizeV1):
    name = "tf.compat.v1.image.resize_area"
    fn = "resize_area"
    mode = "area"
    table = {(False, False): {"mode": "area"}}

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        if args.get("align_corners"):
            return Unsupported("resize_area with align_corners=True scales boxes by (in-1)/(out-1) and clamps the "
                               "last: no canonical equivalent")
        return normalize("resize", {"sizes": _canonical_size(args, shapes), "mode": "area"}, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        args = {k: v for k, v in call.args.items() if k != "half_pixel_centers"}
        return _tf().compat.v1.image.resize_area, (to_tf(tensors["x"]),), args, device


class CropAndResize(TfBinding):
    name = "tf.image.crop_and_resize"
    ops = ("resize",)

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
        x = shapes["x"]
        boxes = [list(map(float, b)) for b in args["boxes"]]
        if list(args.get("box_indices", [])) != list(range(x[0])) or any(b != boxes[0] for b in boxes):
            return Unsupported("only one box per image, the same for every image, has a canonical equivalent")
        y1, x1, y2, x2 = boxes[0]
        method = args.get("method", "bilinear")
        p = {"sizes": list(args["crop_size"]), "axes": [2, 3], "roi": [y1, x1, y2, x2],
             "coordinate_transformation_mode": "tf_crop_and_resize",
             "extrapolation_value": float(args.get("extrapolation_value", 0.0))}
        if method == "bilinear":
            p["mode"] = "linear"
        elif method == "nearest":
            p.update(mode="nearest", nearest_mode="round_prefer_ceil")
        else:
            return Unsupported(f"method {method!r} is not bilinear or nearest")
        return normalize("resize", p, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        a = dict(call.args)
        return _tf().image.crop_and_resize, (to_tf(tensors["x"]), a.pop("boxes"), a.pop("box_indices"),
                                              a.pop("crop_size")), a, device


def _keras() -> Any:
    import keras

    return keras


class UpSampling2D(TfBinding):
    name = "keras.layers.UpSampling2D"
    ops = ("resize", "repeat")

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
        for interp in ("nearest", "bilinear"):
            want = self.from_native({"size": size, "interpolation": interp}, case.shapes)
            if want == n:
                if interp == "bilinear":
                    bad = _float32_only(case.dtype, "UpSampling2D(interpolation='bilinear')")
                    if bad:
                        return bad
                return NativeCall(self.name, {"size": size, "interpolation": interp})
        return Unsupported("UpSampling2D is nearest (repeat: asymmetric + floor) or bilinear (half_pixel) only")

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        size = args.get("size", 2)
        size = list(size) if isinstance(size, (list, tuple)) else [size, size]
        interp = args.get("interpolation", "nearest")
        if op == "repeat":
            if interp != "nearest":
                return Unsupported("UpSampling2D is a repeat only with interpolation='nearest'")
            return {"repeats": [int(v) for v in size]}
        p = {"scales": [1.0, 1.0, *map(float, size)]}
        if interp == "nearest":
            p.update(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        elif interp == "bilinear":
            p.update(mode="linear", coordinate_transformation_mode="half_pixel")
        else:
            return Unsupported(f"interpolation {interp!r} has no canonical mapping here")
        return normalize("resize", p, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        x = tensors["x"]
        kw = dict(call.args)
        if x.dtype.kind == "f" or x.dtype.name == "bfloat16":
            kw["dtype"] = x.dtype.name  # no autocast to float32
        with _tf().device(_device(device)):
            layer = _keras().layers.UpSampling2D(**kw)
        return layer, (to_tf(x),), {}, device


# ----------------------------------------------------------------------------------- conv_transpose


def _tf_same_begin(in_len: int, out_len: int, k_eff: int, s: int) -> int | None:
    """Begin pad of TF's SAME conv-transpose for output ``out_len``, or None if TF rejects it."""
    if -(-out_len // s) != in_len:
        return None
    total = max((in_len - 1) * s + k_eff - out_len, 0)
    return total // 2


def _tf_valid_ok(in_len: int, out_len: int, k_eff: int, s: int) -> bool:
    return out_len >= k_eff and (out_len - k_eff) // s + 1 == in_len


class _TfConvTranspose(TfBinding):
    ops = ("conv_transpose",)
    rank = 2
    fn = "conv2d_transpose"
    explicit = False

    def _geometry(self, case: Case) -> tuple[dict[str, Any], list[int], list[int], list[int]] | Unsupported:
        if case.op != "conv_transpose":
            return unsupported_op(self, case.op)
        k = spatial_rank(case.shapes)
        if k != self.rank:
            return Unsupported(f"{self.name} is {self.rank}-D; this case is {k}-D")
        n = self.normal_form(case)
        if n["group"] != 1:
            return Unsupported(f"{self.name} has no groups")
        if any(d > 1 for d in n["dilations"]):
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
        k = self.rank
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

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        k = self.rank
        x, w = shapes["x"], shapes["w"]
        st = args.get("strides", 1)
        st = per_axis(st, k)
        if len(st) == k + 2:
            st = st[1:-1]
        dl = args.get("dilations") or 1
        dl = per_axis(dl, k)
        if len(dl) == k + 2:
            dl = dl[1:-1]
        outs = list(args["output_shape"])[1:-1]
        k_eff = [(w[2 + i] - 1) * dl[i] + 1 for i in range(k)]
        pad = args.get("padding", "SAME")
        begins = []
        for i in range(k):
            if pad == "SAME":
                b = _tf_same_begin(x[2 + i], outs[i], k_eff[i], st[i])
                if b is None:
                    return Unsupported(f"TF raises: SAME needs ceil(output / stride) == input on axis {i}")
            elif pad == "VALID":
                if not _tf_valid_ok(x[2 + i], outs[i], k_eff[i], st[i]):
                    return Unsupported(f"TF raises: VALID output {outs[i]} does not pool back to {x[2 + i]}")
                b = 0
            else:
                b = int(pad[1 + i][0])
            begins.append(b)
        return self._canonical_from_begins(st, dl, begins, outs, shapes)

    @staticmethod
    def _canonical_from_begins(st: list[int], dl: list[int], begins: list[int], outs: list[int],
                               shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
        pads, extra = pads_from_begins(shapes["x"], shapes["w"], st, dl, begins, outs)
        return normalize("conv_transpose", {"strides": st, "dilations": dl, "pads": pads, "output_padding": extra},
                         shapes)

    def _kernel(self, call: NativeCall, w: np.ndarray) -> np.ndarray:
        from ..reference import direct_to_transposed

        if call.prep.get("rotate"):
            w = direct_to_transposed(w).astype(w.dtype)
        return np.ascontiguousarray(np.moveaxis(np.moveaxis(w, 0, -1), 0, -2))  # (*k, C_out, C_in)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        tf = _tf()
        filt = to_tf(self._kernel(call, tensors["w"]), channels_last=False)
        b = tensors.get("b")
        fn = getattr(tf.nn, self.fn)
        bias = None if b is None else to_tf(b, channels_last=False)

        def run(x: Any, f: Any, **kw: Any) -> Any:
            y = fn(x, f, **kw)
            return y if bias is None else tf.nn.bias_add(y, bias)

        return run, (to_tf(tensors["x"]), filt), dict(call.args), device


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


class KerasConv2DTranspose(_TfConvTranspose):
    name = "keras.layers.Conv2DTranspose"
    rank = 2

    def _layer_kwargs(self, args: Mapping[str, Any], cout: int, ksize: list[int]) -> dict[str, Any]:
        return {"filters": cout, "kernel_size": ksize, "strides": args.get("strides", 1),
                "padding": args.get("padding", "valid"), "output_padding": args.get("output_padding"),
                "dilation_rate": args.get("dilation_rate", 1)}

    def _output(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> list[int]:
        x, w = shapes["x"], shapes["w"]
        layer = _keras().layers.Conv2DTranspose(**self._layer_kwargs(args, w[1], list(w[2:])))
        shp = layer.compute_output_shape((x[0], x[2], x[3], x[1]))
        return [int(v) for v in shp[1:3]]

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        g = self._geometry(case)
        if isinstance(g, Unsupported):
            return g
        n = g[0]
        st, dl = n["strides"], n["dilations"]
        ops = [None] + [list(p) for p in itertools.product(*[range(max(s, d)) for s, d in zip(st, dl)])]
        for padding in ("valid", "same"):
            for op in ops:
                args = {"strides": st, "padding": padding, "output_padding": op, "dilation_rate": dl}
                try:
                    canon = self.from_native(args, case.shapes)
                except Exception:  # noqa: BLE001 - keras rejects the combination
                    continue
                if not isinstance(canon, Unsupported) and {**canon, "weight_convention": n["weight_convention"]} == n:
                    args["use_bias"] = "b" in case.shapes
                    prep = {"rotate": n["weight_convention"] == "direct"}
                    return NativeCall(self.name, args, prep, ("layer.set_weights([kernel (kH, kW, C_out, C_in), bias])",))
        return Unsupported("no Conv2DTranspose padding ('valid'/'same') and output_padding reproduce these pads")

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        outs = self._output(args, shapes)
        x = shapes["x"]
        return _TfConvTranspose.from_native(self, {"output_shape": [x[0], *outs, shapes["w"][1]],
                                                   "strides": args.get("strides", 1),
                                                   "padding": str(args.get("padding", "valid")).upper(),
                                                   "dilations": args.get("dilation_rate", 1)}, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        x = tensors["x"]
        kernel = self._kernel(call, tensors["w"])  # (kH, kW, C_out, C_in)
        kw = self._layer_kwargs(call.args, kernel.shape[-2], list(kernel.shape[:2]))
        kw["use_bias"] = tensors.get("b") is not None
        kw["dtype"] = x.dtype.name
        with _tf().device(_device(device)):
            layer = _keras().layers.Conv2DTranspose(**kw)
            layer.build((x.shape[0], x.shape[2], x.shape[3], x.shape[1]))
            weights = [kernel.astype(np.float32)]
            if kw["use_bias"]:
                weights.append(tensors["b"].astype(np.float32))
            layer.set_weights(weights)
        return layer, (to_tf(x),), {}, device


# ----------------------------------------------------------------------------------- pixel shuffle


class DepthToSpace(TfBinding):
    name = "tf.nn.depth_to_space"
    ops = ("pixel_shuffle",)
    arg = "upscale_factor"
    fn = "depth_to_space"

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op not in self.ops:
            return unsupported_op(self, case.op)
        if spatial_rank(case.shapes) != 2:
            return Unsupported(f"{self.name} is 2-D (NHWC) only")
        n = self.normal_form(case)
        if n.get("mode", "CRD") != "DCR":
            return Unsupported(f"{self.name} uses the DCR channel order only; this case is {n.get('mode', 'CRD')}")
        return NativeCall(self.name, {"block_size": int(n[self.arg])})

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        return normalize(self.ops[0], {self.arg: int(args["block_size"]), "mode": "DCR"}, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return getattr(_tf().nn, self.fn), (to_tf(tensors["x"]),), dict(call.args), device


class SpaceToDepth(DepthToSpace):
    name = "tf.nn.space_to_depth"
    ops = ("pixel_unshuffle",)
    arg = "downscale_factor"
    fn = "space_to_depth"


# ----------------------------------------------------------------------------------- max_unpool


def _unpool_run(x: Any, ksize: list[int], strides: list[int], padding: str, out: list[int]) -> Any:
    """Pool with argmax (include_batch_in_index=False: (y * W + x) * C + c), then scatter per plane."""
    tf = _tf()
    values, argmax = tf.nn.max_pool_with_argmax(x, ksize, strides, padding, include_batch_in_index=False)
    n, c = tf.shape(x)[0], tf.shape(x)[3]
    plane = tf.cast(argmax // tf.cast(c, argmax.dtype), tf.int64)  # y * W + x
    vals = tf.reshape(tf.transpose(values, [0, 3, 1, 2]), [-1])
    pos = tf.reshape(tf.transpose(plane, [0, 3, 1, 2]), [-1])
    m = tf.size(values) // (n * c)
    ni = tf.repeat(tf.range(n, dtype=tf.int64), c * m)
    ci = tf.tile(tf.repeat(tf.range(c, dtype=tf.int64), m), [n])
    idx = tf.stack([ni, ci, pos], axis=1)
    flat = tf.tensor_scatter_nd_update(tf.zeros([n, c, int(np.prod(out))], dtype=values.dtype), idx, vals)
    return tf.reshape(flat, [n, c, *out])  # canonical NCHW already


class MaxPoolWithArgmaxUnpool(TfBinding):
    name = "tf.nn.max_pool_with_argmax"
    ops = ("max_unpool",)
    channels_last = False  # the scatter writes NCHW directly

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
        return NativeCall(self.name, {"ksize": ks, "strides": st, "padding": padding, "output_shape": n["output_shape"]},
                          notes=("values scattered with tf.tensor_scatter_nd_update at argmax // C (per-plane index)",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        x = shapes["x"]
        ks, st = per_axis(args["ksize"], 2), per_axis(args["strides"], 2)
        if args.get("padding", "VALID") == "SAME":
            t = [max((-(-x[2 + i] // st[i]) - 1) * st[i] + ks[i] - x[2 + i], 0) for i in range(2)]
            pads = [t[0] // 2, t[1] // 2, t[0] - t[0] // 2, t[1] - t[1] // 2]
        else:
            pads = [0, 0, 0, 0]
        p = {"kernel_shape": list(ks), "strides": list(st), "pads": pads}
        if args.get("output_shape") is not None:
            p["output_shape"] = list(args["output_shape"])
        return normalize("max_unpool", p, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        a = call.args
        out = a.get("output_shape")
        if out is None:  # the canonical default, (pooled - 1) * stride + kernel - pads
            n = self.from_native(a, {"x": tuple(tensors["x"].shape)})
            out = n["output_shape"]
        return _unpool_run, (to_tf(tensors["x"]), a["ksize"], a["strides"], a.get("padding", "VALID"), out), {}, device


# ----------------------------------------------------------------------------------- repeat


def _tf_repeat_chain(x: Any, repeats: list[int]) -> Any:
    tf = _tf()
    for axis, r in enumerate(repeats, start=2):
        if r != 1:
            x = tf.repeat(x, r, axis=axis)
    return x


class TfRepeat(TfBinding):
    name = "tf.repeat"
    ops = ("repeat",)
    channels_last = False

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "repeat":
            return unsupported_op(self, case.op)
        r = case.normal_form()["repeats"]
        return NativeCall(self.name, {"repeats": r, "axis": list(range(2, 2 + len(r)))},
                          notes=("one tf.repeat(x, repeats[i], axis=axis[i]) per spatial axis (NCHW, no transpose)",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        k = spatial_rank(shapes)
        r = spatial_repeats(args.get("axis", list(range(2, 2 + k))), args["repeats"], k, self.name)
        return r if isinstance(r, Unsupported) else {"repeats": r}

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return _tf_repeat_chain, (to_tf(tensors["x"], channels_last=False), list(call.args["repeats"])), {}, device
