"""Bindings and frameworks: framework APIs that claim canonical semantics, with their translations,
and one :class:`Framework` descriptor per framework beside its bindings.

The registries are written out; framework modules are imported only when a binding runs.
Third-party bindings and frameworks load from the ``upconform.adapters`` entry-point group or from
``--adapter module:object``: the object is a Binding (an instance, a class or a zero-argument
factory), a Framework, a list of them, or a module whose ``FRAMEWORK`` and ``BINDINGS`` are read.
A new framework is therefore one module plus one entry-point line::

    [project.entry-points."upconform.adapters"]
    jax = "upconform_jax"          # the module defines FRAMEWORK = Framework(...) and BINDINGS = [...]

Example:
    >>> "torch.nn.functional.interpolate" in registry()
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from importlib import metadata
from types import ModuleType
from typing import Any

from .base import EAGER, PATH_CHECK_COST_S, Binding, Framework, NativeCall, Path, Unsupported

__all__ = ["EAGER", "PATH_CHECK_COST_S", "Binding", "Framework", "NativeCall", "Path", "Unsupported", "registry",
           "load_adapter", "get", "frameworks", "framework", "framework_of", "paths_of", "path_names",
           "ANCHOR_FRAMEWORK"]

# the framework the report's paired comparisons measure every other binding against (per op, its binding
# that timed the most cases): the most used one, so that "x2" reads "twice PyTorch's time"
ANCHOR_FRAMEWORK = "torch"

# framework name -> (module, attribute) of its descriptor
_BUILTIN_FRAMEWORKS: dict[str, tuple[str, str]] = {
    "torch": ("torch_bindings", "FRAMEWORK"),
    "tensorflow": ("tf_bindings", "FRAMEWORK"),
    "onnxruntime": ("onnx_bindings", "ORT_FRAMEWORK"),
    "openvino": ("onnx_bindings", "OPENVINO_FRAMEWORK"),
    "onnx.reference": ("onnx_bindings", "REFERENCE_FRAMEWORK"),
    "opencv": ("cv2_bindings", "FRAMEWORK"),
    "pillow": ("pil_bindings", "FRAMEWORK"),
    "jax": ("jax_bindings", "FRAMEWORK"),
}

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
    "torch.nn.Upsample": ("torch_bindings", "Upsample"),
    "torch.nn.UpsamplingNearest2d": ("torch_bindings", "UpsamplingNearest2d"),
    "torch.nn.UpsamplingBilinear2d": ("torch_bindings", "UpsamplingBilinear2d"),
    "torch.nn.ConvTranspose1d": ("torch_bindings", "ConvTranspose1dModule"),
    "torch.nn.ConvTranspose2d": ("torch_bindings", "ConvTranspose2dModule"),
    "torch.nn.ConvTranspose3d": ("torch_bindings", "ConvTranspose3dModule"),
    "torch.nn.PixelShuffle": ("torch_bindings", "PixelShuffleModule"),
    "torch.nn.PixelUnshuffle": ("torch_bindings", "PixelUnshuffleModule"),
    "torch.nn.MaxUnpool1d": ("torch_bindings", "MaxUnpool1dModule"),
    "torch.nn.MaxUnpool2d": ("torch_bindings", "MaxUnpool2dModule"),
    "torch.nn.MaxUnpool3d": ("torch_bindings", "MaxUnpool3dModule"),
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
    "tf.nn.atrous_conv2d_transpose": ("tf_bindings", "AtrousConv2dTranspose"),
    "keras.ops.image.resize": ("tf_bindings", "KerasImageResize"),
    "keras.layers.Resizing": ("tf_bindings", "KerasResizing"),
    "keras.ops.conv_transpose": ("tf_bindings", "KerasOpsConvTranspose"),
    "keras.ops.depth_to_space": ("tf_bindings", "KerasDepthToSpace"),
    "keras.ops.space_to_depth": ("tf_bindings", "KerasSpaceToDepth"),
    "keras.ops.repeat": ("tf_bindings", "KerasRepeat"),
    # ONNX runtimes: one ONNX operator each (OpenVINO's ONNX frontend has no MaxUnpool)
    "onnxruntime.Resize": ("onnx_bindings", "OrtResize"),
    "onnxruntime.ConvTranspose": ("onnx_bindings", "OrtConvTranspose"),
    "onnxruntime.DepthToSpace": ("onnx_bindings", "OrtDepthToSpace"),
    "onnxruntime.SpaceToDepth": ("onnx_bindings", "OrtSpaceToDepth"),
    "onnxruntime.MaxUnpool": ("onnx_bindings", "OrtMaxUnpool"),
    "openvino.Resize": ("onnx_bindings", "OvResize"),
    "openvino.ConvTranspose": ("onnx_bindings", "OvConvTranspose"),
    "openvino.DepthToSpace": ("onnx_bindings", "OvDepthToSpace"),
    "openvino.SpaceToDepth": ("onnx_bindings", "OvSpaceToDepth"),
    "onnx.reference.Resize": ("onnx_bindings", "RefResize"),
    "onnx.reference.ConvTranspose": ("onnx_bindings", "RefConvTranspose"),
    "onnx.reference.DepthToSpace": ("onnx_bindings", "RefDepthToSpace"),
    "onnx.reference.SpaceToDepth": ("onnx_bindings", "RefSpaceToDepth"),
    "onnx.reference.MaxUnpool": ("onnx_bindings", "RefMaxUnpool"),
    # OpenCV
    "cv2.resize": ("cv2_bindings", "Resize"),
    "cv2.pyrUp": ("cv2_bindings", "PyrUp"),
    # Pillow
    "PIL.Image.Image.resize": ("pil_bindings", "PilResize"),
    # JAX
    "jax.image.resize": ("jax_bindings", "JaxImageResize"),
    "jax.image.scale_and_translate": ("jax_bindings", "JaxScaleAndTranslate"),
    "jax.lax.conv_transpose": ("jax_bindings", "JaxConvTranspose"),
    "jax.lax.conv_general_dilated": ("jax_bindings", "JaxConvGeneralDilated"),
    "jax.numpy.repeat": ("jax_bindings", "JnpRepeat"),
    "jnp.reshape+transpose (pixel shuffle)": ("jax_bindings", "JnpPixelShuffle"),
    "jnp.reshape+transpose (pixel unshuffle)": ("jax_bindings", "JnpPixelUnshuffle"),
}

_EXTRA: dict[str, Callable[[], Binding]] = {}
_EXTRA_FRAMEWORKS: dict[str, Framework] = {}


def _instantiate(obj: Any) -> tuple[list[Binding], list[Framework]]:
    """Bindings and framework descriptors from an adapter object (see the module docstring)."""
    if isinstance(obj, Binding):
        return [obj], []
    if isinstance(obj, Framework):
        return [], [obj]
    if isinstance(obj, ModuleType):
        if not hasattr(obj, "BINDINGS") and not hasattr(obj, "FRAMEWORK"):
            raise TypeError(f"adapter: module {obj.__name__} has neither BINDINGS nor FRAMEWORK")
        bs, fs = _instantiate(list(getattr(obj, "BINDINGS", [])))
        return bs, fs + ([obj.FRAMEWORK] if hasattr(obj, "FRAMEWORK") else [])
    if isinstance(obj, (list, tuple)):
        bs, fs = [], []
        for o in obj:
            b, f = _instantiate(o)
            bs += b
            fs += f
        return bs, fs
    if callable(obj):
        return _instantiate(obj())
    raise TypeError(f"adapter: {obj!r} is not a Binding, a Framework, a factory, a list or a module of them")


def load_adapter(spec: str) -> list[str]:
    """Register bindings (and framework descriptors) from ``module:object`` or ``module``; returns the
    binding names.

    Example: ``load_adapter("mypkg.bindings:MY_BINDINGS")``.
    """
    mod, _, attr = spec.partition(":")
    if not mod:
        raise ValueError(f"--adapter: {spec!r} must be 'module:object' or 'module'")
    obj = importlib.import_module(mod)
    if attr:
        obj = getattr(obj, attr)
    bindings, fws = _instantiate(obj)
    names = []
    for b in bindings:
        if not b.name:
            raise ValueError(f"--adapter: binding {b!r} has no name")
        _EXTRA[b.name] = lambda b=b: b
        names.append(b.name)
    for f in fws:
        _EXTRA_FRAMEWORKS[f.name] = f
    registry.cache_clear()
    get.cache_clear()
    frameworks.cache_clear()
    return names


@cache
def _entry_points() -> tuple[dict[str, Callable[[], Binding]], dict[str, Framework]]:
    out: dict[str, Callable[[], Binding]] = {}
    fws: dict[str, Framework] = {}
    for ep in metadata.entry_points(group="upconform.adapters"):
        bindings, descs = _instantiate(ep.load())
        for b in bindings:
            out[b.name] = lambda b=b: b
        fws.update({f.name: f for f in descs})
    return out, fws


def _builtin_factory(module: str, attr: str) -> Callable[[], Binding]:
    def make() -> Binding:
        return getattr(importlib.import_module(f"{__name__}.{module}"), attr)()

    return make


@cache
def registry() -> dict[str, Callable[[], Binding]]:
    """Every known binding name -> factory (built-ins, entry points, --adapter)."""
    reg: dict[str, Callable[[], Binding]] = {n: _builtin_factory(m, a) for n, (m, a) in _BUILTIN.items()}
    reg.update(_entry_points()[0])
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


@cache
def frameworks() -> dict[str, Framework]:
    """Every framework descriptor: built-ins, entry points, --adapter, and a plain descriptor for any
    framework that a binding names without one.

    Example:
        >>> frameworks()["tensorflow"].matches("keras")
        True
    """
    out = {n: getattr(importlib.import_module(f"{__name__}.{m}"), a) for n, (m, a) in _BUILTIN_FRAMEWORKS.items()}
    out.update(_entry_points()[1])
    out.update(_EXTRA_FRAMEWORKS)
    for name in registry():
        fw = get(name).framework
        if fw and fw not in out:
            out[fw] = Framework(fw)
    return out


def framework(name: str) -> Framework:
    """The descriptor for a framework name or alias (case-insensitive).

    Example:
        >>> framework("PyTorch").name
        'torch'
    """
    for f in frameworks().values():
        if f.matches(name):
            return f
    choices = sorted({n for f in frameworks().values() for n in (f.name, *f.aliases)})
    raise KeyError(f"framework: {name!r} is not one of {choices}")


def framework_of(binding: str) -> Framework:
    """The descriptor of the framework a binding runs.

    Example:
        >>> framework_of("tf.repeat").name
        'tensorflow'
    """
    return framework(get(binding).framework)


def paths_of(binding: str) -> tuple[str, ...]:
    """The paths a binding's calls can take: ``eager`` and its framework's compiled and exported paths.

    Example:
        >>> paths_of("torch.nn.functional.pixel_shuffle")[0]
        'eager'
    """
    return framework_of(binding).path_names()


def path_names() -> tuple[str, ...]:
    """Every path any framework knows, ``eager`` first (the values a spec's ``paths:`` may name).

    Example:
        >>> path_names()[0]
        'eager'
    """
    out = [EAGER]
    for f in frameworks().values():
        out += [n for n in f.path_names() if n not in out]
    return tuple(out)
