"""PyTorch model source for ``upconform audit``: a ``TorchFunctionMode`` sees every functional call,
including those inside ``nn.Upsample``, ``nn.ConvTranspose2d``, ``nn.PixelShuffle`` and ``nn.MaxUnpool2d``;
forward hooks name the innermost module; each call's source line is recorded (export pairing).

Example:
    >>> _is_default("interpolate", "mode", "nearest"), _is_default("interpolate", "mode", "bilinear")
    (True, False)
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Sequence
from typing import Any

from .sites import SEED, AuditError, RawSite, load_factory


def load(spec: str) -> Any:
    """The model a ``module:factory`` spec builds (AuditError when it cannot)."""
    try:
        return load_factory(spec)()
    except AuditError:
        raise
    except Exception as e:  # noqa: BLE001 - the factory raised: one line
        raise AuditError(f"{spec}: the factory raised {type(e).__name__}: {e}") from None


def input_of(model: Any) -> tuple[list[int], str] | None:
    """A module declares no input shape: --input-shape is required."""
    return None


def capture(model: Any, input_shape: Sequence[int], dtype: str = "float32") -> list[RawSite]:
    """Every site of ``model`` on a seeded input (see :func:`capture_torch`)."""
    return capture_torch(model, input_shape, dtype=dtype)



# the functions whose calls are sites, by name: (binding, op, tensor arguments in order -> canonical names)
_TORCH_FUNCTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "interpolate": ("torch.nn.functional.interpolate", "resize", ("input",)),
    "conv_transpose1d": ("torch.nn.functional.conv_transpose1d", "conv_transpose", ("input", "weight", "bias")),
    "conv_transpose2d": ("torch.nn.functional.conv_transpose2d", "conv_transpose", ("input", "weight", "bias")),
    "conv_transpose3d": ("torch.nn.functional.conv_transpose3d", "conv_transpose", ("input", "weight", "bias")),
    "pixel_shuffle": ("torch.nn.functional.pixel_shuffle", "pixel_shuffle", ("input",)),
    "pixel_unshuffle": ("torch.nn.functional.pixel_unshuffle", "pixel_unshuffle", ("input",)),
    "max_unpool1d": ("torch.nn.functional.max_unpool1d", "max_unpool", ("input", "indices")),
    "max_unpool2d": ("torch.nn.functional.max_unpool2d", "max_unpool", ("input", "indices")),
    "max_unpool3d": ("torch.nn.functional.max_unpool3d", "max_unpool", ("input", "indices")),
    "repeat_interleave": ("torch.repeat_interleave", "repeat", ("input", "self")),
}
_TENSOR_NAMES = {"input": "x", "self": "x", "weight": "w", "bias": "b"}
# arguments left out of "the call as written" when they hold the function's default (modules pass all)
_DEFAULTS: dict[str, dict[str, Any]] = {
    "interpolate": {"size": None, "scale_factor": None, "mode": "nearest", "align_corners": None,
                    "recompute_scale_factor": None, "antialias": False},
    **{f"conv_transpose{k}d": {"stride": [1] * k, "padding": [0] * k, "output_padding": [0] * k, "groups": 1,
                               "dilation": [1] * k} for k in (1, 2, 3)},
    **{f"max_unpool{k}d": {"padding": [0] * k, "output_size": None} for k in (1, 2, 3)},
    "repeat_interleave": {"output_size": None},
}


def _is_default(name: str, key: str, v: Any) -> bool:
    d = _DEFAULTS.get(name, {})
    if key not in d:
        return False
    want = d[key]
    if isinstance(want, list) and isinstance(v, int):
        return all(v == w for w in want)
    return v == want


def _torch_targets() -> dict[Any, str]:
    """The callables a TorchFunctionMode sees for each site function (functional and Tensor method forms)."""
    import torch
    import torch.nn.functional as F

    out: dict[Any, str] = {}
    for name in _TORCH_FUNCTIONS:
        for owner in (F, torch):
            fn = getattr(owner, name, None)
            if fn is not None:
                out[fn] = name
    out[torch.Tensor.repeat_interleave] = "repeat_interleave"
    return out


def _signature(name: str) -> inspect.Signature | None:
    import torch.nn.functional as F

    fn = getattr(F, name, None)
    if fn is None:
        return None
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


_POSITIONAL = {  # torch C functions without a Python signature: their parameters in order
    "conv_transpose1d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose3d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "pixel_shuffle": ("input", "upscale_factor"),
    "pixel_unshuffle": ("input", "downscale_factor"),
    "repeat_interleave": ("input", "repeats", "dim", "output_size"),
}


def _bind(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by name, as passed (defaults not filled in)."""
    sig = _signature(name) if name not in _POSITIONAL else None
    if sig is not None:
        return dict(sig.bind_partial(*args, **kwargs).arguments)
    names = _POSITIONAL[name]
    out = dict(zip(names, args))
    out.update(kwargs)
    return out


