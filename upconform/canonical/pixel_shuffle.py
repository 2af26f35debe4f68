"""Pixel shuffle and unshuffle (ONNX DepthToSpace / SpaceToDepth), with the channel order named:
``CRD`` (PyTorch's pixel_shuffle) or ``DCR`` (TensorFlow's depth_to_space). The references are
:func:`upconform.reference.pixel_shuffle` and :func:`upconform.reference.pixel_unshuffle`.

Example:
    >>> PIXEL_SHUFFLE.output_shape({"upscale_factor": 2}, {"x": (1, 8, 3, 4)})
    (1, 2, 6, 8)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import reference
from ..reference.pixel_shuffle import MODES
from .opinfo import OpInfo, Shapes


def normalize(p: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    return dict(p)  # the factor and the mode: nothing to normalise


def shuffled_shape(n: Mapping[str, Any], shapes: Shapes) -> tuple[int, ...]:
    x = tuple(shapes["x"])
    r = int(n["upscale_factor"])
    return (x[0], x[1] // r ** (len(x) - 2), *(v * r for v in x[2:]))


def unshuffled_shape(n: Mapping[str, Any], shapes: Shapes) -> tuple[int, ...]:
    x = tuple(shapes["x"])
    r = int(n["downscale_factor"])
    return (x[0], x[1] * r ** (len(x) - 2), *(v // r for v in x[2:]))


def port_variants(n: Mapping[str, Any], shapes: Shapes) -> list[tuple[str, dict[str, Any]]]:
    """The other channel order (the porting trap: CRD read as DCR)."""
    other = "DCR" if n.get("mode", "CRD") == "CRD" else "CRD"
    return [(f"mode={other}", {"mode": other})]


def shuffle_vjp(tensors: Mapping[str, np.ndarray], kw: Mapping[str, Any], cotangent: np.ndarray,
                absolute: bool) -> dict[str, np.ndarray]:
    """The inverse permutation of the cotangent (:func:`upconform.reference.pixel_shuffle_vjp`)."""
    return {"x": reference.pixel_shuffle_vjp(tensors["x"], cotangent, **kw, absolute=absolute)}


def unshuffle_vjp(tensors: Mapping[str, np.ndarray], kw: Mapping[str, Any], cotangent: np.ndarray,
                  absolute: bool) -> dict[str, np.ndarray]:
    """The inverse permutation of the cotangent (:func:`upconform.reference.pixel_unshuffle_vjp`)."""
    return {"x": reference.pixel_unshuffle_vjp(tensors["x"], cotangent, **kw, absolute=absolute)}


PIXEL_SHUFFLE = OpInfo("pixel_shuffle", family="pixel_shuffle", reference=reference.pixel_shuffle,
                       normalize=normalize, output_shape=shuffled_shape, enums={"mode": MODES},
                       search_space=lambda: _space(False), port_inputs=("normal", "arange"),
                       port_variants=port_variants, vjp=shuffle_vjp)
PIXEL_UNSHUFFLE = OpInfo("pixel_unshuffle", family="pixel_shuffle", reference=reference.pixel_unshuffle,
                         normalize=normalize, output_shape=unshuffled_shape, enums={"mode": MODES},
                         search_space=lambda: _space(True), port_inputs=("normal", "arange"),
                         port_variants=port_variants, vjp=unshuffle_vjp)


def _space(unshuffle: bool) -> Any:
    from hypothesis import strategies as st

    @st.composite
    def draw(d: Any) -> dict[str, Any]:
        k = d(st.integers(1, 3))
        r = d(st.integers(1, 3))
        c = d(st.integers(1, 2))
        sp = [d(st.integers(1, 4)) for _ in range(k)]
        if unshuffle:
            x, params = (d(st.integers(1, 2)), c, *[v * r for v in sp]), {"downscale_factor": r}
        else:
            x, params = (d(st.integers(1, 2)), c * r**k, *sp), {"upscale_factor": r}
        params["mode"] = d(st.sampled_from(MODES))
        return {"params": params, "shapes": {"x": x}, "dtype": d(st.sampled_from(["float32", "float16", "uint8"]))}

    return draw()
