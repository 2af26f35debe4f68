"""Porting code: runnable snippets for native calls, and the small, explicit set of composite ports.

A snippet is complete Python that imports what it needs, reads the *source* call's tensors and
assigns ``y``:

- ``x``: the input as NCHW numpy (float32), whatever the source framework's own layout;
- ``w``: the weights in the SOURCE framework's layout (PyTorch ``(C_in, C_out/g, *k)``, TensorFlow
  ``(*k, C_out, C_in)``), converted inside the snippet;
- ``b``: the bias ``(C_out,)``, when the source call has one;
- ``y``: the output as NCHW numpy.

``upconform port`` measures a candidate by executing exactly this text (``exec``), so what is
measured is what is printed.

Composite ports (pre- and post-operations from a fixed set, each written out below):

| composite | source meaning | target |
|---|---|---|
| channel permutation CRD -> DCR, then ``depth_to_space`` | pixel_shuffle CRD | TensorFlow |
| ``space_to_depth``, then channel permutation DCR -> CRD | pixel_unshuffle CRD | TensorFlow |
| channel permutation DCR -> CRD, then ``pixel_shuffle`` | pixel_shuffle DCR | PyTorch |
| ``pixel_unshuffle``, then channel permutation CRD -> DCR | pixel_unshuffle DCR | PyTorch |
| ``Conv2DTranspose(padding="valid")``, then ``Cropping2D`` (and ``ZeroPadding2D`` + bias) | conv_transpose 2-D | Keras |
| ``conv_transpose{k}d(padding=0)``, then a crop (and zero rows + bias past the full output) | conv_transpose | PyTorch |

Every conv port converts the weights (transposition of the axes; the 180-degree flip of a direct
kernel is never needed: a native call's meaning is in the transposed convention) and the layouts
(NCHW <-> NHWC). Max-unpooling in TensorFlow is itself a composite (``max_pool_with_argmax``, then a
scatter with ``tf.tensor_scatter_nd_update``): no single TensorFlow call unpools.

Example:
    >>> weight_perm("torch", "tensorflow", 2)
    (2, 3, 1, 0)
    >>> weight_perm("tensorflow", "torch", 2)
    (3, 2, 0, 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..canonical import Case
from .base import Binding, NativeCall, Unsupported


@dataclass(frozen=True)
class Snippet:
    """A candidate port as code: ``title`` (the call as a user reads it), ``code`` (runnable, see the
    module docstring), ``notes`` (what the pre- and post-operations do), ``composite`` (more than the
    one call), ``deprecated`` (why, and the modern alternative), ``binding`` (the API it rests on)."""

    binding: str
    title: str
    code: str
    notes: tuple[str, ...] = ()
    composite: bool = False
    deprecated: str = ""


# --------------------------------------------------------------------------------------- layouts


def _weight_axes(framework: str, k: int) -> tuple[int, ...]:
    """The axes of a framework's native weights, as positions of the canonical (C_in, C_out/g, *k)."""
    if framework == "tensorflow":
        return (*range(2, 2 + k), 1, 0)  # (*k, C_out, C_in)
    return tuple(range(2 + k))


def weight_perm(source: str, target: str, k: int) -> tuple[int, ...]:
    """``np.transpose(w, perm)`` turns the source framework's weights into the target's."""
    src, tgt = _weight_axes(source, k), _weight_axes(target, k)
    inv = [src.index(a) for a in range(2 + k)]  # source native -> canonical
    return tuple(inv[a] for a in tgt)


_LAYOUT_NAMES = {"torch": "(C_in, C_out/groups, *k)", "tensorflow": "(*k, C_out, C_in)"}


