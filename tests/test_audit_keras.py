"""``upconform audit`` of Keras models (adapters/audit_keras.py): a U-Net built here from its published
architecture (Ronneberger et al. 2015: four levels of two 3x3 convolutions and a 2x2 max pooling, a
bottleneck, four levels of a 2x up-step, a skip concatenation and two 3x3 convolutions, a 1x1 head), with
random weights and the two Keras up-steps: ``UpSampling2D(interpolation="bilinear")`` (followed by a 2x2
convolution, as in the common Keras port) and ``Conv2DTranspose(filters, 2, strides=2, padding="same")``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("keras")

from upconform.adapters.audit_keras import LAYER_NOTE, OP_NOTE, capture_keras  # noqa: E402
from upconform.harness.audit import AuditError, Site, run_audit  # noqa: E402


def audit_keras(spec, shape, **kw):
    return run_audit(spec, shape, kind="keras", **kw)

SHAPE = (1, 64, 64, 3)
FILTERS = (8, 16, 32, 64)  # the paper's 64..512, scaled down: the sites and their geometry are the same
# decoder level (deepest first) -> its up-step: bilinear UpSampling2D in levels 4 and 2, Conv2DTranspose in 3 and 1
UP_STEPS = {4: "bilinear", 3: "transpose", 2: "bilinear", 1: "transpose"}


def build_unet() -> Any:
    """The U-Net (random weights, seeded)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)

    def block(x: Any, f: int, name: str) -> Any:
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"{name}_a")(x)
        return layers.Conv2D(f, 3, padding="same", activation="relu", name=f"{name}_b")(x)

    inp = keras.Input(SHAPE[1:], name="image")
    x, skips = inp, []
    for level, f in enumerate(FILTERS, 1):
        x = block(x, f, f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = block(x, FILTERS[-1] * 2, "bottleneck")
    for level in (4, 3, 2, 1):
        f = FILTERS[level - 1]
        if UP_STEPS[level] == "bilinear":
            x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}")(x)
            x = layers.Conv2D(f, 2, padding="same", activation="relu", name=f"up{level}_conv")(x)
        else:
            x = layers.Conv2DTranspose(f, 2, strides=2, padding="same", name=f"up{level}")(x)
        x = layers.Concatenate(name=f"skip{level}")([x, skips[level - 1]])
        x = block(x, f, f"dec{level}")
    out = layers.Conv2D(1, 1, name="head")(x)
    return keras.Model(inp, out, name="unet")


UNET = f"{__file__}:build_unet"


def _expected(level: int) -> dict[str, Any]:
    """The input an up-step of a level meets (canonical NCHW) and what it must mean."""
    side = SHAPE[1] >> level  # 64 -> 4 at the bottleneck
    c_in = FILTERS[-1] * 2 if level == 4 else FILTERS[level]
    return {"x": (1, c_in, side, side), "out": [2 * side, 2 * side], "c_out": FILTERS[level - 1]}


@pytest.fixture(scope="module")
def audit() -> Any:
    return audit_keras(UNET, SHAPE, targets=("torch",))


def _layers(sites: list[Site]) -> list[Site]:
    return [s for s in sites if s.raw.note == LAYER_NOTE]


def _ops(sites: list[Site]) -> list[Site]:
    return [s for s in sites if s.raw.note == OP_NOTE]


def test_unet_sites_counted(audit: Any) -> None:
    """4 up-steps: 4 layer sites (2 UpSampling2D, 2 Conv2DTranspose), then the 4 graph ops they run
    (2 ResizeBilinear, 2 Conv2DBackpropInput); nothing else of the model is a site."""
    assert audit.source == "keras" and audit.input_shape == list(SHAPE) and audit.model == UNET
    assert [s.raw.index for s in audit.sites] == list(range(8))
    layer_sites, op_sites = _layers(audit.sites), _ops(audit.sites)
    assert len(layer_sites) == 4 and len(op_sites) == 4 and audit.sites == layer_sites + op_sites
    assert [s.raw.where for s in layer_sites] == ["up4", "up3", "up2", "up1"]
    assert [s.raw.binding for s in layer_sites] == ["keras.layers.UpSampling2D", "keras.layers.Conv2DTranspose"] * 2
    assert [s.raw.binding for s in op_sites] == ["tf.compat.v1.image.resize_bilinear", "tf.nn.conv2d_transpose"] * 2
    assert all(s.outcome == "pass" for s in audit.sites), [(s.raw.where, s.outcome, s.reason) for s in audit.sites]
    assert audit.exit_code() == 0


