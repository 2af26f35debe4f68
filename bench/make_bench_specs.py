"""Writes specs/bench/*.yaml (run from the repository root: python bench/make_bench_specs.py): each family
swept one axis at a time around N=1, C=3, 64x64."""
SPATIAL = [32, 64, 128, 256, 512, 1024]
CHANNELS = [3, 16, 64, 256]
BATCH = [1, 4, 16]
BASE = dict(n=1, c=3, s=64)


def points():
    for s in SPATIAL:
        yield "spatial", s, dict(BASE, s=s)
    for c in CHANNELS:
        if c != BASE["c"]:
            yield "channels", c, dict(BASE, c=c)
    for n in BATCH:
        if n != BASE["n"]:
            yield "batch", n, dict(BASE, n=n)


HEAD = """# Scaling benchmark: {what}.
# `upconform bench` runs it, `upconform run` does not (specs/bench/ is not part of the default suite).
# One axis swept at a time around N=1, C=3, 64x64 (the case id says which: spatial_S is an SxS input,
# channels_C and batch_N are 64x64): spatial 32 to 1024, channels 3 to 256, batch 1 to 16. float32,
# eager forward only; the numbers are checked against the reference as in any run. Bindings: PyTorch's,
# TensorFlow's (Keras' for repeat) and ONNX Runtime's (add others to `bindings:`; each costs about a
# minute on 2 cores).
"""


def write(name, text):
    open(f"specs/bench/{name}.yaml", "w").write(text)


def flow(v):
    return "[" + ", ".join(str(x) for x in v) + "]"


def simple(op, what, params, bindings, extra_shapes=None, channel_factor=1, out_shape_param=False, ids=""):
    lines = [HEAD.format(what=what), f"op: {op}", "defaults:", "  dtypes: [float32]", "  checks: [forward]",
             "  input: normal", "  seed: 15", f"  params: {params}", "  bindings:"]
    lines += [f"    - {b}" for b in bindings]
    lines.append("cases:")
    for axis, v, p in points():
        c = p["c"] * channel_factor
        shapes = {"x": [p["n"], c, p["s"], p["s"]]}
        if extra_shapes:
            shapes.update(extra_shapes(p))
        lines.append(f"  - id: {axis}_{v}{ids}")
        lines.append("    shapes: {" + ", ".join(f"{k}: {flow(s)}" for k, s in shapes.items()) + "}")
        if out_shape_param:
            lines.append(f"    params: {{output_shape: [{p['s']}, {p['s']}]}}")
    return "\n".join(lines) + "\n"


write("resize", simple(
    "resize", "bilinear resize x2", "{mode: linear, coordinate_transformation_mode: half_pixel, scales: [1, 1, 2, 2]}",
    ["torch.nn.functional.interpolate", "tf.image.resize", "onnxruntime.Resize", "cv2.resize"]))
write("repeat", simple(
    "repeat", "nearest repeat x2", "{repeats: 2}",
    ["torch.repeat_interleave", "keras.layers.UpSampling2D", "onnxruntime.Resize"]))
write("conv_transpose", simple(
    "conv_transpose", "transposed convolution x2: kernel 2, stride 2, C -> C channels",
    "{strides: 2}",
    ["torch.nn.functional.conv_transpose2d", "tf.nn.conv2d_transpose", "onnxruntime.ConvTranspose"],
    extra_shapes=lambda p: {"w": [p["c"], p["c"], 2, 2]}))
write("max_unpool", simple(
    "max_unpool", "max-unpooling of a 2x2 stride-2 pooling (x is the pooling input)",
    "{kernel_shape: [2, 2], strides: [2, 2]}",
    ["torch.nn.functional.max_unpool2d", "tf.nn.max_pool_with_argmax", "onnxruntime.MaxUnpool"],
    out_shape_param=True))
ps = simple("pixel_shuffle", "pixel shuffle x2 in both channel orders (C is the output's channels:\n# the input has 4C)",
            "{upscale_factor: 2}",
            ["torch.nn.functional.pixel_shuffle", "tf.nn.depth_to_space", "onnxruntime.DepthToSpace"],
            channel_factor=4, ids="_{mode}")
ps = ps.replace("shapes: {x", "matrix: {mode: [CRD, DCR]}\n    shapes: {x")
write("pixel_shuffle", ps)
