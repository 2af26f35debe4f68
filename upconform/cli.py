"""The ``upconform`` command line: run, list, validate, explain.

Exit codes: 0 everything conforms (pass, xfail, unsupported), 1 any fail/error/xpass/crash/timeout of a
check or of a discrepancy call (a call that raises or whose meaning does not conform), 2 usage or spec errors.

Example:
    upconform run specs/resize.yaml --framework torch -k bilinear --out reports/latest
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def _usage_error(msg: str) -> int:
    print(f"upconform: {msg}", file=sys.stderr)
    return 2


def _summary_table(results: list[dict[str, Any]]) -> str:
    from .harness.outcome import OUTCOMES
    from .harness.results import summarize

    s = summarize(results)
    cols = [o for o in OUTCOMES if any(o in ops.get(op, {}) for ops in s.values() for op in ops)] or ["pass"]
    w = max([12, *map(len, s)])
    head = f"{'framework':{w}s} {'op':16s}" + "".join(f"{c:>12s}" for c in cols)
    lines = [head, "-" * len(head)]
    for fw in sorted(s):
        for op in sorted(s[fw]):
            lines.append(f"{fw:{w}s} {op:16s}" + "".join(f"{s[fw][op].get(c, 0):12d}" for c in cols))
    tot: dict[str, int] = {}
    for r in results:
        tot[r["outcome"]] = tot.get(r["outcome"], 0) + 1
    lines.append("-" * len(head))
    lines.append(f"{'total':{w + 17}s}" + "".join(f"{tot.get(c, 0):12d}" for c in cols))
    return "\n".join(lines)


def _options(args: argparse.Namespace, **overrides: Any) -> Any:
    """The session options of a parsed command line (run, list)."""
    from .session import Options

    fields = dict(specs=args.specs, bindings=args.binding, frameworks=args.framework, ops=args.op, k=args.k,
                  paths=getattr(args, "path", None), checks=getattr(args, "checks", None))
    for name, attr in (("expectations", "expectations"), ("shard", "shard"), ("isolation", "isolation"),
                       ("threads", "threads"), ("jobs", "jobs"), ("device", "device"), ("timeout", "timeout"),
                       ("timing_budget", "timing_budget"), ("max_case_bytes", "max_case_bytes"),
                       ("verbose", "verbose"), ("executor", "executor"), ("address", "address")):
        if hasattr(args, attr):
            fields[name] = getattr(args, attr)
    if getattr(args, "ray_resource", None):
        fields["ray_resources"] = _ray_resources(args.ray_resource)
    if hasattr(args, "adapter"):
        fields["adapters"] = list(args.adapter or [])
    if hasattr(args, "no_discrepancies"):
        fields["discrepancies"] = not args.no_discrepancies
    if hasattr(args, "history"):
        fields["history"] = None if args.no_history else args.history
    fields.update(overrides)
    return Options(**fields)


def _ray_resources(specs: Sequence[str]) -> dict[str, float]:
    """``--ray-resource NAME[=AMOUNT]`` values -> {NAME: AMOUNT} (default 1); a bad one exits 2.

    Example:
        >>> _ray_resources(["upconform-env-ab12", "fast-disk=0.5"])
        {'upconform-env-ab12': 1.0, 'fast-disk': 0.5}
    """
    out = {}
    for spec in specs:
        name, sep, amount = spec.partition("=")
        try:
            value = float(amount) if sep else 1.0
        except ValueError:
            value = -1.0
        if not name or value <= 0:
            raise SystemExit(_usage_error(f"--ray-resource: {spec!r} is not NAME or NAME=AMOUNT (AMOUNT > 0)"))
        out[name] = value
    return out


def _session(options: Any) -> Any:
    """A Session, or exit 2 after printing the located spec errors or the usage error."""
    from .harness.spec import SpecError
    from .session import Session, UsageError

    try:
        return Session(options)
    except SpecError as e:
        print(e, file=sys.stderr)
        raise SystemExit(2) from None
    except UsageError as e:
        raise SystemExit(_usage_error(str(e))) from None


def cmd_run(args: argparse.Namespace) -> int:
    from .session import Interrupted, UsageError

    out = args.resume or args.out
    session = _session(_options(args, out=out, resume=bool(args.resume), argv=sys.argv[1:]))
    try:
        data = session.run()
    except UsageError as e:
        return _usage_error(str(e))
    except Interrupted as e:
        print(f"\nupconform: interrupted; {e.completed} completed checks are in {e.jsonl}. "
              f"Finish with the same command plus --resume {e.out_dir}", file=sys.stderr)
        return 130
    return _finish_run(data, Path(out), args)


def _finish_run(data: dict[str, Any], out_dir: Path, args: argparse.Namespace) -> int:
    from .harness.discrepancy import bad_outcome, call_text, summary_lines
    from .harness.outcome import is_bad
    from .harness.results import check_label

    results, discs = data["results"], data.get("discrepancies", []) or []
    if results or not discs:  # a run of discrepancy reports alone has no table to show
        print(_summary_table(results))
    if discs:
        print(f"discrepancy reports ({len(discs)}):")
        for d in discs:
            print("\n".join(summary_lines(d)))
    bad = [r for r in results if is_bad(r["outcome"])]
    for r in bad[:20]:
        dep = f" [deprecated: {r['deprecated']}]" if r.get("deprecated") else ""
        print(f"{r['outcome'].upper():8s} {r['case_id']} :: {check_label(r)}{dep}: {r['reason']}")
    if len(bad) > 20:
        print(f"... and {len(bad) - 20} more (see {out_dir / 'results.json'})")
    # a discrepancy call that raises or whose claimed meaning does not conform is a bad outcome too
    bad_calls = [(d, i, c, b) for d in discs for i, c in enumerate(d.get("calls", [])) for b in [bad_outcome(c)] if b]
    for d, i, c, (outcome, verdict) in bad_calls[:20]:
        print(f"{outcome.upper():8s} {d['id']} #{i} :: {call_text(c)}: {verdict}")
    if len(bad_calls) > 20:
        print(f"... and {len(bad_calls) - 20} more discrepancy calls (see {out_dir / 'results.json'})")
    n_calls = sum(len(d.get("calls", [])) for d in discs)
    calls = f" ({n_calls} calls, {len(bad_calls)} with a bad outcome)" if discs else ""
    print(f"{len(results)} checks, {len(discs)} discrepancy reports{calls} in "
          f"{data.get('duration_s', 0):.1f} s -> {out_dir / 'results.json'}, index.html, junit.xml")
    status = 1 if bad or bad_calls else 0
    if getattr(args, "baseline", None):
        from .harness.results import load_results

        status = max(status, _compare_and_print(load_results(args.baseline), data, args.max_slowdown))
    return status


def _run_args(args: argparse.Namespace) -> list[str]:
    """The ``upconform run`` flags that ``matrix`` passes on to every environment's run."""
    out = list(args.specs or [])
    for flag, attr in (("--framework", "framework"), ("--binding", "binding"), ("--op", "op"), ("--path", "path"),
                       ("--checks", "checks")):
        for v in getattr(args, attr) or []:
            out += [flag, v]
    if args.k:
        out += ["-k", args.k]
    for flag, attr in (("--jobs", "jobs"), ("--threads", "threads"), ("--timing-budget", "timing_budget"),
                       ("--timeout", "timeout"), ("--expectations", "expectations")):
        if getattr(args, attr) is not None:
            out += [flag, str(getattr(args, attr))]
    if args.no_discrepancies:
        out.append("--no-discrepancies")
    if args.executor != "local":
        out += ["--executor", args.executor] + (["--address", args.address] if args.address else [])
    return out


