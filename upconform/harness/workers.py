"""Framework workers: each framework runs in its own persistent process (imported once per run).

The parent keeps the reference, the comparison and the verdicts; a worker translates, runs and
times native calls. A worker that dies (segfault, abort, ``os._exit``) gives its check the outcome
``crash`` with the signal or exit code; one that does not answer within the timeout is killed
(``timeout``). Either way the worker is restarted for the next check and the run goes on.

Example:
    >>> InProcess().framework_of("tf.repeat")
    'tensorflow'
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..adapters import EAGER, NativeCall, Unsupported, framework, framework_of, get, load_adapter
from ..canonical import Case, freeze, plain
from .timer import time_call

# ----------------------------------------------------------------------------------- wire format


def case_to_wire(case: Case) -> dict[str, Any]:
    """A picklable dict of a Case (MappingProxyType does not pickle)."""
    return {"id": case.id, "op": case.op, "name": case.name, "dtype": case.dtype, "params": plain(case.params),
            "shapes": {k: list(v) for k, v in case.shapes.items()}, "source": case.source,
            "normal": plain(case.normal), "generator": case.generator, "generator_args": plain(case.generator_args),
            "seed": case.seed}


def case_from_wire(d: Mapping[str, Any]) -> Case:
    return Case(id=d["id"], op=d["op"], name=d["name"], dtype=d["dtype"], params=freeze(d["params"]),
                shapes=MappingProxyType({k: tuple(v) for k, v in d["shapes"].items()}), source=d["source"],
                normal=freeze(d["normal"]), generator=d.get("generator", "normal"),
                generator_args=freeze(d.get("generator_args") or {}), seed=int(d.get("seed", 0)))


def _err(e: BaseException) -> str:
    msg = str(e).strip()
    return f"{type(e).__name__}: {msg.splitlines()[0][:500] if msg else ''}"


# ----------------------------------------------------------------------------------- the work itself


def time_execute(binding: Any, prepared: Any, device: str, *, budget_s: float, max_repeats: int,
                 min_repeats: int = 5) -> tuple[Any, dict[str, Any]]:
    """:func:`upconform.harness.timer.time_call` of ``binding.execute(prepared)``, synced by its framework
    on ``device``: the warm-up's output (the one compared) and the timing, at most ``max_repeats`` samples
    within ``budget_s`` (only the warm-up for a framework that is not timed: ``Framework.timed``)."""
    fw = framework(binding.framework)
    return time_call(lambda: binding.execute(prepared), lambda: fw.synchronize(device), budget_s=budget_s,
                     max_samples=max_repeats, min_samples=min_repeats, timed=fw.timed)


def do_check(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Translate, run and time one check; framework exceptions are results, not raises."""
    case = case_from_wire(payload["case"])
    b = get(payload["binding"])
    missing = framework(b.framework).missing()
    if missing:
        return {"status": "unsupported", "reason": missing}
    refused = path_refuses(b, payload.get("path", EAGER))
    if refused:
        return {"status": "unsupported", "reason": refused}
    try:
        call = b.unsupported_reading(case) or b.to_native(case)
    except Exception as e:  # noqa: BLE001
        return {"status": "error", "reason": f"translation failed: {_err(e)}", "traceback": traceback.format_exc(limit=3)}
    if isinstance(call, Unsupported):
        return {"status": "unsupported", "reason": call.reason}
    assert isinstance(call, NativeCall)
    out: dict[str, Any] = {"status": "ok", "native": dict(call.args), "notes": list(call.notes),
                           "native_call": call.render(tuple(t for t in ("x", "w", "b") if t in case.shapes))}
    path = payload.get("path", EAGER)
    if payload.get("direction", "forward") == "backward":
        return _check_backward(b, call, case, payload, out)
    if path != EAGER:
        return _check_path(b, call, case, payload, out)
    if not payload.get("execute", True):
        return out
    try:
        prepared = b.prepare(call, payload["tensors"], payload.get("device", "cpu"))
        native, timing = time_execute(b, prepared, payload.get("device", "cpu"),
                                      budget_s=payload.get("timing_budget_s", 0.02),
                                      max_repeats=payload.get("max_repeats", 5))
        out["actual"] = b.to_canonical(native, prepared)
        out["timing"] = timing
    except Exception as e:  # noqa: BLE001 - the framework raised: that is the finding
        out.update(status="error", reason=_err(e), traceback=traceback.format_exc(limit=4))
    return out