def _torch_dtype(t: Any) -> str:
    return str(t.dtype).replace("torch.", "")


def _plain_value(v: Any) -> Any:
    if isinstance(v, tuple):
        return [_plain_value(x) for x in v]
    if isinstance(v, list):
        return [_plain_value(x) for x in v]
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    return v


def _torch_site(index: int, where: str, note: str, name: str, bound: dict[str, Any], out: Any) -> RawSite | None:
    import torch

    binding, op, tensor_params = _TORCH_FUNCTIONS[name]
    shapes: dict[str, tuple[int, ...]] = {}
    args: dict[str, Any] = {}
    x = bound.get("input", bound.get("self"))
    if not isinstance(x, torch.Tensor):
        return None
    for k, v in bound.items():
        if k in tensor_params:
            if isinstance(v, torch.Tensor) and k in _TENSOR_NAMES:
                shapes[_TENSOR_NAMES[k]] = tuple(int(s) for s in v.shape)
            continue
        if isinstance(v, torch.Tensor):
            v = v.tolist()
        v = _plain_value(v)
        if not _is_default(name, k, v):
            args[k] = v
    if op == "max_unpool":  # the canonical case's x is the pooling input: the unpool's output shape
        shapes = {"x": tuple(int(s) for s in out.shape)}
    if op == "repeat" and (x.dim() < 3 or not isinstance(args.get("repeats"), int) or args.get("dim") is None):
        op_note = "a repeat_interleave that is not a uniform repeat of one spatial axis of an (N, C, ...) tensor"
        return RawSite(index, where, binding, args, op, {"x": tuple(x.shape)}, _torch_dtype(x), note=op_note)
    return RawSite(index, where, binding, args, op, shapes, _torch_dtype(x), note=note)


def _caller_line() -> str:
    """``file.py:line;file.py:line;...``: every frame outside torch and this module, innermost first (the
    model's line that made the call, then the lines that called it: a helper's caller, ``forward``)."""
    f = sys._getframe(1)
    here = os.path.abspath(__file__)
    out = []
    while f is not None:
        name = os.path.abspath(f.f_code.co_filename)
        if name != here and f"{os.sep}torch{os.sep}" not in name and f"{os.sep}harness{os.sep}" not in name:
            out.append(f"{os.path.basename(name)}:{f.f_lineno}")
        f = f.f_back
    return ";".join(out[:8])


def capture_torch(model: Any, input_shape: Sequence[int], *, dtype: str = "float32", seed: int = SEED) -> list[RawSite]:
    """Run ``model`` once on a seeded N(0, 1) input of ``input_shape`` and return every site it calls, in
    call order. AuditError when the model rejects the input."""
    import torch
    from torch.overrides import TorchFunctionMode

    if not isinstance(model, torch.nn.Module):
        raise AuditError(f"the factory returned a {type(model).__name__}, not a torch.nn.Module")
    dt = getattr(torch, str(dtype), None)
    if not isinstance(dt, torch.dtype) or not dt.is_floating_point:
        raise AuditError(f"--dtype: {dtype!r} is not a floating torch dtype (float32, float64, float16, bfloat16)")
    if any(int(v) < 0 for v in input_shape):
        raise AuditError(f"--input-shape {list(input_shape)} has a negative size")
    targets = _torch_targets()
    stack: list[str] = []
    kinds: list[str] = []
    names = {m: n for n, m in model.named_modules()}
    sites: list[RawSite] = []

    class Capture(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            name = targets.get(func)
            if name is not None:
                with torch._C.DisableTorchFunction():
                    where = stack[-1] if stack else "(model)"
                    note = f"inside {kinds[-1]}" if kinds and kinds[-1] not in ("",) else ""
                    site = _torch_site(len(sites), where, note, name, _bind(name, args, kwargs), out)
                if site is not None:
                    site.line = _caller_line()
                    sites.append(site)
            return out

    def pre(module: Any, _inputs: Any) -> None:
        stack.append(names.get(module) or "(model)")
        cls = type(module)
        if cls.__module__.startswith("torch.nn"):
            extra = module.extra_repr() if not list(module.children()) else ""
            kinds.append(f"nn.{cls.__name__}({extra})")
        else:
            kinds.append(cls.__name__)

    def post(module: Any, _inputs: Any, _out: Any) -> None:
        stack.pop()
        kinds.pop()

    hooks = [m.register_forward_pre_hook(pre) for m in model.modules()]
    hooks += [m.register_forward_hook(post, always_call=True) for m in model.modules()]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*[int(v) for v in input_shape], generator=g).to(dt)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), Capture():
            model(x)
    except Exception as e:  # noqa: BLE001 - the model rejects the input: a usage error, one line
        raise AuditError(f"the model rejects an input of shape {list(input_shape)}: {type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}") from None
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return sites


