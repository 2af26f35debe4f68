"""Resize: ONNX Resize (opset 21) plus ``area`` and ``adaptive_avg``; the reference is
:func:`upconform.reference.resize` (its module docstring states every coordinate formula).

Example:
    >>> RESIZE.output_shape({"sizes": [1, 1, 7]}, {"x": (1, 1, 5)})
    (1, 1, 7)
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from .. import reference
from ..reference.resize import (
    ALIGN_CORNERS_LENGTHS,
    COORDINATE_TRANSFORMATION_MODES,
    INTEGER_ROUNDINGS,
    KEEP_ASPECT_RATIO_POLICIES,
    MODES,
    NEAREST_MODES,
    OUTPUT_SIZE_RULES,
    exact_ratio,
    output_geometry,
)
from .opinfo import OpInfo, Shapes


def normalize(p: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    """Normal form of resize parameters (defaults filled in). Identities, each proved in tests:
    a scale that is exactly out/in becomes ``sizes``; pytorch_half_pixel is half_pixel unless an
    axis shrinks to 1; tf_half_pixel_for_nn + floor is half_pixel + round_prefer_ceil; antialias
    is dropped when every axis upsamples; parameters the mode ignores are dropped; a reading of the
    text (output_size_rule, align_corners_length, integer_rounding) stays only where it matters.

    Example:
        >>> RESIZE.normal_form({"mode": "linear", "scales": [1, 1, 1.7]}, {"x": (1, 1, 4)})["scales"]
        [1.0, 1.0, 1.7]
    """
    x = tuple(shapes["x"])
    out_shape, used = output_geometry(
        x, scales=p.get("scales"), sizes=p.get("sizes"), axes=p.get("axes"),
        coordinate_transformation_mode=p["coordinate_transformation_mode"], roi=p.get("roi"),
        keep_aspect_ratio_policy=p["keep_aspect_ratio_policy"], output_size_rule=p["output_size_rule"],
    )
    n = {"mode": p["mode"], "coordinate_transformation_mode": p["coordinate_transformation_mode"]}
    axes = list(range(len(x))) if p.get("axes") is None else [a % len(x) for a in p["axes"]]
    if p.get("scales") is not None:
        full = [1.0] * len(x)
        for a, s in zip(axes, p["scales"]):
            full[a] = float(s)
        exact = all(exact_ratio(s) == Fraction(o, i) if i else o == 0 for s, o, i in zip(full, out_shape, x))
        # (keep_aspect_ratio_policy applies to sizes only: Resize-19 ignores it with scales)
        if exact and p["coordinate_transformation_mode"] != "tf_crop_and_resize":
            n["sizes"] = out_shape  # the given scale is exactly out/in: sizes mean the same
        else:
            n["scales"] = full
    elif p["keep_aspect_ratio_policy"] != "stretch":
        # Resize-19: one scale for the policy's axes (min or max of sizes/in), the output round(scale * in):
        # the requested sizes, the axes and the policy together are the meaning (out/in is not the scale)
        by_axis = dict(zip(axes, p["sizes"]))
        n["sizes"] = [int(by_axis[a]) for a in sorted(by_axis)]
        n["axes"] = sorted(by_axis)
        n["keep_aspect_ratio_policy"] = p["keep_aspect_ratio_policy"]
    else:
        n["sizes"] = out_shape
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
        return _readings(n, p, x, out_shape)
    upsampling_only = all(s >= 1 for s in used)
    n["antialias"] = bool(p["antialias"]) and mode in ("linear", "cubic") and not upsampling_only
    if mode == "cubic":
        n["cubic_coeff_a"] = float(p["cubic_coeff_a"])
    if mode in ("cubic",) or n["antialias"]:
        n["exclude_outside"] = bool(p["exclude_outside"])
    elif mode == "linear":
        n["exclude_outside"] = False  # 2 taps: dropping the outside one and renormalising == clamping
    if p["integer_rounding"] != "final" and mode != "area" and mode != "adaptive_avg":
        n["integer_rounding"] = p["integer_rounding"]  # matters for integer inputs only (docs/conventions.md)
    return _readings(n, p, x, out_shape)


def _readings(n: dict[str, Any], p: Mapping[str, Any], x: tuple[int, ...], out_shape: list[int]) -> dict[str, Any]:
    """Keep a non-default reading of the text (docs/conventions.md) only where it changes the result.

    With scales, align_corners and tf_crop_and_resize coordinates depend on the resized length L:
    the ``integer`` reading uses the output length, which is what ``sizes`` mean, so they become
    sizes (unless antialias, whose kernel stretch uses the given scale). pytorch_half_pixel keeps
    its scale and the reading. The output-size rule has then been applied: it stays only with scales.
    """
    if "scales" not in n:
        return n
    ctm = n["coordinate_transformation_mode"]
    length, rule = p["align_corners_length"], p["output_size_rule"]
    aa = n.get("antialias", False)
    if ctm in ("align_corners", "tf_crop_and_resize"):
        scaled_is_integer = ctm == "tf_crop_and_resize" and all(
            _resized_length(n, i, a, rule) == o for a, (i, o) in enumerate(zip(x, out_shape)))
        if (length == "integer" or scaled_is_integer) and not aa:
            del n["scales"]
            n["sizes"] = list(out_shape)
            return n
    if ctm in ("align_corners", "tf_crop_and_resize", "pytorch_half_pixel") and length != "scaled":
        n["align_corners_length"] = length
    if ctm == "tf_crop_and_resize" and rule != "spec_text":
        n["output_size_rule"] = rule
    return n


def _resized_length(n: Mapping[str, Any], in_len: int, axis: int, rule: str) -> Fraction:
    """L = in * scale (times the roi width under the text's size rule, for tf_crop_and_resize)."""
    length = in_len * exact_ratio(n["scales"][axis])
    if n["coordinate_transformation_mode"] == "tf_crop_and_resize" and rule == "spec_text":
        k = len(n["roi"]) // 2
        length *= Fraction(n["roi"][k + axis]) - Fraction(n["roi"][axis])
    return length


def output_shape(n: Mapping[str, Any], shapes: Shapes) -> tuple[int, ...]:
    if "sizes" in n and "axes" not in n:
        return tuple(int(v) for v in n["sizes"])
    if "sizes" in n:  # keep_aspect_ratio_policy over the given axes
        out, _ = output_geometry(tuple(shapes["x"]), sizes=n["sizes"], axes=n["axes"],
                                 coordinate_transformation_mode=n["coordinate_transformation_mode"],
                                 keep_aspect_ratio_policy=n["keep_aspect_ratio_policy"])
        return tuple(out)
    out, _ = output_geometry(tuple(shapes["x"]), scales=n["scales"],
                             coordinate_transformation_mode=n["coordinate_transformation_mode"], roi=n.get("roi"),
                             keep_aspect_ratio_policy=n.get("keep_aspect_ratio_policy", "stretch"),
                             output_size_rule=n.get("output_size_rule", "spec_text"))
    return tuple(out)



def as_repeat(n: Mapping[str, Any], shapes: Shapes) -> dict[str, Any] | None:
    """The repeat normal form of a resize that is exactly a nearest repeat (nearest, asymmetric, floor,
    N and C kept, every spatial output an integer multiple of its input), or None.

    Example:
        >>> as_repeat({"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
        ...            "nearest_mode": "floor", "sizes": [1, 1, 4, 9]}, {"x": (1, 1, 2, 3)})
        {'repeats': [2, 3]}
    """
    x = tuple(shapes["x"])
    if (n.get("mode"), n.get("coordinate_transformation_mode"), n.get("nearest_mode")) != \
            ("nearest", "asymmetric", "floor") or "sizes" not in n:
        return None
    out = [int(v) for v in n["sizes"]]
    if out[:2] != list(x[:2]) or any(i == 0 or o % i for i, o in zip(x[2:], out[2:])):
        return None
    return {"repeats": [o // i for i, o in zip(x[2:], out[2:])]}


_PORT_CTMS = ("half_pixel", "align_corners", "asymmetric", "pytorch_half_pixel")
_PORT_CUBICS = ((-0.75, False), (-0.5, True), (-0.5, False), (-0.75, True))


def port_variants(n: Mapping[str, Any], shapes: Shapes) -> list[tuple[str, dict[str, Any]]]:
    """Canonical neighbours for ``upconform port``: the same output size, other coordinate modes,
    nearest roundings, cubic kernels, linear for cubic; and ``tf_crop_and_resize`` with the full box
    [0, 1] on every axis, which *is* ``align_corners`` (x_in = x_out * (in - 1) / (out - 1))."""
    out: list[tuple[str, dict[str, Any]]] = []
    mode, ctm = n["mode"], n["coordinate_transformation_mode"]
    k = len(shapes["x"])
    if "keep_aspect_ratio_policy" not in n:
        # a scale that is not out/in: APIs that take a size map coordinates with out/in (a no-op where the
        # meaning already has sizes; kept so that a probe at another shape finds the same variant)
        out.append(("the output size instead of the scale (coordinates then use out/in)",
                    {"scales": None, "sizes": list(output_shape(n, shapes))}))
    full = {"roi": [0.0] * k + [1.0] * k, "extrapolation_value": 0.0}
    if ctm == "align_corners" and mode in ("linear", "nearest"):
        out.append(("tf_crop_and_resize over the full box [0, 1] is align_corners: x_in = x_out * (in - 1) / (out - 1)",
                    {"coordinate_transformation_mode": "tf_crop_and_resize", **full}))
    if mode == "nearest":
        for c in _PORT_CTMS:
            for nm in NEAREST_MODES:
                out.append((f"coordinate_transformation_mode={c}, nearest_mode={nm}",
                            {"coordinate_transformation_mode": c, "nearest_mode": nm}))
        out.append(("tf_crop_and_resize over the full box, round_prefer_ceil",
                    {"coordinate_transformation_mode": "tf_crop_and_resize", "nearest_mode": "round_prefer_ceil",
                     **full}))
    elif mode in ("linear", "cubic"):
        for c in _PORT_CTMS:
            out.append((f"mode=linear, coordinate_transformation_mode={c}",
                        {"mode": "linear", "coordinate_transformation_mode": c}))
            for a, ex in _PORT_CUBICS:
                out.append((f"mode=cubic, coordinate_transformation_mode={c}, cubic_coeff_a={a}, exclude_outside={ex}",
                            {"mode": "cubic", "coordinate_transformation_mode": c, "cubic_coeff_a": a,
                             "exclude_outside": ex}))
        if n.get("antialias"):
            out.append(("antialias=False", {"antialias": False}))
    elif mode in ("area", "adaptive_avg"):
        other = "adaptive_avg" if mode == "area" else "area"
        out.append((f"mode={other}", {"mode": other}))
    return out


def vjp(tensors: Mapping[str, np.ndarray], kw: Mapping[str, Any], cotangent: np.ndarray,
        absolute: bool) -> dict[str, np.ndarray]:
    """The cotangent scatter-added through the forward's taps (:func:`upconform.reference.resize_vjp`)."""
    return {"x": reference.resize_vjp(tensors["x"], cotangent, **kw, absolute=absolute)}


RESIZE = OpInfo(
    "resize", family="resize", reference=reference.resize, normalize=normalize, output_shape=output_shape,
    enums={
        "mode": MODES,
        "coordinate_transformation_mode": COORDINATE_TRANSFORMATION_MODES,
        "nearest_mode": NEAREST_MODES,
        "keep_aspect_ratio_policy": KEEP_ASPECT_RATIO_POLICIES,
        "output_size_rule": OUTPUT_SIZE_RULES,
        "align_corners_length": ALIGN_CORNERS_LENGTHS,
        "integer_rounding": INTEGER_ROUNDINGS,
    },
    conventions=("output_size_rule", "align_corners_length", "integer_rounding"),
    integer_conventions=("integer_rounding",),
    search_space=lambda: search_space(),
    port_inputs=("normal", "arange"),  # arange: distinct values, so a nearest index chosen differently shows
    port_variants=port_variants,
    vjp=vjp,
)


def search_space() -> Any:
    """Canonical resize cases for ``upconform search``: rank 1-2, sizes or scales, every mode."""
    from hypothesis import strategies as st

    @st.composite
    def draw(d: Any) -> dict[str, Any]:
        k = d(st.integers(1, 2))
        x = (d(st.integers(1, 2)), d(st.integers(1, 3)), *[d(st.integers(1, 12)) for _ in range(k)])
        mode = d(st.sampled_from(MODES))
        box = mode in ("area", "adaptive_avg")
        ctm = "half_pixel" if box else d(st.sampled_from([c for c in COORDINATE_TRANSFORMATION_MODES
                                                          if c != "tf_crop_and_resize"]))
        p: dict[str, Any] = {"mode": mode, "coordinate_transformation_mode": ctm,
                             "nearest_mode": d(st.sampled_from(NEAREST_MODES)),
                             "cubic_coeff_a": d(st.sampled_from([-0.75, -0.5])), "exclude_outside": d(st.booleans()),
                             "antialias": False if box else d(st.booleans())}
        if d(st.booleans()):
            p["sizes"] = [*x[:2], *[d(st.integers(1, 16)) for _ in range(k)]]
        else:
            p["scales"] = [1.0, 1.0, *[float(d(st.one_of(st.integers(1, 4), st.sampled_from(
                [0.5, 1.5, 2.5, 0.75, 1.7, 0.3, 3.3])))) for _ in range(k)]]
        return {"params": p, "shapes": {"x": x}, "dtype": d(st.sampled_from(["float32", "float64", "float16", "uint8"]))}

    return draw()
