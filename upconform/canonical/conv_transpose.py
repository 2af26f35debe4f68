"""Transposed convolution (ONNX ConvTranspose), weights canonical (C_in, C_out/group, *k), or
(C_out, C_in/group, *k) rotated 180 degrees with ``weight_convention: direct`` (the
zero-insertion-and-correlate form). The reference is :func:`upconform.reference.conv_transpose`.

Normal form: every padding rule (explicit pads, ``auto_pad``, ``output_shape``) becomes explicit
begin/end pads on the full output ``stride * (in - 1) + (k - 1) * dilation + 1``, plus
``output_padding`` for rows past the full output (where only the bias lands).

Example:
    >>> CONV_TRANSPOSE.normal_form({"strides": 2, "auto_pad": "SAME_UPPER"}, {"x": (1, 1, 4), "w": (1, 1, 3)})["pads"]
    [0, 1]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import reference
from ..reference.conv_transpose import AUTO_PADS, WEIGHT_CONVENTIONS, conv_transpose_geometry
from .dtypes import np_dtype
from .opinfo import OpInfo, Shapes
from .values import per_axis


def pads_from_begins(x: Sequence[int], w: Sequence[int], strides: Sequence[int], dilations: Sequence[int],
                     begins: Sequence[int], outs: Sequence[int]) -> tuple[list[int], list[int]]:
    """(pads, output_padding) that crop the full output at ``begins`` to lengths ``outs``: the end pad
    is what is left of the full output; a negative end means rows past it (bias only).

    Example:
        >>> pads_from_begins((1, 1, 4), (1, 1, 3), [2], [1], [0], [8])
        ([0, 1], [0])
    """
    k = len(strides)
    ends, extra = [], []
    for i in range(k):
        full = strides[i] * (x[2 + i] - 1) + (w[2 + i] - 1) * dilations[i] + 1
        end = full - begins[i] - outs[i]
        ends.append(max(end, 0))
        extra.append(max(-end, 0))
    return list(begins) + ends, extra


def normalize(p: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    x, w = tuple(shapes["x"]), tuple(shapes["w"])
    k = len(x) - 2
    st = per_axis(p.get("strides"), k, default=1)
    dl = per_axis(p.get("dilations"), k, default=1)
    op = per_axis(p.get("output_padding"), k, default=0)
    begins, outs = conv_transpose_geometry(
        x[2:], w[2:], strides=st, pads=p.get("pads"), output_padding=op, dilations=dl,
        auto_pad=p.get("auto_pad", "NOTSET"), output_shape=p.get("output_shape"),
    )
    pads, extra = pads_from_begins(x, w, st, dl, begins, outs)
    return {"strides": st, "dilations": dl, "group": int(p.get("group", 1)), "pads": pads,
            "output_padding": extra, "weight_convention": p.get("weight_convention", "transposed"),
            "output_spatial": outs}


def out_channels(n: Mapping[str, Any], w: Sequence[int]) -> int:
    return int(w[0]) if n["weight_convention"] == "direct" else int(w[1]) * int(n["group"])


def output_shape(n: Mapping[str, Any], shapes: Shapes) -> tuple[int, ...]:
    return (int(shapes["x"][0]), out_channels(n, shapes["w"]), *n["output_spatial"])


def weights(shape: Sequence[int], dtype: str, seed: int) -> np.ndarray:
    """Normal weights scaled by 1 / sqrt(prod(shape) / shape[1]), from ``seed + 1``."""
    fan_in = math.prod(shape) // max(shape[1], 1)
    w = np.random.default_rng(seed + 1).normal(size=tuple(shape)) / np.sqrt(max(fan_in, 1))
    return w.astype(np_dtype(dtype))


def bias(shape: Sequence[int], dtype: str, seed: int) -> np.ndarray:
    """Normal bias from ``seed + 2``."""
    return np.random.default_rng(seed + 2).normal(size=tuple(shape)).astype(np_dtype(dtype))


def extra_tensors(shapes: Shapes, dtype: str, seed: int) -> dict[str, np.ndarray]:
    out = {"w": weights(shapes["w"], dtype, seed)}
    if "b" in shapes:
        out["b"] = bias(shapes["b"], dtype, seed)
    return out


def explain_shapes(x: tuple[int, ...], w: tuple[int, ...] | None) -> dict[str, tuple[int, ...]]:
    """Weights (C_in, C_in, 3, ...) unless given: the shape ``explain`` says it assumes."""
    return {"x": x, "w": w if w is not None else (x[1], x[1], *([3] * (len(x) - 2)))}


def port_variants(n: Mapping[str, Any], shapes: Shapes) -> list[tuple[str, dict[str, Any]]]:
    """The same output size cropped elsewhere from the full output: begin = total // 2 (TF's SAME),
    begin = ceil(total / 2), begin 0, begin = total (the pads a port gets wrong by one pixel)."""
    x, w = tuple(shapes["x"]), tuple(shapes["w"])
    k = len(x) - 2
    outs = n["output_spatial"]
    out = []
    for label, rule in (("begin pad = total // 2 (TensorFlow's SAME)", lambda t: t // 2),
                        ("begin pad = ceil(total / 2)", lambda t: t - t // 2),
                        ("begin pad 0", lambda t: 0), ("all padding at the begin", lambda t: t)):
        begins = []
        for i in range(k):
            full = n["strides"][i] * (x[2 + i] - 1) + (w[2 + i] - 1) * n["dilations"][i] + 1
            begins.append(max(min(rule(max(full - outs[i], 0)), full), 0))
        pads, extra = pads_from_begins(x, w, n["strides"], n["dilations"], begins, outs)
        if pads != n["pads"]:
            out.append((label, {"pads": pads, "output_padding": extra, "auto_pad": "NOTSET"}))
    return out


def vjp(tensors: Mapping[str, np.ndarray], kw: Mapping[str, Any], cotangent: np.ndarray,
        absolute: bool) -> dict[str, np.ndarray]:
    """Gradients for x, w (and b when the case has one): :func:`upconform.reference.conv_transpose_vjp`."""
    return reference.conv_transpose_vjp(tensors["x"], tensors["w"], cotangent, tensors.get("b"), **kw,
                                        absolute=absolute)


CONV_TRANSPOSE = OpInfo(
    "conv_transpose", family="conv_transpose", reference=reference.conv_transpose, normalize=normalize,
    output_shape=output_shape, tensors=("x", "w"), optional_tensors=("b",),
    enums={"auto_pad": AUTO_PADS, "weight_convention": WEIGHT_CONVENTIONS}, uint8_ok=False,
    derived=("output_spatial",), extra_tensors=extra_tensors, explain_shapes=explain_shapes,
    search_space=lambda: search_space(), port_variants=port_variants,
    vjp=vjp, grads=lambda shapes: ("x", "w", "b") if "b" in shapes else ("x", "w"),
)


def search_space() -> Any:
    """Canonical transposed convolutions (transposed weights) for ``upconform search``."""
    from hypothesis import strategies as st

    @st.composite
    def draw(d: Any) -> dict[str, Any]:
        k = d(st.integers(1, 3))
        group = d(st.integers(1, 2))
        cin, cog = group * d(st.integers(1, 2)), d(st.integers(1, 2))
        ker = [d(st.integers(1, 4)) for _ in range(k)]
        s = [d(st.integers(1, 3)) for _ in range(k)]
        dl = [d(st.integers(1, 2)) for _ in range(k)]
        sp = [d(st.integers(1, 6)) for _ in range(k)]
        params: dict[str, Any] = {"strides": s, "dilations": dl, "group": group}
        style = d(st.sampled_from(["pads", "auto_pad", "output_shape"]))
        if style == "pads":
            params["pads"] = [d(st.integers(0, (v - 1) * e)) for v, e in zip(ker, dl)] * 2
            params["output_padding"] = [d(st.integers(0, max(a, b) - 1)) for a, b in zip(s, dl)]
        elif style == "auto_pad":
            params["auto_pad"] = d(st.sampled_from(AUTO_PADS))
        else:
            full = [s[i] * (sp[i] - 1) + (ker[i] - 1) * dl[i] + 1 for i in range(k)]
            params["output_shape"] = [d(st.integers(max(1, f - 3), f + 1)) for f in full]
        shapes = {"x": (d(st.integers(1, 2)), cin, *sp), "w": (cin, cog, *ker)}
        if d(st.booleans()):
            shapes["b"] = (cog * group,)
        return {"params": params, "shapes": shapes, "dtype": d(st.sampled_from(["float32", "float64", "float16"]))}

    return draw()
