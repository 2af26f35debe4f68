"""A session runs a suite: selection, sharding, resume, streaming, signals, progress, provenance and
reports. The command line (``upconform run``) and the pytest plugin both use it; it is the top
layer with them (reference <- canonical <- adapters <- harness <- reports <- session, CLI, plugin).

Example:
    >>> s = Session(Options(specs=["specs/pixel_shuffle.yaml"], frameworks=["torch"], isolation=False,
    ...                     expectations=None, out=None))
    >>> len(s.checks()) > 0
    True
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .adapters import EAGER, framework, get, load_adapter, path_names, registry
from .canonical import CHECK_KINDS, Case
from .harness import expectations as exp
from .harness.budget import over_budget
from .harness.discrepancy import run_discrepancy
from .harness.results import SCHEMA_VERSION, check_key, provenance, sanitize, write_results, write_text_atomic
from .harness.runner import Result, check, checks_for, reference_of, run_cases
from .harness.spec import Discrepancy, SpecError, default_spec_paths, load_files
from .harness.workers import InProcess, Isolated, configure_threads

EXECUTORS = ("local", "ray")


class UsageError(ValueError):
    """A bad option: the CLI prints it on one line and exits 2."""


@dataclass
class Options:
    """What to run and where to write it; the CLI's ``run`` flags, one field each."""

    specs: Sequence[str] = ()
    expectations: str | Path | None = "specs/expectations.yaml"
    bindings: Sequence[str] | None = None
    frameworks: Sequence[str] | None = None
    paths: Sequence[str] | None = None  # override the specs' paths: (None: each case's own, default eager)
    checks: Sequence[str] | None = None  # override the specs' checks: (None: each case's own, default forward)
    ops: Sequence[str] | None = None
    k: str | None = None
    shard: str | None = None  # "K/N"
    out: str | Path | None = "reports/latest"  # None: write nothing (the pytest plugin)
    resume: bool = False
    isolation: bool = True
    threads: int | None = None  # None: the CPU count divided by jobs
    jobs: int = 1  # frameworks that run at once (isolated workers only)
    executor: str = "local"  # where the isolated workers run: "local" processes or "ray" actors
    address: str | None = None  # --executor ray: a cluster ("auto", "host:port", "ray://..."); None: a local instance
    ray_resources: dict[str, float] | None = None  # --executor ray: custom resources every actor asks for
    device: str = "cpu"
    timeout: float = 60.0
    timing_budget: float = 0.02
    max_case_bytes: int = 1 << 30
    adapters: Sequence[str] = ()
    discrepancies: bool = True
    history: str | Path | None = "reports/history.sqlite"
    verbose: bool = False
    argv: Sequence[str] = ()
    provenance: Mapping[str, Any] | None = None  # added to the run's provenance (``upconform bench``: its figures)


def spec_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Spec files: the given files, every ``*.yaml`` of given folders, or the default suite."""
    if not paths:
        return default_spec_paths()
    out: list[Path] = []
    for p in paths:
        pp = Path(p)
        out.extend(default_spec_paths(pp) if pp.is_dir() else [pp])
    return out


def parse_shard(spec: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> (K, N).

    Example:
        >>> parse_shard("2/3")
        (2, 3)
    """
    if not spec:
        return None
    try:
        k, n = (int(v) for v in spec.split("/"))
    except ValueError:
        raise UsageError(f"--shard: {spec!r} is not K/N") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard: {spec!r} needs 1 <= K <= N")
    return k, n


