"""The NumPy reference: every upsampling operator in float64, independent of any framework.

Example:
    >>> from upconform import reference
    >>> reference.repeat(np.ones((1, 1, 2)), repeats=3).shape
    (1, 1, 6)
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (used by the docstring example)

from .conv_transpose import (
    conv_transpose,
    conv_transpose_geometry,
    conv_transpose_vjp,
    direct_to_transposed,
    transposed_to_direct,
)
from .max_pool import max_pool, pool_output_size
from .max_unpool import max_unpool, max_unpool_vjp
from .pixel_shuffle import pixel_shuffle, pixel_shuffle_vjp, pixel_unshuffle, pixel_unshuffle_vjp
from .repeat import repeat, repeat_vjp
from .resize import resize, resize_vjp

__all__ = [
    "conv_transpose",
    "conv_transpose_geometry",
    "conv_transpose_vjp",
    "direct_to_transposed",
    "max_pool",
    "max_unpool",
    "max_unpool_vjp",
    "pixel_shuffle",
    "pixel_shuffle_vjp",
    "pixel_unshuffle",
    "pixel_unshuffle_vjp",
    "pool_output_size",
    "repeat",
    "repeat_vjp",
    "resize",
    "resize_vjp",
    "transposed_to_direct",
]
