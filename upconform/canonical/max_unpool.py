"""Max-unpooling (ONNX MaxUnpool). A case gives the *pooling* input ``x``: values and indices come
from :func:`upconform.reference.max_pool` (first maximum wins), then
:func:`upconform.reference.max_unpool` scatters them.

Example:
    >>> MAX_UNPOOL.normal_form({"kernel_shape": 2, "strides": 2}, {"x": (1, 1, 4, 6)})["output_shape"]
    [4, 6]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import reference
from ..reference.max_unpool import INDEX_PLANES
from .opinfo import OpInfo, Shapes
from .values import per_axis


def normalize(p: dict[str, Any], shapes: Shapes) -> dict[str, Any]:
    """Per-axis kernel, strides and pads; the output shape ONNX's default formula gives unless set:
    (pooled - 1) * stride + kernel - pads."""
    x = tuple(shapes["x"])
    k = len(x) - 2
    ks = per_axis(p["kernel_shape"], k, default=1)
    st = per_axis(p.get("strides"), k, default=1)
    pads = list(p["pads"]) if p.get("pads") is not None else [0] * (2 * k)
    pooled = [reference.pool_output_size(x[2 + i], ks[i], st[i], 1, pads[i], pads[k + i], False) for i in range(k)]
    default = [(pooled[i] - 1) * st[i] + ks[i] - pads[i] - pads[k + i] for i in range(k)]
    out = [int(v) for v in p["output_shape"]][-k:] if p.get("output_shape") is not None else default
    n = {"kernel_shape": ks, "strides": st, "pads": pads, "output_shape": out}
    if p.get("index_plane", "output_shape") != "output_shape" and out != default:
        n["index_plane"] = p["index_plane"]  # a reading that matters only when the output is not the default
    return n


def output_shape(n: Mapping[str, Any], shapes: Shapes) -> tuple[int, ...]:
    x = tuple(shapes["x"])
    return (*x[:2], *n["output_shape"])


def pool_then_unpool(tensors: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> np.ndarray:
    """Pool ``x`` (first max wins), then unpool the values at their indices."""
    pool = {k: params[k] for k in ("kernel_shape", "strides", "pads") if params.get(k) is not None}
    values, indices = reference.max_pool(tensors["x"], **pool)
    return reference.max_unpool(values, indices, **params)


def pool_then_unpool_vjp(tensors: Mapping[str, np.ndarray], params: Mapping[str, Any], cotangent: np.ndarray,
                         absolute: bool) -> dict[str, np.ndarray]:
    """The gradient with respect to ``values`` (the pooled ``x``, shape of the pooling output): pool
    ``x`` as :func:`pool_then_unpool` does, then :func:`upconform.reference.max_unpool_vjp` gathers the
    cotangent at the indices (indices get no gradient)."""
    pool = {k: params[k] for k in ("kernel_shape", "strides", "pads") if params.get(k) is not None}
    values, indices = reference.max_pool(tensors["x"], **pool)
    return {"values": reference.max_unpool_vjp(values, indices, cotangent, **params, absolute=absolute)}


MAX_UNPOOL = OpInfo("max_unpool", family="max_unpool", reference=reference.max_unpool, normalize=normalize,
                    output_shape=output_shape, compute=pool_then_unpool, search_space=lambda: search_space(),
                    enums={"index_plane": INDEX_PLANES}, conventions=("index_plane",),
                    port_inputs=("normal", "ties"),  # ties: which of equal maxima the indices name
                    vjp=pool_then_unpool_vjp, grads=lambda shapes: ("values",))


def search_space() -> Any:
    """Canonical max_unpool cases (the pooling input, kernel, strides, pads) for ``upconform search``."""
    from hypothesis import strategies as st

    @st.composite
    def draw(d: Any) -> dict[str, Any]:
        k = d(st.integers(1, 3))
        ks = [d(st.integers(1, 3)) for _ in range(k)]
        st_ = [d(st.integers(1, 3)) for _ in range(k)]
        pads = [d(st.integers(0, (v - 1) // 2)) for v in ks] * 2
        x = (d(st.integers(1, 2)), d(st.integers(1, 3)), *[v + d(st.integers(0, 6)) for v in ks])
        return {"params": {"kernel_shape": ks, "strides": st_, "pads": pads}, "shapes": {"x": x},
                "dtype": d(st.sampled_from(["float32", "float64", "float16"]))}

    return draw()
