"""``upconform audit`` of ONNX graphs and the export pairing (issue 13): real architectures built here with
random weights (an FPN, a U-Net, ESPCN, SegNet, a DeepLabV3 head), audited in PyTorch, exported with
``torch.onnx.export(dynamo=True)`` and paired node by node; a planted wrong attribute in the exported
file is found and named; hand-built graphs for the capture's corner cases."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("onnxruntime")

import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from upconform.adapters.audit_onnx import capture_onnx, export_torch_onnx  # noqa: E402
from upconform.adapters.audit_torch import capture_torch  # noqa: E402
from upconform.harness.audit import Audit, AuditError, judge, markdown, pair_sites, run_audit  # noqa: E402


def audit_torch(spec, shape, **kw):
    return run_audit(spec, shape, kind="torch", **kw)


def audit_onnx(path, **kw):
    return run_audit(str(path), kw.pop("input_shape", None), kind="onnx", **kw)



HERE = Path(__file__).resolve()
# torch.export's pytree, on torch 2.13: not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning")

# ----------------------------------------------------------------------------------- models (published
# architectures, narrowed so each export takes about a second)


def _conv(i: int, o: int, stride: int = 1) -> Any:
    return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1), nn.ReLU())


class FPN(nn.Module):
    """Lin et al. 2017: a strided backbone C2..C5, 1x1 laterals, a top-down path of nearest 2x upsamplings."""

    def __init__(self, ch: int = 8) -> None:
        super().__init__()
        self.stages = nn.ModuleList([_conv(3, ch, 2), _conv(ch, ch, 2), _conv(ch, ch, 2), _conv(ch, ch, 2)])
        self.lateral = nn.ModuleList([nn.Conv2d(ch, ch, 1) for _ in range(4)])
        self.smooth = nn.ModuleList([nn.Conv2d(ch, ch, 3, padding=1) for _ in range(4)])

    def forward(self, x: Any) -> Any:
        feats = []
        for s in self.stages:
            x = s(x)
            feats.append(x)
        p = self.lateral[3](feats[3])
        outs = [self.smooth[3](p)]
        for i in (2, 1, 0):
            p = self.lateral[i](feats[i]) + F.interpolate(p, scale_factor=2, mode="nearest")
            outs.append(self.smooth[i](p))
        return outs


class UNet(nn.Module):
    """Ronneberger et al. 2015, as the common PyTorch port writes it: the two deep decoder stages upsample
    with ``nn.Upsample(bilinear, align_corners=True)``, the two shallow ones with ConvTranspose2d(2, 2)."""

    def __init__(self, ch: int = 4) -> None:
        super().__init__()
        c = [ch, 2 * ch, 4 * ch, 8 * ch, 8 * ch]
        self.inc = _conv(3, c[0])
        self.down = nn.ModuleList([nn.Sequential(nn.MaxPool2d(2), _conv(c[i], c[i + 1])) for i in range(4)])
        self.up1 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.up3 = nn.ConvTranspose2d(c[2], c[2], 2, stride=2)
        self.up4 = nn.ConvTranspose2d(c[1], c[1], 2, stride=2)
        self.dec = nn.ModuleList([_conv(c[4] + c[3], c[2]), _conv(c[2] + c[2], c[2]), _conv(c[2] + c[1], c[1]),
                                  _conv(c[1] + c[0], c[0])])
        self.outc = nn.Conv2d(c[0], 2, 1)

    def forward(self, x: Any) -> Any:
        skips = [self.inc(x)]
        for d in self.down:
            skips.append(d(skips[-1]))
        y = skips.pop()
        for up, dec in zip((self.up1, self.up2, self.up3, self.up4), self.dec):
            y = dec(torch.cat([up(y), skips.pop()], dim=1))
        return self.outc(y)


class ESPCN(nn.Module):
    """Shi et al. 2016: feature extraction in low resolution, then a sub-pixel convolution (PixelShuffle(3))."""

    def __init__(self, r: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.Tanh(), nn.Conv2d(16, 8, 3, padding=1), nn.Tanh(),
                                  nn.Conv2d(8, r * r, 3, padding=1))
        self.shuffle = nn.PixelShuffle(r)

    def forward(self, x: Any) -> Any:
        return self.shuffle(self.body(x))


class SegNet(nn.Module):
    """Badrinarayanan et al. 2017: the decoder unpools with the encoder's max-pooling indices."""

    def __init__(self, ch: int = 4) -> None:
        super().__init__()
        self.enc = nn.ModuleList([_conv(3, ch), _conv(ch, 2 * ch)])
        self.pool = nn.MaxPool2d(2, 2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2, 2)
        self.dec = nn.ModuleList([_conv(2 * ch, ch), _conv(ch, 2)])

    def forward(self, x: Any) -> Any:
        idx = []
        for e in self.enc:
            x, i = self.pool(e(x))
            idx.append(i)
        for d in self.dec:
            x = d(self.unpool(x, idx.pop()))
        return x