def source_arrays(source: Binding, tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays a snippet receives: ``x`` NCHW, ``w`` in the source framework's layout, ``b``."""
    out = {"x": np.ascontiguousarray(tensors["x"])}
    if "w" in tensors:
        k = tensors["w"].ndim - 2
        out["w"] = np.ascontiguousarray(np.transpose(tensors["w"], _weight_axes(source.framework, k)))
    if tensors.get("b") is not None:
        out["b"] = np.ascontiguousarray(tensors["b"])
    return out


def inputs_doc(source: Binding, shapes: Mapping[str, tuple[int, ...]], op: str = "") -> str:
    """What a snippet's x, w, b are, for this source."""
    what = "the max-pooling input (values and indices come from pooling it)" if op == "max_unpool" else "the input"
    parts = [f"x: {what}, NCHW numpy {list(shapes['x'])}"]
    if "w" in shapes:
        k = len(shapes["w"]) - 2
        w = [shapes["w"][a] for a in _weight_axes(source.framework, k)]
        parts.append(f"w: {source.name}'s weights {_LAYOUT_NAMES.get(source.framework, '')} {w}")
    if "b" in shapes:
        parts.append(f"b: its bias {list(shapes['b'])}")
    return "; ".join(parts)


def _weight_lines(source: Binding, target: str, k: int, var: str) -> list[str]:
    perm = weight_perm(source.framework, target, k)
    if perm == tuple(range(k + 2)):
        return [f"{var} = np.ascontiguousarray(w)  # already {_LAYOUT_NAMES.get(target, 'the target layout')}"]
    return [f"{var} = np.ascontiguousarray(np.transpose(w, {perm}))  # {_LAYOUT_NAMES.get(source.framework, '')} "
            f"-> {_LAYOUT_NAMES.get(target, '')}"]


def _kw(args: Mapping[str, Any], skip: tuple[str, ...] = ()) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items() if k not in skip)


