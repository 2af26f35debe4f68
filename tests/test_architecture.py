"""The shape of the code: layers import only downward, no import circles, framework names only in
adapters/, and a framework registered through entry-point metadata alone reaches every part.

Layers: reference <- canonical <- adapters <- harness <- reports <- session, CLI, pytest plugin.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

from upconform.harness.results import load_results

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "upconform"
LAYERS = {"reference": 0, "canonical": 1, "adapters": 2, "harness": 3, "reports": 4}
TOP = 5  # session.py, cli.py, pytest_plugin.py, results.py, __main__.py


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:
        return TOP if parts[0] == "upconform" else -1
    return LAYERS.get(parts[1], TOP)


def _imports(path: Path, *, module_level_only: bool = False) -> set[str]:
    """upconform modules imported by a file (relative imports resolved); lazy ones too unless asked."""
    tree = ast.parse(path.read_text())
    me = _module(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    out = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("upconform"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("upconform"):
                continue
            out.add(mod)
            for a in node.names:  # `from . import reference` imports a module
                if (PKG.parent / (mod.replace(".", "/") + f"/{a.name}.py")).exists() or \
                        (PKG.parent / (mod.replace(".", "/") + f"/{a.name}")).is_dir():
                    out.add(f"{mod}.{a.name}")
    return out


FILES = sorted(PKG.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_layers_import_only_downward(path):
    me = _module(path)
    for mod in _imports(path):
        if mod == "upconform":
            continue  # the package's __version__
        assert _layer(mod) <= _layer(me), f"{me} (layer {_layer(me)}) imports {mod} (layer {_layer(mod)})"


def test_reference_imports_numpy_and_the_standard_library_only():
    allowed = set(sys.stdlib_module_names) | {"numpy", "upconform"}
    for path in sorted((PKG / "reference").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for n in names:
                assert n.split(".")[0] in allowed, f"{path.name} imports {n}"


def test_no_import_circles():
    """No circle among module-level imports (lazy imports inside functions are how lower layers reach
    plug-ins; they are checked for direction above)."""
    graph = {_module(p): {m for m in _imports(p, module_level_only=True) if m != _module(p)} for p in FILES}
    colour: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        colour[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if colour.get(nxt) == 1:
                raise AssertionError(f"import circle: {' -> '.join(stack[stack.index(nxt):] + [nxt])}")
            if nxt not in colour:
                visit(nxt, [*stack, nxt])
        colour[node] = 2

    for n in sorted(graph):
        if n not in colour:
            visit(n, [n])


FRAMEWORK_WORDS = re.compile(r"\b(torch|pytorch|tensorflow|keras|tf|jax|onnx|onnxruntime|openvino|cv2|PIL)\b")


def _code_tokens(path: Path):
    src = path.read_text()
    doc = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
            d = node.body[0]
            if isinstance(d, ast.Expr) and isinstance(d.value, ast.Constant) and isinstance(d.value.value, str):
                doc.update(range(d.lineno, d.end_lineno + 1))
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type in (tokenize.NAME, tokenize.STRING) and tok.start[0] not in doc:
            yield tok


def test_no_framework_named_outside_adapters():
    found = []
    for path in FILES:
        if "adapters" in path.parts:
            continue
        for tok in _code_tokens(path):
            if FRAMEWORK_WORDS.search(tok.string):
                found.append(f"{path.relative_to(ROOT)}:{tok.start[0]}: {tok.string[:60]}")
    assert not found, "\n".join(found)


def test_no_operator_branching_in_the_harness():
    """The harness, reports and top layer iterate over the operator registry; no `op == "resize"`."""
    ops = re.compile(r"""["'](resize|repeat|max_unpool|conv_transpose|pixel_shuffle|pixel_unshuffle)["']""")
    found = []
    for path in FILES:
        if _layer(_module(path)) < LAYERS["harness"]:
            continue
        for tok in _code_tokens(path):
            if tok.type == tokenize.STRING and ops.fullmatch(tok.string):
                found.append(f"{path.relative_to(ROOT)}:{tok.start[0]}: {tok.string}")
    assert not found, "\n".join(found)


# ------------------------------------------------------------------------------------------------
# a throw-away framework, registered only through entry-point metadata


THROWAWAY = '''
import numpy as np

from upconform.adapters import Binding, Framework, NativeCall

FRAMEWORK = Framework("throwaway", aliases=("tw",), distributions=("throwaway-fw",), module="numpy",
                      extra="throwaway")


class Repeat(Binding):
    name = "throwaway.repeat"
    framework = "throwaway"
    ops = ("repeat",)

    def to_native(self, case):
        return NativeCall(self.name, {"repeats": case.normal_form()["repeats"]})

    def from_native(self, args, shapes, op=None):
        return {"repeats": list(args["repeats"])}

    def prepare(self, call, tensors, device="cpu"):
        return tensors["x"], call.args["repeats"]

    def execute(self, prepared):
        y, r = prepared
        for i, v in enumerate(r):
            y = np.repeat(y, v, axis=2 + i)
        return y

    def to_canonical(self, out, prepared):
        return out


BINDINGS = [Repeat()]
'''


@pytest.fixture(scope="module")
def throwaway(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    (site / "throwaway_fw.py").write_text(THROWAWAY)
    dist = site / "throwaway_fw-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: throwaway-fw\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[upconform.adapters]\nthrowaway = throwaway_fw\n")
    spec = site / "tw.yaml"
    spec.write_text("op: repeat\ncases:\n  - {id: x2, params: {repeats: [2, 3]}, shapes: {x: [1, 2, 3, 4]}}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return site, spec, env


def _run(args, env, cwd):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def test_entry_point_framework_reaches_cli_provenance_history_and_plugin(throwaway, tmp_path):
    site, spec, env = throwaway
    db = tmp_path / "h.sqlite"
    p = _run(["-m", "upconform", "run", str(spec), "--framework", "tw", "--out", str(tmp_path / "out"),
              "--history", str(db), "--expectations", str(tmp_path / "none.yaml")], env, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    data = load_results(tmp_path / "out" / "results.json")
    [r] = data["results"]
    assert (r["binding"], r["framework"], r["outcome"]) == ("throwaway.repeat", "throwaway", "pass")
    assert data["provenance"]["frameworks"]["throwaway"] == {"throwaway-fw": "0.1"}
    with sqlite3.connect(db) as con:
        [(versions,)] = con.execute("SELECT versions FROM runs").fetchall()
    assert json.loads(versions)["throwaway"] == {"throwaway-fw": "0.1"}
    # --framework knows it by name and alias, and lists it among the choices
    p = _run(["-m", "upconform", "list", str(spec), "--framework", "throwaway"], env, tmp_path)
    assert p.returncode == 0 and "1 checks" in p.stdout, p.stdout + p.stderr
    p = _run(["-m", "upconform", "list", str(spec), "--framework", "nosuch"], env, tmp_path)
    assert p.returncode == 2 and "'throwaway'" in p.stderr and "'tw'" in p.stderr
    p = _run(["-m", "upconform", "list", "--frameworks"], env, tmp_path)
    assert "throwaway" in p.stdout and "throwaway-fw 0.1" in p.stdout
    # the pytest plugin
    p = _run(["-m", "pytest", "-p", "no:cacheprovider", "--upconform", str(spec), "--upconform-framework", "tw",
              "-q"], env, tmp_path)
    assert p.returncode == 0 and "1 passed" in p.stdout, p.stdout + p.stderr


def test_missing_framework_is_unsupported_not_a_crash(tmp_path):
    """A framework whose module is not installed: its checks are unsupported, naming the extra."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "ghost_fw.py").write_text(THROWAWAY.replace('module="numpy"', 'module="no_such_module_xyz"')
                                      .replace('"throwaway', '"ghost').replace("throwaway-fw", "ghost-fw"))
    spec = tmp_path / "g.yaml"
    spec.write_text("op: repeat\ncases:\n  - {id: x2, params: {repeats: 2}, shapes: {x: [1, 1, 3]}}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    p = _run(["-m", "upconform", "run", str(spec), "--adapter", "ghost_fw", "--framework", "ghost", "--out",
              str(tmp_path / "out"), "--no-history", "--expectations", str(tmp_path / "none.yaml")], env, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    [r] = load_results(tmp_path / "out" / "results.json")["results"]
    assert r["outcome"] == "unsupported"
    assert r["reason"] == "ghost is not installed (pip install 'upconform[ghost]')"


def test_missing_ml_dtypes_makes_bfloat16_unsupported(monkeypatch):
    from upconform.adapters import get
    from upconform.canonical import MissingDtype, np_dtype
    from upconform.harness.runner import run_cases
    from upconform.harness.spec import load_text

    get("torch.repeat_interleave")  # bindings import before the package disappears
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # `import ml_dtypes` now raises ImportError
    with pytest.raises(MissingDtype, match="ml_dtypes"):
        np_dtype("bfloat16")
    cases, _ = load_text("op: repeat\ncases:\n  - {id: r, params: {repeats: 2}, shapes: {x: [1, 1, 3]}, "
                         "dtypes: [bfloat16, float32]}\n")
    by_dtype = {r.dtype: r for r in run_cases(cases, ["torch.repeat_interleave"])}
    assert by_dtype["bfloat16"].outcome == "unsupported"
    assert "ml_dtypes" in by_dtype["bfloat16"].reason and "upconform[bfloat16]" in by_dtype["bfloat16"].reason
    assert by_dtype["float32"].outcome == "pass"


def test_unwritable_out_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    spec = tmp_path / "s.yaml"
    spec.write_text("op: repeat\ncases:\n  - {id: x2, params: {repeats: 2}, shapes: {x: [1, 1, 3]}}\n")
    p = _run(["-m", "upconform", "run", str(spec), "--out", str(blocker / "out"), "--no-history"], os.environ,
             tmp_path)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "--out: cannot write to" in p.stderr
    assert "Traceback" not in p.stderr


def test_new_operator_family_needs_no_harness_edit():
    """What docs/architecture.md promises: the harness reads everything about an operator from its record."""
    from upconform.canonical import OPS

    for name, info in OPS.items():
        assert info.name == name and info.family
        assert (ROOT / "specs" / f"{info.family}.yaml").exists(), info.family
        assert set(info.enums) <= set(info.params), name
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for step in ("reference/", "canonical/", "specs/", "registry.py"):
        assert step in doc, step


def test_the_readme_table_names_every_built_in_binding():
    """README.md's binding table lists each registered built-in binding by its full name, so a binding added
    without its row (what it covers) fails here."""
    from upconform.adapters import _BUILTIN

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("| binding | framework | ops | what it covers |"):]
    table = table[:table.index("\n\n")]
    missing = [n for n in _BUILTIN if f"`{n}`" not in table]
    assert not missing, f"README.md's binding table lacks {missing}"