class DeepLabHead(nn.Module):
    """Chen et al. 2017 (DeepLabV3): ASPP whose image-pooling branch is upsampled bilinearly from 1x1, and
    logits upsampled bilinearly (align_corners=False) to the input's arbitrary size."""

    def __init__(self, ch: int = 8) -> None:
        super().__init__()
        self.backbone = nn.Sequential(_conv(3, ch, 2), _conv(ch, ch, 2), _conv(ch, ch, 2))
        self.aspp = nn.ModuleList([nn.Conv2d(ch, ch, 1), nn.Conv2d(ch, ch, 3, padding=6, dilation=6)])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(ch, ch, 1))
        self.project = nn.Conv2d(3 * ch, 3, 1)

    def forward(self, x: Any) -> Any:
        size = x.shape[-2:]
        f = self.backbone(x)
        pooled = F.interpolate(self.pool(f), size=f.shape[-2:], mode="bilinear", align_corners=False)
        y = self.project(torch.cat([b(f) for b in self.aspp] + [pooled], dim=1))
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def _seeded(cls: type) -> Any:
    torch.manual_seed(0)
    return cls()


def fpn() -> Any:
    return _seeded(FPN)


def unet() -> Any:
    return _seeded(UNet)


def espcn() -> Any:
    return _seeded(ESPCN)


def segnet() -> Any:
    return _seeded(SegNet)


def deeplab_head() -> Any:
    return _seeded(DeepLabHead)


# factory, input shape, {op: sites}, {op: exported nodes}
MODELS: dict[str, tuple[tuple[int, ...], dict[str, int], dict[str, int]]] = {
    "fpn": ((1, 3, 64, 64), {"resize": 3}, {"resize": 3}),
    "unet": ((1, 3, 32, 32), {"resize": 2, "conv_transpose": 2}, {"resize": 2, "conv_transpose": 2}),
    "espcn": ((1, 1, 12, 12), {"pixel_shuffle": 1}, {"pixel_shuffle": 1}),
    # the exporter lowers max_unpool2d to Reshape/ScatterND: no MaxUnpool node to pair with
    "segnet": ((1, 3, 16, 16), {"max_unpool": 2}, {}),
    "deeplab_head": ((1, 3, 30, 42), {"resize": 2}, {"resize": 2}),
}


