"""``upconform port``: the printed snippets, executed, reproduce the source framework's own output;
exit codes 0 (exact), 1 (approximate only), 2 (usage: what is missing is named)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from upconform.cli import main

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.torch, pytest.mark.tensorflow]
TOL = {"rtol": 1.3e-6, "atol": 1e-5}


def _port(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["port", *argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _sections(text: str) -> tuple[str, str]:
    """(the exact section, the non-exact section) of port's output."""
    exact, _, rest = text.partition("closest non-exact")
    return exact, rest


def _snippets(text: str) -> list[str]:
    return [textwrap.dedent(m) for m in re.findall(r"```python\n(.*?)\n\s*```", text, flags=re.S)]


def _exec(code: str, **arrays: np.ndarray) -> np.ndarray:
    ns = {k: np.array(v, copy=True) for k, v in arrays.items()}
    exec(code, ns)  # noqa: S102 - the tool's printed code, run as printed
    return np.asarray(ns["y"])


def _rng(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# ------------------------------------------------------------------------------ the seven layers


def _torch_ref(kind: str, x: np.ndarray, w: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    import torch

    xt = torch.from_numpy(x)
    with torch.no_grad():
        if kind == "bilinear_ac":
            return torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)(xt).numpy()
        if kind == "nearest":
            return torch.nn.Upsample(scale_factor=2, mode="nearest")(xt).numpy()
        if kind == "bicubic":
            return torch.nn.functional.interpolate(xt, size=[257, 257], mode="bicubic", align_corners=False).numpy()
        if kind == "shuffle":
            return torch.nn.PixelShuffle(2)(xt).numpy()
        if kind == "unpool":
            v, i = torch.nn.functional.max_pool2d(xt, 2, 2, return_indices=True)
            return torch.nn.functional.max_unpool2d(v, i, 2, 2, output_size=[33, 33]).numpy()
        k, s, p, op = {"ct_k4": (4, 2, 1, 0), "ct_k3": (3, 2, 1, 1)}[kind]
        m = torch.nn.ConvTranspose2d(w.shape[0], w.shape[1], k, stride=s, padding=p, output_padding=op)
        m.weight.copy_(torch.from_numpy(w))
        m.bias.copy_(torch.from_numpy(b))
        return m(xt).numpy()


SEVEN = [
    ("bilinear_ac", ["torch.nn.Upsample", "scale_factor=2", "mode=bilinear", "align_corners=true"], (1, 3, 33, 33), 0),
    ("ct_k4", ["torch.nn.ConvTranspose2d", "in_channels=4", "out_channels=2", "kernel_size=4", "stride=2", "padding=1"],
     (1, 4, 9, 9), 0),
    ("ct_k3", ["torch.nn.ConvTranspose2d", "in_channels=4", "out_channels=2", "kernel_size=3", "stride=2", "padding=1",
               "output_padding=1"], (1, 4, 9, 9), 0),
    ("shuffle", ["torch.nn.PixelShuffle", "upscale_factor=2"], (1, 8, 5, 5), 0),
    ("bicubic", ["torch.nn.functional.interpolate", "size=[257,257]", "mode=bicubic", "align_corners=false"],
     (1, 3, 64, 64), 1),
    ("nearest", ["torch.nn.Upsample", "scale_factor=2", "mode=nearest"], (1, 3, 33, 33), 0),
    ("unpool", ["torch.nn.functional.max_unpool2d", "kernel_size=2", "stride=2", "output_size=[33,33]"],
     (1, 3, 33, 33), 0),
]


@pytest.mark.parametrize("kind,call,shape,rc", SEVEN, ids=[s[0] for s in SEVEN])
def test_seven_layers_port_to_tensorflow(capsys, kind, call, shape, rc):
    got, out, err = _port(capsys, *call, "--shape", ",".join(map(str, shape)), "--to", "tensorflow")
    assert got == rc, out + err
    x = _rng(shape)
    w = b = None
    if kind.startswith("ct_"):
        k = 4 if kind == "ct_k4" else 3
        w, b = _rng((4, 2, k, k), 1), _rng((2,), 2)
    want = _torch_ref(kind, x, w, b)
    arrays = {"x": x, **({"w": w, "b": b} if w is not None else {})}
    exact, rest = _sections(out)
    if rc == 0:
        codes = _snippets(exact)
        assert codes, out
        for code in codes:  # every exact port printed, run as printed, reproduces PyTorch
            np.testing.assert_allclose(_exec(code, **arrays), want, **TOL, err_msg=code)
    else:
        assert "no exact port to tensorflow" in out
        errs = [float(v) for v in re.findall(r"max abs error ([0-9.e+-]+)", rest)]
        assert errs and errs == sorted(errs), rest  # ranked by measured error
        codes = _snippets(rest)
        assert "tf.image.resize(xt, size=[257, 257], method='bicubic')" in codes[0]
        for code in codes:  # the closest calls run as printed, with the error they were measured at
            y = _exec(code, **arrays)
            assert y.shape == want.shape
            assert 0 < np.abs(y - want).max() < 1.0


def test_nearest_x2_reports_why_equal_and_where_it_holds(capsys):
    rc, out, _ = _port(capsys, "torch.nn.Upsample", "scale_factor=2", "mode=nearest", "--shape", "1,3,33,33",
                       "--to", "tensorflow", "--no-code")
    assert rc == 0
    line = next(s for s in out.splitlines() if "tf.image.resize(x, size=[66, 66], method='nearest')" in s)
    block = out[out.index(line):].split("\n  2.")[0] if "\n  2." in out[out.index(line):] else out[out.index(line):]
    assert "equal at this shape" in block and "equal for the same call on 34x34 -> 68x68" in block
    # with a size instead of a factor the same call stops being a factor of two elsewhere: said so
    rc, out, _ = _port(capsys, "torch.nn.functional.interpolate", "size=[66,66]", "mode=nearest", "--shape", "1,1,33,33",
                       "--to", "tensorflow", "--no-code")
    assert rc == 0 and "DIFFERS for the same call on 34x34 -> 66x66" in out


def test_deprecated_calls_are_marked_and_ranked_last(capsys):
    rc, out, _ = _port(capsys, "torch.nn.Upsample", "scale_factor=2", "mode=bilinear", "align_corners=true",
                       "--shape", "1,1,9,9", "--to", "tf", "--no-code")
    assert rc == 0
    exact, _ = _sections(out)
    titles = re.findall(r"^  \d+\. (.*)$", exact, flags=re.M)
    assert titles[0].startswith("tf.image.crop_and_resize(")
    assert titles[-1].startswith("tf.compat.v1.image.resize_bilinear(")
    assert "DEPRECATED: TF1 compatibility API (tf.compat.v1" in exact


# ------------------------------------------------------------------------------ the other way


def _tf_ref(call: str, args: dict, x: np.ndarray, w: np.ndarray | None = None, b: np.ndarray | None = None):
    import keras
    import tensorflow as tf

    xt = tf.constant(np.transpose(x, (0, 2, 3, 1)))
    if call == "resize":
        y = tf.image.resize(xt, **args)
    elif call == "d2s":
        y = tf.nn.depth_to_space(xt, **args)
    elif call == "conv":
        y = tf.nn.bias_add(tf.nn.conv2d_transpose(xt, w, **args), b)
    else:
        layer = keras.layers.Conv2DTranspose(**args)
        layer.build(xt.shape)
        layer.set_weights([w, b])
        y = layer(xt)
    return np.transpose(np.asarray(y), (0, 3, 1, 2))


@pytest.mark.parametrize("method,rc", [("nearest", 0), ("bilinear", 0), ("bicubic", 1), ("area", 1)])
def test_tf_image_resize_to_torch(capsys, method, rc):
    got, out, err = _port(capsys, "tf.image.resize", "size=[20,15]", f"method={method}", "--shape", "1,2,9,7",
                          "--to", "torch")
    assert got == rc, out + err
    x = _rng((1, 2, 9, 7))
    want = _tf_ref("resize", {"size": [20, 15], "method": method}, x)
    exact, rest = _sections(out)
    for code in _snippets(exact if rc == 0 else rest):
        y = _exec(code, x=x)
        if rc == 0:
            np.testing.assert_allclose(y, want, rtol=1.3e-6, atol=1e-4 if method == "bilinear" else 1e-5, err_msg=code)
        else:
            assert y.shape == want.shape
    if rc == 1:
        assert re.search(r"max abs error [0-9]", rest)


CONVS = [
    ("conv", ["tf.nn.conv2d_transpose", "output_shape=[1,10,10,2]", "strides=2", "padding=SAME"],
     {"output_shape": [1, 10, 10, 2], "strides": 2, "padding": "SAME"}, 3),
    ("conv", ["tf.nn.conv2d_transpose", "output_shape=[1,11,11,2]", "strides=2", "padding=VALID"],
     {"output_shape": [1, 11, 11, 2], "strides": 2, "padding": "VALID"}, 3),
    ("keras", ["keras.layers.Conv2DTranspose", "filters=2", "kernel_size=3", "strides=2", "padding=same"],
     {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"}, 3),
    ("keras", ["keras.layers.Conv2DTranspose", "filters=2", "kernel_size=4", "strides=2", "padding=valid"],
     {"filters": 2, "kernel_size": 4, "strides": 2, "padding": "valid"}, 4),
]


@pytest.mark.parametrize("kind,call,args,k", CONVS, ids=["tf_same", "tf_valid", "keras_same", "keras_valid"])
def test_tf_conv_transpose_to_torch(capsys, kind, call, args, k):
    extra = ["--weight-shape", f"4,2,{k},{k}", "--bias"] if kind == "conv" else []
    rc, out, err = _port(capsys, *call, "--shape", "1,4,5,5", *extra, "--to", "torch")
    assert rc == 0, out + err
    x, w, b = _rng((1, 4, 5, 5)), _rng((k, k, 2, 4), 1), _rng((2,), 2)  # w in TensorFlow's layout
    want = _tf_ref(kind, args, x, w, b)
    codes = _snippets(_sections(out)[0])
    assert codes
    for code in codes:
        np.testing.assert_allclose(_exec(code, x=x, w=w, b=b), want, **TOL, err_msg=code)


def test_depth_to_space_to_torch(capsys):
    rc, out, _ = _port(capsys, "tf.nn.depth_to_space", "block_size=2", "--shape", "1,12,4,5", "--to", "torch")
    assert rc == 0
    x = _rng((1, 12, 4, 5))
    want = _tf_ref("d2s", {"block_size": 2}, x)
    codes = _snippets(_sections(out)[0])
    assert any("pixel_shuffle" in c and "perm" in c for c in codes)
    for code in codes:
        np.testing.assert_array_equal(_exec(code, x=x), want)


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize("argv,msg", [
    (["torch.nn.functional.conv_transpose2d", "stride=2", "--shape", "1,4,5,5", "--to", "tf"], "--weight-shape"),
    (["torch.nn.PixelShuffle", "upscale_factor=2", "--to", "tf"], "--shape N,C,H,W"),
    (["torch.nn.Upsample", "scale_factr=2", "--shape", "1,1,4,4", "--to", "tf"], "unknown argument 'scale_factr'"),
    (["tf.image.resize", "size=[8,8]", "method=bicubc", "--shape", "1,1,4,4", "--to", "torch"],
     "method='bicubc' is not one of"),
    (["torch.nn.PixelShuffle", "upscale_factor=2", "--shape", "1,3,4,4", "--to", "tf"], "no canonical meaning"),
    (["torch.nn.PixelShuffle", "upscale_factor=2", "--shape", "1,4,4,4", "--to", "mxnet"], "--to: framework"),
    (["torch.nn.ConvTranspose2d", "in_channels=4", "out_channels=2", "kernel_size=3", "--weight-shape", "4,2,4,4",
      "--shape", "1,4,5,5", "--to", "tf"], "contradicts"),
    (["torch.nn.PixelShuffle", "upscale_factor=2", "--shape", "0,8,3,3", "--to", "tf"], "empty axis"),
    (["keras.layers.UpSampling2D", "size=2", "interpolation=bilnear", "--shape", "1,1,4,4", "--to", "torch"],
     "interpolation='bilnear' is not one of"),
    (["torch.nn.ConvTranspose2d", "in_channels=2", "out_channels=2", "kernel_size=3", "padding_mode=reflect",
      "--shape", "1,2,5,5", "--to", "tf"], "padding_mode='reflect' is not one of"),
])
def test_refusals_exit_2_naming_what_is_needed(capsys, argv, msg):
    rc, out, err = _port(capsys, *argv)
    assert rc == 2 and msg in err and not out, (rc, out, err)


def test_explain_states_assumptions_and_measured_ports(capsys):
    assert main(["explain", "torch.nn.functional.conv_transpose2d", "stride=2", "padding=1", "output_padding=1",
                 "--to", "tf"]) == 2
    assert "--weight-shape" in capsys.readouterr().err  # no silent 3x3 kernel
    assert main(["explain", "torch.nn.PixelShuffle", "upscale_factor=2", "--to", "tensorflow"]) == 1
    out = capsys.readouterr().out
    assert "assumptions: input shape [1, 3, 8, 8] (the default" in out
    assert "no canonical meaning" in out  # 3 channels (the assumed shape, said): not a shuffle
    assert main(["explain", "torch.nn.PixelShuffle", "upscale_factor=2", "--shape", "1,8,3,3", "--to", "tf"]) == 0
    out = capsys.readouterr().out
    assert "exact: tf.gather(x, perm, axis=-1) + tf.nn.depth_to_space(block_size=2)" in out
    assert "upconform port torch.nn.PixelShuffle upscale_factor=2 --shape 1,8,3,3 --to tensorflow" in out


# ------------------------------------------------------------------------------ every printed snippet runs


def _trap_calls():
    from upconform.harness.spec import load_files

    _, discs = load_files([ROOT / "specs" / "discrepancies.yaml"])
    return [(d, c) for d in discs for c in d.calls]


def _check_every_snippet_runs(source, args, op, x, weight, bias, dtype="float32"):
    from upconform.adapters import get
    from upconform.harness.port import port

    for target in ("torch", "tensorflow"):
        if get(source).framework == target:
            continue
        a = port(source, dict(args), target, x=x, weight=weight, bias=bias, op=op, dtype=dtype)
        bad = [(c.snippet.title, c.error) for c in a.candidates if c.error]
        assert not bad, bad


def test_every_snippet_printed_for_the_porting_traps_runs():
    """Each trap's calls ported the other way: every candidate's snippet (exact or not) was executed
    by port itself while measuring; none raised."""
    from upconform.canonical import plain

    n = 0
    for d, c in _trap_calls():
        n += 1
        _check_every_snippet_runs(c["binding"], plain(c.get("args", {})), d.op, d.shape, d.weight_shape,
                                  d.bias or None, d.dtype)
    assert n >= 20


def _suite_sample(per_op: int):
    from upconform.adapters import Unsupported, get
    from upconform.harness.spec import default_spec_paths, load_files

    cases, _ = load_files(default_spec_paths(ROOT / "specs"))
    picked: dict[str, list] = {}
    for c in cases:
        if c.dtype != "float32" or len(picked.get(c.op, [])) >= per_op or c.shapes["x"][0] == 0 or 0 in c.shapes["x"]:
            continue
        for name in ("torch.nn.functional.interpolate", "torch.nn.functional.conv_transpose2d",
                     "torch.nn.functional.conv_transpose1d", "torch.nn.functional.pixel_shuffle",
                     "torch.nn.functional.pixel_unshuffle", "torch.nn.functional.max_unpool2d",
                     "torch.repeat_interleave"):
            b = get(name)
            if c.op not in b.ops:
                continue
            call = b.unsupported_reading(c) or b.to_native(c)
            if isinstance(call, Unsupported):
                continue
            picked.setdefault(c.op, []).append((name, dict(call.args), c))
            break
    return [t for v in picked.values() for t in v]


def test_every_snippet_printed_for_a_sample_of_the_default_suite_runs():
    for name, args, c in _suite_sample(per_op=2):
        _check_every_snippet_runs(name, args, c.op, tuple(c.shapes["x"]), c.shapes.get("w"), "b" in c.shapes or None)


@pytest.mark.slow
def test_every_snippet_printed_for_more_of_the_default_suite_runs():
    for name, args, c in _suite_sample(per_op=8):
        _check_every_snippet_runs(name, args, c.op, tuple(c.shapes["x"]), c.shapes.get("w"), "b" in c.shapes or None)


def test_a_scale_that_is_not_out_over_in_ports_through_the_output_size(capsys):
    """nearest x1.5 on 33x33 (torch: floor(i / 1.5)) is exactly resize_nearest_neighbor to 49x49 (floor(i * 33 / 49)
    picks the same pixels), and the probe re-derives the size at the other shapes (34 -> 51 is equal too)."""
    rc, out, _ = _port(capsys, "torch.nn.functional.interpolate", "scale_factor=1.5", "mode=nearest",
                       "--shape", "2,3,33,33", "--to", "tf")
    assert rc == 0
    exact, _ = _sections(out)
    assert "resize_nearest_neighbor(x, size=[49, 49]" in exact and "equal for the same call on 34x34 -> 51x51" in exact
    import torch

    x = _rng((2, 3, 33, 33))
    want = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=1.5, mode="nearest").numpy()
    np.testing.assert_array_equal(_exec(_snippets(exact)[0], x=x), want)


def test_keras_valid_and_crop_composite_with_a_kernel_shorter_than_the_stride(capsys):
    """Keras's VALID output is in * s + max(k - s, 0): the composite crops the extra rows too."""
    import torch

    rc, out, _ = _port(capsys, "torch.nn.ConvTranspose2d", "in_channels=3", "out_channels=2", "kernel_size=2",
                       "stride=3", "output_padding=2", "--shape", "1,3,5,4", "--to", "tf")
    assert rc == 0
    exact, _ = _sections(out)
    code = next(c for c in _snippets(exact) if "Cropping2D" in c)
    x, w, b = _rng((1, 3, 5, 4)), _rng((3, 2, 2, 2), 1), _rng((2,), 2)
    m = torch.nn.ConvTranspose2d(3, 2, 2, stride=3, output_padding=2)
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(w))
        m.bias.copy_(torch.from_numpy(b))
        want = m(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_exec(code, x=x, w=w, b=b), want, atol=1e-5)


def test_explain_refuses_an_unknown_target(capsys):
    from upconform.cli import main

    rc = main(["explain", "torch.nn.functional.pixel_shuffle", "upscale_factor=2", "--shape", "1,8,3,3", "--to", "mxnet"])
    assert rc == 2 and "'mxnet' is not one of" in capsys.readouterr().err


@pytest.mark.parametrize("source, args, shape, target, want", [
    ("torch.nn.functional.interpolate", {"size": [6, 9], "mode": "bilinear", "align_corners": False}, (1, 3, 3, 4),
     "opencv", "cv2.resize(x, dsize=[9, 6], interpolation='INTER_LINEAR')"),
    ("torch.nn.functional.interpolate", {"size": [3, 3], "mode": "bilinear", "antialias": True}, (1, 2, 7, 7),
     "pillow", "PIL.Image.Image.resize(x, size=[3, 3], resample='BILINEAR', mode='F')"),
    ("cv2.resize", {"dsize": [5, 5], "interpolation": "INTER_AREA"}, (1, 3, 7, 7), "tensorflow",
     "tf.image.resize(x, size=[5, 5], method='area')"),
])
def test_ports_to_and_from_opencv_and_pillow_run_and_are_exact(source, args, shape, target, want):
    """The OpenCV and Pillow snippets are runnable code: port executes them and finds them exact (dsize and
    size are (width, height), one call per image or per channel)."""
    from upconform.harness.port import port

    a = port(source, args, target, x=shape)
    assert want in [c.snippet.title for c in a.exact], ([c.snippet.title for c in a.exact], a.skipped)
    assert not [c.error for c in a.candidates if c.error]
