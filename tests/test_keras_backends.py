"""Keras 3 on its JAX and PyTorch backends (paths keras_jax, keras_torch): routing to a worker of its own
(its environment set before any import, TensorFlow never imported there), the reasons a path refuses a
call, and real checks on each backend judged against the reference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path as FsPath

import numpy as np
import pytest

pytest.importorskip("keras")
pytest.importorskip("tensorflow")

from upconform.adapters import framework, get, paths_of  # noqa: E402
from upconform.harness import expectations as exp  # noqa: E402
from upconform.harness.discrepancy import run_discrepancy  # noqa: E402
from upconform.harness.runner import _run_lanes, checks_for, lane_cost, run_cases  # noqa: E402
from upconform.harness.spec import SpecError, load_text  # noqa: E402
from upconform.harness.workers import InProcess, Isolated, path_refuses  # noqa: E402

ROOT = FsPath(__file__).resolve().parents[1]

SPEC = """
defaults:
  dtypes: [float32]
  paths: [eager, keras_jax, keras_torch]
cases:
  - id: bicubic_x2
    op: resize
    params: {mode: cubic, cubic_coeff_a: -0.5, exclude_outside: true, coordinate_transformation_mode: half_pixel,
             sizes: [1, 2, 8, 10]}
    shapes: {x: [1, 2, 4, 5]}
    bindings: [keras.ops.image.resize, tf.image.resize]
  - id: convt_s2_same
    op: conv_transpose
    params: {strides: 2, pads: [0, 0, 1, 1]}
    shapes: {x: [1, 3, 4, 5], w: [3, 2, 3, 3], b: [2]}
    input: normal
    bindings: [keras.ops.conv_transpose]
  - id: d2s
    op: pixel_shuffle
    params: {upscale_factor: 2, mode: DCR}
    shapes: {x: [1, 8, 2, 3]}
    input: arange
    bindings: [keras.ops.depth_to_space]