def _counts(sites: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in sites:
        out[s.raw.op] = out.get(s.raw.op, 0) + 1
    return out


@pytest.fixture(scope="module")
def audits() -> dict[str, tuple[Audit, float]]:
    """Each model audited with --export onnx, once for the module (the first export builds the exporter's
    tables: a few seconds; later ones take about a second)."""
    out = {}
    for name, (shape, _, _) in MODELS.items():
        t0 = time.perf_counter()
        a = audit_torch(f"{HERE}:{name}", shape, export="onnx")
        out[name] = (a, time.perf_counter() - t0)
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_export_pairs_every_site(audits: dict[str, tuple[Audit, float]], name: str) -> None:
    a, seconds = audits[name]
    shape, sites, nodes = MODELS[name]
    assert _counts(a.sites) == sites
    assert a.exported is not None and a.pairs is not None
    assert _counts(a.exported) == nodes
    assert all(s.outcome == "pass" for s in a.sites), [(s.raw.where, s.outcome, s.reason) for s in a.sites]
    assert all(s.meaning is not None for s in a.exported)
    assert len(a.pairs) == len(a.sites)
    paired = [p for p in a.pairs if not p.get("missing")]
    assert len(paired) == sum(nodes.values())
    assert all(p["same"] and not p["differs"] for p in paired), paired
    assert a.exit_code() == 0
    assert seconds < 30  # the budget is 10 s a model; the first export also builds the exporter's tables
    for s in a.exported:
        assert s.raw.binding.startswith("onnxruntime.") and s.raw.dtype == "float32"
        assert s.raw.note.startswith("ONNX node")


def test_exported_nodes_name_their_module(audits: dict[str, tuple[Audit, float]]) -> None:
    a, _ = audits["unet"]
    assert a.exported is not None
    by_where = {s.raw.where: s.raw for s in a.sites}
    for p in a.pairs or []:
        e = a.exported[p["exported"]].raw
        assert f"`{p['source_where']}`" in e.note and "test_audit_onnx.py:" in e.note, e.note
        assert by_where[p["source_where"]].op == e.op
    ct = next(s.raw for s in a.exported if s.raw.op == "conv_transpose")
    assert ct.shapes["w"] == (16, 16, 2, 2) and ct.shapes["b"] == (16,)


def test_segnet_unpool_is_lowered(audits: dict[str, tuple[Audit, float]]) -> None:
    a, _ = audits["segnet"]
    assert [p.get("missing") for p in a.pairs or []] == [f"no exported node of this operator from {s.raw.where}"
                                                         for s in a.sites]
    assert [s.raw.shapes["x"] for s in a.sites] == [(1, 8, 8, 8), (1, 4, 16, 16)]


def _plant(path: str, out: Path, op_type: str, attr: str, old: str, new: str) -> Path:
    """The exported file with the first ``op_type`` node whose ``attr`` is ``old`` set to ``new``."""
    m = onnx.load(path)
    node = next(n for n in m.graph.node if n.op_type == op_type
                and any(a.name == attr and a.s == old.encode() for a in n.attribute))
    a = next(a for a in node.attribute if a.name == attr)
    a.s = new.encode()
    onnx.save(m, out)
    return out


@pytest.mark.parametrize("attr, old, new, differs", [
    ("coordinate_transformation_mode", "align_corners", "half_pixel", {}),
    # cubic brings its coefficient into the meaning: named too
    ("mode", "linear", "cubic", {"cubic_coeff_a": [None, -0.75]})])
def test_planted_difference_is_named(tmp_path: Path, attr: str, old: str, new: str, differs: dict[str, Any]) -> None:
    model = unet()
    shape = MODELS["unet"][0]
    src = judge(capture_torch(model, shape))
    good = export_torch_onnx(model, shape)
    bad = _plant(good, tmp_path / "planted.onnx", "Resize", attr, old, new)
    exported = judge(capture_onnx(bad))
    pairs = pair_sites(src, exported)
    diff = [p for p in pairs if p.get("differs")]
    assert len(diff) == 1 and diff[0]["source_where"] == "up1"
    assert diff[0]["differs"] == {attr: [old, new], **differs}
    audit = Audit("unet", "torch", list(shape), "float32", [], src, exported, pairs)
    assert audit.exit_code() == 1
    assert f"{attr} {old} -> {new}" in markdown(audit)


def test_audit_onnx_file(audits: dict[str, tuple[Audit, float]]) -> None:
    path = export_torch_onnx(espcn(), (1, 1, 12, 12))
    a = audit_onnx(path)
    assert (a.source, a.input_shape, a.dtype, len(a.sites)) == ("onnx", [1, 1, 12, 12], "float32", 1)
    s = a.sites[0]
    assert s.raw.binding == "onnxruntime.DepthToSpace" and s.raw.args == {"mode": "CRD", "blocksize": 3}
    assert s.meaning == {"mode": "CRD", "upscale_factor": 3} and s.outcome == "pass"
    assert a.exit_code() == 0


# ----------------------------------------------------------------------------------- hand-built graphs


def _save(tmp_path: Path, nodes: list[Any], inputs: list[Any], inits: list[Any] = (), functions: list[Any] = (),
          opset: int = 20) -> Path:
    g = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(inits))
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("local", 1)] if functions else [])
    p = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=opsets, functions=list(functions)), p)
    return p