def cmd_matrix(args: argparse.Namespace) -> int:
    """Run the suite in several framework environments and say what changed. Exit 1 when a verdict got
    worse in a newer version (or an environment's run gave no results), 0 otherwise, 2 on usage errors
    (a bad pin or matrix file, an environment the installer cannot build: its one-line reason)."""
    from .harness.results import load_results, write_json_atomic, write_text_atomic
    from .harness.spec import SpecError
    from .matrix import Environment, MatrixError, env_from_pins, load_matrix_file, prepare, run_in
    from .reports.matrix import build_matrix, to_html, to_markdown, to_text

    out = Path(args.out)
    runs: list[tuple[str, dict[str, Any]]] = []
    meta: dict[str, dict[str, Any]] = {}
    if args.results:  # a report of recorded runs: nothing is installed or run
        for spec in args.results:
            name, sep, path = spec.partition("=")
            if not sep or not name or not path:
                return _usage_error(f"--results: {spec!r} is not NAME=PATH (a results.json or its folder)")
            p = Path(path) / "results.json" if Path(path).is_dir() else Path(path)
            try:
                runs.append((name, load_results(p)))
            except (OSError, ValueError) as e:
                return _usage_error(f"--results: cannot read {p}: {e}")
            meta[name] = {"results": str(p)}
    else:
        extras = None
        try:
            if args.file:
                mf = load_matrix_file(args.file)
                envs, extras = list(mf.environments), mf.extras
            else:
                envs = [env_from_pins(e) for e in args.env or []]
                if not args.no_base:
                    envs.insert(0, Environment("current" if not args.base_python else "baseline",
                                               python=args.base_python or sys.executable))
            if args.extras is not None:  # --extras "": none
                extras = tuple(x.strip() for x in args.extras.split(",") if x.strip())
        except SpecError as e:
            print(e, file=sys.stderr)
            return 2
        except MatrixError as e:
            return _usage_error(f"matrix: {e}")
        if len(envs) < 2:
            return _usage_error("matrix: needs two environments or more (--env PINS, or --file)")
        names = [e.name for e in envs]
        if len(set(names)) != len(names):
            return _usage_error(f"matrix: environment names must differ: {names}")
        from .matrix import setup_extras

        prepared = []
        echo = (lambda msg: print(msg, file=sys.stderr, flush=True))  # noqa: E731
        for env in envs:  # every environment exists before any suite runs: an install error costs no run
            try:
                prepared.append(prepare(env, constraints_file=Path(args.constraints),
                                        extras=setup_extras() if extras is None else extras,
                                        installer=args.installer, cache=Path(args.cache) if args.cache else None,
                                        log_dir=out / "logs", echo=echo))
            except MatrixError as e:
                return _usage_error(f"matrix: {e}")
            p = prepared[-1]
            if p.created:
                echo(f"upconform matrix: {env.name} created in {p.seconds:.0f} s ({p.python})")
        if args.prepare_only:  # for a cluster: each environment's interpreter and the resource its nodes declare
            for p in prepared:
                print(f"{p.env.name}\t{p.python}\t{p.resource}")
            return 0
        history = None if args.no_history else args.history
        failed = []
        for p in prepared:
            run_dir = out / "envs" / p.env.name
            (run_dir / "results.json").unlink(missing_ok=True)
            extra = ["--ray-resource", f"{p.resource}=1"] if args.executor == "ray" and args.address else []
            code, secs = run_in(p, _run_args(args) + extra, run_dir, history=history, echo=echo)
            meta[p.env.name] = {"pins": list(p.env.pins), "python": p.python, "key": p.key, "run_exit_status": code,
                                "run_s": round(secs, 1), "results": str(run_dir / "results.json"),
                                "created_s": round(p.seconds, 1) if p.created else None}
            try:
                runs.append((p.env.name, load_results(run_dir / "results.json")))
                echo(f"upconform matrix: {p.env.name}: exit {code} in {secs:.0f} s -> {run_dir / 'results.json'}")
            except (OSError, ValueError):
                failed.append(p.env.name)
                echo(f"upconform matrix: {p.env.name}: the run gave no results.json (exit {code}); "
                     f"see {run_dir / 'run.log'}")
        if len(runs) < 2:
            print(f"upconform matrix: fewer than two environments gave results (no results from {failed})",
                  file=sys.stderr)
            return 1
    if len(runs) < 2:
        return _usage_error("matrix: needs two runs or more (--results NAME=PATH, twice or more)")
    m = build_matrix(runs, error_move=args.error_move, max_ratio=args.max_ratio, meta=meta)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "matrix.json", m)
    write_text_atomic(out / "matrix.md", to_markdown(m))
    write_text_atomic(out / "index.html", to_html(m))
    print(to_text(m))
    print(f"-> {out / 'matrix.json'}, matrix.md, index.html")
    return 1 if m["exit_status"] or (not args.results and failed) else 0