def test_unet_layer_meanings(audit: Any) -> None:
    for s in _layers(audit.sites):
        level = int(s.raw.where[2:])
        e = _expected(level)
        m = s.meaning
        assert s.raw.shapes["x"] == e["x"] and s.raw.dtype == "float32"
        if UP_STEPS[level] == "bilinear":
            assert s.raw.op == "resize" and s.raw.args["interpolation"] == "bilinear"
            assert m["mode"] == "linear" and m["coordinate_transformation_mode"] == "half_pixel"
            assert m["sizes"] == [*e["x"][:2], *e["out"]] and not m["antialias"]
        else:
            assert s.raw.op == "conv_transpose"
            assert s.raw.args["padding"] == "same" and s.raw.args["strides"] == [2, 2]
            assert s.raw.shapes["w"] == (e["x"][1], e["c_out"], 2, 2) and s.raw.shapes["b"] == (e["c_out"],)
            assert m["strides"] == [2, 2] and m["pads"] == [0, 0, 0, 0] and m["output_padding"] == [0, 0]
            assert m["output_spatial"] == e["out"] and m["dilations"] == [1, 1] and m["group"] == 1
        # and its exact PyTorch equivalent
        port = s.ports["torch"]
        assert port["exact"], port
        want = "interpolate(" if UP_STEPS[level] == "bilinear" else "conv_transpose2d("
        assert want in port["call"] and ("align_corners=False" in port["call"] or want != "interpolate(")


def test_unet_graph_ops_agree_with_their_layers(audit: Any) -> None:
    """Each graph op lies in its layer's name scope and means what the layer means."""
    for layer, op in zip(_layers(audit.sites), _ops(audit.sites)):
        assert re.search(rf"(^|/){layer.raw.where}(_\d+)?/", op.raw.where), (layer.raw.where, op.raw.where)
        assert op.meaning == layer.meaning and op.meaning is not None
        assert op.raw.shapes["x"] == layer.raw.shapes["x"]
        if layer.raw.op == "resize":
            assert op.raw.args == {"size": layer.meaning["sizes"][2:], "align_corners": False,
                                   "half_pixel_centers": True}
        else:
            assert op.raw.shapes["w"] == layer.raw.shapes["w"] and "b" not in op.raw.shapes  # the bias is a BiasAdd
            assert op.raw.args["padding"] == "SAME" and op.raw.args["strides"] == [1, 2, 2, 1]


def test_keras_file_round_trip(tmp_path: Any, audit: Any) -> None:
    from upconform.adapters.audit_keras import load_keras

    path = tmp_path / "unet.keras"
    load_keras(UNET).save(path)
    a = audit_keras(str(path), SHAPE)
    assert a.model == str(path) and a.source == "keras" and a.input_shape == list(SHAPE)
    assert [(s.raw.where, s.raw.binding, s.meaning, s.outcome) for s in _layers(a.sites)] == \
        [(s.raw.where, s.raw.binding, s.meaning, s.outcome) for s in _layers(audit.sites)]
    assert [(s.raw.binding, s.meaning, s.outcome) for s in _ops(a.sites)] == \
        [(s.raw.binding, s.meaning, s.outcome) for s in _ops(audit.sites)]


@pytest.mark.parametrize("source, shape, message", [
    ("{tmp}/missing.keras", SHAPE, "no such file"),
    ("{tmp}/garbage.keras", SHAPE, "cannot load"),
    ("no_such_module_xyz:build", SHAPE, "cannot import no_such_module_xyz"),
    (f"{__file__}:_expected", SHAPE, "raised TypeError"),
    (UNET, (1, 60, 60, 3), "the model rejects an input of shape [1, 60, 60, 3]"),  # 60 -> 30 -> 15 -> 7: skips differ
    (UNET, (1, 64, 64), "the model rejects an input of shape [1, 64, 64]"),
])
def test_usage_errors_are_one_line(tmp_path: Any, source: str, shape: tuple[int, ...], message: str) -> None:
    (tmp_path / "garbage.keras").write_bytes(b"not a zip")
    with pytest.raises(AuditError) as e:
        audit_keras(source.format(tmp=tmp_path), shape)
    assert message in str(e.value) and "\n" not in str(e.value)