X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])


def test_resize_sizes_from_a_constant_node(tmp_path: Path) -> None:
    sizes = helper.make_node("Constant", [], ["s"], value=numpy_helper.from_array(np.array([1, 2, 7, 9], np.int64)))
    resize = helper.make_node("Resize", ["x", "", "", "s"], ["y"], name="up", mode="linear",
                              coordinate_transformation_mode="pytorch_half_pixel")
    [raw] = capture_onnx(_save(tmp_path, [sizes, resize], [X]))
    assert (raw.where, raw.binding, raw.op, raw.dtype, raw.note) == ("up", "onnxruntime.Resize", "resize", "float32",
                                                                      "ONNX node")
    assert raw.args == {"mode": "linear", "coordinate_transformation_mode": "pytorch_half_pixel", "sizes": [1, 2, 7, 9]}
    assert raw.shapes == {"x": (1, 2, 3, 4)}
    [site] = judge([raw])
    assert site.meaning is not None and site.meaning["sizes"] == [1, 2, 7, 9] and site.outcome == "pass"


def test_computed_sizes_are_listed_not_dropped(tmp_path: Path) -> None:
    s_in = helper.make_tensor_value_info("s", TensorProto.INT64, [4])
    resize = helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="nearest")
    [raw] = capture_onnx(_save(tmp_path, [resize], [X, s_in]))
    assert raw.where == "Resize_0" and raw.args["sizes"] == "<not constant: s>"
    assert "not a constant" in raw.note
    [site] = judge([raw])
    assert site.meaning is None and site.outcome == "unsupported"


