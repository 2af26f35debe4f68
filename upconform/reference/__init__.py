"""The NumPy reference: every upsampling operator in float64, independent of any framework.

Example:
    >>> from upconform import reference
    >>> reference.repeat(np.ones((1, 1, 2)), repeats=3).shape
    (1, 1, 6)
"""

from __future__ import annotations

import numpy as np  # noqa: F401  (used by the docstring example)

from .conv_transpose import conv_transpose, conv_transpose_geometry, direct_to_transposed, transposed_to_direct
from .max_pool import max_pool, pool_output_size
from .max_unpool import max_unpool
from .pixel_shuffle import pixel_shuffle, pixel_unshuffle
from .repeat import repeat
from .resize import resize

__all__ = [
    "conv_transpose",
    "conv_transpose_geometry",
    "direct_to_transposed",
    "max_pool",
    "max_unpool",
    "pixel_shuffle",
    "pixel_unshuffle",
    "pool_output_size",
    "repeat",
    "resize",
    "transposed_to_direct",
]
