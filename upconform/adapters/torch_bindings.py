"""PyTorch bindings. ``torch`` is imported when a binding first runs, never at import time.

Vocabulary (canonical normal form -> torch.nn.functional.interpolate):

    nearest + asymmetric + floor               -> mode="nearest"
    nearest + half_pixel + round_prefer_ceil   -> mode="nearest-exact"
    linear  + half_pixel | align_corners       -> "linear"/"bilinear"/"trilinear", align_corners=False|True
    cubic a=-0.75, clamped taps (2-D)          -> "bicubic"
    linear/cubic antialias, exclude_outside    -> antialias=True (bicubic then uses a=-0.5, PIL's filter)
    adaptive_avg                               -> "area" (adaptive average pooling)
    sizes -> size=..., scales -> scale_factor=... (the given scale drives the coordinates)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..canonical import Case, normalize, per_axis
from .base import Binding, Framework, NativeCall, Unsupported, bf16_to_numpy, spatial_rank, spatial_repeats, unsupported_op


def _torch() -> Any:
    import torch

    return torch


def to_torch(a: np.ndarray, device: str = "cpu") -> Any:
    """numpy (bfloat16 from ml_dtypes included) -> torch tensor on ``device``."""
    torch = _torch()
    if a.dtype.name == "bfloat16":
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16).to(device)
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def from_torch(t: Any) -> np.ndarray:
    torch = _torch()
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return bf16_to_numpy(t.float().numpy())
    return t.numpy()


def _configure_threads(threads: int) -> None:
    _torch().set_num_threads(threads)


def _synchronize(device: str) -> None:
    if device.startswith("cuda"):
        _torch().cuda.synchronize()


FRAMEWORK = Framework("torch", aliases=("pytorch",), distributions=("torch",), module="torch", extra="torch",
                      configure_threads=_configure_threads, synchronize=_synchronize)


class TorchBinding(Binding):
    framework = "torch"

    def execute(self, prepared: Any) -> Any:
        fn, args, kwargs = prepared[:3]
        return fn(*args, **kwargs)

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return from_torch(out)


# ----------------------------------------------------------------------------------- resize

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


class Interpolate(TorchBinding):
    name = "torch.nn.functional.interpolate"
    ops = ("resize", "repeat")
    # uint8 bilinear and bicubic run Pillow-style separable passes, rounded to uint8 after each axis
    readings = {"integer_rounding": ("per_axis",)}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        k = spatial_rank(case.shapes)
        if case.op == "repeat":
            r = case.normal_form()["repeats"]
            return NativeCall(self.name, {"scale_factor": [float(v) for v in r], "mode": "nearest"})
        if case.op != "resize":
            return unsupported_op(self, case.op)
        n = self.normal_form(case)
        x = case.shapes["x"]
        if "sizes" in n and list(n["sizes"][:2]) != list(x[:2]) or "scales" in n and n["scales"][:2] != [1.0, 1.0]:
            return Unsupported("interpolate resizes spatial axes only; this case resizes N or C")
        if "keep_aspect_ratio_policy" in n:
            return Unsupported("interpolate has no keep_aspect_ratio_policy")
        ctm, mode = n["coordinate_transformation_mode"], n["mode"]
        args: dict[str, Any] = {}
        if "sizes" in n:
            args["size"] = list(n["sizes"][2:])
        else:
            args["scale_factor"] = list(n["scales"][2:])
        if mode == "nearest":
            pair = (ctm, n["nearest_mode"])
            if pair == ("asymmetric", "floor"):
                args["mode"] = "nearest"
            elif pair == ("half_pixel", "round_prefer_ceil"):
                args["mode"] = "nearest-exact"
            else:
                return Unsupported(
                    "interpolate's nearest modes are floor(i / s) ('nearest' = asymmetric + floor) and "
                    f"floor((i + 0.5) / s) ('nearest-exact' = half_pixel + round_prefer_ceil); not {ctm} + {pair[1]}")
            return NativeCall(self.name, args)
        if mode == "adaptive_avg":
            args["mode"] = "area"
            return NativeCall(self.name, args)
        if mode == "area":
            return Unsupported("interpolate's 'area' is adaptive average pooling over integer bins (canonical "
                               "adaptive_avg); exact fractional pixel coverage has no torch mode")
        if ctm not in ("half_pixel", "align_corners"):
            return Unsupported(f"interpolate's linear and cubic modes take align_corners=False (half_pixel) or True "
                               f"(align_corners), not {ctm}")
        if ctm == "align_corners" and "scales" in n:
            return Unsupported("with align_corners=True interpolate divides by (out - 1) for the integer output "
                               "size (align_corners_length: integer); this case reads L = in * scale - 1, and in * "
                               "scale is not an integer here")
        aa = n["antialias"]
        excl = n.get("exclude_outside", False)
        resized = sum(i != o for i, o in zip(x, _out_shape(n, x)))
        if case.dtype == "uint8" and mode == "cubic" and resized > 1 and n.get("integer_rounding") != "per_axis":
            return Unsupported("interpolate's uint8 bicubic rounds and saturates to uint8 after each axis "
                               "(integer_rounding: per_axis); rounding once at the end differs by up to ~20 steps")
        if mode == "linear":
            args["mode"] = _LINEAR[k]
            if aa and (k != 2 or ctm != "half_pixel" or not excl):
                return Unsupported("interpolate antialias is 2-D, half_pixel, and drops outside taps (exclude_outside=1)")
        else:
            if k != 2:
                return Unsupported("interpolate's bicubic is 2-D only")
            args["mode"] = "bicubic"
            a = n["cubic_coeff_a"]
            upsampling = all(o >= i for o, i in zip(_out_shape(n, x), x))
            if aa or (a == -0.5 and excl and upsampling and ctm == "half_pixel"):
                # torch's antialias bicubic is PIL's filter: a = -0.5, outside taps dropped
                if not (a == -0.5 and excl and ctm == "half_pixel"):
                    return Unsupported("interpolate bicubic antialias means a=-0.5, exclude_outside=1, half_pixel")
                aa = True
            elif not (a == -0.75 and not excl):
                return Unsupported(f"interpolate bicubic is a=-0.75 with clamped border taps; not a={a}, "
                                   f"exclude_outside={int(excl)}")
        args["align_corners"] = ctm == "align_corners"
        if aa:
            args["antialias"] = True
        return NativeCall(self.name, args)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        x = tuple(shapes["x"])
        k = len(x) - 2
        mode = args.get("mode", "nearest")
        ac = args.get("align_corners")
        aa = bool(args.get("antialias", False))
        size, sf = args.get("size"), args.get("scale_factor")
        if (size is None) == (sf is None):
            return Unsupported("interpolate needs exactly one of size and scale_factor")
        if ac is not None and mode not in ("linear", "bilinear", "trilinear", "bicubic"):
            return Unsupported(f"interpolate raises: align_corners is only for linear modes, not {mode!r}")
        if mode in ("linear", "bilinear", "trilinear") and _LINEAR[k] != mode:
            return Unsupported(f"interpolate raises: mode {mode!r} needs a {mode_rank(mode) + 2}-D input, got {len(x)}-D")
        p: dict[str, Any] = {}
        if size is not None:
            p["sizes"] = [*x[:2], *per_axis(size, k)]
        elif args.get("recompute_scale_factor"):
            p["sizes"] = [*x[:2], *[math.floor(i * s) for i, s in zip(x[2:], per_axis(sf, k, cast=float))]]
        else:
            p["scales"] = [1.0, 1.0, *per_axis(sf, k, cast=float)]
        if op == "repeat":
            s = p.get("scales", [])[2:]
            if mode != "nearest" or not s or any(v != int(v) for v in s):
                return Unsupported("interpolate is a repeat only in mode 'nearest' with integer scale_factor")
            return {"repeats": [int(v) for v in s]}
        if mode == "nearest":
            p.update(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        elif mode == "nearest-exact":
            p.update(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
        elif mode in _LINEAR.values() or mode == "bicubic":
            p["mode"] = "linear" if mode != "bicubic" else "cubic"
            p["coordinate_transformation_mode"] = "align_corners" if ac else "half_pixel"
            if ac and "scales" in p:  # torch divides by the integer output length minus one
                p["align_corners_length"] = "integer"
            if aa:
                p.update(antialias=True, exclude_outside=True)
            if mode == "bicubic":
                p["cubic_coeff_a"] = -0.5 if aa else -0.75
                if aa:  # PIL's filter applies its kernel (a=-0.5, outside taps dropped) when upsampling too
                    p["exclude_outside"] = True
        elif mode == "area":
            p["mode"] = "adaptive_avg"
        else:
            return Unsupported(f"interpolate mode {mode!r} is not one of nearest, nearest-exact, linear, bilinear, "
                               "trilinear, bicubic, area")
        return normalize("resize", p, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        F = _torch().nn.functional
        return F.interpolate, (to_torch(tensors["x"], device),), dict(call.args)


def _out_shape(n: Mapping[str, Any], x: tuple[int, ...]) -> list[int]:
    return list(n["sizes"]) if "sizes" in n else [math.floor(i * s) for i, s in zip(x, n["scales"])]


def mode_rank(mode: str) -> int:
    return {v: k for k, v in _LINEAR.items()}[mode]


# ----------------------------------------------------------------------------------- conv_transpose


class _ConvTranspose(TorchBinding):
    ops = ("conv_transpose",)
    rank = 2

    @property
    def fn_name(self) -> str:
        return f"conv_transpose{self.rank}d"

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "conv_transpose":
            return unsupported_op(self, case.op)
        k = spatial_rank(case.shapes)
        if k != self.rank:
            return Unsupported(f"{self.name} is {self.rank}-D; this case is {k}-D")
        n = self.normal_form(case)
        pads, extra = n["pads"], n["output_padding"]
        padding, out_pad = [], []
        for i in range(k):
            b, e = pads[i], pads[k + i]
            if extra[i] > 0 and e > 0 or (extra[i] == 0 and e > b):
                return Unsupported(f"{self.name} pads both ends by one `padding`; begin {b} / end {e} "
                                   f"(+{extra[i]} output rows) is not symmetric padding plus output_padding")
            padding.append(b)
            out_pad.append(b - e + extra[i])
        if any(o >= max(s, d) for o, s, d in zip(out_pad, n["strides"], n["dilations"])):
            return Unsupported(f"{self.name} requires output_padding < max(stride, dilation); needs {out_pad}")
        prep = {"rotate": n["weight_convention"] == "direct", "group": n["group"]}
        notes = ("direct (zero-insertion) kernel rotated 180 degrees and channel axes swapped to (C_in, C_out/g, *k)",
                 ) if prep["rotate"] else ()
        return NativeCall(self.name, {"stride": n["strides"], "padding": padding, "output_padding": out_pad,
                                      "groups": n["group"], "dilation": n["dilations"]}, prep, notes)

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        k = self.rank
        if isinstance(args.get("padding"), str):
            return Unsupported(f"{self.name} takes integer padding only")
        pad = per_axis(args.get("padding", 0), k)
        p = {"strides": per_axis(args.get("stride", 1), k), "pads": pad + pad,
             "output_padding": per_axis(args.get("output_padding", 0), k), "group": int(args.get("groups", 1)),
             "dilations": per_axis(args.get("dilation", 1), k)}
        return normalize("conv_transpose", p, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        from ..reference import direct_to_transposed

        w = tensors["w"]
        if call.prep.get("rotate"):
            w = direct_to_transposed(w, group=call.prep.get("group", 1)).astype(w.dtype)
        b = tensors.get("b")
        fn = getattr(_torch().nn.functional, self.fn_name)
        return fn, (to_torch(tensors["x"], device), to_torch(w, device),
                    None if b is None else to_torch(b, device)), dict(call.args)


class ConvTranspose1d(_ConvTranspose):
    name = "torch.nn.functional.conv_transpose1d"
    rank = 1


class ConvTranspose2d(_ConvTranspose):
    name = "torch.nn.functional.conv_transpose2d"
    rank = 2


class ConvTranspose3d(_ConvTranspose):
    name = "torch.nn.functional.conv_transpose3d"
    rank = 3


# ----------------------------------------------------------------------------------- pixel shuffle


class PixelShuffle(TorchBinding):
    name = "torch.nn.functional.pixel_shuffle"
    ops = ("pixel_shuffle",)
    arg = "upscale_factor"

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op not in self.ops:
            return unsupported_op(self, case.op)
        if spatial_rank(case.shapes) != 2:
            return Unsupported(f"{self.name} rearranges the last two axes: 2-D only")
        n = self.normal_form(case)
        if n.get("mode", "CRD") != "CRD":
            return Unsupported(f"{self.name} uses the CRD channel order only; this case is {n['mode']}")
        return NativeCall(self.name, {self.arg: int(n[self.arg])})

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        return normalize(self.ops[0], {self.arg: int(args[self.arg]), "mode": "CRD"}, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        fn = getattr(_torch().nn.functional, self.name.rsplit(".", 1)[1])
        return fn, (to_torch(tensors["x"], device), call.args[self.arg]), {}


class PixelUnshuffle(PixelShuffle):
    name = "torch.nn.functional.pixel_unshuffle"
    ops = ("pixel_unshuffle",)
    arg = "downscale_factor"


# ----------------------------------------------------------------------------------- max_unpool


class _MaxUnpool(TorchBinding):
    ops = ("max_unpool",)
    rank = 2

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "max_unpool":
            return unsupported_op(self, case.op)
        k = spatial_rank(case.shapes)
        if k != self.rank:
            return Unsupported(f"{self.name} is {self.rank}-D; this case is {k}-D")
        n = self.normal_form(case)
        pads = n["pads"]
        if pads[:k] != pads[k:]:
            return Unsupported(f"torch max pooling pads both ends equally; pads {pads} are asymmetric")
        if any(2 * p > ks for p, ks in zip(pads[:k], n["kernel_shape"])):
            return Unsupported(f"torch max pooling requires padding <= kernel_size / 2; pads {pads[:k]}")
        pooled = [(x + 2 * p - ks) // s + 1 for x, p, ks, s in
                  zip(case.shapes["x"][2:], pads[:k], n["kernel_shape"], n["strides"])]
        for i in range(k):
            default = (pooled[i] - 1) * n["strides"][i] - 2 * pads[i] + n["kernel_shape"][i]
            if not default - n["strides"][i] < n["output_shape"][i] < default + n["strides"][i]:
                return Unsupported(f"max_unpool{k}d accepts output_size within (default - stride, default + stride) = "
                                   f"({default - n['strides'][i]}, {default + n['strides'][i]}) on axis {i}; "
                                   f"the case asks {n['output_shape'][i]}")
        return NativeCall(self.name, {"kernel_size": n["kernel_shape"], "stride": n["strides"], "padding": pads[:k],
                                      "output_size": n["output_shape"]},
                          notes=(f"indices from torch.nn.functional.max_pool{k}d(x, kernel_size, stride, padding, "
                                 "return_indices=True)",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        k = self.rank
        ks = per_axis(args["kernel_size"], k)
        st = per_axis(args.get("stride") if args.get("stride") is not None else ks, k)
        pad = per_axis(args.get("padding", 0), k)
        p = {"kernel_shape": ks, "strides": st, "pads": pad + pad}
        if args.get("output_size") is not None:
            p["output_shape"] = list(args["output_size"])[-k:]
        return normalize("max_unpool", p, shapes)

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        F = _torch().nn.functional
        a = call.args
        ks = a["kernel_size"]
        stride = a.get("stride") if a.get("stride") is not None else ks  # torch's default: the kernel
        padding = a.get("padding", 0)
        x = to_torch(tensors["x"], device)
        pool = getattr(F, f"max_pool{self.rank}d")
        values, indices = pool(x, ks, stride, padding, return_indices=True)
        unpool = getattr(F, f"max_unpool{self.rank}d")
        return unpool, (values, indices, ks, stride, padding), {"output_size": a.get("output_size")}


class MaxUnpool1d(_MaxUnpool):
    name = "torch.nn.functional.max_unpool1d"
    rank = 1


class MaxUnpool2d(_MaxUnpool):
    name = "torch.nn.functional.max_unpool2d"
    rank = 2


class MaxUnpool3d(_MaxUnpool):
    name = "torch.nn.functional.max_unpool3d"
    rank = 3


# ----------------------------------------------------------------------------------- repeat


def _repeat_chain(x: Any, repeats: list[int]) -> Any:
    torch = _torch()
    for axis, r in enumerate(repeats, start=2):
        if r != 1:
            x = torch.repeat_interleave(x, r, dim=axis)
    return x


class RepeatInterleave(TorchBinding):
    name = "torch.repeat_interleave"
    ops = ("repeat",)

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "repeat":
            return unsupported_op(self, case.op)
        r = case.normal_form()["repeats"]
        return NativeCall(self.name, {"repeats": r, "dim": list(range(2, 2 + len(r)))},
                          notes=("one torch.repeat_interleave(x, repeats[i], dim=dim[i]) per spatial axis",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        k = spatial_rank(shapes)
        r = spatial_repeats(args.get("dim", list(range(2, 2 + k))), args["repeats"], k, self.name)
        return r if isinstance(r, Unsupported) else {"repeats": r}

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return _repeat_chain, (to_torch(tensors["x"], device), list(call.args["repeats"])), {}