def test_max_unpool_x_is_the_pooling_input(tmp_path: Path) -> None:
    xin = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 8])
    nodes = [helper.make_node("MaxPool", ["x"], ["p", "i"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("MaxUnpool", ["p", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    [raw] = capture_onnx(_save(tmp_path, nodes, [xin]))
    assert raw.op == "max_unpool" and raw.shapes == {"x": (1, 2, 6, 8)}
    [site] = judge([raw])
    assert site.meaning is not None and site.meaning["kernel_shape"] == [2, 2]


def test_local_functions_and_subgraph_order(tmp_path: Path) -> None:
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "sc")
    fn = helper.make_function("local", "Up", ["a", "sc"], ["b"],
                              [helper.make_node("Resize", ["a", "", "sc"], ["b"], name="inner", mode="nearest")],
                              [helper.make_opsetid("", 20)])
    nodes = [helper.make_node("DepthToSpace", ["x"], ["d"], name="d2s", blocksize=1),
             helper.make_node("Up", ["d", "sc"], ["y"], name="call", domain="local")]
    raws = capture_onnx(_save(tmp_path, nodes, [X], [scales], [fn]))
    assert [r.binding for r in raws] == ["onnxruntime.DepthToSpace", "onnxruntime.Resize"]
    assert raws[1].args["scales"] == [1.0, 1.0, 2.0, 2.0] and raws[1].shapes == {"x": (1, 2, 3, 4)}


def test_subgraph_nodes_stand_where_their_if_stands(tmp_path: Path) -> None:
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "sc")

    def branch(name: str, mode: str) -> Any:
        return helper.make_graph([helper.make_node("Resize", ["x", "", "sc"], [name], mode=mode)], name, [],
                                 [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)])

    cond = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    nodes = [helper.make_node("If", ["c"], ["t"], name="branch", then_branch=branch("a", "nearest"),
                              else_branch=branch("b", "linear")),
             helper.make_node("DepthToSpace", ["t"], ["y"], name="last", blocksize=1)]
    raws = capture_onnx(_save(tmp_path, nodes, [X, cond], [scales]))
    assert [r.where for r in raws] == ["branch/else_branch/Resize_0", "branch/then_branch/Resize_0", "last"]
    assert raws[0].shapes == {"x": (1, 2, 3, 4)}


def test_missing_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no such file"):
        capture_onnx(tmp_path / "absent.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not a protobuf\xff" * 8)
    with pytest.raises(AuditError, match="not an ONNX model") as e:
        audit_onnx(junk)
    assert "\n" not in str(e.value)


class Mixed(nn.Module):
    """nearest-exact (exported as generic nodes, no Resize) before a bicubic resize (a Resize node)."""

    def forward(self, x: Any) -> Any:
        y = F.interpolate(x, scale_factor=2, mode="nearest-exact")
        return F.interpolate(y, size=(13, 15), mode="bicubic", align_corners=True)


def mixed() -> Any:
    return _seeded(Mixed)


def test_a_call_without_a_node_does_not_shift_the_pairs() -> None:
    """Pairing matches the module the exporter recorded; by order alone the nearest-exact site would be
    paired with the bicubic node and report a difference the export does not have."""
    a = audit_torch(f"{HERE}:mixed", (1, 2, 4, 5), export="onnx")
    assert [s.raw.args.get("mode") for s in a.sites] == ["nearest-exact", "bicubic"]
    assert a.exported is not None and [s.raw.op for s in a.exported] == ["resize"]
    assert a.pairs is not None and not any(p.get("differs") for p in a.pairs)
    assert a.pairs[1]["same"] and a.pairs[0].get("exported") in (None, 0)


class HelperFPN(nn.Module):
    """The upsample-and-add helper of common FPN code: the capture's innermost line is the helper's, the
    exporter records forward's; pairing matches any of the call's frames."""

    def __init__(self) -> None:
        super().__init__()
        self.lat = nn.Conv2d(2, 2, 1)

    def _upsample_add(self, x: Any, y: Any) -> Any:
        return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=False) + y

    def forward(self, x: Any) -> Any:
        return self._upsample_add(F.avg_pool2d(x, 2), self.lat(x))


class Loop(nn.Module):
    """Two calls on one line (a loop): nearest-exact has no Resize node; bilinear must pair with its own."""

    def forward(self, x: Any) -> Any:
        return [F.interpolate(x, scale_factor=2, mode=m) for m in ("nearest-exact", "bilinear")][1]


def helper_fpn() -> Any:
    return _seeded(HelperFPN)


def loop() -> Any:
    return _seeded(Loop)


def test_pairing_through_a_helper_and_in_a_loop() -> None:
    a = audit_torch(f"{HERE}:helper_fpn", (1, 2, 8, 8), export="onnx")
    assert a.pairs is not None and [p.get("same") for p in a.pairs] == [True]
    a = audit_torch(f"{HERE}:loop", (1, 2, 4, 5), export="onnx")
    assert a.pairs is not None and not any(p.get("differs") for p in a.pairs) and a.exit_code() == 0
    assert [p.get("same") for p in a.pairs] == [None, True]


def test_input_shape_fixes_a_symbolic_batch(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    sizes = numpy_helper.from_array(np.array([2, 2, 6, 8], dtype=np.int64), "sizes")
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="linear")
    m = helper.make_model(helper.make_graph([node], "g", [x], [y], [sizes]), opset_imports=[helper.make_opsetid("", 19)])
    path = tmp_path / "dyn.onnx"
    onnx.save(m, str(path))
    with pytest.raises(AuditError, match="symbolic dimensions"):
        audit_onnx(path)
    a = audit_onnx(path, input_shape=(2, 2, 3, 4))
    assert [s.outcome for s in a.sites] == ["pass"] and a.sites[0].raw.shapes["x"] == (2, 2, 3, 4)
    with pytest.raises(AuditError, match="does not fit the graph input"):
        audit_onnx(path, input_shape=(2, 3, 3, 4))
