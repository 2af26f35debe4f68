"""Bindings: framework APIs that claim canonical semantics, with their translations.

The registry is written out; framework modules are imported only when a binding runs.
A third-party binding loads from the ``upconform.adapters`` entry-point group or from
``--adapter module:object`` (an object, a class or a zero-argument factory of a Binding, or a list).

Example:
    >>> "torch.nn.functional.interpolate" in registry()
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Any

from .base import Binding, NativeCall, Unsupported

__all__ = ["Binding", "NativeCall", "Unsupported", "registry", "load_adapter", "get"]

# name -> (module, attribute); the attribute is a Binding subclass or factory.
_BUILTIN: dict[str, tuple[str, str]] = {
    # PyTorch
    "torch.nn.functional.interpolate": ("torch_bindings", "Interpolate"),
    "torch.nn.functional.conv_transpose1d": ("torch_bindings", "ConvTranspose1d"),
    "torch.nn.functional.conv_transpose2d": ("torch_bindings", "ConvTranspose2d"),
    "torch.nn.functional.conv_transpose3d": ("torch_bindings", "ConvTranspose3d"),
    "torch.nn.functional.pixel_shuffle": ("torch_bindings", "PixelShuffle"),
    "torch.nn.functional.pixel_unshuffle": ("torch_bindings", "PixelUnshuffle"),
    "torch.nn.functional.max_unpool1d": ("torch_bindings", "MaxUnpool1d"),
    "torch.nn.functional.max_unpool2d": ("torch_bindings", "MaxUnpool2d"),
    "torch.nn.functional.max_unpool3d": ("torch_bindings", "MaxUnpool3d"),
    "torch.repeat_interleave": ("torch_bindings", "RepeatInterleave"),
    # TensorFlow / Keras
    "tf.image.resize": ("tf_bindings", "ImageResize"),
    "tf.compat.v1.image.resize_nearest_neighbor": ("tf_bindings", "ResizeNearestV1"),
    "tf.compat.v1.image.resize_bilinear": ("tf_bindings", "ResizeBilinearV1"),
    "tf.compat.v1.image.resize_bicubic": ("tf_bindings", "ResizeBicubicV1"),
    "tf.compat.v1.image.resize_area": ("tf_bindings", "ResizeAreaV1"),
    "tf.image.crop_and_resize": ("tf_bindings", "CropAndResize"),
    "keras.layers.UpSampling2D": ("tf_bindings", "UpSampling2D"),
    "tf.nn.conv1d_transpose": ("tf_bindings", "Conv1dTranspose"),
    "tf.nn.conv2d_transpose": ("tf_bindings", "Conv2dTranspose"),
    "tf.nn.conv3d_transpose": ("tf_bindings", "Conv3dTranspose"),
    "keras.layers.Conv2DTranspose": ("tf_bindings", "KerasConv2DTranspose"),
    "tf.nn.depth_to_space": ("tf_bindings", "DepthToSpace"),
    "tf.nn.space_to_depth": ("tf_bindings", "SpaceToDepth"),
    "tf.nn.max_pool_with_argmax": ("tf_bindings", "MaxPoolWithArgmaxUnpool"),
    "tf.repeat": ("tf_bindings", "TfRepeat"),
}

_EXTRA: dict[str, Callable[[], Binding]] = {}


def _instantiate(obj: Any) -> list[Binding]:
    if isinstance(obj, Binding):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [b for o in obj for b in _instantiate(o)]
    if callable(obj):
        return _instantiate(obj())
    raise TypeError(f"adapter: {obj!r} is not a Binding, a Binding class or factory, or a list of them")


def load_adapter(spec: str) -> list[str]:
    """Register bindings from ``module:object``; returns their names.

    Example: ``load_adapter("mypkg.bindings:MY_BINDINGS")``.
    """
    if ":" not in spec:
        raise ValueError(f"--adapter: {spec!r} must be 'module:object'")
    mod, _, attr = spec.partition(":")
    obj = getattr(importlib.import_module(mod), attr)
    names = []
    for b in _instantiate(obj):
        if not b.name:
            raise ValueError(f"--adapter: binding {b!r} has no name")
        _EXTRA[b.name] = lambda b=b: b
        names.append(b.name)
    registry.cache_clear()
    get.cache_clear()
    return names


def _entry_point_bindings() -> dict[str, Callable[[], Binding]]:
    out: dict[str, Callable[[], Binding]] = {}
    for ep in metadata.entry_points(group="upconform.adapters"):
        for b in _instantiate(ep.load()):
            out[b.name] = lambda b=b: b
    return out


def _builtin_factory(module: str, attr: str) -> Callable[[], Binding]:
    def make() -> Binding:
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)()

    return make


@cache
def registry() -> dict[str, Callable[[], Binding]]:
    """Every known binding name -> factory (built-ins, entry points, --adapter)."""
    reg: dict[str, Callable[[], Binding]] = {n: _builtin_factory(m, a) for n, (m, a) in _BUILTIN.items()}
    reg.update(_entry_point_bindings())
    reg.update(_EXTRA)
    return reg


@cache
def get(name: str) -> Binding:
    """The binding object for a name (created once).

    Example:
        >>> get("tf.repeat").framework
        'tensorflow'
    """
    reg = registry()
    if name not in reg:
        raise KeyError(f"binding: {name!r} is not one of {sorted(reg)}")
    b = reg[name]()
    return b