def in_shard(case_id: str, shard: tuple[int, int] | None) -> bool:
    """Deterministic split by case id (crc32), the same on every machine."""
    return shard is None or zlib.crc32(case_id.encode()) % shard[1] == shard[0] - 1


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Completed checks of an earlier (maybe interrupted) run; a torn last line is ignored."""
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def select_bindings(bindings: Sequence[str] | None, frameworks: Sequence[str] | None) -> list[str]:
    """Registered binding names, narrowed to ``bindings`` and to ``frameworks`` (names or aliases).

    Example:
        >>> "tf.repeat" in select_bindings(None, ["keras"])
        True
    """
    names = list(registry())
    if bindings:
        unknown = [b for b in bindings if b not in names]
        if unknown:
            raise UsageError(f"--binding: unknown {unknown}; known: {sorted(names)}")
        names = list(bindings)
    if frameworks:
        wanted = set()
        for f in frameworks:
            try:
                wanted.add(framework(f).name)
            except KeyError as e:
                raise UsageError(f"--{e.args[0]}") from None
        names = [n for n in names if get(n).framework in wanted]
    return names


def own_suite(bindings: Sequence[str] | None, frameworks: Sequence[str] | None, names: Sequence[str]) -> list[str]:
    """Frameworks among ``names``' whose descriptor says ``suite="own"`` and that the run did not name
    (by ``--framework`` or one of their bindings by ``--binding``): their bindings take only the cases
    whose ``bindings:`` list names them.

    Example:
        >>> own_suite(None, ["torch"], ["torch.repeat_interleave"])
        []
    """
    named = {framework(f).name for f in frameworks or ()} | {get(b).framework for b in bindings or ()}
    fws = {get(n).framework for n in names}
    return sorted(f for f in fws if f not in named and framework(f).suite == "own")


class Progress:
    """Checks done, checks per second and the current case: a rich progress bar on a terminal, a line
    every 500 checks otherwise. Separate from the JSONL sink (which sees every result)."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self.total, self.count, self.started = total, 0, time.perf_counter()
        self.bar: Any = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(TextColumn("[bold]upconform"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("{task.fields[rate]}"),
                                    TimeElapsedColumn(), TextColumn("{task.fields[case]}"),
                                    console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task("checks", total=total, rate="", case="")
            self.bar.start()

    def advance(self, r: Result) -> None:
        self.count += 1
        if self.bar is not None:
            rate = self.count / max(time.perf_counter() - self.started, 1e-9)
            self.bar.update(self.task, advance=1, rate=f"{rate:.0f} checks/s", case=r.case_id[:50])
        elif self.enabled and (self.count % 500 == 0 or self.count == self.total):
            print(f"upconform: {self.count}/{self.total} checks ({time.perf_counter() - self.started:.1f} s)",
                  file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class Session:
    """Load, select and run a suite. Construction validates everything (bad options raise
    :class:`UsageError`, bad specs :class:`SpecError`) before anything runs."""

    def __init__(self, options: Options) -> None:
        self.options = o = options
        if o.jobs < 1:
            raise UsageError(f"--jobs: {o.jobs} must be 1 or more")
        if o.threads is None:
            o.threads = max(1, (os.cpu_count() or 1) // o.jobs)
        elif o.threads < 1:
            raise UsageError(f"--threads: {o.threads} must be 1 or more")
        self._check_executor()
        for a in o.adapters:
            load_adapter(a)
        self.shard = parse_shard(o.shard)
        self.names = self._binding_names()
        self.own_only = own_suite(o.bindings, o.frameworks, self.names)
        self.paths = self._paths()
        self.spec_paths = spec_paths(o.specs)
        cases, discs = load_files(self.spec_paths)
        self.expectations = exp.load(o.expectations)
        cases = [c for c in self._select(cases) if in_shard(c.id, self.shard)]
        if o.checks:  # --checks: every selected case runs these (a Case's checks are part of its spec)
            import dataclasses

            want = tuple(k for k in CHECK_KINDS if k in o.checks)
            bad = sorted(set(o.checks) - set(CHECK_KINDS))
            if bad:
                raise UsageError(f"--checks: unknown {bad}; known: {list(CHECK_KINDS)}")
            cases = [dataclasses.replace(c, checks=want) for c in cases]
        too_big = over_budget(cases, o.max_case_bytes)
        if too_big:
            raise SpecError(too_big)
        self.cases: list[Case] = cases
        if o.ops:
            discs = [d for d in discs if d.op in o.ops]
        if self.shard is not None and self.shard[0] != 1:
            discs = []  # discrepancy reports run once, in shard 1
        self.discrepancy_specs: list[Discrepancy] = discs
        self._references: dict[str, tuple[Any, Any, str]] = {}
        self._executor: Any = None

    def _check_executor(self) -> None:
        """--executor and --address: known, compatible, and Ray importable when asked for."""
        o = self.options
        if o.executor not in EXECUTORS:
            raise UsageError(f"--executor: {o.executor!r} is not one of {', '.join(EXECUTORS)}")
        if o.executor != "ray":
            if o.address:
                raise UsageError("--address names a Ray cluster: it needs --executor ray")
            if o.ray_resources:
                raise UsageError("--ray-resource asks Ray for a resource: it needs --executor ray")
            return
        if not o.isolation:
            raise UsageError("--executor ray runs every framework in a Ray actor: it cannot be combined with "
                             "--no-isolation")
        from .harness.ray_executor import RayUnavailable, import_ray

        try:
            import_ray()
        except RayUnavailable as e:
            raise UsageError(str(e)) from None

    def _make_executor(self, logs: Path | None) -> Any:
        """The run's executor: in this process (--no-isolation), worker processes, or Ray actors."""
        o = self.options
        if o.executor == "ray":
            from .harness.ray_executor import RayExecutor, RayUnavailable

            try:
                return RayExecutor(list(o.adapters), o.threads, log_dir=logs, address=o.address, device=o.device,
                                   env_resources=o.ray_resources)
            except RayUnavailable as e:
                raise UsageError(str(e)) from None
        return Isolated(list(o.adapters), o.threads, log_dir=logs) if o.isolation else InProcess()

    # ------------------------------------------------------------------------------ selection

    def _binding_names(self) -> list[str]:
        return select_bindings(self.options.bindings, self.options.frameworks)

    def _paths(self) -> list[str] | None:
        """``--path`` values (``all``: every path), checked against the known paths."""
        if not self.options.paths:
            return None
        known = list(path_names())
        if "all" in self.options.paths:
            return known
        bad = [p for p in self.options.paths if p not in known]
        if bad:
            raise UsageError(f"--path: unknown {bad}; known: {known} or 'all'")
        return list(dict.fromkeys(self.options.paths))

    def _select(self, cases: list[Case]) -> list[Case]:
        import fnmatch

        o = self.options
        if o.ops:
            cases = [c for c in cases if c.op in o.ops]
        if o.k:
            cases = [c for c in cases if o.k in c.id or fnmatch.fnmatchcase(c.id, o.k)]
        return cases

    def checks(self) -> list[tuple[Case, str, str, str]]:
        """Every selected (case, binding, path, direction), in suite order."""
        return [(c, *k) for c in self.cases for k in checks_for(c, self.names, self.paths, self.own_only)]

    def frameworks(self) -> set[str]:
        return {get(n).framework for n in self.names}

    # ------------------------------------------------------------------------------ one check at a time

    def check_one(self, case: Case, binding: str, path: str = EAGER, direction: str = "forward") -> Result:
        """One check in this process, the case's reference computed once and kept for its other
        bindings (the pytest plugin runs items one by one)."""
        if self._executor is None:
            self._executor = InProcess()
            configure_threads(self.options.threads, self.frameworks())
        if case.id not in self._references:
            if len(self._references) > 64:  # items of a case come together; -k / xdist may interleave
                self._references.clear()
            self._references[case.id] = reference_of(case)
        tensors, expected, err, _, bw = self._references[case.id]
        return check(case, binding, tensors, expected, expectations=self.expectations, device=self.options.device,
                     timing_budget_s=self.options.timing_budget, reference_error=err, path=path,
                     direction=direction, backward=bw)

    # ------------------------------------------------------------------------------ a whole run

    def out_dir(self) -> Path:
        if self.options.out is None:
            raise UsageError("this session writes nothing (out=None)")
        d = Path(self.options.out)
        try:
            d.mkdir(parents=True, exist_ok=True)
            probe = d / ".upconform-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise UsageError(f"--out: cannot write to {d}: {e.strerror or e}") from None
        return d

    def run(self, *, progress: bool = True, on_result: Callable[[Result], None] | None = None) -> dict[str, Any]:
        """Run every selected check (streamed to results.jsonl), then the discrepancy reports; write
        results.json and the reports. Ctrl-C / SIGTERM raise KeyboardInterrupt after everything
        completed is on disk (``Interrupted`` carries where)."""
        o = self.options
        out_dir = self.out_dir()
        jsonl = out_dir / "results.jsonl"
        selected = [(c.id, n, p, d) for c, n, p, d in self.checks()]
        wanted = set(selected)
        previous = [r for r in read_jsonl(jsonl) if check_key(r) in wanted] if o.resume else []
        done = {check_key(r) for r in previous}
        if not o.resume:
            jsonl.unlink(missing_ok=True)
        logs = None if o.verbose else out_dir / "logs"
        executor = self._make_executor(logs)
        if progress and o.executor == "ray":
            print(f"upconform: Ray executor: {'a local instance' if o.address is None else o.address}, "
                  f"{executor.resources()}; {o.jobs} lane(s) at a time", file=sys.stderr)
        if not o.isolation:
            configure_threads(o.threads, self.frameworks())
        bar = Progress(len(selected) - len(done), enabled=progress)
        started = time.perf_counter()
        sink = jsonl.open("a", encoding="utf-8")

        as_json: dict[tuple[str, str, str, str], dict[str, Any]] = {}  # each result converted once

        def record(r: Result) -> None:
            j = as_json[(r.case_id, r.binding, r.path, r.direction)] = sanitize(r.to_json())
            sink.write(json.dumps(j, default=str) + "\n")
            sink.flush()
            bar.advance(r)
            if on_result:
                on_result(r)

        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        old_term = signal.signal(signal.SIGTERM, on_term)
        try:
            for f in self.own_only if progress else ():
                print(f"upconform: {f} takes only the cases that name its bindings (its spec: costly per-shape "
                      f"compilation); --framework {f} runs every case of its ops", file=sys.stderr)
            if previous:
                print(f"upconform: resuming {out_dir}: {len(done)} checks already done, "
                      f"{len(selected) - len(done)} to run", file=sys.stderr)
            new = run_cases(self.cases, self.names, expectations=self.expectations, device=o.device,
                            timing_budget_s=o.timing_budget, on_result=record, skip=done, executor=executor,
                            timeout=o.timeout, paths=self.paths, jobs=o.jobs if o.isolation else 1,
                            own_only=self.own_only)
            names = set(self.names)
            reports = [run_discrepancy(d, executor, o.timeout, self.expectations) for d in self.discrepancy_specs
                       if o.discrepancies and all(c["binding"] in names for c in d.calls)]
        except KeyboardInterrupt:
            raise Interrupted(len(done) + bar.count, jsonl, out_dir) from None
        finally:
            signal.signal(signal.SIGTERM, old_term)
            bar.close()
            sink.close()
            executor.close()
        by_key = {check_key(r): r for r in previous}
        by_key.update({k: as_json.get(k) or sanitize(r.to_json())
                       for r in new for k in [(r.case_id, r.binding, r.path, r.direction)]})
        data = {
            "schema_version": SCHEMA_VERSION,
            "provenance": provenance(threads=o.threads, device=o.device, flags={
                "argv": list(o.argv), "specs": [str(p) for p in self.spec_paths],
                "expectations": str(o.expectations), "timing_budget_s": o.timing_budget, "paths": self.paths,
                "checks": list(o.checks) if o.checks else None,
                "isolation": bool(o.isolation), "jobs": o.jobs, "timeout_s": o.timeout, "shard": o.shard,
                "executor": o.executor, "address": o.address,
                **({"ray": executor.describe()} if o.executor == "ray" else {}),
                "resumed_checks": len(previous), "own_suite_only": self.own_only}) | dict(o.provenance or {}),
            "duration_s": round(time.perf_counter() - started, 3),
            "results": [by_key[k] for k in selected if k in by_key],
            "discrepancies": sanitize(reports),
        }
        write_results(out_dir / "results.json", data)
        write_reports(data, out_dir, None if o.history is None else Path(o.history))
        return data


class Interrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C or SIGTERM; every completed check is in ``jsonl``."""

    def __init__(self, completed: int, jsonl: Path, out_dir: Path) -> None:
        super().__init__(f"interrupted; {completed} completed checks are in {jsonl}")
        self.completed, self.jsonl, self.out_dir = completed, jsonl, out_dir


def write_reports(data: dict[str, Any], out_dir: Path, history_db: Path | None) -> float:
    """junit.xml, the history row, then index.html (which shows the history's trends); returns the
    seconds the HTML took."""
    from .reports import history, html, junit

    write_text_atomic(out_dir / "junit.xml", junit.to_junit(data))
    if history_db is not None:
        history.append(history_db, data, str(out_dir / "results.json"))
    t0 = time.perf_counter()
    html.write(data, out_dir / "index.html", history_db)
    return time.perf_counter() - t0
