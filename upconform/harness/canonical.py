"""Normal forms of canonical parameters, so that equal semantics compare equal.

Two spellings of one operator (``tf_half_pixel_for_nn`` + ``floor`` and ``half_pixel`` +
``round_prefer_ceil``; ``auto_pad=SAME_UPPER`` and the explicit pads it implies; a parameter the
mode ignores) normalise to one dict. Adapters translate from the normal form; discrepancy
reports diff normal forms. Every rule below is an identity of the reference, proved in tests.

Example:
    >>> normalize("resize", {"mode": "linear", "scales": [1, 1, 1.7]}, {"x": (1, 1, 4)})["scales"]
    [1.0, 1.0, 1.7]
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from .. import reference
from ..reference.conv_transpose import conv_transpose_geometry
from ..reference.resize import output_geometry
from .ops import OPS


def defaults(op: str) -> dict[str, Any]:
    """The reference's default for every keyword parameter of ``op``."""
    sig = inspect.signature(OPS[op].reference)
    return {p.name: p.default for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
            and p.default is not inspect.Parameter.empty}


def _ints(v: Any, k: int, default: int) -> list[int]:
    if v is None:
        return [default] * k
    if isinstance(v, int):
        return [v] * k
    return [int(x) for x in v]


def normalize(op: str, params: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """The normal form of ``params`` for inputs of ``shapes`` (raises ValueError as the reference would).

    Example:
        >>> normalize("conv_transpose", {"strides": 2, "auto_pad": "SAME_UPPER"}, {"x": (1, 1, 4), "w": (1, 1, 3)})["pads"]
        [0, 1]
    """
    p = {**defaults(op), **dict(params)}
    x = tuple(shapes["x"])
    k = len(x) - 2
    if op == "resize":
        return _normalize_resize(p, x)
    if op == "repeat":
        return {"repeats": _ints(p["repeats"], k, 1)}
    if op in ("pixel_shuffle", "pixel_unshuffle"):
        return dict(p)
    if op == "max_unpool":
        ks = _ints(p["kernel_shape"], k, 1)
        st = _ints(p.get("strides"), k, 1)
        pads = list(p["pads"]) if p.get("pads") is not None else [0] * (2 * k)
        pooled = [reference.pool_output_size(x[2 + i], ks[i], st[i], 1, pads[i], pads[k + i], False) for i in range(k)]
        if p.get("output_shape") is not None:
            out = [int(v) for v in p["output_shape"]][-k:]
        else:
            out = [(pooled[i] - 1) * st[i] + ks[i] - pads[i] - pads[k + i] for i in range(k)]
        return {"kernel_shape": ks, "strides": st, "pads": pads, "output_shape": out}
    if op == "conv_transpose":
        w = tuple(shapes["w"])
        st = _ints(p.get("strides"), k, 1)
        dl = _ints(p.get("dilations"), k, 1)
        op_ = _ints(p.get("output_padding"), k, 0)
        begins, outs = conv_transpose_geometry(
            x[2:], w[2:], strides=st, pads=p.get("pads"), output_padding=op_, dilations=dl,
            auto_pad=p.get("auto_pad", "NOTSET"), output_shape=p.get("output_shape"),
        )
        ends, extra = [], []
        for i in range(k):
            full = st[i] * (x[2 + i] - 1) + (w[2 + i] - 1) * dl[i] + 1
            end = full - begins[i] - outs[i]  # negative: rows past the full output (bias only)
            ends.append(max(end, 0))
            extra.append(max(-end, 0))
        return {"strides": st, "dilations": dl, "group": int(p.get("group", 1)), "pads": begins + ends,
                "output_padding": extra, "weight_convention": p.get("weight_convention", "transposed"),
                "output_spatial": outs}
    raise ValueError(f"op: {op!r} is not one of {list(OPS)}")


def _normalize_resize(p: dict[str, Any], x: tuple[int, ...]) -> dict[str, Any]:
    out_shape, used = output_geometry(
        x, scales=p.get("scales"), sizes=p.get("sizes"), axes=p.get("axes"),
        coordinate_transformation_mode=p["coordinate_transformation_mode"], roi=p.get("roi"),
        keep_aspect_ratio_policy=p["keep_aspect_ratio_policy"],
    )
    n = {"mode": p["mode"], "coordinate_transformation_mode": p["coordinate_transformation_mode"]}
    axes = list(range(len(x))) if p.get("axes") is None else [a % len(x) for a in p["axes"]]
    if p.get("scales") is not None:
        full = [1.0] * len(x)
        for a, s in zip(axes, p["scales"]):
            full[a] = float(s)
        exact = all(Fraction(s).limit_denominator(10**6) == Fraction(o, i) for s, o, i in zip(full, out_shape, x))
        if exact and p["keep_aspect_ratio_policy"] == "stretch" and p["coordinate_transformation_mode"] != \
                "tf_crop_and_resize":
            n["sizes"] = out_shape  # the given scale is exactly out/in: sizes mean the same
        else:
            n["scales"] = full
    else:
        n["sizes"] = out_shape
    if p["keep_aspect_ratio_policy"] != "stretch":
        n["keep_aspect_ratio_policy"] = p["keep_aspect_ratio_policy"]
    ctm = n["coordinate_transformation_mode"]
    if ctm == "tf_crop_and_resize":
        roi = [0.0] * len(x) + [1.0] * len(x)
        if p.get("roi") is not None:
            k = len(axes)
            for j, a in enumerate(axes):
                roi[a], roi[len(x) + a] = float(p["roi"][j]), float(p["roi"][k + j])
        n["roi"] = roi
        n["extrapolation_value"] = float(p["extrapolation_value"])
    if ctm == "pytorch_half_pixel" and not any(o == 1 and i != 1 for o, i in zip(out_shape, x)):
        n["coordinate_transformation_mode"] = ctm = "half_pixel"  # identical unless an axis shrinks to 1
    mode = n["mode"]
    if mode == "nearest":
        nm = p["nearest_mode"]
        if ctm == "tf_half_pixel_for_nn" and nm == "floor":
            ctm, nm = "half_pixel", "round_prefer_ceil"  # floor((i+.5)/s) == floor(x_hp + .5)
            n["coordinate_transformation_mode"] = ctm
        n["nearest_mode"] = nm
        return n
    upsampling_only = all(s >= 1 for s in used)
    n["antialias"] = bool(p["antialias"]) and mode in ("linear", "cubic") and not upsampling_only
    if mode == "cubic":
        n["cubic_coeff_a"] = float(p["cubic_coeff_a"])
    if mode in ("cubic",) or n["antialias"]:
        n["exclude_outside"] = bool(p["exclude_outside"])
    elif mode == "linear":
        n["exclude_outside"] = False  # 2 taps: dropping the outside one and renormalising == clamping
    return n
