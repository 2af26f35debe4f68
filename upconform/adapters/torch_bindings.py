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
from typing import Any, NamedTuple

import numpy as np

from ..canonical import Case, normalize, op_info, per_axis
from .base import Binding, Framework, NativeCall, Unsupported, bf16_to_numpy, spatial_rank, unsupported_op


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


def _compiled_path() -> Any:
    from .torch_paths import Compiled

    return Compiled()


def _onnx_path() -> Any:
    from .torch_paths import Onnx

    return Onnx()


FRAMEWORK = Framework("torch", aliases=("pytorch",), distributions=("torch", "onnxscript", "onnxruntime"),
                      module="torch", extra="torch", configure_threads=_configure_threads, synchronize=_synchronize,
                      paths=(("compiled", _compiled_path), ("onnx", _onnx_path)))


_ABSENT = object()  # a strategy's "argument not given" (dropped from the drawn args)
_FLOATS = ("float32", "float64", "float16", "bfloat16")
_ALL = (*_FLOATS, "uint8")


def _st() -> Any:
    from hypothesis import strategies as st

    return st


def _args(**kw: Any) -> dict[str, Any]:
    """Drawn keyword arguments without the absent ones."""
    return {k: v for k, v in kw.items() if v is not _ABSENT}


def _maybe(st: Any, inner: Any) -> Any:
    """``inner`` or the argument left out (shrinks to left out)."""
    return st.booleans().flatmap(lambda give: inner if give else st.just(_ABSENT))


def _scalar_or_list(st: Any, elem: Any, k: int) -> Any:
    """One value for every axis (first, so it shrinks there) or one per axis."""
    return st.one_of(elem, st.lists(elem, min_size=k, max_size=k))


def _ints(v: Any, k: int, name: str, api: str, minimum: int = 0) -> list[int] | Unsupported:
    """Per-axis integers as torch accepts them (an int or a sequence of k ints), or why torch raises."""
    vals = list(v) if isinstance(v, (list, tuple)) else [v] * k
    if len(vals) != k or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in vals):
        return Unsupported(f"{api} raises: {name}={v!r} is not an int or {k} ints")
    if any(a < minimum for a in vals):
        return Unsupported(f"{api} raises: {name}={v!r} must be >= {minimum}")
    return [int(a) for a in vals]


class _Backward(NamedTuple):
    """A prepared backward check: the forward call, its gradient leaves (canonical names, same order) and
    the cotangent; ``group`` is the grouping of a direct (zero-insertion) weight the call rotated, else None."""

    fn: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    leaves: tuple[Any, ...]
    names: tuple[str, ...]
    cotangent: Any
    grad: Any  # torch.autograd.grad
    enable_grad: Any  # torch.enable_grad
    group: int | None = None


class TorchBinding(Binding):
    framework = "torch"

    def execute(self, prepared: Any) -> Any:
        fn, args, kwargs = prepared[:3]
        return fn(*args, **kwargs)

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        return from_torch(out)

    # backward checks: torch.autograd.grad through the very call ``prepare`` builds ----------------------

    def backward_unsupported(self, case: Case) -> Unsupported | None:
        """uint8 cases have no gradient (torch: "only Tensors of floating point dtype can require
        gradients"); every float dtype has a CPU backward kernel for these calls at torch 2.13 except
        where a binding says otherwise (:class:`Interpolate`: antialias in float16/bfloat16)."""
        if case.dtype == "uint8":
            return Unsupported("integer tensors have no gradient (torch 2.13: only Tensors of floating point "
                               "dtype can require gradients)")
        return None

    def _grad_leaves(self, call: NativeCall, fwd: tuple[Any, ...], tensors: Mapping[str, np.ndarray]
                     ) -> dict[str, Any]:
        """{canonical gradient name: the native tensor it is taken with respect to} for a forward state
        from ``prepare`` (default: the input ``x``, the call's first argument)."""
        return {"x": fwd[1][0].requires_grad_(True)}

    def prepare_backward(self, call: NativeCall, tensors: Mapping[str, np.ndarray], cotangent: np.ndarray,
                         device: str = "cpu") -> Any:
        torch = _torch()
        fwd = self.prepare(call, tensors, device)
        leaves = self._grad_leaves(call, fwd, tensors)
        group = int(call.prep.get("group", 1)) if call.prep.get("rotate") else None
        return _Backward(fwd[0], tuple(fwd[1]), dict(fwd[2]), tuple(leaves.values()), tuple(leaves),
                         to_torch(cotangent, device), torch.autograd.grad, torch.enable_grad, group)

    def execute_backward(self, prepared: Any) -> Any:
        """The forward call and ``torch.autograd.grad`` of it with the cotangent (grad mode on)."""
        p = prepared
        with p.enable_grad():
            return p.grad(p.fn(*p.args, **p.kwargs), p.leaves, grad_outputs=p.cotangent)

    def grads_to_canonical(self, out: Any, prepared: Any) -> dict[str, np.ndarray]:
        """Native gradients -> canonical numpy, the framework's dtype kept; a weight the call rotated from
        the direct (zero-insertion) convention goes back by the inverse permutation (transposed_to_direct)."""
        from ..reference import transposed_to_direct

        grads = {name: from_torch(g) for name, g in zip(prepared.names, out)}
        if prepared.group is not None and "w" in grads:
            w = grads["w"]
            grads["w"] = transposed_to_direct(w, group=prepared.group).astype(w.dtype)
        return grads


# ----------------------------------------------------------------------------------- resize

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


