"""Spec files: YAML -> validated, expanded, frozen :class:`Case` objects (and discrepancy reports).

Every error names the file, the line and the field, e.g.
``specs/resize.yaml:42: cases[3].params.mode: 'bilnear' is not one of [...]``.

Example:
    >>> cases, _ = load_text("op: repeat\\ncases:\\n  - {id: x2, params: {repeats: 2}, shapes: {x: [1, 1, 3]}}\\n")
    >>> cases[0].id
    'repeat/x2[float32]'
"""

from __future__ import annotations

import itertools
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from ..canonical import CHECK_KINDS, DTYPES, GENERATORS, OPS, Case, Tolerance, freeze, op_info, plain

__all__ = ["Case", "Discrepancy", "SpecError", "default_spec_paths", "freeze", "load_files", "load_text", "plain",
           "schema"]

DEFAULT_DTYPES = ("float32",)
_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "seq", "map", "merge"))
Path_ = tuple[Any, ...]


class SpecError(ValueError):
    """One or more problems in spec files; ``str()`` lists them one per line as file:line: field: message."""

    def __init__(self, problems: list[tuple[str, int, str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"{f}:{line}: {fld + ': ' if fld else ''}{msg}" for f, line, fld, msg in problems))


@dataclass(frozen=True)
class Discrepancy:
    """Native calls run on one canonical input and compared pairwise."""

    id: str
    op: str
    shape: tuple[int, ...]
    calls: tuple[Mapping[str, Any], ...]
    dtype: str = "float32"
    generator: str = "uniform"
    generator_args: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    weight_shape: tuple[int, ...] | None = None
    bias: bool = False
    description: str = ""
    source: str = "<memory>"
    checks: tuple[str, ...] = ("forward",)  # with "backward": each call's gradients too, compared pairwise


def field_name(path: Path_) -> str:
    """``('cases', 3, 'params', 'mode')`` -> ``cases[3].params.mode``."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# ------------------------------------------------------------------------------------- YAML


def parse_yaml(text: str, filename: str) -> tuple[Any, dict[Path_, int]]:
    """Safe-load YAML and record the line of every node (1-based) by its path.

    Rejects duplicate keys and every non-standard tag (the safe loader constructs no objects).
    """
    lines: dict[Path_, int] = {}
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, max(e.position, 0)) + 1
        raise SpecError([(filename, line, "", f"invalid YAML: character {e.character!r} is not allowed")]) from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise SpecError([(filename, 1, "", "the file is empty")])

        def build(n: yaml.Node, path: Path_) -> Any:
            lines[path] = n.start_mark.line + 1
            if str(n.tag) not in _PLAIN_TAGS:
                raise SpecError([(filename, n.start_mark.line + 1, field_name(path),
                                  f"invalid YAML: tag {n.tag!r} is not allowed (plain data only)")])
            if isinstance(n, yaml.MappingNode):
                loader.flatten_mapping(n)
                out: dict[Any, Any] = {}
                for kn, vn in n.value:
                    key = loader.construct_object(kn, deep=True)
                    if not isinstance(key, (str, int, float, bool)) or isinstance(key, bool):
                        raise SpecError([(filename, kn.start_mark.line + 1, field_name(path),
                                          f"mapping key {key!r} must be a string")])
                    if key in out:
                        raise SpecError([(filename, kn.start_mark.line + 1, field_name((*path, key)),
                                          "duplicate key")])
                    out[key] = build(vn, (*path, key))
                return out
            if isinstance(n, yaml.SequenceNode):
                return [build(v, (*path, i)) for i, v in enumerate(n.value)]
            return loader.construct_object(n, deep=True)

        return build(node, ()), lines
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        raise SpecError([(filename, line, "", f"invalid YAML: {e.problem or e.context}")]) from None
    except yaml.reader.ReaderError as e:
        line = text.count("\n", 0, max(e.position, 0)) + 1
        raise SpecError([(filename, line, "", f"invalid YAML: character {e.character!r} is not allowed")]) from None
    except yaml.YAMLError as e:
        raise SpecError([(filename, 1, "", f"invalid YAML: {e}")]) from None
    except RecursionError:
        raise SpecError([(filename, 1, "", "invalid YAML: nested too deeply")]) from None
    finally:
        loader.dispose()


def _line(lines: dict[Path_, int], path: Path_) -> int:
    p = tuple(path)
    while p and p not in lines:
        p = p[:-1]
    return lines.get(p, 1)


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema that every spec file satisfies (shipped as harness/spec.schema.json); its enums
    of operators, dtypes and input generators are filled from the canonical registries."""
    s = json.loads(resources.files("upconform.harness").joinpath("spec.schema.json").read_text())
    s["$defs"]["op"]["enum"] = list(OPS)
    s["$defs"]["dtype"]["enum"] = list(DTYPES)
    s["$defs"]["generator"]["enum"] = list(GENERATORS)
    return s


def _schema_problems(data: Any, lines: dict[Path_, int], filename: str) -> list[tuple[str, int, str, str]]:
    validator = jsonschema.Draft202012Validator(schema())
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)))):
        path = tuple(err.absolute_path)
        msg = err.message
        if err.validator == "unevaluatedProperties" or err.validator == "additionalProperties":
            extra = re.findall(r"'([^']+)' (?:was|were) unexpected", msg)
            if extra:
                names = extra[0].split("', '")
                path = (*path, names[0])
                msg = f"unknown field(s) {names}"
        elif err.validator == "oneOf" and path and path[-1] == "input":
            msg = f"{err.instance!r} is not a generator name {list(GENERATORS)} nor a {{generator: ...}} mapping"
        problems.append((filename, _line(lines, path), field_name(path), msg))
    return problems


