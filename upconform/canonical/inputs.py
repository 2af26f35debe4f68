"""Deterministic input tensors for a case: generator, seed and dtype, all from the spec.

Generators: ``normal`` (mean 0, std 1), ``uniform`` ([low, high), default [0, 1)), ``arange``
(0, 1, 2, ... in row-major order, wrapped where the dtype stops being exact, so a wrong index
shows up as a wrong value), ``constant`` (``value``), ``ties`` (integers 0..levels-1, many equal
maxima for pooling), ``special`` (normal values with about a quarter replaced by NaN, +-Inf, -0.0,
subnormals, values that overflow float16, exact halves; uint8: 0 and 255). uint8 inputs are
integers in [0, 255] whatever the generator asks, except ``arange``/``constant``/``ties`` which
are already integers.
Tensors beyond ``x`` (conv_transpose's weights and bias) come from the operator's record
(``OpInfo.extra_tensors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .dtypes import np_dtype

GENERATORS = ("normal", "uniform", "arange", "constant", "ties", "special")

# What ``special`` plants: every value a kernel may treat specially.
SPECIAL_VALUES = (np.nan, np.inf, -np.inf, -0.0, 1e-310, 5e-45, 7e4, -7e4, 0.5, 2.5)

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
    elif name == "special":
        data = rng.normal(size=shape)
        pick = rng.random(size=shape) < 0.25
        pool = np.array([0.0, 255.0]) if dtype == "uint8" else np.array(SPECIAL_VALUES)
        data = np.where(pick, rng.choice(pool, size=shape), np.abs(data) * 40 if dtype == "uint8" else data)
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
    with np.errstate(over="ignore"):  # special values overflow float16 on purpose
        return data.astype(np_dtype(dtype))


def case_tensors(case: Any) -> dict[str, np.ndarray]:
    """Every tensor of a case (``x``, and what its operator adds: ``w``/``b``) in the case dtype.

    Example:
        >>> from types import SimpleNamespace as S
        >>> c = S(op="repeat", shapes={"x": (1, 1, 2)}, generator="arange", generator_args={}, dtype="float32", seed=0)
        >>> case_tensors(c)["x"].shape
        (1, 1, 2)
    """
    from .registry import op_info

    out = {"x": generate(case.generator, case.generator_args, tuple(case.shapes["x"]), case.dtype, case.seed)}
    out.update(op_info(case.op).extra_tensors(case.shapes, case.dtype, case.seed))
    return out


def expected_output(case: Any, tensors: Mapping[str, np.ndarray]) -> np.ndarray:
    """The float64 reference output of a case (its normal form, computed once at load, is used).

    Example:
        >>> from upconform.canonical import Case
        >>> from types import MappingProxyType as M
        >>> c = Case(id="r", op="repeat", name="r", dtype="float32", params=M({"repeats": 2}), shapes=M({"x": (1, 1, 2)}))
        >>> expected_output(c, {"x": np.array([[[1.0, 2.0]]])}).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
    """
    from .registry import op_info
    from .values import plain

    return op_info(case.op).expected(tensors, plain(case.normal))


COTANGENT_SEED_OFFSET = 101  # a backward check's cotangent: normal values from the case's seed + 101


def cotangent(case: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The seeded output cotangent of a backward check: N(0, 1) of the output's ``shape`` in the case dtype.

    Example:
        >>> from types import SimpleNamespace as S
        >>> cotangent(S(dtype="float32", seed=0), (1, 1, 2)).dtype
        dtype('float32')
    """
    return generate("normal", {}, tuple(shape), case.dtype, case.seed + COTANGENT_SEED_OFFSET)


def expected_gradients(case: Any, tensors: Mapping[str, np.ndarray], cot: np.ndarray,
                       *, absolute: bool = False) -> dict[str, np.ndarray]:
    """The float64 reference gradients of ``<forward(tensors), cot>`` for a case's differentiable inputs.

    Example:
        >>> from upconform.canonical import Case
        >>> from types import MappingProxyType as M
        >>> c = Case(id="r", op="repeat", name="r", dtype="float64", params=M({"repeats": 2}), shapes=M({"x": (1, 1, 2)}))
        >>> expected_gradients(c, {"x": np.zeros((1, 1, 2))}, np.arange(4.0).reshape(1, 1, 4))["x"].tolist()
        [[[1.0, 5.0]]]
    """
    from .registry import op_info
    from .values import plain

    return op_info(case.op).gradients(tensors, plain(case.normal), cot, absolute=absolute)