def cmd_merge(args: argparse.Namespace) -> int:
    """Combine shard outputs (folders with results.json) into one results.json and report."""
    from .harness.results import SCHEMA_VERSION, check_key, check_label, load_results, write_results
    from .session import write_reports

    parts = []
    for d in args.dirs:
        p = Path(d) / "results.json"
        try:
            parts.append(load_results(p))
        except (OSError, ValueError) as e:
            return _usage_error(f"merge: {p}: {e}")
    seen: dict[tuple[str, str, str], str] = {}
    results = []
    for d, part in zip(args.dirs, parts):
        for r in part["results"]:
            k = check_key(r)
            if k in seen:
                return _usage_error(f"merge: {k[0]} :: {check_label(r)} is in both {seen[k]} and {d} "
                                    "(overlapping shards?)")
            seen[k] = d
            results.append(r)
    discs = {x["id"]: x for part in parts for x in part.get("discrepancies", [])}
    data = {"schema_version": SCHEMA_VERSION,
            "provenance": {**(parts[0]["provenance"] if parts else {}),
                           "shards": [p["provenance"] for p in parts]},
            "duration_s": max((p.get("duration_s", 0) for p in parts), default=0),
            "results": results, "discrepancies": list(discs.values())}
    out_dir = Path(args.out)
    try:
        write_results(out_dir / "results.json", data)
    except OSError as e:
        return _usage_error(f"--out: cannot write to {out_dir}: {e.strerror or e}")
    write_reports(data, out_dir, None if args.no_history else Path(args.history))
    return _finish_run(data, out_dir, args)


def _compare_and_print(base: dict[str, Any], new: dict[str, Any], max_slowdown: float) -> int:
    from .reports.regress import compare_runs, format_comparison

    c = compare_runs(base, new, max_slowdown=max_slowdown)
    print(format_comparison(c))
    return 1 if c["regressions"] else 0


def cmd_compare(args: argparse.Namespace) -> int:
    from .harness.results import load_results

    try:
        base = load_results(args.base)
        new = load_results(args.new)
    except (OSError, ValueError) as e:
        return _usage_error(f"compare: {e}")
    return _compare_and_print(base, new, args.max_slowdown)