class _BackwardOf:
    """A binding or path seen by :func:`time_execute` as its backward call (forward + vector-Jacobian product)."""

    def __init__(self, target: Any) -> None:
        self.framework, self._target = target.framework, target

    def execute(self, prepared: Any) -> Any:
        return self._target.execute_backward(prepared)


def _check_backward(b: Any, call: NativeCall, case: Case, payload: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """A backward check: the binding's (or its path's) gradients of ``<output, cotangent>``, in canonical
    layout, timed like a forward call (forward and vector-Jacobian product together)."""
    path, device = payload.get("path", EAGER), payload.get("device", "cpu")
    target: Any = b
    try:
        if path == EAGER:
            bad = b.backward_unsupported(case)
        else:
            try:
                target = framework(b.framework).path(path)
            except KeyError as e:
                return {"status": "unsupported", "reason": str(e.args[0])}
            why = target.missing()
            bad = Unsupported(why) if why else (target.supports(b, call, case) or target.backward_unsupported(b, case))
    except Exception as e:  # noqa: BLE001
        return {"status": "error", "reason": f"backward check failed: {_err(e)}", "traceback": traceback.format_exc(limit=3)}
    if bad is not None:
        return {"status": "unsupported", "reason": bad.reason}
    if not payload.get("execute", True):
        return out
    try:
        args = (call, payload["tensors"], payload["cotangent"], device)
        prepared = target.prepare_backward(*args) if target is b else target.prepare_backward(b, *args)
        native, timing = time_execute(_BackwardOf(target), prepared, device,
                                      budget_s=payload.get("timing_budget_s", 0.02),
                                      max_repeats=payload.get("max_repeats", 5))
        out["grads"] = target.grads_to_canonical(native, prepared)
        out["timing"] = timing
    except Exception as e:  # noqa: BLE001 - the framework's autodiff raised: that is the finding
        out.update(status="error", reason=f"backward: {_err(e)}", traceback=traceback.format_exc(limit=4))
    return out


def path_refuses(b: Any, path: str) -> str | None:
    """Why ``path`` takes none of binding ``b``'s calls (:meth:`Path.accepts`), or None (also for
    eager and for a path its framework does not have: that is reported later, as before).

    Example:
        >>> from upconform.adapters import get
        >>> path_refuses(get("tf.repeat"), "keras_jax")
        'not a Keras call: only keras.* bindings run on another Keras backend'
    """
    if path == EAGER:
        return None
    try:
        p = framework(b.framework).path(path)
    except KeyError:
        return None
    bad = p.accepts(b)
    return bad.reason if bad else None


def _check_path(b: Any, call: NativeCall, case: Case, payload: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """The same native call on a compiled or exported path: build it (untimed, its seconds recorded),
    run and time it, run the call eagerly too (for ``vs_eager``), and read the export's attributes
    back (the audit: what the exported graph means next to what the eager call means). A path with a
    worker of its own (``worker_env``: Keras on another backend) runs no eager call: the eager call
    belongs to the framework's own process, so that path has no ``vs_eager``."""
    device = payload.get("device", "cpu")
    try:
        p = framework(b.framework).path(payload["path"])
    except KeyError as e:
        return {"status": "unsupported", "reason": str(e.args[0])}
    why = p.missing()
    if why is None:
        try:
            bad = p.supports(b, call, case)
        except Exception as e:  # noqa: BLE001
            return {"status": "error", "reason": f"path check failed: {_err(e)}", "traceback": traceback.format_exc(limit=3)}
        why = bad.reason if bad else None
    if why:
        return {"status": "unsupported", "reason": why}
    if not payload.get("execute", True):
        return out
    tensors = payload["tensors"]
    try:
        meaning = b.from_native(dict(call.args), case.shapes, op=case.op)
        out["eager_meaning"] = meaning.reason if isinstance(meaning, Unsupported) else plain(meaning)
    except Exception as e:  # noqa: BLE001
        out["eager_meaning"] = f"from_native failed: {_err(e)}"
    stage = "build"
    try:
        t0 = time.perf_counter()
        prepared = p.prepare(b, call, tensors, device)
        build = {"build_s": time.perf_counter() - t0, **p.build_info(prepared)}
        stage = "audit"
        audit = p.audit(b, call, prepared, case.shapes, case.op)
        if audit is not None:
            out["audit"] = plain(audit)
        stage = "run"
        native, timing = time_execute(p, prepared, device, budget_s=payload.get("timing_budget_s", 0.02),
                                      max_repeats=payload.get("max_repeats", 5))
        out["actual"] = p.to_canonical(native, prepared)
        out["timing"] = {**timing, **build}
        if p.worker_env:  # this process is not the eager one (another Keras backend): no vs_eager
            return out
        stage = "eager run"
        eager = b.prepare(call, tensors, device)
        out["eager_actual"] = b.to_canonical(b.execute(eager), eager)
    except Exception as e:  # noqa: BLE001 - the compiler, exporter or runtime raised: that is the finding
        if stage == "eager run":  # the path's verdict stands without the eager comparison
            out["eager_error"] = _err(e)
            return out
        out.update(status="error", reason=f"{payload['path']} {stage} failed: {_err(e)}",
                   traceback=traceback.format_exc(limit=6))
    return out


def do_native(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A discrepancy call: canonical meaning of native args, and the output of running them (eagerly,
    or on the call's ``path``: built, run and read back by that path)."""
    b = get(payload["binding"])
    out: dict[str, Any] = {"canonical": None, "unsupported_reason": None, "output": None, "error": None}
    path = payload.get("path", EAGER)
    try:
        b.check_args(payload["args"])
        meaning = b.from_native(payload["args"], payload["shapes"], op=payload.get("op"))
        if isinstance(meaning, Unsupported):
            out["unsupported_reason"] = meaning.reason
        else:
            out["canonical"] = meaning
        call, device = NativeCall(b.name, payload["args"]), payload.get("device", "cpu")
        here = framework(b.framework).path(path).runs_here() if path != EAGER else None
        if here is not None:  # this process cannot take the path (--no-isolation): unsupported, never a stand-in
            out["canonical"], out["unsupported_reason"] = None, here.reason
            return out
        if path == EAGER:
            out["output"] = b.run(call, payload["tensors"], device)
        else:
            p = framework(b.framework).path(path)
            why = p.missing() or path_refuses(b, path)
            if why:
                raise RuntimeError(f"the {path} path cannot run it: {why}")
            prepared = p.prepare(b, call, payload["tensors"], device)
            out["output"] = p.to_canonical(p.execute(prepared), prepared)
    except Exception as e:  # noqa: BLE001
        out["error"] = _err(e)
        out["traceback"] = traceback.format_exc(limit=3)
    return out


def do_native_grad(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A discrepancy call's gradients for a cotangent (eager only): ``{"grads": {name: array}}``, or
    why there are none (``unsupported_reason``: the binding has no gradient for the call's meaning;
    ``error``: the framework raised)."""
    b = get(payload["binding"])
    out: dict[str, Any] = {"grads": None, "unsupported_reason": None, "error": None}
    if payload.get("path", EAGER) != EAGER:
        out["unsupported_reason"] = f"no gradient on the {payload['path']} path: gradients are compared eagerly"
        return out
    if payload.get("dtype") == "uint8":
        out["unsupported_reason"] = "no gradient: uint8 tensors are integers"
        return out
    try:
        b.check_args(payload["args"])
        if payload.get("case") is not None:
            bad = b.backward_unsupported(case_from_wire(payload["case"]))
            if bad is not None:
                out["unsupported_reason"] = bad.reason
                return out
        out["grads"] = b.run_backward(NativeCall(b.name, payload["args"]), payload["tensors"], payload["cotangent"],
                                      payload.get("device", "cpu"))
    except NotImplementedError:  # a framework without automatic differentiation (no backward methods)
        out["unsupported_reason"] = f"no gradient: {b.framework} has no automatic differentiation that upconform drives"
    except Exception as e:  # noqa: BLE001
        out["error"] = _err(e)
        out["traceback"] = traceback.format_exc(limit=3)
    return out


def do_explore(payload: Mapping[str, Any]) -> dict[str, Any]:
    """One search example: what the native call means (``from_native``), what it computes, and
    whether ``to_native`` of that meaning gives back a call with the same meaning."""
    b = get(payload["binding"])
    args, shapes, op = dict(payload["args"]), {k: tuple(v) for k, v in payload["shapes"].items()}, payload["op"]
    out: dict[str, Any] = {"canonical": None, "unsupported_reason": None, "output": None, "error": None,
                           "args_error": None, "from_native_error": None, "round_trip": None}
    try:
        b.check_args(args)
    except TypeError as e:
        out["args_error"] = str(e)
        return out
    try:
        meaning = b.from_native(args, shapes, op=op)
    except Exception as e:  # noqa: BLE001 - the translation crashed: a finding
        out["from_native_error"] = _err(e)
        meaning = None
    if isinstance(meaning, Unsupported):
        out["unsupported_reason"] = meaning.reason
    elif meaning is not None:
        out["canonical"] = plain(_with_dtype_readings(b, op, meaning, shapes, payload["dtype"]))
    try:
        out["output"] = b.run(NativeCall(b.name, args), payload["tensors"], payload.get("device", "cpu"))
    except Exception as e:  # noqa: BLE001 - the framework raised
        out["error"] = _err(e)
    if out["canonical"] is not None:
        out["round_trip"] = _round_trip(b, op, out["canonical"], shapes, payload["dtype"])
    return out


def _with_dtype_readings(b: Any, op: str, meaning: Any, shapes: dict[str, tuple[int, ...]], dtype: str) -> Any:
    """``from_native`` does not know the dtype: on integer inputs a binding follows its declared
    reading of the conventions that matter for integers only (PyTorch's uint8 kernels round per axis)."""
    from ..canonical import op_info

    info = op_info(op)
    extra = {k: b.readings[k][0] for k in info.integer_conventions if dtype == "uint8" and len(b.readings.get(k, ())) == 1}
    if not extra:
        return meaning
    derived = info.derived
    return info.normal_form({**{k: v for k, v in meaning.items() if k not in derived}, **extra}, shapes)


def _round_trip(b: Any, op: str, meaning: dict[str, Any], shapes: dict[str, tuple[int, ...]],
                dtype: str) -> dict[str, Any]:
    """to_native(meaning), then from_native of that call: the same meaning, or what differs."""
    from ..canonical import op_info

    derived = op_info(op).derived
    try:
        case = Case(id=f"{op}/round_trip[{dtype}]", op=op, name="round_trip", dtype=dtype,
                    params=freeze({k: v for k, v in meaning.items() if k not in derived}),
                    shapes=MappingProxyType(dict(shapes)))
        call = b.unsupported_reading(case) or b.to_native(case)
        if isinstance(call, Unsupported):
            return {"status": "refused", "reason": call.reason}
        b.check_args(call.args)  # to_native writes only arguments the API takes (TypeError: a finding)
        back = b.from_native(dict(call.args), shapes, op=op)
        if isinstance(back, Unsupported):
            return {"status": "differs", "reason": f"{call.render()} has no meaning back: {back.reason}"}
        back = _with_dtype_readings(b, op, back, shapes, dtype)
        want = plain(case.normal)
        got = plain(op_info(op).normal_form({k: v for k, v in back.items() if k not in derived}, shapes))
        if got != want:
            diff = {k: [want.get(k), got.get(k)] for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)}
            return {"status": "differs", "reason": f"{call.render()} means {diff} (meaning, back)"}
        return {"status": "ok"}
    except Exception as e:  # noqa: BLE001
        return {"status": "error", "reason": _err(e)}


def do_warmup(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The worker's first answer: by then the framework is imported and pinned (``_worker_main``),
    outside any check's timeout."""
    return {"versions": framework_of(payload["binding"]).versions()}


HANDLERS = {"check": do_check, "native": do_native, "native_grad": do_native_grad, "explore": do_explore,
            "warmup": do_warmup}


def configure_threads(threads: int, frameworks: set[str] | Sequence[str]) -> None:
    """Pin every framework to the same thread count, before its first use (recorded in provenance).
    A framework that is not installed is left alone (its checks are ``unsupported``).

    Example:
        >>> configure_threads(1, set())
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in frameworks:
        try:
            fw = framework(name)
        except KeyError:  # a path's worker may name a framework that has no descriptor here (e.g. jax)
            continue
        if fw.missing() is None:
            fw.configure_threads(threads)


def worker_setup(framework_name: str, adapters: Sequence[str], threads: int, log_path: str | None = None,
                 env: Mapping[str, str] | None = None, configures: Sequence[str] | None = None) -> None:
    """What a worker does once, before its first call, wherever it runs (a spawned :class:`Worker`
    process, a Ray actor): the path's environment variables, the log file, the adapters, the threads."""
    os.environ.update(env or {})  # before any framework import (KERAS_BACKEND is read once, at import)
    if log_path:  # the framework's own start-up and log lines go to a file, not the console
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
    for a in adapters:
        load_adapter(a)
    configure_threads(threads, list(configures) if configures is not None else {framework_name})


def serve(kind: str, payload: Any) -> tuple[str, dict[str, Any]]:
    """One request in a worker: ``("ok", answer)``, or ``("error", {"reason", "traceback"})`` when the
    handler raised (the worker keeps serving).

    Example:
        >>> serve("nosuch", {})[0]
        'error'
    """
    try:
        return "ok", HANDLERS[kind](payload)
    except BaseException as e:  # noqa: BLE001 - report, keep serving
        return "error", {"reason": _err(e), "traceback": traceback.format_exc(limit=4)}


def _worker_main(conn: Any, framework_name: str, adapters: Sequence[str], threads: int,
                 log_path: str | None = None, env: Mapping[str, str] | None = None,
                 configures: Sequence[str] | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    worker_setup(framework_name, adapters, threads, log_path, env, configures)
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return
        answer = serve(kind, payload)
        try:
            conn.send(answer)
        except Exception as e:  # noqa: BLE001 - an answer that does not pickle is the handler's error
            conn.send(("error", {"reason": _err(e), "traceback": traceback.format_exc(limit=4)}))


# ----------------------------------------------------------------------------------- executors


class InProcess:
    """Runs everything in this process (library use and unit tests)."""

    isolated = False

    def framework_of(self, binding: str) -> str:
        return get(binding).framework

    def worker_of(self, binding: str, path: str = EAGER) -> str:
        return self.framework_of(binding)

    def call(self, binding: str, kind: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        return HANDLERS[kind](payload)

    def close(self) -> None:
        pass


def describe_exit(code: int | None) -> str:
    """'killed by signal SIGSEGV (-11)' or 'exited with code 3'."""
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name} ({code})"
    return f"exited with code {code}"


class Worker:
    """One persistent worker process for one framework."""

    def __init__(self, framework: str, adapters: Sequence[str], threads: int, start_timeout: float = 600.0,
                 log_path: str | None = None, env: Mapping[str, str] | None = None,
                 configures: Sequence[str] | None = None, label: str = "") -> None:
        self.framework = framework
        self.adapters = list(adapters)
        self.threads = threads
        self.start_timeout = start_timeout
        self.log_path = log_path
        self.env = dict(env or {})  # set in the worker before any import (a path's worker_env)
        self.configures = None if configures is None else list(configures)
        self.label = label or framework  # how messages name it: 'tensorflow' or 'tensorflow[keras_jax]'
        self.proc: Any = None
        self.conn: Any = None
        # one call at a time on the pipe, whichever thread asks (a library caller may share an executor)
        self._busy = threading.Lock()

    def _start(self, binding: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main,
                                args=(child, self.framework, self.adapters, self.threads, self.log_path, self.env,
                                      self.configures),
                                daemon=True, name=f"upconform-{self.label}")
        self.proc.start()
        child.close()
        # the framework import happens here, outside any check's timeout
        self.conn.send(("warmup", {"binding": binding}))
        if self.conn.poll(self.start_timeout):
            try:
                self.conn.recv()
            except (EOFError, OSError):
                pass

    def stop(self) -> None:
        """Kill the worker. Safe to call from another thread while a check waits on it (``close`` after
        Ctrl-C with ``--jobs``): the waiting call sees the pipe close and reports a crash."""
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(10)
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass

    def call(self, binding: str, kind: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        with self._busy:
            return self._call(binding, kind, payload, timeout)

    def _call(self, binding: str, kind: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.proc is None or not self.proc.is_alive():
            if self.proc is not None:
                self.stop()
            self._start(binding)
        proc, conn = self.proc, self.conn
        try:
            conn.send((kind, payload))
        except (BrokenPipeError, OSError, AttributeError):
            code = self._reap(proc, conn)
            return {"status": "crash", "reason": f"the {self.label} worker {describe_exit(code)}"}
        try:
            answered = conn.poll(timeout)
        except (EOFError, OSError):
            answered = True  # the pipe closed: recv says how
        if not answered:
            self.stop()
            return {"status": "timeout", "reason": f"no answer within {timeout:g} s; the {self.label} worker "
                                                   "was killed and restarted"}
        try:
            status, data = conn.recv()
        except (EOFError, OSError):
            code = self._reap(proc, conn)
            return {"status": "crash", "reason": f"the {self.label} worker {describe_exit(code)} during this check; "
                                                 "restarted"}
        if status != "ok":
            return {"status": "error", **data}
        return data

    def _reap(self, proc: Any, conn: Any) -> int | None:
        """The exit code of a worker that died (or was stopped) during a call; forget it if still current."""
        if self.proc is proc:
            self.proc = self.conn = None
        code = None
        if proc is not None:
            proc.join(10)
            code = proc.exitcode
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
        return code


class Isolated:
    """One :class:`Worker` per framework; PyTorch and TensorFlow never share a process."""

    isolated = True

    def __init__(self, adapters: Sequence[str] = (), threads: int = 1, log_dir: str | os.PathLike | None = None) -> None:
        self.adapters = list(adapters)
        self.threads = threads
        self.log_dir = log_dir
        self.workers: dict[str, Worker] = {}
        import threading

        self._lock = threading.Lock()  # lanes of different frameworks may start their workers at once
        self.closed = False

    def framework_of(self, binding: str) -> str:
        return get(binding).framework

    def worker_of(self, binding: str, path: str = EAGER) -> str:
        """The worker that runs ``binding`` on ``path``: its framework's, or ``framework[path]`` for a path
        with an environment of its own (``Path.worker_env``) that takes the binding.

        Example:
            >>> ex = Isolated()
            >>> ex.worker_of("keras.ops.repeat", "keras_jax"), ex.worker_of("tf.repeat", "keras_jax")
            ('tensorflow[keras_jax]', 'tensorflow')
        """
        fw = self.framework_of(binding)
        if path == EAGER:
            return fw
        try:
            p = framework(fw).path(path)
        except KeyError:
            return fw
        return f"{fw}[{path}]" if p.worker_env and p.accepts(get(binding)) is None else fw

    def call(self, binding: str, kind: str, payload: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        fw = self.framework_of(binding)
        path = payload.get("path", EAGER)
        key = self.worker_of(binding, path)
        if key == fw and path != EAGER:  # a path that takes none of this binding's calls starts no worker
            refused = path_refuses(get(binding), path)
            if refused:
                return {"status": "unsupported", "reason": refused}
        with self._lock:
            if self.closed:  # a lane still finishing its check after Ctrl-C starts no new worker
                return {"status": "crash", "reason": "the run was stopped"}
            if key not in self.workers:
                log = None
                if self.log_dir is not None:
                    os.makedirs(self.log_dir, exist_ok=True)
                    log = os.path.join(self.log_dir, f"{key}.log")
                env, configures = {}, None
                if key != fw:
                    p = framework(fw).path(path)
                    env, configures = dict(p.worker_env), list(p.configures or (fw,))
                self.workers[key] = self._new_worker(key, fw, log, env, configures)
            w = self.workers[key]
        return w.call(binding, kind, payload, timeout or 60.0)

    def _new_worker(self, key: str, fw: str, log_path: str | None, env: dict[str, str],
                    configures: list[str] | None) -> Any:
        """The worker for ``key`` (started on its first call): a :class:`Worker` process here; another
        executor places it elsewhere with the same ``call`` and ``stop`` (``RayExecutor``: a Ray actor)."""
        return Worker(fw, self.adapters, self.threads, log_path=log_path, env=env, configures=configures, label=key)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            for w in self.workers.values():
                w.stop()
            self.workers.clear()