class Interpolate(TorchBinding):
    name = "torch.nn.functional.interpolate"
    ops = ("resize", "repeat")
    # uint8 bilinear and bicubic run Pillow-style separable passes, rounded to uint8 after each axis
    readings = {"integer_rounding": ("per_axis",)}
    native_args = frozenset({"size", "scale_factor", "mode", "align_corners", "recompute_scale_factor", "antialias"})
    enum_args = {"mode": ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area", "lanczos")}
    # module forms: arguments the module sets itself (UpsamplingBilinear2d: bilinear, align_corners=True)
    fixed_args: Mapping[str, Any] = {}
    search_ranks: tuple[int, ...] = (1, 2, 3)

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        """The functional translation, then checked: the call's own meaning (what torch computes, see
        from_native) must be the case's, else the case is unsupported with what torch would compute."""
        call = self._functional_call(case)
        if isinstance(call, Unsupported):
            return call
        args = dict(call.args)
        for key, v in self.fixed_args.items():
            if args.pop(key, v if key != "align_corners" else None) != v:
                return Unsupported(f"{self.name} fixes {key}={v!r}; this case needs {call.args.get(key)!r}")
        extra = set(args) - self.native_args
        if extra:
            return Unsupported(f"{self.name} takes no {sorted(extra)} (this case needs {call.args})")
        back = self.from_native(args, case.shapes, op=case.op)
        want = {k: v for k, v in self.normal_form(case).items() if k not in op_info(case.op).integer_conventions}
        if isinstance(back, Unsupported) or back != want:
            got = back.reason if isinstance(back, Unsupported) else back
            return Unsupported(f"{self.name}({args}) does not compute this case: it means {got}")
        return NativeCall(self.name, args, call.prep, call.notes)

    def _functional_call(self, case: Case) -> NativeCall | Unsupported:
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
        self.check_args(args)
        n = _interpolate_meaning({**args, **self.fixed_args}, tuple(shapes["x"]))
        if op != "repeat" or isinstance(n, Unsupported):
            return n
        x = tuple(shapes["x"])
        nearest_floor = (n["mode"], n["coordinate_transformation_mode"], n.get("nearest_mode")) == \
            ("nearest", "asymmetric", "floor")
        if not nearest_floor or "sizes" not in n or any(i == 0 or o % i for i, o in zip(x[2:], n["sizes"][2:])):
            return Unsupported("interpolate is a repeat only in mode 'nearest' with integer factors out / in")
        return {"repeats": [o // i for i, o in zip(x[2:], n["sizes"][2:])]}

    def search_space(self, op: str) -> Any:
        """Every mode (lanczos and wrong-rank modes included), size or scale_factor (int, float, per axis),
        recompute_scale_factor, align_corners, antialias; ranks 1-3; the dtypes each mode has a CPU kernel for."""
        st = _st()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.sampled_from(self.search_ranks)) if d(st.integers(0, 9)) < 9 else d(st.integers(1, 3))
            x = (d(st.integers(1, 2)), d(st.integers(1, 4)), *d(st.lists(st.integers(1, 12), min_size=k, max_size=k)))
            if op == "repeat":
                sf = d(_scalar_or_list(st, st.integers(1, 4), k))
                dt = d(st.sampled_from(_ALL))
                a = {key: v for key, v in {"scale_factor": sf, "mode": "nearest"}.items() if key in self.native_args}
                return {"args": a, "shapes": {"x": x}, "dtype": dt}
            mode = d(st.sampled_from(list(dict.fromkeys(["nearest", _LINEAR[k], "nearest-exact", "bicubic", "area",
                                                         "linear", "bilinear", "trilinear", "lanczos"]))))
            if self.fixed_args:
                mode = self.fixed_args["mode"]
            if d(st.booleans()):
                size = d(_scalar_or_list(st, st.integers(1, 12), k))
                a = {"size": size}
            else:
                elem = st.one_of(st.integers(1, 4), st.integers(1, 16).map(lambda v: v / 4),
                                 st.integers(1, 40).map(lambda v: v / 10),
                                 st.floats(0.05, 4.0, allow_nan=False, allow_infinity=False))
                a = {"scale_factor": d(_scalar_or_list(st, elem, k)),
                     "recompute_scale_factor": d(st.sampled_from([_ABSENT, None, False, True]))}
            interp = mode in ("linear", "bilinear", "trilinear", "bicubic", "lanczos")
            rare = st.integers(0, 9).map(lambda v: v >= 8)  # an argument the mode rejects, now and then
            if interp or d(rare):
                a["align_corners"] = d(st.sampled_from([_ABSENT, False, True, None]))
            aa_ok = mode in ("bilinear", "bicubic", "lanczos") and k == 2
            if aa_ok or d(rare):
                a["antialias"] = d(st.sampled_from([_ABSENT, False, True]))
            a["mode"] = mode if mode != "nearest" or d(st.booleans()) else _ABSENT
            a = {key: v for key, v in a.items() if key in self.native_args}
            aa = a.get("antialias") is True
            dtypes = _ALL if mode in ("nearest", "nearest-exact") or (mode in ("bilinear", "bicubic") and not aa) \
                else ("float32", "float64", "uint8") if aa_ok and (aa or mode == "lanczos") else _FLOATS
            return {"args": _args(**a), "shapes": {"x": x}, "dtype": d(st.sampled_from(dtypes))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        F = _torch().nn.functional
        return F.interpolate, (to_torch(tensors["x"], device),), dict(call.args)

    def backward_unsupported(self, case: Case) -> Unsupported | None:
        """uint8, and the antialiased kernels (also a=-0.5 bicubic upsampling) in float16/bfloat16: torch 2.13
        has no CPU kernel for them, backward or forward. Every other mode differentiates in every float dtype."""
        base = super().backward_unsupported(case)
        if base is not None:
            return base
        call = self.to_native(case)
        if isinstance(call, Unsupported):
            return call
        half = {"float16": "Half", "bfloat16": "BFloat16"}.get(case.dtype)
        if half and call.args.get("antialias"):
            mode = "bilinear" if call.args["mode"] == "bilinear" else "bicubic"
            return Unsupported(f"torch 2.13 CPU has no {case.dtype} antialias gradient: NotImplementedError "
                               f"\"upsample_{mode}2d_aa_backward_cpu\" not implemented for '{half}' (nor a forward: "
                               f"\"compute_index_ranges_weights\" not implemented for '{half}'; "
                               "https://github.com/pytorch/pytorch/issues/84040)")
        return None


_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "bicubic", "area", "lanczos")


def _interpolate_meaning(args: Mapping[str, Any], x: tuple[int, ...]) -> dict[str, Any] | Unsupported:
    """The canonical normal form of ``F.interpolate(x, **args)``, modelled on PyTorch 2.13's own code
    (torch/nn/functional.py, ATen UpSample.h and UpSampleKernel.cpp), or why there is none."""
    api = "interpolate"
    k = len(x) - 2
    mode = args.get("mode", "nearest")
    ac = args.get("align_corners")
    aa = bool(args.get("antialias", False))
    rsf = args.get("recompute_scale_factor")
    size, sf = args.get("size"), args.get("scale_factor")
    if not 1 <= k <= 3:
        return Unsupported(f"{api} takes 3-D to 5-D inputs, got {len(x)}-D")
    if mode not in _MODES:
        return Unsupported(f"{api} raises: mode {mode!r} is not one of {', '.join(_MODES)}")
    if ac is not None and mode in ("nearest", "area", "nearest-exact"):
        return Unsupported(f"{api} raises: align_corners is only for interpolating modes, not {mode!r}")
    if (size is None) == (sf is None):
        return Unsupported(f"{api} raises: it needs exactly one of size and scale_factor")
    if rsf and size is not None:
        return Unsupported(f"{api} raises: recompute_scale_factor is not meaningful with an explicit size")
    if aa and not (mode in ("bilinear", "bicubic", "lanczos") and k == 2):
        return Unsupported(f"{api} raises: antialias is for bilinear, bicubic and lanczos on 4-D inputs only")
    if mode in ("linear", "bilinear", "trilinear") and _LINEAR[k] != mode or mode in ("bicubic", "lanczos") and k != 2:
        return Unsupported(f"{api} raises: mode {mode!r} does not take a {len(x)}-D input")
    if mode == "lanczos":
        return Unsupported(f"{api}'s lanczos (PIL's Lanczos-3 filter, antialias only) has no canonical mode")
    if size is not None:
        out = _ints(size, k, "size", api, minimum=1)
        if isinstance(out, Unsupported):
            return out
        scales = None
    else:
        vals = list(sf) if isinstance(sf, (list, tuple)) else [sf] * k
        if len(vals) != k or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return Unsupported(f"{api} raises: scale_factor={sf!r} is not a number or {k} numbers")
        scales = [float(v) for v in vals]
        if not all(math.isfinite(v) and v > 0 for v in scales):
            return Unsupported(f"{api} raises: scale_factor={sf!r} must be finite and > 0")
        # the output length is int(in * s), the double product truncated (UpSample.cpp compute_output_size;
        # _sym_int(in * s) in Python with recompute_scale_factor): 100 * 0.29 = 28.999999999999996 -> 28
        out = [int(i * v) for i, v in zip(x[2:], scales)]
        if any(o < 1 for o in out):
            return Unsupported(f"{api} raises: scale_factor={sf!r} gives an empty output {out}")
        if rsf or mode == "area":  # the kernel gets the sizes only (area always recomputes)
            scales = None
    if scales is not None:
        # axes whose output length equals the input's are copied, whatever the scale, by the linear
        # kernels (compute_source_index_and_lambda) and by the antialias ones (an unchanged axis is skipped)
        copies = mode in ("linear", "bilinear", "trilinear") or aa
        scales = [1.0 if copies and o == i else s for s, i, o in zip(scales, x[2:], out)]
        if mode == "nearest" and k == 2:  # upsample_nearest2d's nearest_idx: out == in copies, out == 2 in is i >> 1
            scales = [1.0 if o == i else 2.0 if o == 2 * i else s for s, i, o in zip(scales, x[2:], out)]
    p: dict[str, Any] = {"scales": [1.0, 1.0, *scales]} if scales is not None else {"sizes": [*x[:2], *out]}
    if mode == "nearest":
        p.update(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif mode == "nearest-exact":
        p.update(mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
    elif mode == "area":
        p["mode"] = "adaptive_avg"
    else:
        p["mode"] = "linear" if mode != "bicubic" else "cubic"
        p["coordinate_transformation_mode"] = "align_corners" if ac else "half_pixel"
        if ac and aa:
            return Unsupported(f"{api} antialias with align_corners=True centres its filter at (i + 0.5) * (in - 1) "
                               "/ (out - 1) in pixel-edge coordinates: neither align_corners nor half_pixel")
        if ac and scales is not None:  # torch divides by the integer output length minus one
            p["align_corners_length"] = "integer"
        if aa:  # PIL's filters: outside taps dropped, bicubic a = -0.5, also when upsampling
            p.update(antialias=True, exclude_outside=True)
        if mode == "bicubic":
            p["cubic_coeff_a"] = -0.5 if aa else -0.75
    n = normalize("resize", p, {"x": x})
    got = list(op_info("resize").output_shape(n, {"x": x}))[2:]
    if got != out:
        return Unsupported(f"{api} sizes the output int(in * scale) = {out} in double precision; the canonical "
                           f"scale {scales} (an exact ratio) gives {got}")
    return n


def _out_shape(n: Mapping[str, Any], x: tuple[int, ...]) -> list[int]:
    return list(n["sizes"]) if "sizes" in n else [math.floor(i * s) for i, s in zip(x, n["scales"])]


def mode_rank(mode: str) -> int:
    return {v: k for k, v in _LINEAR.items()}[mode]


# ----------------------------------------------------------------------------------- conv_transpose


class _ConvTranspose(TorchBinding):
    ops = ("conv_transpose",)
    rank = 2
    native_args = frozenset({"stride", "padding", "output_padding", "groups", "dilation"})

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
        self.check_args(args)
        return self._meaning(args, shapes)

    def _meaning(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any] | Unsupported:
        """What conv_transpose{k}d computes, with the checks torch makes before it computes anything."""
        k, api = self.rank, self.name
        x, w = tuple(shapes["x"]), tuple(shapes["w"])
        if len(x) != k + 2 or len(w) != k + 2:
            return Unsupported(f"{api} takes a {k + 2}-D input and weight; got {len(x)}-D and {len(w)}-D")
        if isinstance(args.get("padding"), str):
            return Unsupported(f"{api} raises: it takes integer padding only, not {args['padding']!r}")
        vals = {}
        for key, default, lo in (("stride", 1, 1), ("padding", 0, 0), ("output_padding", 0, 0), ("dilation", 1, 1)):
            v = _ints(args.get(key, default), k, key, api, minimum=lo)
            if isinstance(v, Unsupported):
                return v
            vals[key] = v
        g = args.get("groups", 1)
        if not isinstance(g, int) or isinstance(g, bool) or g < 1:
            return Unsupported(f"{api} raises: groups={g!r} must be a positive int")
        # the native weight is (C_in, C_out / g, *k); a case may hold it in the direct form (C_out, C_in / g, *k),
        # which prepare rotates into it
        c_out = w[1] * g if w[0] == x[1] else w[0] if w[1] * g == x[1] else None
        if c_out is None or x[1] % g:
            return Unsupported(f"{api} raises: weight {list(w)} does not fit {x[1]} input channels in groups={g}")
        if "b" in shapes and tuple(shapes["b"]) != (c_out,):
            return Unsupported(f"{api} raises: bias {list(shapes['b'])} is not ({c_out},)")
        st, pad, op, dl = vals["stride"], vals["padding"], vals["output_padding"], vals["dilation"]
        if any(o >= max(s, d) for o, s, d in zip(op, st, dl)):
            return Unsupported(f"{api} raises: output_padding {op} must be smaller than stride {st} or dilation {dl}")
        out = [(i - 1) * s - 2 * p + d * (kk - 1) + 1 + o for i, s, p, d, kk, o in zip(x[2:], st, pad, dl, w[2:], op)]
        if any(v < 1 for v in out):
            return Unsupported(f"{api}: the output size {out} is empty (torch raises below 0, returns an empty tensor at 0)")
        try:
            return normalize("conv_transpose", {"strides": st, "pads": pad + pad, "output_padding": op, "group": g,
                                                "dilations": dl}, shapes)
        except ValueError as e:
            return Unsupported(f"no canonical meaning: {e}")

    def search_space(self, op: str) -> Any:
        """stride, padding, output_padding, dilation (int or per axis), groups, bias or not; float dtypes."""
        st = _st()
        k = self.rank

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            g, cin, cout = d(st.integers(1, 2)), d(st.integers(1, 2)), d(st.integers(1, 2))
            x = (d(st.integers(1, 2)), g * cin, *d(st.lists(st.integers(1, 8 if k < 3 else 5), min_size=k, max_size=k)))
            w = (g * cin, cout, *d(st.lists(st.integers(1, 4), min_size=k, max_size=k)))
            stride = d(_maybe(st, _scalar_or_list(st, st.integers(1, 3), k)))
            dil = d(_maybe(st, _scalar_or_list(st, st.integers(1, 2), k)))
            most = max(max(per_axis(1 if stride is _ABSENT else stride, k)), max(per_axis(1 if dil is _ABSENT else dil, k)))
            a = _args(stride=stride, padding=d(_maybe(st, _scalar_or_list(st, st.integers(0, 2), k))),
                      output_padding=d(_maybe(st, _scalar_or_list(st, st.integers(0, most), k))),
                      groups=g if g > 1 or d(st.booleans()) else _ABSENT, dilation=dil)
            shapes = {"x": x, "w": w}
            if d(st.booleans()):
                shapes["b"] = (cout * g,)
            return {"args": a, "shapes": shapes, "dtype": d(st.sampled_from(_FLOATS))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        w, b = self._weights(call, tensors)
        fn = getattr(_torch().nn.functional, self.fn_name)
        return fn, (to_torch(tensors["x"], device), to_torch(w, device),
                    None if b is None else to_torch(b, device)), dict(call.args)

    def _grad_leaves(self, call: NativeCall, fwd: tuple[Any, ...], tensors: Mapping[str, np.ndarray]
                     ) -> dict[str, Any]:
        """x, the (native-layout) weight and the bias when the case has one."""
        x, w, b = fwd[1]
        leaves = {"x": x.requires_grad_(True), "w": w.requires_grad_(True)}
        if b is not None:
            leaves["b"] = b.requires_grad_(True)
        return leaves

    @staticmethod
    def _weights(call: NativeCall, tensors: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        from ..reference import direct_to_transposed

        w = tensors["w"]
        if call.prep.get("rotate"):
            w = direct_to_transposed(w, group=call.prep.get("group", 1)).astype(w.dtype)
        return w, tensors.get("b")


class ConvTranspose1d(_ConvTranspose):
    name = "torch.nn.functional.conv_transpose1d"
    rank = 1


class ConvTranspose2d(_ConvTranspose):
    name = "torch.nn.functional.conv_transpose2d"
    rank = 2


class ConvTranspose3d(_ConvTranspose):
    name = "torch.nn.functional.conv_transpose3d"
    rank = 3


class _ConvTransposeModule(_ConvTranspose):
    """``torch.nn.ConvTranspose{k}d(in_channels, out_channels, kernel_size, ...)(x, output_size=...)`` with its
    weight and bias set from the case's tensors; the functional translation plus the module's own arguments."""

    native_args = _ConvTranspose.native_args | {"in_channels", "out_channels", "kernel_size", "bias", "padding_mode",
                                                "device", "dtype", "output_size"}
    # torch's ConvTranspose modules raise for every padding_mode but zeros ("Only 'zeros' padding mode is supported")
    enum_args = {"padding_mode": ("zeros",)}

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        call = super().to_native(case)
        if isinstance(call, Unsupported):
            return call
        w, g = case.shapes["w"], int(call.args["groups"])
        c_in, c_out = (int(w[1]) * g, int(w[0])) if call.prep.get("rotate") else (int(w[0]), int(w[1]) * g)
        args = {"in_channels": c_in, "out_channels": c_out, "kernel_size": [int(v) for v in w[2:]], **call.args,
                "bias": "b" in case.shapes}
        return NativeCall(self.name, args, call.prep, call.notes)

    def implied_shapes(self, args: Mapping[str, Any], x: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """(in_channels, out_channels / groups, *kernel_size), and the bias (out_channels,) unless bias=False."""
        try:
            g = int(args.get("groups", 1))
            ks = per_axis(args["kernel_size"], self.rank)
            out = {"w": (int(args["in_channels"]), int(args["out_channels"]) // g, *(int(v) for v in ks))}
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return {}
        if args.get("bias", True):
            out["b"] = (int(args["out_channels"]),)
        return out

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        api, k = self.name, self.rank
        x, w = tuple(shapes["x"]), tuple(shapes["w"])
        g = args.get("groups", 1)
        if args.get("padding_mode", "zeros") != "zeros":
            return Unsupported(f"{api} raises: only padding_mode='zeros' is supported, not {args['padding_mode']!r}")
        if args.get("device") not in (None, "cpu") or args.get("dtype") is not None:
            return Unsupported(f"{api}: device and dtype are the harness's (the case's dtype, its device)")
        if "in_channels" not in args or "out_channels" not in args or "kernel_size" not in args:
            return Unsupported(f"{api} raises: in_channels, out_channels and kernel_size are required")
        ks = _ints(args["kernel_size"], k, "kernel_size", api, minimum=1)
        if isinstance(ks, Unsupported):
            return ks
        if isinstance(g, int) and g > 0 and (args["in_channels"] % g or args["out_channels"] % g):
            return Unsupported(f"{api} raises: in_channels and out_channels must be divisible by groups={g}")
        cin, cout = args["in_channels"], args["out_channels"]
        if isinstance(g, int) and g > 0 and w not in ((cin, cout // g, *ks), (cout, cin // g, *ks)) or cin != x[1]:
            return Unsupported(f"{api}'s weight is ({cin}, {cout} / {g}, *{ks}) for {cin} input channels; "
                               f"the case has {x[1]} channels and weight {list(w)}")
        if bool(args.get("bias", True)) != ("b" in shapes):
            return Unsupported(f"{api}(bias={args.get('bias', True)}) and the case's bias ({'b' in shapes}) differ")
        fargs = {key: args[key] for key in _ConvTranspose.native_args if key in args}
        if args.get("output_size") is not None:
            # forward(x, output_size) replaces output_padding by output_size - min_size (conv.py _output_padding)
            o = list(args["output_size"])
            o = o[2:] if len(o) == k + 2 else o
            st = per_axis(args.get("stride", 1), k)
            pad = per_axis(args.get("padding", 0), k)
            dl = per_axis(args.get("dilation", 1), k)
            if len(o) != k:
                return Unsupported(f"{api} raises: output_size {args['output_size']} needs {k} or {k + 2} values")
            low = [(i - 1) * s - 2 * p + d * (kk - 1) + 1 for i, s, p, d, kk in zip(x[2:], st, pad, dl, ks)]
            high = [lo + s - 1 for lo, s in zip(low, st)]
            if any(not lo <= v <= hi for v, lo, hi in zip(o, low, high)):
                return Unsupported(f"{api} raises: output_size {o} is outside {low} .. {high}")
            fargs["output_padding"] = [v - lo for v, lo in zip(o, low)]
        return self._meaning(fargs, shapes)

    def search_space(self, op: str) -> Any:
        """The functional space as module arguments, plus padding_mode (now and then not zeros) and output_size."""
        st = _st()
        k = self.rank

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            ex = d(super(_ConvTransposeModule, self).search_space(op))
            a, w = ex["args"], ex["shapes"]["w"]
            g = a.get("groups", 1)
            ks = list(w[2:])
            margs = {"in_channels": w[0], "out_channels": w[1] * g,
                     "kernel_size": ks[0] if len(set(ks)) == 1 and d(st.booleans()) else ks, **a}
            if "b" not in ex["shapes"] or d(st.booleans()):
                margs["bias"] = "b" in ex["shapes"]
            if d(st.integers(0, 9)) == 9:
                margs["padding_mode"] = d(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
            if d(st.integers(0, 3)) == 3:
                x = ex["shapes"]["x"]
                st_, p_, dl = (per_axis(a.get(key, dv), k) for key, dv in (("stride", 1), ("padding", 0), ("dilation", 1)))
                low = [(i - 1) * s - 2 * p + dd * (kk - 1) + 1 for i, s, p, dd, kk in zip(x[2:], st_, p_, dl, ks)]
                margs["output_size"] = [lo + d(st.integers(0, s)) for lo, s in zip(low, st_)]
            return {**ex, "args": margs}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        torch = _torch()
        w, b = self._weights(call, tensors)
        a = {key: v for key, v in call.args.items() if key != "output_size"}
        xt = to_torch(tensors["x"], device)
        m = getattr(torch.nn, f"ConvTranspose{self.rank}d")(**a).to(device=device, dtype=xt.dtype)
        with torch.no_grad():
            m.weight.copy_(to_torch(w, device))
            if b is not None and m.bias is not None:
                m.bias.copy_(to_torch(b, device))
        kw = {"output_size": call.args["output_size"]} if call.args.get("output_size") is not None else {}
        return m, (xt,), kw

    def _grad_leaves(self, call: NativeCall, fwd: tuple[Any, ...], tensors: Mapping[str, np.ndarray]
                     ) -> dict[str, Any]:
        """x and the module's own weight and bias parameters (the bias when the case has one)."""
        m, (x,) = fwd[0], fwd[1]
        leaves = {"x": x.requires_grad_(True), "w": m.weight}
        if "b" in tensors:
            leaves["b"] = m.bias
        return leaves


class ConvTranspose1dModule(_ConvTransposeModule):
    name = "torch.nn.ConvTranspose1d"
    rank = 1


class ConvTranspose2dModule(_ConvTransposeModule):
    name = "torch.nn.ConvTranspose2d"
    rank = 2


class ConvTranspose3dModule(_ConvTransposeModule):
    name = "torch.nn.ConvTranspose3d"
    rank = 3


# ----------------------------------------------------------------------------------- pixel shuffle


class PixelShuffle(TorchBinding):
    name = "torch.nn.functional.pixel_shuffle"
    ops = ("pixel_shuffle",)
    arg = "upscale_factor"

    @property
    def native_args(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset({self.arg})

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
        self.check_args(args)
        x = tuple(shapes["x"])
        r = args.get(self.arg)
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            return Unsupported(f"{self.name} raises: {self.arg}={r!r} must be a positive int")
        if len(x) != 4:
            # torch reads the last three axes as (C, H, W) and any before them as batch: on a 3-D input
            # (N, C, L) N would be the channels, on a 5-D one (N, C, D, H, W) D would
            return Unsupported(f"{self.name} shuffles (C, H, W) = the last three axes: only a 4-D input is "
                               f"(N, C, H, W); a {len(x)}-D one means another operation")
        if self.ops[0] == "pixel_shuffle" and x[1] % (r * r):
            return Unsupported(f"{self.name} raises: channels {x[1]} are not divisible by {r}**2")
        if self.ops[0] == "pixel_unshuffle" and (x[2] % r or x[3] % r):
            return Unsupported(f"{self.name} raises: spatial {list(x[2:])} is not divisible by {r}")
        return normalize(self.ops[0], {self.arg: r, "mode": "CRD"}, shapes)

    def search_space(self, op: str) -> Any:
        """Factors 1-3 and channel counts (now and then not divisible), 4-D inputs mostly, every dtype."""
        st = _st()
        unshuffle = self.ops[0] == "pixel_unshuffle"

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = 2 if d(st.integers(0, 9)) < 9 else d(st.sampled_from([1, 3]))
            r = d(st.integers(1, 3))
            off = st.integers(0, 9).map(lambda v: int(v == 9))
            if unshuffle:
                sp = [r * d(st.integers(1, 4)) + d(off) for _ in range(k)]
                x = (d(st.integers(1, 2)), d(st.integers(1, 4)), *sp)
            else:
                x = (d(st.integers(1, 2)), d(st.integers(1, 3)) * r ** 2 + d(off),
                     *d(st.lists(st.integers(1, 6), min_size=k, max_size=k)))
            return {"args": {self.arg: r}, "shapes": {"x": x}, "dtype": d(st.sampled_from(_ALL))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        fn = getattr(_torch().nn.functional, self.ops[0])
        return fn, (to_torch(tensors["x"], device), call.args[self.arg]), {}


class PixelUnshuffle(PixelShuffle):
    name = "torch.nn.functional.pixel_unshuffle"
    ops = ("pixel_unshuffle",)
    arg = "downscale_factor"


class PixelShuffleModule(PixelShuffle):
    name = "torch.nn.PixelShuffle"

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return _torch().nn.PixelShuffle(call.args[self.arg]), (to_torch(tensors["x"], device),), {}


class PixelUnshuffleModule(PixelUnshuffle):
    name = "torch.nn.PixelUnshuffle"

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        return _torch().nn.PixelUnshuffle(call.args[self.arg]), (to_torch(tensors["x"], device),), {}


# ----------------------------------------------------------------------------------- max_unpool


def _index_overflow(x: Any, ks: list[int], st: list[int], pad: list[int], out: list[int]) -> str | None:
    """Why an unpool may raise for some data, or None. max_pool's indices are flat in the input plane;
    max_unpool scatters them into the output plane and raises "Found an invalid max index" for one past
    its end, which happens for the inputs whose maximum lies at such a position (data-dependent)."""
    last = []
    for i, k, s, p in zip(x, ks, st, pad):
        pooled = (i + 2 * p - k) // s + 1
        last.append(min(i - 1, (pooled - 1) * s - p + k - 1))  # the last input position any window covers
    top = 0
    for i, v in zip(x, last):
        top = top * i + v  # its flat index in the input plane
    plane = math.prod(out)
    if top >= plane:
        return (f"max_unpool: the pooling windows reach flat input index {top}, past the output plane of {plane} "
                f"({list(out)}); torch raises 'Found an invalid max index' whenever a maximum lies there")
    return None


class _MaxUnpool(TorchBinding):
    ops = ("max_unpool",)
    rank = 2
    native_args = frozenset({"kernel_size", "stride", "padding", "output_size"})

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
        bad = _index_overflow(case.shapes["x"][2:], n["kernel_shape"], n["strides"], pads[:k], n["output_shape"])
        if bad:
            return Unsupported(bad)
        return NativeCall(self.name, {"kernel_size": n["kernel_shape"], "stride": n["strides"], "padding": pads[:k],
                                      "output_size": n["output_shape"]},
                          notes=(f"indices from torch.nn.functional.max_pool{k}d(x, kernel_size, stride, padding, "
                                 "return_indices=True)",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        k, api = self.rank, self.name
        x = tuple(shapes["x"])
        if len(x) != k + 2:
            return Unsupported(f"{api} takes a {k + 2}-D (N, C, ...) input; got {len(x)}-D")
        if "kernel_size" not in args:
            return Unsupported(f"{api} raises: kernel_size is required")
        ks = _ints(args["kernel_size"], k, "kernel_size", api, minimum=1)
        if isinstance(ks, Unsupported):
            return ks
        st = _ints(args.get("stride") if args.get("stride") is not None else ks, k, "stride", api, minimum=1)
        pad = _ints(args.get("padding", 0), k, "padding", api, minimum=0)
        if isinstance(st, Unsupported) or isinstance(pad, Unsupported):
            return st if isinstance(st, Unsupported) else pad  # type: ignore[return-value]
        if any(2 * p > kk for p, kk in zip(pad, ks)):
            return Unsupported(f"max_pool{k}d raises: padding {pad} must be at most half of kernel_size {ks}")
        pooled = [(i + 2 * p - kk) // s + 1 for i, p, kk, s in zip(x[2:], pad, ks, st)]
        if any(v < 1 for v in pooled):
            return Unsupported(f"max_pool{k}d raises: the pooled size {pooled} is too small")
        default = [(v - 1) * s - 2 * p + kk for v, s, p, kk in zip(pooled, st, pad, ks)]
        p = {"kernel_shape": ks, "strides": st, "pads": pad + pad}
        if args.get("output_size") is not None:
            o = [int(v) for v in args["output_size"]]
            o = o[2:] if len(o) == k + 2 else o  # torch drops the first two of a full size without checking them
            if len(o) != k:
                return Unsupported(f"{api} raises: output_size {args['output_size']} needs {k} or {k + 2} values")
            if any(not dv - s < v < dv + s for v, dv, s in zip(o, default, st)):
                return Unsupported(f"{api} raises: output_size {o} must lie strictly between {default} -/+ stride {st}")
            p["output_shape"] = o
        out = p.get("output_shape", default)
        if any(v < 1 for v in out):
            return Unsupported(f"{api} returns an empty output {out}: the canonical output is at least 1 per axis")
        bad = _index_overflow(x[2:], ks, st, pad, out)
        if bad:
            return Unsupported(bad)
        return normalize("max_unpool", p, shapes)

    def search_space(self, op: str) -> Any:
        """kernel_size, stride (None: the kernel), padding (<= kernel / 2), output_size (spatial or full, within
        the accepted range and now and then outside), float dtypes; the case input is the pooling input."""
        st = _st()
        k = self.rank

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            ks = d(st.lists(st.integers(1, 4), min_size=k, max_size=k))
            stride = d(st.one_of(st.just(_ABSENT), st.just(None), st.lists(st.integers(1, 3), min_size=k, max_size=k)))
            pad = d(st.one_of(st.just(0), st.lists(st.integers(0, 2), min_size=k, max_size=k)))
            pads = per_axis(pad, k)
            sp = [d(st.integers(max(1, kk - 2 * p), 12 if k < 3 else 7)) for kk, p in zip(ks, pads)]
            x = (d(st.integers(1, 2)), d(st.integers(1, 4)), *sp)
            a = {"kernel_size": ks[0] if len(set(ks)) == 1 and d(st.booleans()) else ks, "stride": stride,
                 "padding": pad if pad or d(st.booleans()) else _ABSENT}
            if d(st.booleans()):
                s_ = per_axis(ks if stride in (None, _ABSENT) else stride, k)
                pooled = [(i + 2 * p - kk) // s + 1 for i, p, kk, s in zip(sp, pads, ks, s_)]
                out = [(v - 1) * s - 2 * p + kk + d(st.integers(-s, s)) for v, s, p, kk in zip(pooled, s_, pads, ks)]
                a["output_size"] = [*x[:2], *out] if d(st.integers(0, 3)) == 3 else out
            return {"args": _args(**a), "shapes": {"x": x}, "dtype": d(st.sampled_from(_FLOATS))}

        return draw()

    def _grad_leaves(self, call: NativeCall, fwd: tuple[Any, ...], tensors: Mapping[str, np.ndarray]
                     ) -> dict[str, Any]:
        """The pooled values the unpool scatters (computed without a graph in ``prepare``, so a leaf);
        the indices get no gradient."""
        return {"values": fwd[1][0].requires_grad_(True)}

    def _pool(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str) -> tuple[Any, Any, Any, Any, Any]:
        F = _torch().nn.functional
        a = call.args
        ks = a["kernel_size"]
        stride = a.get("stride") if a.get("stride") is not None else ks  # torch's default: the kernel
        padding = a.get("padding", 0)
        pool = getattr(F, f"max_pool{self.rank}d")
        values, indices = pool(to_torch(tensors["x"], device), ks, stride, padding, return_indices=True)
        return values, indices, ks, stride, padding

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        values, indices, ks, stride, padding = self._pool(call, tensors, device)
        unpool = getattr(_torch().nn.functional, f"max_unpool{self.rank}d")
        return unpool, (values, indices, ks, stride, padding), {"output_size": call.args.get("output_size")}


class MaxUnpool1d(_MaxUnpool):
    name = "torch.nn.functional.max_unpool1d"
    rank = 1


class MaxUnpool2d(_MaxUnpool):
    name = "torch.nn.functional.max_unpool2d"
    rank = 2


class MaxUnpool3d(_MaxUnpool):
    name = "torch.nn.functional.max_unpool3d"
    rank = 3


class _MaxUnpoolModule(_MaxUnpool):
    """``torch.nn.MaxUnpool{k}d(kernel_size, stride, padding)(values, indices, output_size=...)``."""

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        values, indices, ks, stride, padding = self._pool(call, tensors, device)
        m = getattr(_torch().nn, f"MaxUnpool{self.rank}d")(ks, stride, padding)
        return m, (values, indices), {"output_size": call.args.get("output_size")}


class MaxUnpool1dModule(_MaxUnpoolModule):
    name = "torch.nn.MaxUnpool1d"
    rank = 1


class MaxUnpool2dModule(_MaxUnpoolModule):
    name = "torch.nn.MaxUnpool2d"
    rank = 2


class MaxUnpool3dModule(_MaxUnpoolModule):
    name = "torch.nn.MaxUnpool3d"
    rank = 3


# ----------------------------------------------------------------------------------- repeat


def _repeat_chain(x: Any, repeats: Any, dims: Any, output_size: Any = None) -> Any:
    """One torch.repeat_interleave per (repeats, dim) pair; a scalar dim is one plain call."""
    torch = _torch()
    if not isinstance(dims, (list, tuple)):
        kw = {"output_size": output_size} if output_size is not None else {}
        return torch.repeat_interleave(x, repeats, dim=dims, **kw)
    reps = list(repeats) if isinstance(repeats, (list, tuple)) else [repeats] * len(dims)
    for r, dim in zip(reps, dims):
        if r != 1:
            x = torch.repeat_interleave(x, r, dim=dim)
    return x


class RepeatInterleave(TorchBinding):
    """``torch.repeat_interleave(x, repeats, dim)``; ``dim`` (with ``repeats``) may be a list, meaning one
    call per axis in that order (the harness's way of writing a chain)."""

    name = "torch.repeat_interleave"
    ops = ("repeat",)
    native_args = frozenset({"repeats", "dim", "output_size"})

    def to_native(self, case: Case) -> NativeCall | Unsupported:
        if case.op != "repeat":
            return unsupported_op(self, case.op)
        r = case.normal_form()["repeats"]
        return NativeCall(self.name, {"repeats": r, "dim": list(range(2, 2 + len(r)))},
                          notes=("one torch.repeat_interleave(x, repeats[i], dim=dim[i]) per spatial axis",))

    def from_native(self, args: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]],
                    op: str | None = None) -> dict[str, Any] | Unsupported:
        self.check_args(args)
        x = tuple(shapes["x"])
        nd, k, api = len(x), len(x) - 2, self.name
        dims, reps = args.get("dim"), args.get("repeats")
        if dims is None:
            return Unsupported(f"{api} without dim flattens the input: not a spatial repeat")
        chain = isinstance(dims, (list, tuple))
        dl = list(dims) if chain else [dims]
        rl = list(reps) if isinstance(reps, (list, tuple)) else [reps] * len(dl)
        if not chain and isinstance(reps, (list, tuple)):
            return Unsupported(f"{api} raises: repeats must be an int or a tensor, not a list")
        if len(rl) != len(dl) or not all(isinstance(v, int) and not isinstance(v, bool) for v in rl + dl):
            return Unsupported(f"{api}: repeats {reps!r} and dim {dims!r} must be ints (or equally long int lists)")
        if any(v < 0 for v in rl):
            return Unsupported(f"{api} raises: repeats {reps!r} must be non-negative")
        if any(not -nd <= v < nd for v in dl):
            return Unsupported(f"{api} raises: dim {dims!r} is out of range for a {nd}-D input")
        r = [1] * k
        for dim, v in zip(dl, rl):
            a = dim % nd
            if a < 2:
                return Unsupported(f"{api} along axis {a} repeats N or C: not a spatial repeat")
            r[a - 2] *= v  # the same axis twice in a chain repeats twice
        if any(v == 0 for v in r):
            return Unsupported(f"{api} with repeats 0 empties the axis: the canonical repeat is >= 1")
        if args.get("output_size") is not None:
            if chain:
                return Unsupported(f"{api}: output_size goes with one dim, not a chain")
            if args["output_size"] != x[dl[0] % nd] * rl[0]:
                return Unsupported(f"{api} raises: output_size {args['output_size']} is not {x[dl[0] % nd] * rl[0]}")
        return {"repeats": r}

    def search_space(self, op: str) -> Any:
        """One call (int repeats, int dim, negative dims and N/C now and then, output_size) or a chain of
        calls (dim and repeats lists, an axis repeated), and now and then no dim (flattening); every dtype."""
        st = _st()

        @st.composite
        def draw(d: Any) -> dict[str, Any]:
            k = d(st.integers(1, 3))
            x = (d(st.integers(1, 2)), d(st.integers(1, 4)), *d(st.lists(st.integers(1, 8), min_size=k, max_size=k)))
            nd = k + 2
            dim_st = st.one_of(st.integers(2, nd - 1), st.integers(-k, -1), st.integers(0, 1))
            form = d(st.integers(0, 9))
            if form < 6:
                dim, rep = d(dim_st), d(st.integers(1, 4))
                a: dict[str, Any] = {"repeats": rep, "dim": dim}
                if d(st.integers(0, 3)) == 3:
                    a["output_size"] = x[dim % nd] * rep + d(st.sampled_from([0, 0, 1]))
            elif form < 9:
                dims = d(st.lists(dim_st, min_size=1, max_size=k))
                a = {"dim": dims, "repeats": d(st.one_of(st.integers(1, 4), st.lists(st.integers(1, 4), min_size=len(dims),
                                                                                         max_size=len(dims))))}
            else:
                a = {"repeats": d(st.integers(1, 4))}
            return {"args": a, "shapes": {"x": x}, "dtype": d(st.sampled_from(_ALL))}

        return draw()

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        a = call.args
        return _repeat_chain, (to_torch(tensors["x"], device), a["repeats"], a.get("dim"), a.get("output_size")), {}


# ----------------------------------------------------------------------------------- module forms of resize


class Upsample(Interpolate):
    """``torch.nn.Upsample(size, scale_factor, mode, align_corners, recompute_scale_factor)``: interpolate
    without antialias."""

    name = "torch.nn.Upsample"
    native_args = Interpolate.native_args - {"antialias"}

    def prepare(self, call: NativeCall, tensors: Mapping[str, np.ndarray], device: str = "cpu") -> Any:
        # the module takes a per-axis scale_factor as a tuple (a list raises in float()): JSON lists are tuples
        a = {k: tuple(v) if isinstance(v, list) else v for k, v in call.args.items()}
        m = getattr(_torch().nn, self.name.rsplit(".", 1)[1])(**a)
        return m, (to_torch(tensors["x"], device),), {}


class UpsamplingNearest2d(Upsample):
    """``torch.nn.UpsamplingNearest2d(size, scale_factor)``: Upsample with mode='nearest'."""

    name = "torch.nn.UpsamplingNearest2d"
    ops = ("resize", "repeat")
    native_args = frozenset({"size", "scale_factor"})
    fixed_args = {"mode": "nearest"}
    search_ranks = (2,)
    deprecated = "deprecated in favor of torch.nn.functional.interpolate(..., mode='nearest')"


class UpsamplingBilinear2d(Upsample):
    """``torch.nn.UpsamplingBilinear2d(size, scale_factor)``: Upsample with mode='bilinear' and
    align_corners=True (not the half-pixel default of interpolate)."""

    name = "torch.nn.UpsamplingBilinear2d"
    ops = ("resize",)
    native_args = frozenset({"size", "scale_factor"})
    fixed_args = {"mode": "bilinear", "align_corners": True}
    search_ranks = (2,)
    deprecated = "deprecated in favor of torch.nn.functional.interpolate(..., mode='bilinear', align_corners=True)"