def build_misc() -> Any:
    """Layers and ops beyond the U-Net: a nested model, Resizing, a custom layer whose tf.function calls
    tf.image.resize(lanczos3) on a computed size, tf.compat.v1 align_corners, depth_to_space, and a
    Conv3DTranspose (no layer binding)."""
    import keras
    import tensorflow as tf
    from keras import layers

    class Shuffle(layers.Layer):
        @tf.function
        def inner(self, x: Any) -> Any:
            return tf.image.resize(x, tf.shape(x)[1:3] * 2, method="lanczos3")

        def call(self, x: Any) -> Any:
            y = tf.compat.v1.image.resize_bilinear(self.inner(x), [20, 20], align_corners=True)
            return tf.nn.depth_to_space(tf.concat([y] * 4, -1), 2)

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    sub = keras.Sequential([layers.Resizing(12, 12, interpolation="nearest", name="near")], name="sub")
    x = Shuffle(name="shuffle")(layers.Resizing(8, 8, interpolation="area", name="area")(sub(inp)))
    y = layers.Conv3DTranspose(2, 2, strides=2, name="c3")(layers.Reshape((4, 4, 4, 3))(x[:, :8, :8, :]))
    return keras.Model(inp, [x, y], name="misc")


def test_every_graph_op_is_a_site() -> None:
    sites = capture_keras(build_misc(), (1, 8, 8, 3))
    got = [(s.where, s.binding, s.note.split(";")[0]) for s in sites]
    assert [(w.split("/")[-1], b, n) for w, b, n in got] == [
        ("near", "keras.layers.Resizing", LAYER_NOTE),
        ("area", "keras.layers.Resizing", LAYER_NOTE),
        ("c3", "keras.layers.Conv3DTranspose", LAYER_NOTE),  # no binding: listed, with why
        ("ResizeNearestNeighbor", "tf.compat.v1.image.resize_nearest_neighbor", OP_NOTE),
        ("ResizeArea", "tf.compat.v1.image.resize_area", OP_NOTE),
        ("ScaleAndTranslate", "tf.image.resize", OP_NOTE),  # inside the tf.function (a PartitionedCall)
        ("ResizeBilinear", "tf.compat.v1.image.resize_bilinear", OP_NOTE),
        ("DepthToSpace", "tf.nn.depth_to_space", OP_NOTE),
        ("conv_transpose", "tf.nn.conv3d_transpose", OP_NOTE),
    ]
    assert sites[0].where == "sub/near" and "no binding for keras.layers.Conv3DTranspose" in sites[2].note
    by = {s.where.split("/")[-1]: s for s in sites}
    assert "PartitionedCall/" in by["ScaleAndTranslate"].where
    assert by["ScaleAndTranslate"].args == {"size": [16, 16], "method": "lanczos3", "antialias": False}  # computed size
    assert by["ResizeBilinear"].args == {"size": [20, 20], "align_corners": True, "half_pixel_centers": False}
    assert by["DepthToSpace"].args == {"block_size": 2} and by["DepthToSpace"].shapes["x"] == (1, 12, 20, 20)
    c3 = by["conv_transpose"]
    assert c3.shapes == {"x": (1, 3, 4, 4, 4), "w": (3, 2, 2, 2, 2)} and c3.args["output_shape"] == [1, 8, 8, 8, 2]


def test_cli_audits_a_keras_file_and_a_factory(tmp_path: Any) -> None:
    import json
    import subprocess
    import sys

    path = tmp_path / "unet.keras"
    build_unet().save(path)
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run([sys.executable, "-m", "upconform", "audit", str(path), "--input-shape", "1,64,64,3",
                        "--format", "json"], capture_output=True, text=True, cwd=root, timeout=600)
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["source"] == "keras" and len(data["sites"]) == 8
    p = subprocess.run([sys.executable, "-m", "upconform", "audit", f"{__file__}:build_unet", "--source", "keras"],
                       capture_output=True, text=True, cwd=root, timeout=600)
    assert p.returncode == 2 and "needs --input-shape" in p.stderr