# ------------------------------------------------------------------------------------- expansion


def _label(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return "x".join(_label(x) for x in v)
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "none"
    return str(v).replace("-", "m")


def _set_path(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if len(parts) == 1:
        parts = [parts[0]] if parts[0] in ("input", "seed") else ["params", parts[0]]
    target = d
    for p in parts[:-1]:
        target = target.setdefault(p, {})
    target[parts[-1]] = value


def _merge(defaults: Mapping[str, Any], case: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in defaults.items()}
    for k, v in case.items():
        if k in ("params", "shapes", "tolerance", "backward_tolerance") and isinstance(v, Mapping):
            out[k] = {**out.get(k, {}), **v}
        else:
            out[k] = v
    return out


def known_binding_names() -> set[str]:
    from ..adapters import registry

    return set(registry().keys())


def known_path_names() -> tuple[str, ...]:
    from ..adapters import path_names

    return path_names()


def _check_case(op: str, body: Mapping[str, Any], where: Path_) -> list[tuple[Path_, str]]:
    """Semantic checks beyond the schema: parameter names, enums, tensors. Returns (path, message)."""
    info = op_info(op)
    out: list[tuple[Path_, str]] = []
    params = body.get("params", {})
    for name, value in params.items():
        if name not in info.params:
            out.append(((*where, "params", name), f"unknown parameter for {op}; expected one of {list(info.params)}"))
        elif name in info.enums and value not in info.enums[name]:
            out.append(((*where, "params", name), f"{value!r} is not one of {list(info.enums[name])}"))
    shapes = body.get("shapes", {})
    allowed = info.tensors + info.optional_tensors
    for t in info.tensors:
        if t not in shapes:
            out.append(((*where, "shapes"), f"missing tensor {t!r} (required: {list(info.tensors)})"))
    for t, shp in shapes.items():
        if t not in allowed:
            out.append(((*where, "shapes", t), f"unknown tensor for {op}; expected {list(allowed)}"))
        elif t in ("x", "w") and isinstance(shp, list) and not 3 <= len(shp) <= 5:
            out.append(((*where, "shapes", t), f"expected (N, C, *spatial) with 1 to 3 spatial axes, got {shp}"))
    if not info.uint8_ok and "uint8" in body.get("dtypes", []):
        out.append(((*where, "dtypes"), f"uint8 is not a dtype of {op}"))
    return out


def load_text(text: str, filename: str = "<string>") -> tuple[list[Case], list[Discrepancy]]:
    """Parse, validate and expand one spec file's text.

    Example:
        >>> load_text("op: resize\\ncases: []\\n")
        ([], [])
    """
    data, lines = parse_yaml(text, filename)
    problems = _schema_problems(data, lines, filename)
    if problems:
        raise SpecError(problems)
    if not isinstance(data, dict):
        raise SpecError([(filename, 1, "", "expected a mapping with op, defaults, cases, discrepancies")])
    file_op = data.get("op")
    if file_op is None and data.get("cases") and any("op" not in c for c in data["cases"]):
        raise SpecError([(filename, _line(lines, ("cases",)), "op",
                          "cases need an op: give op: at the top or in each case")])
    defaults = data.get("defaults", {}) or {}
    known = known_binding_names()
    cases: list[Case] = []
    seen: dict[str, int] = {}

    def problem(path: Path_, msg: str) -> None:
        problems.append((filename, _line(lines, path), field_name(path), msg))

    for path, binds in [(("defaults", "bindings"), defaults.get("bindings", []))] + [
        (("cases", i, "bindings"), c.get("bindings", [])) for i, c in enumerate(data.get("cases", []))
    ]:
        for j, b in enumerate(binds):
            if b not in known:
                problem((*path, j), f"unknown binding {b!r}; known: {sorted(known)}")
    known_paths = known_path_names()
    for path, names in [(("defaults", "paths"), defaults.get("paths", []))] + [
        (("cases", i, "paths"), c.get("paths", [])) for i, c in enumerate(data.get("cases", []))
    ]:
        for j, p in enumerate(names):
            if p not in known_paths:
                problem((*path, j), f"unknown path {p!r}; known: {list(known_paths)}")

    for i, raw in enumerate(data.get("cases", [])):
        where: Path_ = ("cases", i)
        op = raw.get("op", file_op)
        if file_op is not None and op_info(op).family != op_info(file_op).family:
            problem((*where, "op"), f"{op!r} does not belong in a {file_op!r} spec file")
            continue
        merged = _merge(defaults, {k: v for k, v in raw.items() if k not in ("matrix", "op")})
        matrix = raw.get("matrix", {})
        keys = list(matrix)
        combos = list(itertools.product(*[matrix[k] for k in keys])) if keys else [()]
        for k in keys:
            head = k.split(".")[0]
            if "." in k and head not in ("params", "shapes", "input"):
                problem((*where, "matrix", k), "matrix keys are parameter names or params./shapes./input. paths")
        for combo in combos:
            body = json.loads(json.dumps(merged))
            for k, v in zip(keys, combo):
                _set_path(body, k, v)
            name = raw["id"]
            if keys:
                subs = {k.split(".")[-1]: _label(v) for k, v in zip(keys, combo)}
                if "{" in name:
                    try:
                        name = name.format(**subs)
                    except (KeyError, IndexError, ValueError) as e:
                        problem((*where, "id"), f"id template {name!r} names {e} which is not a matrix key")
                        continue
                else:
                    name = name + "".join(f"_{s}" for s in subs.values())
            sem = _check_case(op, body, where)
            for p, msg in sem:
                # a problem inside a matrix value points at the matrix line
                mp = next((("cases", i, "matrix", k) for k in keys if p[-1] == k.split(".")[-1]), p)
                problem(mp if mp in lines else p, msg)
            if sem:
                continue
            shapes = {k: tuple(v) for k, v in body.get("shapes", {}).items()}
            try:  # parameter values the reference would reject (wrong types, sizes, lengths)
                normal = freeze(op_info(op).normal_form(body.get("params", {}), shapes))
            except Exception as e:  # noqa: BLE001 - reported with file, line and field
                problem((*where, "params"), f"{name}: {type(e).__name__}: {e}")
                continue
            tol_raw = body.get("tolerance", {})
            bw_raw = body.get("backward_tolerance", {})
            inp = body.get("input", "normal")
            gen, gargs = (inp, {}) if isinstance(inp, str) else (inp["generator"], {k: v for k, v in inp.items()
                                                                                       if k != "generator"})
            seed = body.get("seed", zlib.crc32(name.encode()) % (2**31))
            for dt in body.get("dtypes", list(DEFAULT_DTYPES)):
                if dt not in DTYPES:
                    continue
                cid = f"{op}/{name}[{dt}]"
                if cid in seen:
                    problem(where, f"duplicate case id {cid!r} (first defined on line {seen[cid]})")
                    continue
                seen[cid] = _line(lines, where)
                t = tol_raw.get(dt)
                cases.append(Case(
                    id=cid, op=op, name=name, dtype=dt, params=freeze(body.get("params", {})),
                    shapes=MappingProxyType(shapes), normal=normal,
                    generator=gen, generator_args=MappingProxyType(gargs), seed=int(seed),
                    bindings=tuple(body["bindings"]) if body.get("bindings") else None,
                    paths=tuple(body["paths"]) if body.get("paths") else None,
                    checks=tuple(c for c in CHECK_KINDS if c in body.get("checks", ["forward"])),
                    tolerance=Tolerance(float(t.get("rtol", 0.0)), float(t.get("atol", 0.0)), t["reason"]) if t else None,
                    backward_tolerance=Tolerance(float(bw_raw[dt].get("rtol", 0.0)), float(bw_raw[dt].get("atol", 0.0)),
                                                 bw_raw[dt]["reason"]) if bw_raw.get(dt) else None,
                    source=f"{filename}:{_line(lines, where)}",
                ))
    discrepancies = []
    for i, raw in enumerate(data.get("discrepancies", [])):
        where = ("discrepancies", i)
        for j, call in enumerate(raw["calls"]):
            if call["binding"] not in known:
                problem((*where, "calls", j, "binding"), f"unknown binding {call['binding']!r}; known: {sorted(known)}")
                continue
            from ..adapters import get

            try:  # an argument the API does not take, or a value outside its enum, is an error, as in the program
                get(call["binding"]).validate_args(call.get("args", {}) or {})
            except (TypeError, ValueError) as e:
                bad = getattr(e, "key", "")
                problem((*where, "calls", j, "args", bad) if bad else (*where, "calls", j, "args"), str(e))
            if call.get("path") is not None:  # run on one of its framework's paths (default eager)
                from ..adapters import paths_of
                from .workers import path_refuses

                have = paths_of(call["binding"])
                if call["path"] not in have:
                    problem((*where, "calls", j, "path"),
                            f"unknown path {call['path']!r} for {call['binding']}; known: {list(have)}")
                elif path_refuses(get(call["binding"]), call["path"]):
                    problem((*where, "calls", j, "path"),
                            f"{call['binding']} on {call['path']}: {path_refuses(get(call['binding']), call['path'])}")
        dop = raw.get("op", file_op)
        if dop is None:
            problem((*where, "op"), "a discrepancy needs an op (here or at the top of the file)")
            continue
        inp = raw.get("input", "uniform")
        gen, gargs = (inp, {}) if isinstance(inp, str) else (inp["generator"], {k: v for k, v in inp.items()
                                                                                   if k != "generator"})
        discrepancies.append(Discrepancy(
            id=f"{dop}/{raw['id']}", op=dop, shape=tuple(raw["shape"]),
            calls=tuple(freeze(c) for c in raw["calls"]), dtype=raw.get("dtype", "float32"), generator=gen,
            generator_args=MappingProxyType(gargs), seed=int(raw.get("seed", 0)),
            weight_shape=tuple(raw["weight_shape"]) if raw.get("weight_shape") else None,
            bias=bool(raw.get("bias", False)), description=raw.get("description", ""),
            source=f"{filename}:{_line(lines, where)}",
            checks=tuple(c for c in CHECK_KINDS if c in raw.get("checks", ["forward"])),
        ))
    if problems:
        raise SpecError(list(dict.fromkeys(problems)))
    return cases, discrepancies


def load_files(paths: Iterable[str | Path]) -> tuple[list[Case], list[Discrepancy]]:
    """Load several spec files; every file's problems are collected before raising.

    Example:
        >>> load_files([])
        ([], [])
    """
    cases: list[Case] = []
    discs: list[Discrepancy] = []
    problems: list[tuple[str, int, str, str]] = []
    seen: dict[str, str] = {}
    for p in paths:
        name = str(p)
        try:
            text = Path(p).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            problems.append((name, 1, "", f"cannot read the file: {e}"))
            continue
        try:
            c, d = load_text(text, name)
        except SpecError as e:
            problems.extend(e.problems)
            continue
        for case in c:
            if case.id in seen:
                f, line = case.source.rsplit(":", 1)
                problems.append((f, int(line), "id", f"duplicate case id {case.id!r} (also in {seen[case.id]})"))
            seen[case.id] = case.source
        cases.extend(c)
        discs.extend(d)
    if problems:
        raise SpecError(problems)
    return cases, discs


def default_spec_paths(root: str | Path | None = None) -> list[Path]:
    """The default suite: every ``*.yaml`` under ``specs/`` except the expectations file."""
    base = Path(root) if root else Path("specs")
    return sorted(p for p in base.glob("*.yaml") if p.name != "expectations.yaml")
