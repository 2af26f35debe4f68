"""Spec loading: expansion, stable ids, and errors that name file, line and field."""

from __future__ import annotations

import pytest

from upconform.harness.spec import SpecError, load_files, load_text

GOOD = """\
op: resize
defaults:
  dtypes: [float32, float16]
  shapes: {x: [1, 2, 4, 4]}
cases:
  - id: "{mode}_x2"
    params: {scales: [1, 1, 2, 2]}
    matrix:
      mode: [nearest, linear]
  - id: plain
    params: {sizes: [1, 2, 3, 3], mode: cubic}
    dtypes: [float64]
    tolerance:
      float64: {atol: 1.0e-6, reason: "test override"}
"""


def test_expansion_and_ids():
    cases, _ = load_text(GOOD, "specs/x.yaml")
    assert [c.id for c in cases] == [
        "resize/nearest_x2[float32]", "resize/nearest_x2[float16]",
        "resize/linear_x2[float32]", "resize/linear_x2[float16]", "resize/plain[float64]",
    ]
    assert cases[0].params["mode"] == "nearest" and cases[2].params["mode"] == "linear"
    assert cases[0].source == "specs/x.yaml:6"
    assert cases[-1].tolerance.reason == "test override" and cases[-1].tolerance.atol == 1e-6
    # stable: the same text gives the same ids and seeds
    again, _ = load_text(GOOD, "specs/x.yaml")
    assert [(c.id, c.seed) for c in again] == [(c.id, c.seed) for c in cases]


def test_cases_are_frozen():
    cases, _ = load_text(GOOD)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        cases[0].dtype = "float64"
    with pytest.raises(TypeError):
        cases[0].params["mode"] = "cubic"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("op: resize\ncases:\n  - id: a\n    params: {mode: bilnear}\n    shapes: {x: [1, 1, 2]}\n",
         "<t>:4: cases[0].params.mode: 'bilnear' is not one of ['nearest', 'linear', 'cubic', 'area', 'adaptive_avg']"),
        ("op: resize\ncases:\n  - id: a\n    shapes: {x: [1, 1, 2]}\n    colour: red\n",
         "<t>:5: cases[0].colour: unknown field(s) ['colour']"),
        ("op: resize\ncases:\n  - id: a\n    shapes: {x: [1, -1, 2]}\n",
         "<t>:4: cases[0].shapes.x[1]: -1 is less than the minimum of 0"),
        ("op: repeat\ncases:\n  - id: a\n    params: {repeats: 2}\n    shapes: {x: [1, 1, 2]}\n"
         "  - id: a\n    params: {repeats: 2}\n    shapes: {x: [1, 1, 2]}\n",
         "<t>:6: cases[1]: duplicate case id 'repeat/a[float32]' (first defined on line 3)"),
        ("op: conv_transpose\ncases:\n  - id: a\n    shapes: {x: [1, 1, 3], w: [1, 1, 2]}\n    params: {strides: [2, 2]}\n",
         "<t>:5: cases[0].params: a: ValueError: strides: expected 1 values (one per spatial axis), got [2, 2]"),
        ("op: resize\ncases:\n  - id: a\n    shapes: {x: [1, 1, 2]}\n    bindings: [torch.nn.functional.interpolat]\n",
         "<t>:5: cases[0].bindings[0]: unknown binding 'torch.nn.functional.interpolat'"),
        ("op: resize\ncases:\n  - id: a\n    params: {mode: linear}\n", "<t>:3: cases[0].shapes: missing tensor 'x'"),
        ("op: resize\ncases:\n  - id: a\n    shapes: {x: [1, 1, 2]}\n    tolerance: {float32: {atol: 1}}\n",
         "<t>:5: cases[0].tolerance.float32: 'reason' is a required property"),
        ("op: resize\ncases:\n  - id: a\n    params: {mod: linear}\n    shapes: {x: [1, 1, 2]}\n",
         "<t>:4: cases[0].params.mod: unknown parameter for resize"),
        ("op: resize\ncases:\n  - id: a\n    matrix:\n      mode: [linear, cubc]\n    shapes: {x: [1, 1, 2]}\n",
         "<t>:5: cases[0].matrix.mode: 'cubc' is not one of"),
        ("op: resize\ncases:\n  - id: a\n    shapes: {x: [1, 1, 2]\n", "<t>:5: invalid YAML"),
        ("op: resize\nop: repeat\n", "<t>:2: op: duplicate key"),
        ("op: !!python/object/apply:os.system ['true']\n", "<t>:1: op: invalid YAML: tag"),
        ("op: upsample\n", "<t>:1: op: 'upsample' is not one of"),
        ("cases:\n  - id: a\n    shapes: {x: [1, 1, 2]}\n", "<t>:2: op: cases need an op"),
        ("discrepancies:\n  - id: d\n    shape: [1, 1, 2]\n    calls: [{binding: tf.repeat}, {binding: tf.repeat}]\n",
         "<t>:2: discrepancies[0].op: a discrepancy needs an op"),
        ("", "<t>:1: the file is empty"),
        ("op: resize\ncases:\n  - id: a\n    shapes: {x: [1, 1, 2]}\n    dtypes: [float8]\n",
         "<t>:5: cases[0].dtypes[0]: 'float8' is not one of"),
    ],
)
def test_errors_name_file_line_field(text, expected):
    with pytest.raises(SpecError) as e:
        load_text(text, "<t>")
    assert expected in str(e.value), str(e.value)


def test_every_problem_of_every_file_is_reported(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("op: resize\ncases:\n  - id: x\n    params: {mode: bad}\n    shapes: {x: [1, 1, 2]}\n")
    b = tmp_path / "b.yaml"
    b.write_text("op: repeat\ncases:\n  - id: y\n    shapes: {x: [1, 1, 2]}\n    params: {repeats: 2, extra: 1}\n")
    with pytest.raises(SpecError) as e:
        load_files([a, b])
    assert len(e.value.problems) == 2
    assert f"{a}:4: cases[0].params.mode" in str(e.value) and f"{b}:5: cases[0].params.extra" in str(e.value)


def test_default_suite_loads_and_is_large_enough():
    from upconform.adapters import registry
    from upconform.harness.runner import bindings_for
    from upconform.harness.spec import default_spec_paths

    cases, discs = load_files(default_spec_paths())
    checks = sum(len(bindings_for(c, list(registry()))) for c in cases)
    assert checks >= 1000
    assert {c.op for c in cases} == {"resize", "repeat", "max_unpool", "conv_transpose", "pixel_shuffle",
                                     "pixel_unshuffle"}
    assert {d.op for d in discs} >= {"resize", "repeat", "conv_transpose", "pixel_shuffle", "max_unpool"}
    assert len({c.id for c in cases}) == len(cases)