def _nhwc(k: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return (0, *range(2, 2 + k), 1), (0, 1 + k, *range(1, 1 + k))


_TF_HEAD = ["import numpy as np", "import tensorflow as tf"]
_TORCH_HEAD = ["import numpy as np", "import torch"]


def _tf_in(k: int, var: str = "xt") -> str:
    return f"{var} = tf.constant(np.transpose(x, {_nhwc(k)[0]}))  # NCHW -> NHWC"


def _tf_out(k: int, var: str = "y") -> str:
    return f"y = np.transpose(np.asarray({var}), {_nhwc(k)[1]})  # NHWC -> NCHW"


def _code(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------- snippets


def snippet(target: Binding, call: NativeCall, case: Case, source: Binding) -> Snippet | Unsupported:
    """The runnable port of ``call`` (a native call of ``target`` computing ``case``) for tensors given
    as ``source`` gives them; Unsupported when no snippet is written for this binding."""
    fn = _WRITERS.get(target.name) or next((f for prefix, f in _PREFIX_WRITERS if target.name.startswith(prefix)),
                                           None)
    if fn is None:
        return Unsupported(f"no port snippet is written for {target.name}")
    if call.prep.get("rotate"):
        return Unsupported("a direct-form kernel needs the 180-degree flip; native calls are never in that form")
    k = len(case.shapes["x"]) - 2
    out = fn(target, call, case, source, k)
    if isinstance(out, Unsupported):
        return out
    title, lines, notes = out
    return Snippet(target.name, title, _code(lines), tuple(notes), deprecated=target.deprecated)


def _title(name: str, args: Mapping[str, Any], tensors: str = "x") -> str:
    a = _kw(args)
    return f"{name}({tensors}{', ' if a else ''}{a})"


# torch ------------------------------------------------------------------------------------------


def _torch_interpolate(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    lines = [*_TORCH_HEAD, f"y = torch.nn.functional.interpolate(torch.from_numpy(x), {_kw(a)}).numpy()"]
    return _title(t.name, a), lines, []


def _torch_upsample_module(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = {key: tuple(v) if isinstance(v, list) else v for key, v in call.args.items()}
    cls = t.name.rsplit(".", 1)[1]
    lines = [*_TORCH_HEAD, f"layer = torch.nn.{cls}({_kw(a)})", "y = layer(torch.from_numpy(x)).numpy()"]
    return f"torch.nn.{cls}({_kw(a)})", lines, []


def _torch_conv(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    has_b = "b" in case.shapes
    lines = [*_TORCH_HEAD, *_weight_lines(src, "torch", k, "weight")]
    if t.name.startswith("torch.nn.functional."):
        lines.append(f"y = torch.nn.functional.conv_transpose{k}d(torch.from_numpy(x), torch.from_numpy(weight), "
                     f"{'torch.from_numpy(b)' if has_b else 'None'}, {_kw(a)}).numpy()")
        return _title(t.name, a, "x, weight" + (", b" if has_b else "")), lines, []
    cls = t.name.rsplit(".", 1)[1]
    lines += [f"layer = torch.nn.{cls}({_kw(a, ('output_size',))})", "with torch.no_grad():",
              "    layer.weight.copy_(torch.from_numpy(weight))"]
    if has_b:
        lines.append("    layer.bias.copy_(torch.from_numpy(b))")
    extra = f", output_size={a['output_size']!r}" if a.get("output_size") is not None else ""
    lines.append(f"    y = layer(torch.from_numpy(x){extra}).numpy()")
    return f"torch.nn.{cls}({_kw(a, ('output_size',))})", lines, ["weights and bias copied into the module"]


def _torch_pixel_shuffle(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    if t.name.startswith("torch.nn.functional."):
        fn = t.name.rsplit(".", 1)[1]
        return _title(t.name, a), [*_TORCH_HEAD, f"y = torch.nn.functional.{fn}(torch.from_numpy(x), {_kw(a)}).numpy()"], []
    cls = t.name.rsplit(".", 1)[1]
    v = next(iter(a.values()))
    return f"torch.nn.{cls}({v})", [*_TORCH_HEAD, f"y = torch.nn.{cls}({v})(torch.from_numpy(x)).numpy()"], []


def _torch_unpool(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    ks, st, pad = a["kernel_size"], a.get("stride") or a["kernel_size"], a.get("padding", 0)
    lines = [*_TORCH_HEAD, "xt = torch.from_numpy(x)",
             f"values, indices = torch.nn.functional.max_pool{k}d(xt, {ks!r}, {st!r}, {pad!r}, return_indices=True)"]
    out = f", output_size={a['output_size']!r}" if a.get("output_size") is not None else ""
    if t.name.startswith("torch.nn.functional."):
        lines.append(f"y = torch.nn.functional.max_unpool{k}d(values, indices, {ks!r}, {st!r}, {pad!r}{out}).numpy()")
        return _title(t.name, a, "values, indices"), lines, [f"values and indices from max_pool{k}d(return_indices=True)"]
    cls = t.name.rsplit(".", 1)[1]
    lines.append(f"y = torch.nn.{cls}({ks!r}, {st!r}, {pad!r})(values, indices{out}).numpy()")
    return f"torch.nn.{cls}({ks!r}, {st!r}, {pad!r})", lines, [f"values and indices from max_pool{k}d(return_indices=True)"]


def _torch_repeat(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = call.args
    reps = a["repeats"] if isinstance(a["repeats"], list) else [a["repeats"]]
    dims = a["dim"] if isinstance(a["dim"], list) else [a["dim"]]
    lines = [*_TORCH_HEAD, "yt = torch.from_numpy(x)"]
    lines += [f"yt = torch.repeat_interleave(yt, {r}, dim={d})" for r, d in zip(reps, dims) if r != 1]
    lines.append("y = yt.numpy()")
    return "torch.repeat_interleave(x, repeats, dim) per axis: " + ", ".join(
        f"({r}, dim={d})" for r, d in zip(reps, dims)), lines, []


# tensorflow / keras -----------------------------------------------------------------------------


def _tf_simple(expr: str) -> Any:
    """A call ``expr.format(xt=..., kw=...)`` on the NHWC input, output NHWC."""
    def write(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
        a = dict(call.args)
        head = [*_TF_HEAD, "import keras"] if "keras" in expr else list(_TF_HEAD)
        lines = [*head, _tf_in(k), f"yt = {expr.format(kw=_kw(a))}", _tf_out(k, "yt")]
        return _title(t.name, a), lines, []
    return write


def _tf_layer(cls: str) -> Any:
    def write(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
        a = dict(call.args)
        lines = [*_TF_HEAD, "import keras", _tf_in(k), f"layer = keras.layers.{cls}({_kw(a)})", "yt = layer(xt)",
                 _tf_out(k, "yt")]
        return f"keras.layers.{cls}({_kw(a)})", lines, []
    return write


def _tf_crop_and_resize(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    lines = [*_TF_HEAD, _tf_in(k), f"yt = tf.image.crop_and_resize(xt, {_kw(a)})", _tf_out(k, "yt")]
    return _title(t.name, a), lines, ["one box per image, the whole image [0, 0, 1, 1] unless the call crops"]


def _tf_conv(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    has_b = "b" in case.shapes
    fn = t.name.split(".", 1)[1] if t.name.startswith("tf.") else t.name.split(".", 1)[1]
    head = [*_TF_HEAD, "import keras"] if t.name.startswith("keras.") else list(_TF_HEAD)
    lines = [*head, *_weight_lines(src, "tensorflow", k, "kernel"), _tf_in(k),
             f"yt = {'tf' if t.name.startswith('tf.') else 'keras'}.{fn}(xt, tf.constant(kernel), {_kw(a)})"]
    if has_b:
        lines.append("yt = tf.nn.bias_add(yt, b)")
    lines.append(_tf_out(k, "yt"))
    return _title(t.name, a, "x, kernel"), lines, ["kernel (kH, kW, C_out, C_in); NHWC"] + (
        ["bias added with tf.nn.bias_add"] if has_b else [])


def _keras_conv_layer(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    has_b = "b" in case.shapes
    lines = [*_TF_HEAD, "import keras", *_weight_lines(src, "tensorflow", k, "kernel"), _tf_in(k),
             f"layer = keras.layers.Conv2DTranspose({_kw(a)})", "layer.build(xt.shape)"]
    if a.get("use_bias", True):
        lines.append("layer.set_weights([kernel, " + ("b" if has_b else "np.zeros(kernel.shape[-2], np.float32)") + "])")
    else:
        lines.append("layer.set_weights([kernel])")
    lines += ["yt = layer(xt)", _tf_out(k, "yt")]
    return f"keras.layers.Conv2DTranspose({_kw(a)})", lines, ["layer.set_weights([kernel (kH, kW, C_out, C_in), bias])"]


def _tf_depth(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    ns = "tf.nn" if t.name.startswith("tf.") else "keras.ops"
    fn = t.name.rsplit(".", 1)[1]
    head = [*_TF_HEAD, "import keras"] if ns == "keras.ops" else list(_TF_HEAD)
    return _title(t.name, a), [*head, _tf_in(k), f"yt = {ns}.{fn}(xt, {_kw(a)})", _tf_out(k, "yt")], []


def _tf_unpool(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    out = a.get("output_shape") or list(case.shapes["x"][2:])
    out = out[1:3] if len(out) == 4 else out
    pool = {key: a[key] for key in ("ksize", "strides", "padding") if key in a}
    lines = [*_TF_HEAD, _tf_in(k),
             f"values, argmax = tf.nn.max_pool_with_argmax(xt, {_kw(pool)})",
             "n, c = values.shape[0], values.shape[3]",
             "# argmax is (y * W + x) * C + c within each image: y * W + x is the position in the (n, c) plane",
             "vals = tf.reshape(tf.transpose(values, [0, 3, 1, 2]), [n, c, -1])",
             "pos = tf.reshape(tf.transpose(argmax // c, [0, 3, 1, 2]), [n, c, -1])",
             "ni, ci = np.meshgrid(np.arange(n), np.arange(c), indexing='ij')",
             "ni = np.broadcast_to(ni[..., None], pos.shape)",
             "ci = np.broadcast_to(ci[..., None], pos.shape)",
             "index = tf.stack([tf.constant(ni, tf.int64), tf.constant(ci, tf.int64), pos], axis=-1)",
             f"flat = tf.tensor_scatter_nd_update(tf.zeros([n, c, {out[0] * out[1]}], values.dtype), index, vals)",
             f"y = tf.reshape(flat, [n, c, {out[0]}, {out[1]}]).numpy()  # NCHW already"]
    return (f"tf.nn.max_pool_with_argmax(x, {_kw(pool)}) + tf.tensor_scatter_nd_update into {list(out)}", lines,
            ["no single TensorFlow call unpools: the values are scattered at their argmax (assignment, not a sum: "
             "a maximum picked by two windows is written once)"])


def _tf_repeat(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    ns = "tf" if t.name.startswith("tf.") else "keras.ops"
    head = [*_TF_HEAD, "import keras"] if ns == "keras.ops" else list(_TF_HEAD)
    return _title(t.name, a), [*head, _tf_in(k), f"yt = {ns}.repeat(xt, {_kw(a)})", _tf_out(k, "yt")], [
        "axis counts in NHWC"]


# jax ---------------------------------------------------------------------------------------------

_JAX_HEAD = ["import numpy as np", "import jax", "import jax.numpy as jnp",
             "jax.config.update('jax_enable_x64', True)  # float64 stays float64"]


def _tuples(v: Any) -> Any:
    """JSON lists as the tuples JAX wants for shapes, pads and dimension numbers."""
    return tuple(_tuples(e) for e in v) if isinstance(v, list) else v


def _jax_kw(args: Mapping[str, Any]) -> str:
    """scale and translation as arrays: scale_and_translate cannot determine the dtype of a tuple or list."""
    return ", ".join(f"{k}=jnp.array({v!r})" if k in ("scale", "translation") else f"{k}={_tuples(v)!r}"
                     for k, v in args.items())


def _jax_nhwc(expr: str) -> Any:
    """A call ``expr.format(kw=...)`` on the NHWC input ``xj``, output NHWC."""
    def write(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
        a = dict(call.args)
        lines = [*_JAX_HEAD, f"xj = jnp.asarray(np.transpose(x, {_nhwc(k)[0]}))  # NCHW -> NHWC",
                 f"yj = {expr.format(kw=_jax_kw(a))}", _tf_out(k, "yj")]
        return _title(t.name, a), lines, ["NHWC (channels last): shape, spatial_dims and axis count in it"]
    return write


def _jax_conv(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    lines = [*_JAX_HEAD, *_weight_lines(src, "jax", k, "kernel")]
    notes = ["dimension_numbers channels first: x NCHW, kernel with O = axis 0, I = axis 1"]
    if call.prep.get("to_direct"):
        g = int(call.prep.get("group", 1))
        lines += [f"g, k = {g}, kernel.ndim - 2",
                  "ci, cog = kernel.shape[:2]",
                  "kernel = np.flip(kernel.reshape(g, ci // g, cog, *kernel.shape[2:]).swapaxes(1, 2),"
                  " axis=tuple(range(3, 3 + k))).reshape(g * cog, ci // g, *kernel.shape[2:])"]
        notes.insert(0, "kernel rotated 180 degrees and in/out swapped per group: (C_out, C_in/g, *k)")
    fn = "jax.lax." + t.name.rsplit(".", 1)[1]
    lines.append(f"yj = {fn}(jnp.asarray(x), jnp.asarray(kernel), {_jax_kw(a)})")
    if "b" in case.shapes:
        lines.append(f"yj = yj + jnp.asarray(b).reshape(1, -1{', 1' * k})")
        notes.append("bias added after the call (lax convolutions take none)")
    lines.append("y = np.asarray(yj)")
    return _title(t.name, a, "x, kernel"), lines, notes


def _jax_pixel_shuffle(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    from .jax_bindings import pixel_shuffle_nhwc, pixel_unshuffle_nhwc

    a = dict(call.args)
    shuffle = "upscale_factor" in a
    r, order = int(a.get("upscale_factor", a.get("downscale_factor", 1))), a.get("order", "DCR")
    doc = (pixel_shuffle_nhwc if shuffle else pixel_unshuffle_nhwc).__doc__ or ""
    code = next(line.split(":", 1)[1].strip() for line in doc.splitlines() if line.strip().startswith(order + ":"))
    x = case.shapes["x"]
    n, c, h, w = x[0], x[1], x[2], x[3]
    if shuffle:
        c, h, w = c // (r * r), h, w
    else:
        h, w = h // r, w // r
    lines = [*_JAX_HEAD, f"x = jnp.asarray(np.transpose(x, {_nhwc(k)[0]}))  # NCHW -> NHWC",
             f"n, h, w, c, r = {n}, {h}, {w}, {c}, {r}", f"yj = {code}", _tf_out(k, "yj")]
    return f"{t.name}: {code}", lines, [f"{order} channel order, NHWC"]


# opencv and pillow ----------------------------------------------------------------------------------


def _cv2_resize(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    dsize = a.get("dsize")
    kw = [f"dsize={tuple(int(v) for v in dsize)!r}" if dsize is not None else "dsize=None"]
    kw += [f"{n}={float(a[n])!r}" for n in ("fx", "fy") if n in a]
    if "interpolation" in a:
        v = a["interpolation"]
        kw.append(f"interpolation=cv2.{v}" if isinstance(v, str) else f"interpolation={int(v)}")
    lines = ["import numpy as np", "import cv2", "out = []",
             "for img in x:  # cv2.resize takes one image: HWC, or 2-D for one channel",
             "    hwc = np.ascontiguousarray(np.transpose(img, (1, 2, 0)))",
             "    src = hwc[:, :, 0] if hwc.shape[2] == 1 else hwc",
             f"    r = cv2.resize(src, {', '.join(kw)})",
             "    out.append(np.transpose(r.reshape(r.shape[0], r.shape[1], -1), (2, 0, 1)))",
             "y = np.stack(out)"]
    return (_title(t.name, a), lines,
            ["dsize is (width, height); one call per image, HWC (a single channel as a 2-D image)"])


def _pil_resize(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    a = dict(call.args)
    mode = a.pop("mode", "F")
    kw = [f"size={tuple(int(v) for v in a['size'])!r}"]
    if "resample" in a and a["resample"] is not None:
        r = a["resample"]
        kw.append(f"resample=Image.Resampling.{r}" if isinstance(r, str) else f"resample={int(r)}")
    if a.get("box") is not None:
        kw.append(f"box={tuple(float(v) for v in a['box'])!r}")
    if "reducing_gap" in a:
        kw.append(f"reducing_gap={a['reducing_gap']!r}")
    call_text = f".resize({', '.join(kw)})"
    if mode == "RGB":
        body = ["y = np.stack([np.asarray(Image.fromarray(np.ascontiguousarray(np.transpose(img, (1, 2, 0))), "
                f"mode='RGB'){call_text}).transpose(2, 0, 1) for img in x])"]
        note = "size is (width, height); one RGB image per batch element (uint8)"
    else:
        # mode F is float32 (Pillow converts float64 images to it); mode L takes uint8 as it is, never a cast
        plane = "p.astype(np.float32)" if mode == "F" else "p"
        body = [f"y = np.stack([np.stack([np.asarray(Image.fromarray(np.ascontiguousarray({plane}))"
                f"{call_text}) for p in img]) for img in x])"]
        note = f"size is (width, height); one mode-{mode} image per channel"
    return _title(t.name, {**a, "mode": mode}), ["import numpy as np", "from PIL import Image", *body], [note]


_WRITERS: dict[str, Any] = {
    "cv2.resize": _cv2_resize,
    "PIL.Image.Image.resize": _pil_resize,
    "jax.image.resize": _jax_nhwc("jax.image.resize(xj, {kw})"),
    "jax.image.scale_and_translate": _jax_nhwc("jax.image.scale_and_translate(xj, {kw})"),
    "jax.numpy.repeat": _jax_nhwc("jnp.repeat(xj, {kw})"),
    "jax.lax.conv_transpose": _jax_conv,
    "jax.lax.conv_general_dilated": _jax_conv,
    "jnp.reshape+transpose (pixel shuffle)": _jax_pixel_shuffle,
    "jnp.reshape+transpose (pixel unshuffle)": _jax_pixel_shuffle,
    "torch.nn.functional.interpolate": _torch_interpolate,
    "torch.nn.Upsample": _torch_upsample_module,
    "torch.nn.UpsamplingNearest2d": _torch_upsample_module,
    "torch.nn.UpsamplingBilinear2d": _torch_upsample_module,
    "torch.repeat_interleave": _torch_repeat,
    "tf.image.resize": _tf_simple("tf.image.resize(xt, {kw})"),
    "tf.image.crop_and_resize": _tf_crop_and_resize,
    "keras.layers.UpSampling2D": _tf_layer("UpSampling2D"),
    "keras.layers.Resizing": _tf_layer("Resizing"),
    "keras.ops.image.resize": _tf_simple("keras.ops.image.resize(xt, {kw})"),
    "keras.layers.Conv2DTranspose": _keras_conv_layer,
    "keras.ops.conv_transpose": _tf_conv,
    "tf.nn.max_pool_with_argmax": _tf_unpool,
    "tf.repeat": _tf_repeat,
    "keras.ops.repeat": _tf_repeat,
}
_PREFIX_WRITERS: list[tuple[str, Any]] = [
    ("tf.compat.v1.image.resize_", None),  # filled below (needs the function name)
    ("torch.nn.functional.conv_transpose", _torch_conv),
    ("torch.nn.ConvTranspose", _torch_conv),
    ("torch.nn.functional.pixel_", _torch_pixel_shuffle),
    ("torch.nn.Pixel", _torch_pixel_shuffle),
    ("torch.nn.functional.max_unpool", _torch_unpool),
    ("torch.nn.MaxUnpool", _torch_unpool),
    ("tf.nn.atrous_conv2d_transpose", _tf_conv),
    ("tf.nn.conv", _tf_conv),
    ("tf.nn.depth_to_space", _tf_depth),
    ("tf.nn.space_to_depth", _tf_depth),
    ("keras.ops.depth_to_space", _tf_depth),
    ("keras.ops.space_to_depth", _tf_depth),
]


def _tf_v1(t: Binding, call: NativeCall, case: Case, src: Binding, k: int) -> Any:
    return _tf_simple(f"{t.name}(xt, {{kw}})")(t, call, case, src, k)


_PREFIX_WRITERS[0] = ("tf.compat.v1.image.resize_", _tf_v1)


# --------------------------------------------------------------------------------------- composites


def _perm_line(kind: str, c: int, r: int) -> str:
    """numpy code for the channel order: ``crd_to_dcr`` (DCR channel j takes CRD channel perm[j]) or back."""
    if kind == "crd_to_dcr":
        return f"perm = np.arange({c * r * r}).reshape({c}, {r}, {r}).transpose(1, 2, 0).reshape(-1)  # CRD -> DCR"
    return f"perm = np.arange({c * r * r}).reshape({r}, {r}, {c}).transpose(2, 0, 1).reshape(-1)  # DCR -> CRD"


def composites(target: str, case: Case, source: Binding) -> list[Snippet]:
    """The composite ports to framework ``target`` of a case (its canonical meaning), from the fixed
    set in the module docstring; empty when none applies."""
    n = case.normal_form()
    x = tuple(case.shapes["x"])
    k = len(x) - 2
    out: list[Snippet] = []
    if case.op in ("pixel_shuffle", "pixel_unshuffle") and k == 2:
        up = case.op == "pixel_shuffle"
        r = int(n["upscale_factor" if up else "downscale_factor"])
        mode = n.get("mode", "CRD")
        c = x[1] // (r * r) if up else x[1]
        if target == "tensorflow" and mode == "CRD":
            if up:
                lines = [*_TF_HEAD, _perm_line("crd_to_dcr", c, r), _tf_in(2),
                         "xt = tf.gather(xt, perm, axis=-1)  # channels in DCR order",
                         f"yt = tf.nn.depth_to_space(xt, block_size={r})", _tf_out(2, "yt")]
                out.append(Snippet("tf.nn.depth_to_space", f"tf.gather(x, perm, axis=-1) + tf.nn.depth_to_space("
                                   f"block_size={r})", _code(lines),
                                   ("channel permutation CRD -> DCR (tf.gather), then depth_to_space",
                                    "in a model, permute the output channels (weights and bias) of the layer before "
                                    "instead, with the same perm: the gather then costs nothing"), True))
            else:
                lines = [*_TF_HEAD, _perm_line("dcr_to_crd", c, r), _tf_in(2),
                         f"yt = tf.nn.space_to_depth(xt, block_size={r})",
                         "yt = tf.gather(yt, perm, axis=-1)  # channels in CRD order", _tf_out(2, "yt")]
                out.append(Snippet("tf.nn.space_to_depth", f"tf.nn.space_to_depth(block_size={r}) + tf.gather(perm)",
                                   _code(lines), ("space_to_depth, then channel permutation DCR -> CRD",), True))
        if target == "torch" and mode == "DCR":
            if up:
                lines = [*_TORCH_HEAD, _perm_line("dcr_to_crd", c, r),
                         f"y = torch.nn.functional.pixel_shuffle(torch.from_numpy(x[:, perm]), {r}).numpy()"]
                out.append(Snippet("torch.nn.functional.pixel_shuffle", f"x[:, perm] + torch.nn.functional."
                                   f"pixel_shuffle(x, {r})", _code(lines),
                                   ("channel permutation DCR -> CRD, then pixel_shuffle",), True))
            else:
                lines = [*_TORCH_HEAD, _perm_line("crd_to_dcr", c, r),
                         f"y = torch.nn.functional.pixel_unshuffle(torch.from_numpy(x), {r}).numpy()[:, perm]"]
                out.append(Snippet("torch.nn.functional.pixel_unshuffle", f"torch.nn.functional.pixel_unshuffle(x, "
                                   f"{r}) + [:, perm]", _code(lines),
                                   ("pixel_unshuffle, then channel permutation CRD -> DCR",), True))
    if case.op == "conv_transpose":
        out += _conv_composites(target, case, n, source)
    return out


def _conv_composites(target: str, case: Case, n: dict[str, Any], source: Binding) -> list[Snippet]:
    x, w = tuple(case.shapes["x"]), tuple(case.shapes["w"])
    k = len(x) - 2
    if n["weight_convention"] != "transposed":
        return []
    st, dl, g = n["strides"], n["dilations"], n["group"]
    begins, ends, extra = n["pads"][:k], n["pads"][k:], n["output_padding"]
    has_b = "b" in case.shapes
    cout = w[1] * g
    full = [(x[2 + i] - 1) * st[i] + (w[2 + i] - 1) * dl[i] + 1 for i in range(k)]
    crop_note = "crop begin/end " + ", ".join(f"({b}, {e})" for b, e in zip(begins, ends))
    notes = [f"the full output {full} (no padding), then {crop_note}"]
    if any(extra):
        notes.append(f"then {extra} zero rows/columns at the end (only the bias lands there), then the bias")
    if target == "tensorflow" and k == 2 and g == 1 and dl == [1, 1]:
        use_bias = has_b and not any(extra)
        # Keras's VALID output is in * s + max(k - s, 0): past the full output by s - k rows where the
        # kernel is shorter than the stride (only the bias lands there); those are cropped too
        keras_full = [x[2 + i] * st[i] + max(w[2 + i] - st[i], 0) for i in range(k)]
        crop = tuple((int(b), int(e) + kf - f) for b, e, kf, f in zip(begins, ends, keras_full, full))
        lines = [*_TF_HEAD, "import keras", *_weight_lines(source, "tensorflow", 2, "kernel"), _tf_in(2),
                 f"layer = keras.layers.Conv2DTranspose(filters={cout}, kernel_size={list(w[2:])}, strides={st}, "
                 f"padding='valid', use_bias={use_bias})", "layer.build(xt.shape)",
                 "layer.set_weights([kernel, b])" if use_bias else "layer.set_weights([kernel])",
                 "yt = layer(xt)"]
        if any(v for pair in crop for v in pair):
            lines.append(f"yt = keras.layers.Cropping2D({crop})(yt)")
        if any(extra):
            lines.append(f"yt = keras.layers.ZeroPadding2D((({0}, {extra[0]}), ({0}, {extra[1]})))(yt)")
            if has_b:
                lines.append("yt = yt + b")
        lines.append(_tf_out(2, "yt"))
        title = (f"keras.layers.Conv2DTranspose(filters={cout}, kernel_size={list(w[2:])}, strides={st}, "
                 f"padding='valid') + keras.layers.Cropping2D({crop})"
                 + (" + ZeroPadding2D + bias" if any(extra) else ""))
        return [Snippet("keras.layers.Conv2DTranspose", title, _code(lines), tuple(notes), True)]
    if target == "torch" and 1 <= k <= 3:
        sl = ", ".join(f"{b}:{full[i] - e}" for i, (b, e) in enumerate(zip(begins, ends)))
        lines = [*_TORCH_HEAD, *_weight_lines(source, "torch", k, "weight"),
                 f"yt = torch.nn.functional.conv_transpose{k}d(torch.from_numpy(x), torch.from_numpy(weight), None, "
                 f"stride={st}, padding=0, groups={g}, dilation={dl})",
                 f"yt = yt[:, :, {sl}]  # {crop_note}"]
        if any(extra):
            pad = [v for e in reversed(extra) for v in (0, int(e))]
            lines.append(f"yt = torch.nn.functional.pad(yt, {pad})  # rows past the full output: zeros, then the bias")
        if has_b:
            lines.append(f"yt = yt + torch.from_numpy(b).reshape(1, -1{', 1' * k})")
        lines.append("y = yt.numpy()")
        title = (f"torch.nn.functional.conv_transpose{k}d(x, weight, stride={st}, padding=0, groups={g}, "
                 f"dilation={dl}) + crop[{sl}]" + (" + pad" if any(extra) else "") + (" + bias" if has_b else ""))
        return [Snippet(f"torch.nn.functional.conv_transpose{k}d", title, _code(lines), tuple(notes), True)]
    return []


__all__ = ["Snippet", "composites", "inputs_doc", "snippet", "source_arrays", "weight_perm"]