"""


def _cases(text: str = SPEC):
    return load_text(text, "t.yaml")[0]


# ----------------------------------------------------------------------------------- declarations, routing


def test_the_paths_are_declared_on_tensorflow() -> None:
    fw = framework("tensorflow")
    assert fw.path_names() == ("eager", "compiled", "litert", "keras_jax", "keras_torch")
    jax_p, torch_p = fw.path("keras_jax"), fw.path("keras_torch")
    assert dict(jax_p.worker_env) == {"KERAS_BACKEND": "jax"} and jax_p.configures == ("jax",)
    assert dict(torch_p.worker_env) == {"KERAS_BACKEND": "torch"} and torch_p.configures == ("torch",)
    assert jax_p.module == "jax" and torch_p.module == "torch"
    assert "keras_torch" in paths_of("keras.layers.Conv2DTranspose")
    # the other paths keep the framework's own worker
    assert not fw.path("compiled").worker_env and not fw.path("litert").worker_env


def test_routing_gives_keras_calls_a_worker_of_their_own() -> None:
    ex = Isolated()
    assert ex.worker_of("keras.ops.image.resize", "keras_jax") == "tensorflow[keras_jax]"
    assert ex.worker_of("keras.layers.UpSampling2D", "keras_torch") == "tensorflow[keras_torch]"
    assert ex.worker_of("keras.ops.image.resize", "eager") == "tensorflow"
    assert ex.worker_of("keras.ops.image.resize", "litert") == "tensorflow"
    assert ex.worker_of("tf.image.resize", "keras_jax") == "tensorflow"  # refused without a worker
    assert ex.worker_of("torch.repeat_interleave", "keras_jax") == "torch"  # a path torch has not
    # a non-Keras call on a Keras backend path is answered without starting any worker
    case = _cases()[0]
    out = ex.call("tf.image.resize", "check", {"case": {}, "binding": "tf.image.resize", "path": "keras_jax"})
    assert out == {"status": "unsupported",
                   "reason": "not a Keras call: only keras.* bindings run on another Keras backend"}
    assert ex.workers == {}
    assert case.id == "resize/bicubic_x2[float32]"
    ex.close()


def test_lanes_are_per_worker_and_costed() -> None:
    cases = _cases()
    plan = [(c, checks_for(c, ["keras.ops.image.resize", "tf.image.resize"])) for c in cases[:1]]
    assert [c[:2] for c in plan[0][1]] == [("keras.ops.image.resize", "eager"), ("keras.ops.image.resize", "keras_jax"),
                          ("keras.ops.image.resize", "keras_torch"), ("tf.image.resize", "eager"),
                          ("tf.image.resize", "keras_jax"), ("tf.image.resize", "keras_torch")]
    seen: dict[str, list] = {}

    class Recorder(InProcess):
        isolated = True

        def worker_of(self, binding: str, path: str = "eager") -> str:
            return Isolated.worker_of(self, binding, path)  # type: ignore[arg-type]

        def call(self, binding, kind, payload, timeout=None):
            seen.setdefault(self.worker_of(binding, payload["path"]), []).append((binding, payload["path"]))
            return {"status": "unsupported", "reason": "recorded"}

    _run_lanes(plan, 3, on_result=None, executor=Recorder(), timing_budget_s=0.0, max_repeats=1)
    # tf.image.resize on the Keras-backend paths never reaches a worker: the parent refuses it (not a Keras call)
    assert seen == {"tensorflow": [("keras.ops.image.resize", "eager"), ("tf.image.resize", "eager")],
                    "tensorflow[keras_jax]": [("keras.ops.image.resize", "keras_jax")],
                    "tensorflow[keras_torch]": [("keras.ops.image.resize", "keras_torch")]}
    assert lane_cost("tensorflow[keras_jax]", [(cases[0], [("keras.ops.image.resize", "keras_jax")])]) == 0.5


# ----------------------------------------------------------------------------------- reasons


def test_non_keras_bindings_are_refused_before_translation() -> None:
    assert path_refuses(get("tf.nn.conv2d_transpose"), "keras_torch") == (
        "not a Keras call: only keras.* bindings run on another Keras backend")
    assert path_refuses(get("keras.ops.repeat"), "keras_torch") is None
    assert path_refuses(get("tf.repeat"), "eager") is None
    [r] = run_cases(_cases()[:1], ["tf.image.resize"], paths=["keras_jax"])
    assert (str(r.outcome), r.path, r.reason) == (
        "unsupported", "keras_jax", "not a Keras call: only keras.* bindings run on another Keras backend")


def test_in_process_cannot_switch_backends() -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("this process runs Keras on another backend")
    [r] = run_cases(_cases()[:1], ["keras.ops.image.resize"], paths=["keras_jax"])
    assert str(r.outcome) == "unsupported"
    assert r.reason.startswith("Keras runs on tensorflow in this process (KERAS_BACKEND is read once, at import): "
                               "the keras_jax path needs a worker of its own with KERAS_BACKEND=jax")


def test_spec_and_discrepancy_paths_are_validated() -> None:
    with pytest.raises(SpecError) as e:
        load_text("op: repeat\ncases:\n  - {id: a, params: {repeats: 2}, shapes: {x: [1, 1, 3]}, paths: [keras_tf]}\n",
                  "s.yaml")
    assert "unknown path 'keras_tf'" in str(e.value) and "keras_jax" in str(e.value)
    bad = """op: repeat
discrepancies:
  - id: d
    shape: [1, 1, 3]
    calls:
      - binding: tf.repeat
        args: {repeats: 2, axis: 1}
        path: keras_jax
      - binding: keras.ops.repeat
        args: {repeats: 2, axis: 1}
        path: onnx
"""
    with pytest.raises(SpecError) as e:
        load_text(bad, "d.yaml")
    text = str(e.value)
    assert "d.yaml:8" in text and "tf.repeat on keras_jax: not a Keras call" in text
    assert "d.yaml:11" in text and "unknown path 'onnx' for keras.ops.repeat" in text


# ----------------------------------------------------------------------------------- real runs


def test_a_jax_backend_process_never_imports_tensorflow() -> None:
    pytest.importorskip("jax")
    code = r"""
import json, sys
from upconform.harness.spec import load_text
from upconform.harness.workers import case_to_wire, do_check
from upconform.canonical import case_tensors
case = load_text("op: pixel_shuffle\ncases:\n  - {id: d2s, params: {upscale_factor: 2, mode: DCR}, "
                 "shapes: {x: [1, 8, 2, 3]}, input: arange, dtypes: [float32]}\n")[0][0]
