"""Dtype names used in specs and results, and the numpy dtypes behind them.

Example:
    >>> np_dtype("float16")
    dtype('float16')
"""

from __future__ import annotations

import numpy as np

DTYPES = ("float16", "bfloat16", "float32", "float64", "uint8")


class MissingDtype(ImportError):
    """The dtype needs a package that is not installed (bfloat16: ml_dtypes). Checks of such a case
    are ``unsupported`` with this message as the reason, never a crash."""


def np_dtype(name: str) -> np.dtype:
    """The numpy dtype for a spec dtype name (bfloat16 comes from ml_dtypes).

    Example:
        >>> np_dtype("uint8").itemsize
        1
    """
    if name not in DTYPES:
        raise ValueError(f"dtype: {name!r} is not one of {list(DTYPES)}")
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise MissingDtype("bfloat16 needs ml_dtypes, which is not installed (pip install "
                               "'upconform[bfloat16]')") from None
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def spacing(values: np.ndarray, name: str) -> np.ndarray:
    """One unit in the last place of ``name`` at each value (float64 array); 1 for uint8.

    Example:
        >>> float(spacing(np.array([1.0]), "float16")[0])
        0.0009765625
    """
    v = np.abs(np.asarray(values, dtype=np.float64))
    if name == "uint8":
        return np.ones_like(v)
    if name == "bfloat16":
        mant, tiny = 7, 2.0**-126
    elif name == "float16":
        mant, tiny = 10, 2.0**-14
    elif name == "float32":
        mant, tiny = 23, 2.0**-126
    else:
        mant, tiny = 52, 2.0**-1022
    with np.errstate(divide="ignore"):
        exp = np.floor(np.log2(np.maximum(v, tiny)))
    return np.ldexp(1.0, (exp - mant).astype(np.int64))
