"""``upconform audit`` of PyTorch models (issue 13): every site found, meant, checked and ported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from upconform.adapters.example_models import SITES  # noqa: E402
from upconform.harness.audit import AuditError, markdown, pair_sites, run_audit  # noqa: E402


def audit_torch(spec, shape, **kw):
    return run_audit(spec, shape, kind="torch", **kw)



ROOT = Path(__file__).resolve().parents[1]
M = "upconform.adapters.example_models"
SHAPES = {"unet_bilinear": (1, 3, 64, 64), "unet_transpose": (1, 3, 64, 64), "fpn": (1, 3, 128, 128),
          "espcn": (1, 1, 17, 19), "segnet": (1, 3, 36, 44), "dcgan_generator": (1, 16, 1, 1),
          "deeplabv3_head": (1, 3, 65, 67)}


@pytest.fixture(scope="module")
def audits():
    return {n: audit_torch(f"{M}:{n}", s) for n, s in SHAPES.items()}


def test_every_site_of_every_architecture_is_found_and_conforms(audits):
    for name, a in audits.items():
        assert len(a.sites) == SITES[name], (name, [s.raw.written() for s in a.sites])
        assert [s.outcome for s in a.sites] == ["pass"] * SITES[name], (name, [s.reason for s in a.sites])
        assert all(s.max_abs_err is not None for s in a.sites) and a.exit_code() == 0


def test_canonical_meanings_are_the_architectures(audits):
    unet = audits["unet_bilinear"].sites
    assert [s.raw.where for s in unet] == ["up1.up", "up2.up", "up3.up", "up4.up"]
    assert all(s.meaning["coordinate_transformation_mode"] == "align_corners" and s.meaning["mode"] == "linear"
               for s in unet)
    assert [s.meaning["sizes"][2:] for s in unet] == [[8, 8], [16, 16], [32, 32], [64, 64]]
    assert "inside nn.Upsample(scale_factor=2.0, mode='bilinear')" in unet[0].raw.note
    tr = audits["unet_transpose"].sites
    assert [s.raw.shapes["w"] for s in tr] == [(128, 64, 2, 2), (64, 32, 2, 2), (32, 16, 2, 2), (16, 8, 2, 2)]
    assert all(s.meaning["strides"] == [2, 2] and s.meaning["pads"] == [0, 0, 0, 0] for s in tr)
    fpn = audits["fpn"].sites
    assert all(s.meaning["mode"] == "nearest" and s.meaning["coordinate_transformation_mode"] == "asymmetric"
               and s.meaning["nearest_mode"] == "floor" for s in fpn)
    assert [s.raw.args for s in fpn] == [{"scale_factor": 2}] * 3  # mode="nearest" is the default: left out
    [ps] = audits["espcn"].sites
    assert ps.meaning == {"mode": "CRD", "upscale_factor": 3} and ps.raw.shapes["x"] == (1, 9, 17, 19)
    seg = audits["segnet"].sites
    assert [s.meaning["output_shape"] for s in seg] == [[9, 11], [18, 22], [36, 44]]
    assert all("output_size" in s.raw.args for s in seg)
    gan = audits["dcgan_generator"].sites
    assert [s.meaning["output_spatial"] for s in gan] == [[4, 4], [8, 8], [16, 16], [32, 32], [64, 64]]
    assert gan[0].meaning["pads"] == [0, 0, 0, 0] and gan[1].meaning["pads"] == [1, 1, 1, 1]
    assert gan[4].raw.args["output_padding"] == [1, 1] and gan[4].meaning["pads"] == [1, 1, 0, 0]
    head = audits["deeplabv3_head"].sites
    assert [s.meaning["sizes"] for s in head] == [[1, 16, 9, 9], [1, 5, 65, 67]]
    assert all(s.meaning["coordinate_transformation_mode"] == "half_pixel" for s in head)


def test_markdown_summary_fits_a_pull_request_comment(audits):
    md = markdown(audits["segnet"])
    assert md.startswith("### upconform audit: `upconform.adapters.example_models:segnet`")
    assert md.count("\n| ") == 1 + SITES["segnet"] and "3 upsampling site(s); 0 need attention" in md


def test_a_site_that_does_not_conform_makes_the_audit_fail(tmp_path):
    f = tmp_path / "ties.py"
    f.write_text("import torch.nn as nn, torch.nn.functional as F\n"
                 "class M(nn.Module):\n"
                 "    def forward(self, x):\n"
                 "        return F.interpolate(x, size=(3, 74), mode='nearest')\n"
                 "def build():\n    return M()\n")
    a = audit_torch(f"{f}:build", (1, 2, 3, 6))
    [s] = a.sites
    assert s.outcome == "fail" and "mismatched elements" in s.reason and a.exit_code() == 1


def test_no_exact_equivalent_in_a_target_is_reported_with_the_closest_call(tmp_path):
    pytest.importorskip("tensorflow")
    f = tmp_path / "cubic.py"
    f.write_text("import torch.nn as nn, torch.nn.functional as F\n"
                 "class M(nn.Module):\n"
                 "    def forward(self, x):\n"
                 "        return F.interpolate(x, scale_factor=2, mode='bicubic')\n"
                 "def build():\n    return M()\n")
    a = audit_torch(f"{f}:build", (1, 2, 5, 6), targets=["tensorflow"])
    [s] = a.sites
    p = s.ports["tensorflow"]
    assert s.outcome == "pass" and not p["exact"] and p["closest"] and p["max_abs_err"] > 1e-3
    assert a.exit_code() == 1 and "none exists; closest" in markdown(a)


def test_pairing_names_the_parameter_that_differs(audits):
    import copy

    src = audits["unet_bilinear"].sites
    exported = copy.deepcopy(src)
    exported[2].meaning["coordinate_transformation_mode"] = "half_pixel"
    pairs = pair_sites(src, exported)
    assert [p["same"] for p in pairs] == [True, True, False, True]
    assert pairs[2]["differs"] == {"coordinate_transformation_mode": ["align_corners", "half_pixel"]}


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "upconform", "audit", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


def test_cli_writes_json_markdown_and_html_and_exits_by_verdict(tmp_path):
    p = _cli(f"{M}:espcn", "--input-shape", "1,1,17,19", "--out", str(tmp_path))
    assert p.returncode == 0, p.stderr
    data = json.loads((tmp_path / "audit.json").read_text())
    assert [s["written"] for s in data["sites"]] == ["torch.nn.functional.pixel_shuffle(x, upscale_factor=3)"]
    assert "<table" in (tmp_path / "audit.html").read_text() and (tmp_path / "audit.md").read_text().startswith("###")


@pytest.mark.parametrize("args, message", [
    (("nosuch.module:build", "--input-shape", "1,3,8,8"), "cannot import nosuch.module"),
    ((f"{M}:nosuch", "--input-shape", "1,3,8,8"), "has no callable 'nosuch'"),
    ((f"{M}:espcn", "--input-shape", "1,3,17,19"), "the model rejects an input of shape [1, 3, 17, 19]"),
    ((f"{M}:espcn",), "needs --input-shape"),
])
def test_cli_usage_errors_are_one_line(args, message):
    p = _cli(*args)
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_audit_error_for_a_factory_that_is_not_module_colon_callable():
    with pytest.raises(AuditError, match="expected module:factory"):
        audit_torch("no_colon", (1, 3, 8, 8))


def test_onnx_target_is_measured_through_its_runtime():
    pytest.importorskip("onnxruntime")
    a = audit_torch(f"{M}:deeplabv3_head", SHAPES["deeplabv3_head"], targets=["onnxruntime"])
    for s in a.sites:
        p = s.ports["onnxruntime"]
        assert p["exact"] and p["call"].startswith("onnxruntime.Resize(x, mode='linear', "
                                                   "coordinate_transformation_mode='half_pixel'")
    assert a.exit_code() == 0


REVIEW_MODELS = '''\
import torch, torch.nn as nn, torch.nn.functional as F


class IntRepeat(nn.Module):
    def forward(self, x):
        return (x > 0).long().repeat_interleave(2, dim=2)


class TensorRepeats(nn.Module):
    def forward(self, x):
        return x.repeat_interleave(torch.tensor([1, 2, 1, 2]), dim=3)


def int_repeat():
    return IntRepeat()


def tensor_repeats():
    return TensorRepeats()


def raises():
    raise RuntimeError("no weights here")


def not_a_module():
    return 42
'''


@pytest.fixture(scope="module")
def review_models(tmp_path_factory):
    f = tmp_path_factory.mktemp("m") / "review_models.py"
    f.write_text(REVIEW_MODELS)
    return f


def test_integer_sites_and_sites_without_meaning_are_said_not_crashed(review_models):
    a = audit_torch(f"{review_models}:int_repeat", (1, 2, 3, 4))
    [s] = a.sites
    assert s.outcome == "unsupported" and "int64 inputs are not checked" in s.reason and a.exit_code() == 0
    a = audit_torch(f"{review_models}:tensor_repeats", (1, 2, 3, 4), targets=["onnx"])
    [s] = a.sites
    assert s.meaning is None and s.ports["onnxruntime"] == {"exact": False,
                                                            "none": "not ported: the call has no canonical meaning"}
    assert a.exit_code() == 1  # asked for a port that does not exist


@pytest.mark.parametrize("factory, args, message", [
    ("raises", (), "the factory raised RuntimeError: no weights here"),
    ("not_a_module", (), "the factory returned a int, not a torch.nn.Module"),
    ("int_repeat", ("--dtype", "bogus"), "is not a floating torch dtype"),
])
def test_more_usage_errors_are_one_line(review_models, factory, args, message):
    p = _cli(f"{review_models}:{factory}", "--input-shape", "1,2,3,4", *args)
    assert p.returncode == 2 and message in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_exported_nodes_without_a_source_site_are_listed(audits):
    import copy

    src = audits["espcn"].sites
    exported = copy.deepcopy(src) + copy.deepcopy(src)
    exported[1].raw.index = 1
    pairs = pair_sites(src, exported)
    assert [p.get("same") for p in pairs] == [True, None]
    assert pairs[1] == {"source": None, "exported": 1, "exported_where": src[0].raw.where,
                        "extra": "an exported pixel_shuffle node that no source site became"}


def test_a_failed_export_keeps_the_eager_audit(monkeypatch):
    from upconform.adapters import audit_onnx
    from upconform.adapters.sites import AuditError as SiteError

    def fail(*a, **k):
        raise SiteError("export failed: ConversionError: unsupported operator")

    monkeypatch.setattr(audit_onnx, "export_torch_onnx", fail)
    a = audit_torch(f"{M}:espcn", SHAPES["espcn"], export="onnx")
    assert [s.outcome for s in a.sites] == ["pass"] and a.pairs is None
    assert a.export_error.endswith("unsupported operator") and a.exit_code() == 1
    assert "Export failed: export failed: ConversionError" in markdown(a)