out = do_check({"case": case_to_wire(case), "binding": "keras.ops.depth_to_space", "path": "keras_jax",
                "tensors": case_tensors(case), "max_repeats": 1})
print(json.dumps({"status": out["status"], "sum": float(out["actual"].sum()), "shape": list(out["actual"].shape),
                  "backend": __import__("keras").backend.backend(), "tf": "tensorflow" in sys.modules}))
"""
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    got = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, got.stderr[-2000:]
    out = json.loads(got.stdout.strip().splitlines()[-1])
    # depth_to_space of arange(48) keeps its values: sum 0 + ... + 47
    assert out == {"status": "ok", "sum": 1128.0, "shape": [1, 2, 4, 6], "backend": "jax", "tf": False}


@pytest.mark.slow
def test_real_checks_on_each_backend() -> None:
    pytest.importorskip("jax")
    pytest.importorskip("torch")
    ex = Isolated()
    try:
        names = ["keras.ops.image.resize", "keras.ops.conv_transpose", "keras.ops.depth_to_space"]
        got = {(r.case_id.split("/")[1].split("[")[0], r.binding, r.path): r
               for r in run_cases(_cases(), names, executor=ex, jobs=3)}
        assert set(ex.workers) == {"tensorflow", "tensorflow[keras_jax]", "tensorflow[keras_torch]"}
    finally:
        ex.close()
    for key, r in got.items():
        want = "fail" if key == ("bicubic_x2", "keras.ops.image.resize", "keras_torch") else "pass"
        assert str(r.outcome) == want, (key, r.reason)
        assert r.framework == "tensorflow" and r.vs_eager is None and r.audit is None
    # the PyTorch backend's bicubic is torch's a=-0.75 kernel: far off on a case the other two get right
    torch_cubic = got[("bicubic_x2", "keras.ops.image.resize", "keras_torch")]
    assert torch_cubic.metrics["max_abs_err"] > 0.05
    assert got[("bicubic_x2", "keras.ops.image.resize", "keras_jax")].metrics["max_abs_err"] < 1e-5
    assert got[("convt_s2_same", "keras.ops.conv_transpose", "keras_jax")].timing["keras_backend"] == "jax"


@pytest.mark.slow
def test_discrepancy_report_runs_each_call_on_its_backend() -> None:
    pytest.importorskip("torch")
    from upconform.harness.spec import load_files

    _, ds = load_files([ROOT / "specs" / "discrepancies.yaml"])
    [d] = [d for d in ds if d.id == "resize/keras_resize_bicubic_backends"]
    ex = Isolated()
    try:
        rep = run_discrepancy(d, ex, 120, exp.load(ROOT / "specs" / "expectations.yaml"))
    finally:
        ex.close()
    assert [c.get("path", "eager") for c in rep["calls"]] == ["eager", "keras_jax", "keras_torch", "keras_torch"]
    assert [c["outcome"] for c in rep["calls"]] == ["pass", "pass", "xfail", "pass"]
    pair = next(p for p in rep["pairs"] if (p["a"], p["b"]) == (0, 2))
    assert not pair["agree"] and pair["max_abs_diff"] > 0.05 and pair["differing_params"] == {}
    assert np.isclose(next(p for p in rep["pairs"] if (p["a"], p["b"]) == (0, 1))["max_abs_diff"], 0, atol=1e-5)


def test_in_process_discrepancy_calls_on_another_backend_are_unsupported() -> None:
    """--no-isolation: a discrepancy call on keras_jax/keras_torch is unsupported with the reason, never run on
    this process's TensorFlow backend and labelled with the other backend."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("this process runs Keras on another backend")
    from upconform.harness.spec import load_files

    _, ds = load_files([ROOT / "specs" / "discrepancies.yaml"])
    [d] = [d for d in ds if d.id == "resize/keras_resize_bicubic_backends"]
    rep = run_discrepancy(d, None, 120, exp.load(ROOT / "specs" / "expectations.yaml"))
    by_path = {c.get("path", "eager"): c for c in rep["calls"]}
    assert by_path["eager"]["outcome"] == "pass"
    for p in ("keras_jax", "keras_torch"):
        assert by_path[p]["outcome"] == "unsupported", by_path[p]
        assert by_path[p]["unsupported_reason"].startswith("Keras runs on tensorflow in this process")
