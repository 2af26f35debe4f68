"""The explicit registry of operators, written out: one record per operator.

Example:
    >>> sorted(OPS)[:2]
    ['conv_transpose', 'max_unpool']
"""

from __future__ import annotations

from typing import Any

from .conv_transpose import CONV_TRANSPOSE
from .max_unpool import MAX_UNPOOL
from .opinfo import OpInfo
from .pixel_shuffle import PIXEL_SHUFFLE, PIXEL_UNSHUFFLE
from .repeat import REPEAT
from .resize import RESIZE

OPS: dict[str, OpInfo] = {
    "resize": RESIZE,
    "repeat": REPEAT,
    "max_unpool": MAX_UNPOOL,
    "conv_transpose": CONV_TRANSPOSE,
    "pixel_shuffle": PIXEL_SHUFFLE,
    "pixel_unshuffle": PIXEL_UNSHUFFLE,
}


def op_info(op: str) -> OpInfo:
    """The record of ``op``; an unknown name raises naming the allowed set.

    Example:
        >>> op_info("repeat").family
        'repeat'
    """
    if op not in OPS:
        raise ValueError(f"op: {op!r} is not one of {list(OPS)}")
    return OPS[op]


def normalize(op: str, params: Any, shapes: Any) -> dict[str, Any]:
    """The normal form of ``params`` for inputs of ``shapes`` (ValueError as the reference would).

    Example:
        >>> normalize("repeat", {"repeats": 3}, {"x": (1, 1, 2)})
        {'repeats': [3]}
    """
    return op_info(op).normal_form(params, shapes)
