"""``upconform matrix``: the same suite in several framework environments, compared.

An environment is a set of pins (``torch==2.14.1``) applied over the project's constraints file (the
one ``make setup`` installs from): each pin replaces the constraint of its distribution, or adds one.
It is created once with ``venv`` + pip (or uv), installs this checkout editable with the same extras
as ``make setup``, and is cached by everything that decides its contents (the merged constraints,
the extras, the Python version, the installer and this checkout's path). An environment may also be
an existing interpreter (``python: .venv/bin/python``), which is how ``make matrix`` reuses the
environment that ``make setup`` made.

Each environment runs ``python -m upconform run`` (the normal runner, in its own process, its own
results folder, the shared history database); ``upconform.reports.matrix`` compares the
results.json files and says what changed.

Example:
    >>> merged_constraints("torch==2.13.0\\nnumpy==2.4.6\\n", ["torch==2.14.1", "ray==2.60.0"])
    'torch==2.14.1\\nnumpy==2.4.6\\nray==2.60.0\\n'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness.spec import SpecError, field_name, parse_yaml

ROOT = Path(__file__).resolve().parents[1]


def setup_extras(repo: Path = ROOT) -> tuple[str, ...]:
    """Every extra that pyproject.toml declares: what ``make setup`` installs (tests/test_matrix.py checks
    that the Makefile's list is the same).

    Example:
        >>> "test" in setup_extras()
        True
    """
    import tomllib

    with open(repo / "pyproject.toml", "rb") as f:
        return tuple(tomllib.load(f)["project"]["optional-dependencies"])


INSTALLERS = ("auto", "pip", "uv")
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class MatrixError(ValueError):
    """A usage error of ``upconform matrix`` (a bad pin, file or environment); the CLI prints it on one
    line and exits 2."""


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares it.

    Example:
        >>> normalize("Tensorflow_CPU")
        'tensorflow-cpu'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_pin(text: str, where: str = "--env") -> tuple[str, str]:
    """``"torch==2.14.1"`` -> ("torch", "2.14.1"); anything but ``name==version`` is refused.

    Example:
        >>> parse_pin("tensorflow-cpu==2.20.0")
        ('tensorflow-cpu', '2.20.0')
    """
    m = _PIN.match(text)
    if not m:
        raise MatrixError(f"{where}: {text!r} is not a pin; write name==version (e.g. pkg==1.2.3)")
    return m.group(1), m.group(2)


@dataclass(frozen=True)
class Environment:
    """One column of the matrix: pins over the constraints, or an existing interpreter."""

    name: str
    pins: tuple[str, ...] = ()
    python: str | None = None  # an existing environment's interpreter: used as it is, never modified

    def describe(self) -> str:
        if self.python:
            return f"{self.name} ({self.python})"
        return f"{self.name} ({', '.join(self.pins) or 'the constraints as they are'})"


def env_from_pins(spec: str) -> Environment:
    """``--env`` value: comma-separated pins, optionally named (``NAME=pin,pin``).

    Example:
        >>> env_from_pins("torch==2.14.1")
        Environment(name='torch-2.14.1', pins=('torch==2.14.1',), python=None)
        >>> env_from_pins("new=torch==2.14.1,tensorflow-cpu==2.20.0").name
        'new'
    """
    name = None
    head, sep, rest = spec.partition("=")
    if sep and not rest.startswith("=") and _NAME.match(head):
        name, spec = head, rest
    pins = tuple(p.strip() for p in spec.split(",") if p.strip())
    if not pins:
        raise MatrixError(f"--env: {spec!r} names no pin")
    parsed = [parse_pin(p) for p in pins]
    return Environment(name or "+".join(f"{n}-{v}" for n, v in parsed), tuple(f"{n}=={v}" for n, v in parsed))


@dataclass
class MatrixFile:
    """A matrix file: its environments, and optionally the extras to install (default: make setup's)."""

    environments: list[Environment]
    extras: tuple[str, ...] | None = None
    path: str = ""


def load_matrix_file(path: str | Path) -> MatrixFile:
    """Read a matrix file; errors name the file, the line and the field (as spec errors do)::

        extras: [torch, tensorflow, test]      # optional
        environments:
          - name: pinned
            python: .venv/bin/python           # an existing environment, used as it is
          - name: torch-2.14.1
            pins: [torch==2.14.1]              # created over the constraints
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise MatrixError(f"--file: cannot read {p}: {e.strerror or e}") from None
    data, lines = parse_yaml(text, str(p))
    problems: list[tuple[str, int, str, str]] = []

    def bad(at: tuple[Any, ...], msg: str) -> None:
        line = next((lines[at[:i]] for i in range(len(at), -1, -1) if at[:i] in lines), 1)
        problems.append((str(p), line, field_name(at), msg))

    if not isinstance(data, dict):
        raise SpecError([(str(p), 1, "", "a matrix file is a mapping with an 'environments' list")])
    for k in sorted(set(data) - {"environments", "extras"}):
        bad((k,), "unknown field; known: ['environments', 'extras']")
    extras = data.get("extras")
    if extras is not None and not (isinstance(extras, list) and all(isinstance(e, str) and _NAME.match(e)
                                                                    for e in extras)):
        bad(("extras",), f"{extras!r} is not a list of extra names")
    envs: list[Environment] = []
    raw = data.get("environments")
    if not isinstance(raw, list) or not raw:
        bad(("environments",), "needs a list of environments, each with a name and pins or python")
        raw = []
    for i, e in enumerate(raw):
        at = ("environments", i)
        if not isinstance(e, dict):
            bad(at, "an environment is a mapping with name and pins (or python)")
            continue
        for k in sorted(set(e) - {"name", "pins", "python"}):
            bad((*at, k), "unknown field; known: ['name', 'pins', 'python']")
        name = e.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            bad((*at, "name"), f"{name!r} is not a name (letters, digits, '.', '_', '-')")
            continue
        pins = e.get("pins", [])
        if not isinstance(pins, list) or not all(isinstance(x, str) for x in pins):
            bad((*at, "pins"), f"{pins!r} is not a list of name==version pins")
            continue
        for j, x in enumerate(pins):
            if not _PIN.match(x):
                bad((*at, "pins", j), f"{x!r} is not a pin; write name==version")
        python = e.get("python")
        if python is not None and (not isinstance(python, str) or pins):
            bad((*at, "python"), "python names an existing interpreter, alone (no pins beside it)")
            continue
        if python is not None and not Path(python).expanduser().is_absolute():
            python = os.path.abspath(p.parent / python)  # relative to the matrix file's folder (links kept)
        envs.append(Environment(name, tuple(pins), python))
    names = [e.name for e in envs]
    for n in sorted({n for n in names if names.count(n) > 1}):
        bad(("environments",), f"the name {n!r} is used twice")
    if problems:
        raise SpecError(problems)
    return MatrixFile(envs, tuple(extras) if extras else None, str(p))


def merged_constraints(base: str, pins: Sequence[str]) -> str:
    """The constraints text with each pin replacing its distribution's line (or appended); comments and
    blank lines are dropped, so that the cache key depends on the constraints alone."""
    wanted = {normalize(n): f"{n}=={v}" for n, v in (parse_pin(p) for p in pins)}
    out, seen = [], set()
    for line in base.splitlines():
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", s)
        key = normalize(m.group(1)) if m else s
        if key in wanted:
            out.append(wanted[key])
            seen.add(key)
        else:
            out.append(s)
    out.extend(v for k, v in wanted.items() if k not in seen)
    return "\n".join(out) + "\n"


def pick_installer(choice: str) -> str:
    """``auto``: uv when it is on PATH, else pip. uv reads no pip configuration (``find-links`` and extra
    indexes in pip.conf): where local wheels are declared there, ask for ``pip``.

    Example:
        >>> pick_installer("pip")
        'pip'
    """
    if choice not in INSTALLERS:
        raise MatrixError(f"--installer: unknown {choice!r}; known: {list(INSTALLERS)}")
    if choice == "auto":
        return "uv" if shutil.which("uv") else "pip"
    if choice == "uv" and not shutil.which("uv"):
        raise MatrixError("--installer uv: uv is not on PATH (pip install uv, or --installer pip)")
    return choice


@dataclass
class Prepared:
    """An environment ready to run: its interpreter, and how it came to be."""

    env: Environment
    python: str
    key: str = ""
    created: bool = False
    seconds: float = 0.0
    log: str = ""
    installed: dict[str, str] = field(default_factory=dict)

    @property
    def resource(self) -> str:
        """The Ray custom resource that nodes holding this environment declare (``upconform-env-KEY``)."""
        return f"upconform-env-{self.key}"


def env_key(constraints: str, extras: Sequence[str], installer: str, python_version: str, repo: Path) -> str:
    """The cache key of a created environment: what decides its contents.

    Example:
        >>> len(env_key("torch==2.13.0\\n", ["torch"], "pip", "3.11.7", Path("/x")))
        16
    """
    h = hashlib.sha256()
    for part in (constraints, ",".join(sorted(extras)), installer, python_version, str(repo.resolve())):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def default_cache() -> Path:
    """``$UPCONFORM_ENV_CACHE``, else ``$XDG_CACHE_HOME/upconform/envs`` (``~/.cache/upconform/envs``)."""
    if os.environ.get("UPCONFORM_ENV_CACHE"):
        return Path(os.environ["UPCONFORM_ENV_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "upconform" / "envs"


def installer_error(output: str) -> str:
    """The one line an installer's failure comes down to: pip's last ``ERROR:`` line, or uv's first
    ``error:``/``×`` line with its reason.

    Example:
        >>> installer_error("ERROR: Could not find a version (from versions: 1, 2)\\n"
        ...                 "ERROR: No matching distribution found for torch==9.9\\n")
        'No matching distribution found for torch==9.9'
    """
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("ERROR:") and not ln.startswith("ERROR: ResolutionImpossible")]
    if errs:
        msg = errs[-1].removeprefix("ERROR:").strip()
        if "The conflict is caused by:" in lines:  # pip's resolver: name what conflicts, on the same line
            i = lines.index("The conflict is caused by:")
            causes = [ln for ln in lines[i + 1:] if not ln.startswith(("To fix", "1.", "2.", "ERROR"))]
            stop = next((j for j, ln in enumerate(lines[i + 1:]) if ln.startswith("To fix")), len(causes))
            msg += " (" + "; ".join(causes[:stop]) + ")"
        return msg
    for i, ln in enumerate(lines):
        if ln.startswith(("error:", "×")):
            why = ln.lstrip("×").removeprefix("error:").strip()
            nxt = next((x.lstrip("╰─▶ ").strip() for x in lines[i + 1:i + 3] if "╰─▶" in x), "")
            return f"{why} {nxt}".strip()
    return lines[-1] if lines else "the installer failed and printed nothing"


def _python_version(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise MatrixError(f"{python}: not a working Python interpreter ({installer_error(out.stderr)})")
    return out.stdout.strip()


@contextlib.contextmanager
def _locked(path: Path):  # noqa: ANN202 - a context manager
    """An exclusive lock file, so that two matrix runs never build one environment at once."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def prepare(env: Environment, *, constraints_file: Path, extras: Sequence[str], installer: str = "auto",
            cache: Path | None = None, log_dir: Path | None = None, python: str | None = None,
            repo: Path = ROOT, echo: Any = None) -> Prepared:
    """The interpreter of ``env``: an existing one (checked to run), a cached one, or a new environment
    built in the cache under a lock and marked complete (``upconform-env.json``) only when the install
    succeeded; a failed build leaves nothing behind and raises :class:`MatrixError` with the installer's
    one-line reason."""
    if env.python:
        py = str(Path(env.python).expanduser())
        if not Path(py).exists():
            raise MatrixError(f"environment {env.name}: {py} does not exist")
        _python_version(py)
        return Prepared(env, py, hashlib.sha256(str(Path(py).resolve()).encode()).hexdigest()[:16])
    base_python = python or sys.executable
    try:
        base = constraints_file.read_text(encoding="utf-8")
    except OSError as e:
        raise MatrixError(f"--constraints: cannot read {constraints_file}: {e.strerror or e}") from None
    merged = merged_constraints(base, env.pins)
    tool = pick_installer(installer)
    key = env_key(merged, extras, tool, _python_version(base_python), repo)
    cache = cache or default_cache()
    target = cache / key
    bin_python = target / "bin" / "python"
    with _locked(cache / f"{key}.lock"):
        if (target / "upconform-env.json").exists() and bin_python.exists():
            return Prepared(env, str(bin_python), key, False, 0.0, "",
                            json.loads((target / "upconform-env.json").read_text()).get("installed", {}))
        t0 = time.perf_counter()
        # built in place (its scripts name this folder), complete only once upconform-env.json is written last;
        # a failed or interrupted build is removed, here or by the next attempt
        tmp = target
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        (tmp / "constraints.txt").write_text(merged)
        log_path = (log_dir or tmp) / f"env-{env.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        spec = f"{repo}[{','.join(extras)}]" if extras else str(repo)
        # the pins alone first (--dry-run --no-deps: seconds), so that a version the index does not have is
        # said as such, not as a conflict of the whole resolution
        if tool == "uv":
            py = ["--python", str(tmp / "bin" / "python")]
            steps = [["uv", "venv", "--quiet", "--python", base_python, str(tmp)],
                     *([["uv", "pip", "install", "--dry-run", "--no-deps", *py, *env.pins]] if env.pins else []),
                     ["uv", "pip", "install", *py, "-c", str(tmp / "constraints.txt"), "-e", spec, *env.pins]]
        else:
            pip = [str(tmp / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
            steps = [[base_python, "-m", "venv", str(tmp)],
                     *([[*pip, "--dry-run", "--no-deps", "--ignore-installed", *env.pins]] if env.pins else []),
                     [*pip, "-c", str(tmp / "constraints.txt"), "-e", spec, *env.pins]]
        if echo:
            echo(f"upconform matrix: creating {env.describe()} with {tool} (log: {log_path})")
        with open(log_path, "w", encoding="utf-8") as log:
            for cmd in steps:
                log.write("$ " + " ".join(cmd) + "\n")
                log.flush()
                done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
                log.write(done.stdout)
                if done.returncode:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise MatrixError(f"environment {env.name}: {tool} failed: {installer_error(done.stdout)}")
        installed = _installed(str(tmp / "bin" / "python"))
        (tmp / "upconform-env.json").write_text(json.dumps(
            {"name": env.name, "pins": list(env.pins), "extras": list(extras), "installer": tool, "key": key,
             "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "installed": installed}, indent=1))
        return Prepared(env, str(bin_python), key, True, time.perf_counter() - t0, str(log_path), installed)


def _installed(python: str) -> dict[str, str]:
    """``{distribution: version}`` of an environment (importlib.metadata, run inside it)."""
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    try:
        return dict(sorted((normalize(k), v) for k, v in json.loads(out.stdout).items()))
    except (json.JSONDecodeError, AttributeError):
        return {}


def run_in(prepared: Prepared, run_args: Sequence[str], out_dir: Path, *, history: str | None,
           echo: Any = None) -> tuple[int, float]:
    """``python -m upconform run RUN_ARGS --out OUT_DIR`` in the environment; returns its exit status and
    seconds. The run records the environment's name in its provenance (``UPCONFORM_ENVIRONMENT``)."""
    cmd = [prepared.python, "-m", "upconform", "run", *run_args, "--out", str(out_dir)]
    cmd += ["--history", history] if history else ["--no-history"]
    env = {**os.environ, "UPCONFORM_ENVIRONMENT": prepared.env.name}
    # the environment's own upconform is this checkout (editable); an existing interpreter may not have it
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    if echo:
        echo(f"upconform matrix: running in {prepared.env.name}: {' '.join(cmd[1:])}")
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "run.log", "w", encoding="utf-8") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, check=False).returncode
    return code, time.perf_counter() - t0