def cmd_report(args: argparse.Namespace) -> int:
    from .harness.results import load_results
    from .reports import html

    try:
        data = load_results(args.results)
    except (OSError, ValueError) as e:
        return _usage_error(f"report: {e}")
    out = html.write(data, args.output, args.history if Path(args.history).exists() else None)
    print(out)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from .reports import history

    rows = history.runs(args.history)
    if not rows:
        print(f"no runs in {args.history}")
        return 0
    print(history.format_runs(rows[-args.last:]))
    tr = history.trends(args.history)
    print("median check time (ms) per op, last runs:")
    for op, s in sorted(tr["time"].items()):
        marks = history.change_points(s)
        pts = " ".join(f"{t * 1e3:.3g}" + ("*" if i in marks else "") for i, t in s[-args.last:])
        print(f"  {op:16s} {pts}")
    print("(* marks a run where the value moved by more than 25 %)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .harness.results import load

    df = load(args.results)
    if isinstance(df, dict):
        return _usage_error("export needs pandas (pip install 'upconform[analysis]')")
    if args.format == "csv":
        df.to_csv(args.output, index=False)
    else:
        try:
            df.to_parquet(args.output, index=False)
        except ImportError as e:
            return _usage_error(f"export --format parquet needs pyarrow: {e}")
    print(f"{len(df)} rows -> {args.output}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .adapters import get, registry

    if args.bindings:
        for n in registry():
            b = get(n)
            print(f"{n:48s} {b.framework:11s} {', '.join(b.ops)}")
        return 0
    if args.frameworks:
        from .adapters import frameworks

        for name, fw in frameworks().items():
            versions = ", ".join(f"{d} {v}" for d, v in fw.versions().items()) or "-"
            state = fw.missing() or "installed"
            paths = ", ".join(fw.path_names())
            print(f"{name:14s} aliases: {', '.join(fw.aliases) or '-':18s} {versions:40s} paths: {paths:28s} {state}")
        return 0
    session = _session(_options(args, expectations=None, out=None, history=None))
    per_case: dict[str, int] = {}
    for c, *_ in session.checks():
        per_case[c.id] = per_case.get(c.id, 0) + 1
    for c in session.cases:
        print(f"{c.id:60s} {c.source:32s} {per_case.get(c.id, 0)} checks")
    print(f"{len(session.cases)} cases, {sum(per_case.values())} checks, {len(session.discrepancy_specs)} "
          "discrepancy reports")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import numpy as np

    from .canonical import expected_output
    from .harness import expectations as exp
    from .harness.budget import over_budget
    from .harness.spec import SpecError, load_files
    from .session import spec_paths

    try:
        cases, discs = load_files(spec_paths(args.specs))
        exp.load(args.expectations)
        too_big = over_budget(cases, args.max_case_bytes)
        if too_big:
            raise SpecError(too_big)
    except SpecError as e:
        print(e, file=sys.stderr)
        return 2
    problems = []
    for c in cases:
        try:  # the reference is the final judge of a parameter set
            expected_output(c, {k: np.zeros(v) for k, v in c.shapes.items()})
        except Exception as e:  # noqa: BLE001
            problems.append(f"{c.source}: {c.id}: params: {e}")
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 2
    print(f"ok: {len(cases)} cases, {len(discs)} discrepancy reports")
    return 0


def _parse_kv(items: Sequence[str]) -> dict[str, Any]:
    out = {}
    for it in items:
        if "=" not in it:
            raise SystemExit(_usage_error(f"explain: {it!r} is not key=value"))
        k, v = it.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def _shape_arg(text: str | None, what: str) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise SystemExit(_usage_error(f"{what}: {text!r} is not comma-separated integers")) from None


def cmd_explain(args: argparse.Namespace) -> int:
    """What a native call means canonically, and, measured, how it ports to every other framework."""
    from .adapters import Unsupported, framework, frameworks, get, load_adapter
    from .canonical import op_info
    from .harness.port import PortError, explanation, port, resolve_shapes

    for a in args.adapter or []:
        load_adapter(a)
    try:
        b = get(args.binding)
    except KeyError as e:
        return _usage_error(str(e.args[0]))
    native = _parse_kv(args.args)
    op = args.op or b.ops[0]
    try:
        b.validate_args(native)
    except (TypeError, ValueError) as e:
        return _usage_error(f"explain: {e}")
    assumed = []
    shape = _shape_arg(args.shape, "--shape")
    if shape is None:
        shape = (1, 3, 8, 8)
        assumed.append(f"input shape {list(shape)} (the default; give --shape N,C,H,W)")
    weight = _shape_arg(args.weight_shape, "--weight-shape")
    try:
        shapes, notes = resolve_shapes(b, native, op, shape, weight, args.bias)
    except PortError as e:
        return _usage_error(f"explain: {e}")
    assumed += notes
    try:
        meaning = b.from_native(native, shapes, op=op)
    except Exception as e:  # noqa: BLE001
        return _usage_error(f"explain: {args.binding}({native}) on input {list(shape)}: the translation failed: {e}")
    print(f"{args.binding}({', '.join(f'{k}={v!r}' for k, v in native.items())}) on input {list(shape)}")
    print("  assumptions: " + ("; ".join(assumed) if assumed else "none (every shape given)"))
    if isinstance(meaning, Unsupported):
        print(f"  no canonical meaning: {meaning.reason}")
        return 1
    print(f"  canonical {op}:")
    info = op_info(op)
    for k, v in meaning.items():
        reading = "  (a reading of ambiguous operator text: docs/conventions.md)" if k in info.conventions else ""
        print(f"    {k}: {v}{reading}")
    if args.to:
        try:
            args.to = framework(args.to).name
        except KeyError as e:
            return _usage_error(f"explain: --{e.args[0]}")
    targets = [n for n in frameworks() if n != b.framework] if not args.to else [args.to]
    w_arg = f" --weight-shape {','.join(map(str, shapes['w']))}" if "w" in shapes else ""
    for fw in targets:
        try:
            advice = port(args.binding, native, fw, x=shape, weight=shapes.get("w"), bias="b" in shapes, op=op)
        except PortError as e:
            print(f"  port to {fw}: {e}")
            continue
        print(f"  ports to {fw} (measured on this shape; runnable code: upconform port {args.binding} "
              f"{' '.join(args.args)} --shape {','.join(map(str, shape))}{w_arg} --to {fw}):")
        for c in advice.exact:
            dep = "  [DEPRECATED]" if c.snippet.deprecated else ""
            print(f"    exact: {c.snippet.title}{dep}  ({explanation(c)})")
        if not advice.exact and advice.approximate:
            print("    no exact port; closest:")
            for c in advice.approximate[:3]:
                print(f"    max abs error {c.max_abs_err:.2g}: {c.snippet.title}  ({explanation(c)})")
        elif not advice.exact and [c for c in advice.candidates if c.error]:
            raised = [c for c in advice.candidates if c.error]
            print(f"    no port measured: {len(raised)} candidate(s) raised")
            for c in raised[:3]:
                print(f"      {c.snippet.title}: {c.error}")
        elif not advice.exact:
            print("    no port: no call of this framework expresses it or a variant of it")
            for why in advice.skipped[:4]:
                print(f"      {why}")
            if len(advice.skipped) > 4:
                print(f"      ... and {len(advice.skipped) - 4} more (upconform port ... --to {fw})")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """Every upsampling site of a model: exit 0 when all conform and port exactly, 1 when one does not,
    2 on usage errors (one line, no traceback)."""
    from .harness.audit import AuditError, markdown, run_audit, text

    shape = _shape_arg(args.input_shape, "--input-shape") if args.input_shape else None
    targets = [t.strip() for spec in args.to or [] for t in spec.split(",") if t.strip()]
    try:
        a = run_audit(args.model, shape, kind=args.source, targets=targets, dtype=args.dtype, export=args.export)
    except AuditError as e:
        return _usage_error(f"audit: {e}")
    data = a.to_json()
    if args.out:
        from .harness.results import write_json_atomic, write_text_atomic
        from .reports.audit_html import to_html

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "audit.json", data)
        write_text_atomic(out / "audit.md", markdown(a))
        write_text_atomic(out / "audit.html", to_html(data))
    if args.format == "json":
        print(json.dumps(data, indent=1, default=str))
    elif args.format == "markdown":
        print(markdown(a))
    else:
        print(text(a))
        if args.out:
            print(f"-> {Path(args.out) / 'audit.json'}, audit.md, audit.html")
    return a.exit_code()


def cmd_port(args: argparse.Namespace) -> int:
    """Exit 0: an exact port exists; 1: only approximate ones; 2: usage (what is missing is named)."""
    from .adapters import load_adapter
    from .harness.port import PortError, format_advice, port

    for a in args.adapter or []:
        load_adapter(a)
    native = _parse_kv(args.args)
    try:
        advice = port(args.binding, native, args.to, x=_shape_arg(args.shape, "--shape"),
                      weight=_shape_arg(args.weight_shape, "--weight-shape"), bias=args.bias, op=args.op)
    except PortError as e:
        return _usage_error(f"port: {e}")
    print(format_advice(advice, top=args.top, code=not args.no_code))
    return advice.exit_code()


def _paired_text(results: list[dict[str, Any]]) -> str:
    """The paired table of the report as text: per op, each framework's row against the anchor."""
    from .adapters import ANCHOR_FRAMEWORK
    from .harness.stats import paired_table
    from .reports.html import paired_labels

    labels = paired_labels(results)
    lines = []
    table = paired_table(results, anchor_framework=ANCHOR_FRAMEWORK, label=lambda r: labels[(r["op"], r["binding"])])
    for op, t in table.items():
        lines.append(f"{op}: time ratio to {t['anchor']} on the same cases (geometric mean, 95 % interval, cases)")
        for row in t["rows"]:
            g = row["geomean"]
            ci = f"[{g.low:.3g}, {g.high:.3g}]" if g.low is not None else ""
            lines.append(f"  {'*' if row['primary'] else ' '} {row['binding']:44s} {g.ratio:8.3g} {ci:>18s} {g.n:5d}")
    return "\n".join(lines + ["(* the binding of its framework that covers the most cases)"] if lines else [])


def _scaling_text(results: list[dict[str, Any]], bench: dict[str, Any]) -> str:
    """Per op and binding: points, the fitted log-log slope, the time range and the closest approach to
    the bandwidth bound (bound time / time: 100 % is as fast as the copy)."""
    from .harness.bench import bandwidth_time, fit_slope, scaling_points

    bw = bench["bandwidth_Bps"]
    head = f"{'op':15s} {'binding':44s} {'points':>6s} {'slope':>6s} {'time (ms)':>17s} {'of bound':>8s}"
    lines = [f"memory bandwidth: {bw / 1e9:.3g} GB/s (copy of {bench['copy_bytes'] >> 20} MiB, "
             f"{bench['threads']} thread(s), read + write)", head, "-" * len(head)]
    for op, series in scaling_points(results, bench["cases"]).items():
        for b, pts in series.items():
            try:
                slope = f"{fit_slope([p.bytes_moved for p in pts], [p.seconds for p in pts])[0]:.2f}"
            except ValueError:
                slope = ""
            best = max(bandwidth_time(p.bytes_moved, bw) / p.seconds for p in pts)
            t = f"{min(p.seconds for p in pts) * 1e3:.3g} to {max(p.seconds for p in pts) * 1e3:.3g}"
            lines.append(f"{op:15s} {b:44s} {len(pts):6d} {slope:>6s} {t:>17s} {100 * best:7.0f}%")
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the scaling benchmarks (specs/bench/ unless specs are given): the memory bandwidth is measured
    first (a large copy), recorded in the provenance with every case's bytes, then the cases run as in
    ``upconform run`` (numbers checked); results.json and index.html (paired ratios and scaling charts)
    go to ``--out``. Exit codes as ``run``."""
    from .harness.bench import case_sizes, measure_bandwidth
    from .session import Interrupted, UsageError

    out = Path(args.out)
    options = _options(args, specs=args.specs or ["specs/bench"], out=out, history=None, discrepancies=False,
                       argv=sys.argv[1:])
    session = _session(options)
    threads = int(options.threads or 1)
    copy_bytes = args.copy_mib << 20
    t0 = time.perf_counter()
    bw = measure_bandwidth(copy_bytes, 3, threads)
    options.provenance = {"bench": {"bandwidth_Bps": round(bw), "copy_bytes": copy_bytes, "threads": threads,
                                    "bandwidth_s": round(time.perf_counter() - t0, 3),
                                    "cases": {c.id: case_sizes(c) for c in session.cases}}}
    try:
        data = session.run()
    except UsageError as e:
        return _usage_error(str(e))
    except Interrupted as e:
        print(f"\nupconform: interrupted; {e.completed} completed checks are in {e.jsonl}", file=sys.stderr)
        return 130
    status = _finish_run(data, out, args)
    print(_scaling_text(data["results"], data["provenance"]["bench"]))
    paired = _paired_text(data["results"])
    if paired:
        print(paired)
    return status


def cmd_search(args: argparse.Namespace) -> int:
    """Explore native calls binding by binding; exit 1 on a finding the expectations do not cover."""
    from .adapters import load_adapter
    from .harness import expectations as exp
    from .harness.results import write_json_atomic, write_text_atomic
    from .harness.search import findings_spec, run_search
    from .harness.spec import SpecError
    from .harness.workers import InProcess, Isolated, configure_threads
    from .reports import findings as findings_page
    from .session import UsageError, select_bindings

    try:
        for a in args.adapter or []:
            load_adapter(a)
        names = select_bindings(args.binding, args.framework)
        expectations = exp.load(args.expectations)
    except UsageError as e:
        return _usage_error(str(e))
    except SpecError as e:
        print(e, file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return _usage_error(f"--out: cannot write to {out}: {e.strerror or e}")
    from .adapters import get

    if args.isolation:
        executor: Any = Isolated(list(args.adapter or []), args.threads, log_dir=out / "logs")
    else:
        executor = InProcess()
        configure_threads(args.threads, {get(n).framework for n in names})
    tty = sys.stderr.isatty()
    state = {"last": 0.0}

    def progress(binding: str, n: int, nf: int, secs: float) -> None:
        now = time.perf_counter()
        if now - state["last"] > (0.5 if tty else 10.0):
            state["last"] = now
            end = "\r" if tty else "\n"
            print(f"upconform search: {binding}: {n} examples, {n / max(secs, 1e-9):.0f}/s, {nf} failing{' ' * 10}",
                  end=end, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    try:
        report = run_search(names, executor=executor, max_examples=args.max_examples, budget_s=args.budget_s,
                            seed=args.seed, special_share=1.0 if args.special_values else 0.15, timeout=args.timeout,
                            expectations=expectations, progress=progress)
    except KeyboardInterrupt:
        print("\nupconform search: interrupted", file=sys.stderr)
        return 130
    finally:
        executor.close()
    if tty:
        print(file=sys.stderr)
    data = {"seed": args.seed, "duration_s": round(time.perf_counter() - t0, 3),
            "findings": [f.to_json() for f in report.findings], "examples": report.examples,
            "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
            "startup_s": {k: round(v, 3) for k, v in report.startup.items()}}
    write_json_atomic(out / "findings.json", data)
    write_text_atomic(out / "findings.yaml", yaml.safe_dump(findings_spec(report.findings), sort_keys=False, width=100))
    findings_page.write(data, out / "index.html")
    total = sum(report.examples.values())
    print(f"{total} examples, {len(report.findings)} findings ({len(report.new())} new) in {data['duration_s']:.1f} s "
          f"(worker start-up {sum(report.startup.values()):.1f} s, outside the budget) "
          f"-> {out / 'findings.json'}, findings.yaml, index.html")
    for f in report.findings:
        tag = "KNOWN" if f.known else "NEW  "
        print(f"{tag} {f.id} :: {f.binding}: {f.native_call()} on {f.shapes['x']}: {f.message[:140]}")
    return 1 if report.new() else 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="upconform", description="Cross-framework conformance of upsampling operators")
    sub = ap.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("specs", nargs="*", help="spec files or folders (default: specs/)")
        p.add_argument("--framework", action="append",
                       help="a framework name or alias (repeatable; `upconform list --frameworks` lists them)")
        p.add_argument("--binding", action="append", help="a binding's dotted name (repeatable)")
        p.add_argument("--op", action="append", help="only this op (repeatable)")
        p.add_argument("--path", action="append",
                       help="run every case on this path: eager, a compiled or exported path (`upconform list "
                            "--frameworks` lists each framework's), or all (repeatable; default: each case's own "
                            "paths:, eager when it names none)")
        p.add_argument("--checks", action="append", choices=["forward", "backward"],
                       help="run these checks of every case: forward (the output), backward (the gradients of a "
                            "seeded cotangent) (repeatable; default: each case's own checks:, forward when it names "
                            "none)")
        p.add_argument("-k", help="only case ids containing this text or matching this glob")

    r = sub.add_parser("run", help="run the suite and write results.json")
    common(r)
    r.add_argument("--out", default="reports/latest", help="output folder (default reports/latest)")
    r.add_argument("--expectations", default="specs/expectations.yaml", help="known discrepancies file")
    r.add_argument("--adapter", action="append", help="module:object with extra bindings (repeatable)")
    r.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    r.add_argument("--threads", type=int, default=None,
                   help="threads for every framework (default: the CPU count divided by --jobs)")
    r.add_argument("--jobs", type=int, default=1,
                   help="frameworks that run at once, each in its own worker (default 1: timings without "
                        "contention; more is faster on a multi-core machine, timings then share the CPU)")
    r.add_argument("--timing-budget", type=float, default=0.02, help="seconds of timed repeats per check")
    r.add_argument("--no-discrepancies", action="store_true", help="skip the discrepancy reports")
    r.add_argument("--history", default="reports/history.sqlite", help="history database (SQLite)")
    r.add_argument("--no-history", action="store_true", help="do not append this run to the history")
    r.add_argument("--baseline", help="a previous results.json: report regressions against it (exit 1)")
    r.add_argument("--max-slowdown", type=float, default=1.25, help="slowdown ratio that counts as a regression")
    r.add_argument("--no-isolation", dest="isolation", action="store_false",
                   help="run frameworks in this process (default: one worker process per framework)")
    r.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="where the framework workers run: local processes (default), or ray: one Ray actor per "
                        "worker, on a local Ray instance or on the cluster of --address (needs upconform[ray]; "
                        "--jobs lanes at a time)")
    r.add_argument("--address", metavar="ADDR",
                   help="with --executor ray: the Ray cluster to run on (auto: the one `ray start` started on this "
                        "machine or RAY_ADDRESS names; host:port; ray://host:10001); default: a fresh local instance")
    r.add_argument("--ray-resource", action="append", metavar="NAME[=AMOUNT]",
                   help="with --executor ray: a custom resource every actor asks for, so that it runs on the nodes "
                        "that declare it (`upconform matrix --executor ray` asks for its environment's) (repeatable)")
    r.add_argument("--timeout", type=float, default=60.0, help="seconds per check before its worker is killed")
    r.add_argument("--max-case-bytes", type=int, default=1 << 30, help="refuse cases needing more memory")
    r.add_argument("--shard", help="K/N: run the K-th of N deterministic slices of the cases (by case id)")
    r.add_argument("--resume", metavar="DIR", help="finish an interrupted run in DIR (same command otherwise)")
    r.add_argument("-v", "--verbose", action="store_true",
                   help="show the frameworks' own log lines (default: in OUT/logs/FRAMEWORK.log)")
    r.set_defaults(fn=cmd_run)

    bn = sub.add_parser("bench", help="scaling benchmarks (specs/bench/): time against bytes moved, the memory "
                                      "bandwidth measured at run time, paired ratios; numbers checked too")
    common(bn)
    bn.add_argument("--out", default="reports/bench", help="output folder (default reports/bench)")
    bn.add_argument("--expectations", default="specs/expectations.yaml", help="known discrepancies file")
    bn.add_argument("--jobs", type=int, default=1,
                    help="frameworks that run at once (default 1: each framework gets every core, timings "
                         "without contention)")
    bn.add_argument("--threads", type=int, default=None,
                    help="threads for every framework and for the bandwidth copy (default: CPUs / --jobs)")
    bn.add_argument("--timing-budget", type=float, default=0.1,
                    help="seconds of timed repeats per check (default 0.1; at most 5 repeats)")
    bn.add_argument("--timeout", type=float, default=120.0, help="seconds per check before its worker is killed")
    bn.add_argument("--copy-mib", type=int, default=256, help="MiB copied to measure the bandwidth (default 256)")
    bn.set_defaults(fn=cmd_bench)

    se = sub.add_parser("search", help="explore native calls with Hypothesis; shrink and explain what does not conform")
    se.add_argument("--binding", action="append", help="a binding's dotted name (repeatable)")
    se.add_argument("--framework", action="append", help="a framework name or alias (repeatable)")
    se.add_argument("--adapter", action="append", help="module:object with extra bindings (repeatable)")
    se.add_argument("--max-examples", type=int, default=200, help="examples per binding and operator (default 200)")
    se.add_argument("--budget-s", type=float, help="seconds for the whole search, shared out over the bindings")
    se.add_argument("--seed", type=int, default=0, help="the search is deterministic for a seed")
    se.add_argument("--special-values", action="store_true",
                    help="every example's input has NaN, Inf, -0.0, subnormals, float16 overflow (default: 15 %%)")
    se.add_argument("--expectations", default="specs/expectations.yaml", help="known findings (not new)")
    se.add_argument("--out", default="reports/search", help="output folder (default reports/search)")
    se.add_argument("--threads", type=int, default=1, help="threads for every framework (default 1)")
    se.add_argument("--timeout", type=float, default=60.0, help="seconds per example before its worker is killed")
    se.add_argument("--no-isolation", dest="isolation", action="store_false", help="run frameworks in this process")
    se.set_defaults(fn=cmd_search)

    m = sub.add_parser("merge", help="combine shard outputs into one results.json and report")
    m.add_argument("dirs", nargs="+")
    m.add_argument("--out", default="reports/merged")
    m.add_argument("--history", default="reports/history.sqlite")
    m.add_argument("--no-history", action="store_true")
    m.set_defaults(fn=cmd_merge)

    mx = sub.add_parser("matrix", help="run the suite in several framework environments and say what changed")
    common(mx)
    mx.add_argument("--env", action="append", metavar="PINS",
                    help="an environment: pins over the constraints, comma-separated, optionally named "
                         "(pkg==1.2, or NAME=pkg==1.2,other==3.4) (repeatable)")
    mx.add_argument("--file", help="a matrix file listing the environments (instead of --env)")
    mx.add_argument("--base-python", help="the baseline environment's interpreter (default: this one)")
    mx.add_argument("--no-base", action="store_true", help="no baseline environment: the first --env is the baseline")
    mx.add_argument("--constraints", default="constraints.txt", help="the pins the environments start from")
    mx.add_argument("--extras", help="extras to install, comma-separated (default: those of make setup)")
    mx.add_argument("--installer", default="auto", choices=["auto", "pip", "uv"],
                    help="auto: uv when on PATH, else venv + pip (uv reads no pip.conf)")
    mx.add_argument("--cache", help="where environments are kept (default ~/.cache/upconform/envs)")
    mx.add_argument("--results", action="append", metavar="NAME=PATH",
                    help="report on recorded runs instead (results.json or its folder; repeatable, the first is "
                         "the baseline)")
    mx.add_argument("--out", default="reports/matrix", help="output folder (default reports/matrix)")
    mx.add_argument("--history", default="reports/history.sqlite", help="history database every run is added to")
    mx.add_argument("--no-history", action="store_true")
    mx.add_argument("--jobs", type=int, default=None, help="passed to each run")
    mx.add_argument("--threads", type=int, default=None, help="passed to each run")
    mx.add_argument("--timing-budget", type=float, default=None, help="passed to each run")
    mx.add_argument("--timeout", type=float, default=None, help="passed to each run")
    mx.add_argument("--expectations", default=None, help="passed to each run")
    mx.add_argument("--no-discrepancies", action="store_true", help="passed to each run")
    mx.add_argument("--executor", choices=["local", "ray"], default="local",
                    help="passed to each run; with --address, each run's actors ask for the resource "
                         "upconform-env-KEY of its environment (--prepare-only prints them)")
    mx.add_argument("--address", help="passed to each run (--executor ray: the cluster)")
    mx.add_argument("--prepare-only", action="store_true",
                    help="build the environments and print each one's name, interpreter and Ray resource; run nothing")
    mx.add_argument("--error-move", type=float, default=0.1,
                    help="report an error whose share of the tolerance moved by more than this (default 0.1)")
    mx.add_argument("--max-ratio", type=float, default=1.25,
                    help="report a timing whose median changed by more than this ratio, either way, when the "
                         "samples differ by compare's test (default 1.25)")
    mx.set_defaults(fn=cmd_matrix)

    c = sub.add_parser("compare", help="regressions between two results.json files")
    c.add_argument("base")
    c.add_argument("new")
    c.add_argument("--max-slowdown", type=float, default=1.25)
    c.set_defaults(fn=cmd_compare)

    rp = sub.add_parser("report", help="render the HTML report of a results.json")
    rp.add_argument("results")
    rp.add_argument("-o", "--output", default="reports/latest/index.html")
    rp.add_argument("--history", default="reports/history.sqlite")
    rp.set_defaults(fn=cmd_report)

    h = sub.add_parser("history", help="runs and trends from the history database")
    h.add_argument("--history", default="reports/history.sqlite")
    h.add_argument("--last", type=int, default=10)
    h.set_defaults(fn=cmd_history)

    ex = sub.add_parser("export", help="one row per check, for your own analysis")
    ex.add_argument("results")
    ex.add_argument("--format", choices=["csv", "parquet"], default="csv")
    ex.add_argument("-o", "--output", required=True)
    ex.set_defaults(fn=cmd_export)

    ls = sub.add_parser("list", help="list cases (or --bindings)")
    common(ls)
    ls.add_argument("--bindings", action="store_true", help="list the bindings")
    ls.add_argument("--frameworks", action="store_true", help="list the frameworks, their versions and extras")
    ls.set_defaults(fn=cmd_list)

    v = sub.add_parser("validate", help="check spec files against the schema and the reference")
    v.add_argument("specs", nargs="*")
    v.add_argument("--expectations", default="specs/expectations.yaml")
    v.add_argument("--max-case-bytes", type=int, default=1 << 30)
    v.set_defaults(fn=cmd_validate)

    def call_args(p: argparse.ArgumentParser, shape_help: str) -> None:
        p.add_argument("binding", help="the source call's binding (upconform list --bindings)")
        p.add_argument("args", nargs="*", help="native key=value arguments (values in YAML syntax); for a module, "
                                               "its constructor's")
        p.add_argument("--shape", help=shape_help)
        p.add_argument("--weight-shape", help="conv_transpose weights, canonical (C_in, C_out/groups, *k) as PyTorch's "
                                              "(a module's own arguments give it)")
        p.add_argument("--bias", action="store_true", default=None,
                       help="the functional call has a bias (C_out,) (a module's own bias/use_bias argument says)")
        p.add_argument("--op", help="which op the call serves, when the binding serves several")
        p.add_argument("--adapter", action="append", help="module:object with extra bindings (repeatable)")

    e = sub.add_parser("explain", help="canonical meaning of a native call and its measured ports")
    call_args(e, "input shape, canonical NCHW (without it 1,3,8,8 is assumed, and said)")
    e.add_argument("--to", help="only this target framework (default: every other one)")
    e.set_defaults(fn=cmd_explain)

    po = sub.add_parser("port", help="port a native call to another framework: exact and closest calls, measured, "
                                     "as runnable code (exit 0 exact, 1 approximate only, 2 usage)")
    call_args(po, "input shape, canonical NCHW (required: the advice is measured on it)")
    po.add_argument("--to", required=True, help="the target framework (name or alias)")
    po.add_argument("--top", type=int, default=3, help="closest non-exact candidates to print (default 3)")
    po.add_argument("--no-code", action="store_true", help="print the ranking without the snippets")
    po.set_defaults(fn=cmd_port)

    from .adapters.sites import MODEL_SOURCES

    au = sub.add_parser("audit", help="every upsampling site of a model: meaning, verdict, equivalents "
                                      "(exit 0 all conform and port exactly, 1 not, 2 usage)")
    au.add_argument("model", help="module:factory or file.py:factory (a callable returning the model), or a model "
                                  "file (by suffix: " + ", ".join(f"{s} for {m.name}" for m in MODEL_SOURCES.values()
                                                                 for s in m.suffixes) + ")")
    au.add_argument("--source", choices=list(MODEL_SOURCES), help="the kind of model (default: by file suffix, "
                                                                   f"else {next(iter(MODEL_SOURCES))})")
    au.add_argument("--input-shape", help="the model's input shape in its own layout ("
                    + "; ".join(f"{m.name}: {m.shape_help}" for m in MODEL_SOURCES.values()) + ")")
    au.add_argument("--to", action="append", help="target frameworks for the equivalents (comma-separated or "
                                                  "repeatable; a format name means the runtime that runs it)")
    au.add_argument("--export", help="export the model too (a format its source writes), audit the exported graph "
                                     "and pair each site with the node it became")
    au.add_argument("--dtype", help="the input dtype (default float32, or a model file's own)")
    au.add_argument("--format", choices=["text", "markdown", "json"], default="text", help="what to print")
    au.add_argument("--out", help="write audit.json, audit.md and audit.html here")
    au.set_defaults(fn=cmd_audit)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args))
    except KeyboardInterrupt:
        print("upconform: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
