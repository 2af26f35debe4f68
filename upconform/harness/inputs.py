"""Deterministic input tensors for a case: generator, seed and dtype, all from the spec.

Generators: ``normal`` (mean 0, std 1), ``uniform`` ([low, high), default [0, 1)), ``arange``
(0, 1, 2, ... in row-major order, wrapped where the dtype stops being exact, so a wrong index
shows up as a wrong value), ``constant`` (``value``), ``ties`` (integers 0..levels-1, many equal
maxima for pooling). uint8 inputs are integers in [0, 255] whatever the generator asks, except
``arange``/``constant``/``ties`` which are already integers.
Weights (conv_transpose ``w``) are normal / sqrt(fan_in) from ``seed + 1``; bias normal from ``seed + 2``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .dtypes import np_dtype

GENERATORS = ("normal", "uniform", "arange", "constant", "ties")

# Largest count of consecutive integers each dtype holds exactly (arange wraps there).
_EXACT_INTS = {"float16": 2048, "bfloat16": 256, "uint8": 256, "float32": 1 << 24, "float64": 1 << 53}


def generate(name: str, args: Mapping[str, Any], shape: tuple[int, ...], dtype: str, seed: int) -> np.ndarray:
    """One input tensor, cast to ``dtype``.

    Example:
        >>> generate("arange", {}, (1, 1, 3), "float32", 0).tolist()
        [[[0.0, 1.0, 2.0]]]
    """
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if name == "arange":
        data = (np.arange(n) % _EXACT_INTS[dtype]).astype(np.float64).reshape(shape)
    elif name == "constant":
        data = np.full(shape, float(args.get("value", 1.0)))
    elif name == "ties":
        data = rng.integers(0, int(args.get("levels", 3)), size=shape).astype(np.float64)
    elif dtype == "uint8":
        data = rng.integers(0, 256, size=shape).astype(np.float64)
    elif name == "uniform":
        data = rng.uniform(float(args.get("low", 0.0)), float(args.get("high", 1.0)), size=shape)
    elif name == "normal":
        data = rng.normal(float(args.get("mean", 0.0)), float(args.get("std", 1.0)), size=shape)
    else:
        raise ValueError(f"input: {name!r} is not one of {list(GENERATORS)}")
    if dtype == "uint8":
        data = np.clip(np.round(data), 0, 255)
    return data.astype(np_dtype(dtype))


def case_tensors(case: Any) -> dict[str, np.ndarray]:
    """Every tensor of a case (``x``, and ``w``/``b`` for conv_transpose) in the case dtype.

    Example:
        >>> from types import SimpleNamespace as S
        >>> c = S(op="repeat", shapes={"x": (1, 1, 2)}, generator="arange", generator_args={}, dtype="float32", seed=0)
        >>> case_tensors(c)["x"].shape
        (1, 1, 2)
    """
    out = {"x": generate(case.generator, case.generator_args, tuple(case.shapes["x"]), case.dtype, case.seed)}
    if "w" in case.shapes:
        wshape = tuple(case.shapes["w"])
        fan_in = int(np.prod(wshape)) // max(wshape[1], 1)
        w = np.random.default_rng(case.seed + 1).normal(size=wshape) / np.sqrt(max(fan_in, 1))
        out["w"] = w.astype(np_dtype(case.dtype))
    if "b" in case.shapes:
        out["b"] = np.random.default_rng(case.seed + 2).normal(size=tuple(case.shapes["b"])).astype(np_dtype(case.dtype))
    return out
