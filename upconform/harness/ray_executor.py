"""Framework workers as Ray actors: ``upconform run --executor ray`` spreads one run over a Ray
cluster (or a local Ray instance) and streams every check into the same ``results.jsonl``.

Each worker key of :meth:`Isolated.worker_of` ('torch', 'tensorflow[keras_jax]', ...) is one actor,
created on its first call, serving one call at a time: :func:`worker_setup` once (the path's
environment variables, also given to Ray as the actor's ``runtime_env``, ``OUT/logs/<key>.log``, the
adapters, the threads), :func:`serve` per call. On a cluster an actor asks for ``num_cpus=threads``,
one GPU with ``device="cuda"``, and the custom resources of ``env_resources`` (a matrix environment's
``{"upconform-env-<hash>": 1}``: its actors land only on nodes started with that resource); on a local
instance of its own it asks for no CPUs (``--jobs`` bounds the work, as with worker processes). An actor
that dies during a check (segfault, ``os._exit``, the OOM killer, a lost node) gives that check
``crash`` and is replaced on the next call; one that does not answer within the timeout is killed
(``timeout``). The runner gives each key a lane (``lanes``) and says when it is done (``release``);
when this run's actors need more than the cluster has, an idle one is killed to make room, one whose
lane is done first (it is started again if it is asked again, by the discrepancy reports).

Ray is imported when an executor is built, never at module import: without it the executor raises
:class:`RayUnavailable`, whose message is the one line the CLI prints (exit 2).

Example:
    >>> RayExecutor.isolated, issubclass(RayExecutor, Isolated)
    (True, True)
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .workers import Isolated, _err, serve, worker_setup

MISSING = "--executor ray needs the ray extra: pip install 'upconform[ray]'"
OBJECT_STORE_BYTES = 256 << 20  # a local instance's object store: payloads are small; more spills to disk
START_TIMEOUT_S = 600.0  # placing an actor and importing its framework, outside any check's timeout
IDLE_S = 5.0  # an actor unused this long may be killed to make room for another (one whose lane is done: at once)
PATIENCE_S = 10.0  # a shared cluster without room this long: kill an idle actor of ours even if we are within it
POLL_S = 0.25
LOCAL_GPU_SHARE = 1 / 16  # an actor holding no resources shares a GPU (Ray still sets CUDA_VISIBLE_DEVICES)


RAY_ENV = ("RAY_AUTH_MODE", "RAY_USAGE_STATS_ENABLED")  # what starting Ray sets in this process's environment


def restore_env(before: Mapping[str, str | None]) -> None:
    """Put environment variables back as they were (None: unset)."""
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


class RayUnavailable(RuntimeError):
    """Ray is not installed, or no cluster answered at the address: one line for the user."""


def import_ray() -> Any:
    """The ``ray`` module, or :class:`RayUnavailable` with the install hint.

    Example:
        >>> import_ray().__name__  # doctest: +SKIP
        'ray'
    """
    try:
        import ray
    except ImportError:
        raise RayUnavailable(MISSING) from None
    return ray


def local_init_kwargs(*, log_to_driver: bool = False, **overrides: Any) -> dict[str, Any]:
    """``ray.init`` arguments of the local instance that an executor without ``address`` starts:
    a fresh instance even where ``RAY_ADDRESS`` or ``ray start`` names another, every core, no
    dashboard, a small object store, quiet, and without Ray's memory monitor: it kills workers when
    the machine's memory is 95 % used, whoever uses it (measured: another program's run on the same
    machine made it kill two actors mid-check); worker processes have no such monitor.

    Example:
        >>> local_init_kwargs()["address"], local_init_kwargs()["include_dashboard"]
        ('local', False)
    """
    return {"address": "local", "num_cpus": os.cpu_count() or 1, "include_dashboard": False,
            "log_to_driver": log_to_driver, "object_store_memory": OBJECT_STORE_BYTES,
            "logging_level": logging.ERROR, "_system_config": {"memory_monitor_refresh_ms": 0}, **overrides}


def start_ray(ray: Any, address: str | None, *, log_to_driver: bool = False, **overrides: Any) -> None:
    """``ray.init``: a local instance (``address=None``) or a connection to a cluster ("auto",
    "host:port", "ray://host:port"); ``overrides`` change a local instance's arguments (tests:
    ``num_cpus=2``). ``ray.init`` replaces the process's SIGTERM handler; the one in
    place before it is put back (the session's handler keeps every finished check on SIGTERM)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    on_term = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        if address is None:
            ray.init(**local_init_kwargs(log_to_driver=log_to_driver, **overrides))
        else:
            ray.init(address=address, log_to_driver=log_to_driver, logging_level=logging.ERROR)
    except Exception as e:  # noqa: BLE001 - ConnectionError, a bad address, a client without its extra
        where = "a local Ray instance did not start" if address is None else f"--address {address}: no Ray cluster answered"
        raise RayUnavailable(f"{where} ({_err(e)}){_auth_hint(e)}") from None
    finally:
        if on_term is not None:
            signal.signal(signal.SIGTERM, on_term)


def _auth_hint(e: BaseException) -> str:
    """A cluster with token authentication (Ray 2.60 turns it on for a new local cluster) refuses a
    driver without its token; an explicit address never picks up ``~/.ray/auth_token`` by itself."""
    seen: list[BaseException] = []
    x: BaseException | None = e
    while x is not None and x not in seen:
        seen.append(x)
        x = x.__cause__ or x.__context__
    if any("Authentication" in type(x).__name__ or "InvalidAuthToken" in str(x) for x in seen):
        return ("; the cluster wants its token: RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=... "
                "(`ray get-auth-token` where it was started)")
    return ""


def writable(obj: Any) -> Any:
    """``obj`` with every read-only numpy array copied (Ray hands arrays out as read-only views of
    its object store; a worker process's unpickled arrays are writable, and bindings may rely on it).

    Example:
        >>> a = np.zeros(2)
        >>> a.flags.writeable = False
        >>> writable({"x": [a]})["x"][0].flags.writeable
        True
    """
    if isinstance(obj, np.ndarray):
        return obj if obj.flags.writeable else obj.copy()
    if isinstance(obj, dict):
        return {k: writable(v) for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(writable(v) for v in obj)
    return obj


def death_cause(e: BaseException) -> str:
    """Ray's account of an actor's death on one line, without its list of common causes.

    Example:
        >>> death_cause(RuntimeError("The actor died unexpectedly before finishing this task.\\n\\tpid: 7\\n"
        ...     "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR "
        ...     "Worker exit detail: Worker unexpectedly exits with a connection error code 2. End of file. "
        ...     "Some common causes include: (1) ..."))
        'its worker process has died: SYSTEM_ERROR, Worker unexpectedly exits with a connection error code 2. End of file'
    """
    text = str(e)
    m = re.search(r"The actor is dead because (.*)", text, re.S)
    cause = " ".join((m.group(1) if m else text).split())
    cause = re.split(r" Some common causes include| To troubleshoot", cause)[0]
    cause = cause.replace(". Worker exit type: ", ": ").replace(" Worker exit detail: ", ", ")
    return (cause[:400] or type(e).__name__).rstrip(". ")


class UpconformWorker:
    """What runs in an actor's process: :meth:`setup` (:func:`worker_setup`) once, then :func:`serve`
    per call. Ray makes it an actor class (``ray.remote``) when an executor is built. Its ``__init__``
    is light, so that its first ``ping`` says it is placed and started, not that a framework imported."""

    def __init__(self, framework_name: str, adapters: Sequence[str], threads: int, log_path: str | None,
                 env: Mapping[str, str], configures: Sequence[str] | None) -> None:
        self.args = (framework_name, list(adapters), threads, log_path, dict(env), configures)
        import ray

        self.where = {"node": ray.util.get_node_ip_address(), "pid": os.getpid()}

    def ping(self) -> dict[str, Any]:
        return self.where

    def setup(self) -> None:
        framework_name, adapters, threads, log_path, env, configures = self.args
        if log_path:  # on a cluster the folder is the driver's: made on this node, or Ray's own logs
            try:
                os.makedirs(os.path.dirname(log_path), exist_ok=True)
                open(log_path, "a").close()
            except OSError:
                log_path = None
        worker_setup(framework_name, adapters, threads, log_path, env, configures)

    def run(self, kind: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return serve(kind, writable(payload))


class ActorWorker:
    """The driver's side of one worker key: its actor (created on the first call, replaced after it
    dies), one call at a time; ``call`` and ``stop`` as :class:`Worker`'s."""

    def __init__(self, owner: RayExecutor, key: str, framework_name: str, log_path: str | None,
                 env: dict[str, str], configures: list[str] | None) -> None:
        self.owner, self.label, self.framework = owner, key, framework_name
        self.log_path, self.env, self.configures = log_path, env, configures
        self.handle: Any = None
        self.where: dict[str, Any] | None = None
        self.in_call = False
        self.released = False  # its lane is done (the runner said so): the first to make room
        self.reserved = False  # its actor holds the run's resources (threads CPUs, a GPU) on a cluster
        self.last_used = 0.0
        self.starts = 0
        self._busy = threading.Lock()

    def call(self, binding: str, kind: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        with self._busy:
            self.in_call = True
            try:
                return self._call(binding, kind, payload, timeout)
            finally:
                self.in_call = False
                self.last_used = time.monotonic()

    def _call(self, binding: str, kind: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        ray = self.owner.ray
        if self.handle is None:
            why = self.owner.stopped() or self._start(binding)
            if why:
                return {"status": "crash", "reason": why}
        handle, mark = self.handle, self._log_size()
        try:
            status, data = ray.get(handle.run.remote(kind, payload), timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            self.stop()
            return {"status": "timeout", "reason": f"no answer within {timeout:g} s; the {self.label} actor "
                                                   "was killed and replaced"}
        except ray.exceptions.RayTaskError as e:  # the actor lives; its answer failed (e.g. did not serialise)
            return {"status": "error", "reason": _err(e.cause if isinstance(e.cause, BaseException) else e),
                    "traceback": str(e)[-2000:]}
        except ray.exceptions.RayError as e:  # RayActorError, ActorDiedError, a lost node or object
            self._forget(handle)
            stopped = self.owner.stopped()
            if stopped:
                return {"status": "crash", "reason": stopped}
            pid = f"pid {self.where['pid']} on {self.where['node']}, " if self.where else ""
            return {"status": "crash", "reason": f"the {self.label} actor died during this check ({pid}"
                                                 f"{self._log_hint(mark)}{death_cause(e)}); replaced"}
        data = writable(data)
        return data if status == "ok" else {"status": "error", **data}

    def _start(self, binding: str) -> str | None:
        """Create the actor, wait until it is placed (making room when the cluster is full), then
        warm it up (its framework's import, outside any check's timeout). None, or why it did not start."""
        ray, owner = self.owner.ray, self.owner
        # an actor started after its lane is done (the discrepancy reports) times nothing: it holds no CPUs
        opts = owner.actor_options(self.env, reserve=not self.released)
        self.reserved = not self.released and not owner.own_instance
        try:
            handle = owner.actor_class.options(**opts).remote(self.framework, owner.adapters, owner.threads,
                                                             self.log_path, self.env, self.configures)
        except Exception as e:  # noqa: BLE001 - bad options, a lost connection
            return f"the {self.label} actor could not be created: {_err(e)}"
        self.handle, self.where = handle, None
        self.starts += 1
        ping, t0 = handle.ping.remote(), time.monotonic()
        while not ray.wait([ping], timeout=POLL_S)[0]:
            stopped = owner.stopped()
            if stopped:
                self.stop()
                return stopped
            waited = time.monotonic() - t0
            if owner.make_room(self, waited):
                continue
            if waited > owner.start_timeout and not owner.others_busy(self):
                self.stop()
                return (f"the {self.label} actor was not placed within {owner.start_timeout:g} s: no node has "
                        f"{owner.need} free (ray status shows the cluster)")
        try:
            self.where = ray.get(ping)
            ray.get(handle.setup.remote(), timeout=owner.start_timeout)
            ray.get(handle.run.remote("warmup", {"binding": binding}), timeout=owner.start_timeout)
        except ray.exceptions.GetTimeoutError:
            self.stop()
            return f"the {self.label} actor did not start within {owner.start_timeout:g} s"
        except ray.exceptions.RayTaskError as e:  # its set-up raised (an adapter that does not import)
            self.stop()
            return f"the {self.label} actor could not start: {_err(e.cause if isinstance(e.cause, BaseException) else e)}"
        except ray.exceptions.RayError as e:
            self._forget(handle)
            return f"the {self.label} actor could not start ({death_cause(e)})"
        return None

    def _log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path) if self.log_path else -1
        except OSError:
            return -1

    def _log_hint(self, mark: int) -> str:
        """What the actor's log (when this machine can read it) says it died of, written since ``mark``:
        'SIGSEGV in its log, ' (Ray names no signal or exit code)."""
        if mark < 0 or not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(mark)
                text = f.read(1 << 16).decode("utf-8", "replace")
        except OSError:
            return ""
        m = re.search(r"\*\*\* (SIG[A-Z]+) received", text) or re.search(r"Fatal Python error: ([^\n]+)", text)
        return f"{m.group(1).strip()} in its log, " if m else ""

    def _forget(self, handle: Any) -> None:
        if self.handle is handle:
            self.stop()

    def stop(self) -> None:
        """Kill the actor (its resources go back to the cluster). Safe while a call waits on it: that
        call sees the actor die."""
        handle, self.handle = self.handle, None
        if handle is not None:
            try:
                self.owner.ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already dead, or Ray is gone
                pass


class RayExecutor(Isolated):
    """The :class:`Isolated` protocol with each worker key a Ray actor. ``lanes``: the runner gives each
    key a lane even with ``jobs`` 1 (one actor at work at a time, not one per framework of every case).

    ``address=None`` starts a local Ray instance (every core, no dashboard) and shuts it down on
    :meth:`close`; "auto", "host:port" or "ray://host:port" connects to a running cluster (and only
    disconnects). A process where Ray is already initialised keeps its instance. ``device="cuda"``
    asks each actor for one GPU; ``env_resources`` are custom resources every actor asks for.

    Example (a local instance; ``threads`` CPUs per actor):
        >>> ex = RayExecutor([], threads=1)  # doctest: +SKIP
        >>> ex.call("torch.repeat_interleave", "warmup", {"binding": "torch.repeat_interleave"})  # doctest: +SKIP
        {'versions': {'torch': '2.13.0'}}
        >>> ex.close()  # doctest: +SKIP
    """

    lanes = True

    def __init__(self, adapters: Sequence[str] = (), threads: int = 1, log_dir: str | os.PathLike | None = None, *,
                 address: str | None = None, device: str = "cpu", env_resources: Mapping[str, float] | None = None,
                 start_timeout: float = START_TIMEOUT_S) -> None:
        super().__init__(adapters, threads, None if log_dir is None else os.path.abspath(log_dir))
        self.ray = import_ray()
        self.address, self.device = address, device
        self.env_resources = dict(env_resources or {})
        self.start_timeout = start_timeout
        self.evictions = 0
        self.lanes_done = False  # the runner's lanes are over: actors started now hold no resources
        self._seen: dict[str, ActorWorker] = {}  # every key's worker, for provenance after close
        self.started_ray = not self.ray.is_initialized()
        # ray.init sets RAY_AUTH_MODE in this process (a new local cluster turns token authentication on)
        self._env_before = {k: os.environ.get(k) for k in RAY_ENV}
        if self.started_ray:
            start_ray(self.ray, address, log_to_driver=log_dir is None)
        # a local instance of its own is this run's alone: --jobs bounds the work at once, as with worker
        # processes, and every worker's actor may stay up (idle actors holding CPUs would leave room for
        # two of the default suite's ten workers on two cores, and the discrepancy reports, which call
        # two to four frameworks each, would restart them over and over)
        self.own_instance = self.started_ray and address is None
        self.need: dict[str, float] = {} if self.own_instance else {
            "CPU": float(threads), **({"GPU": 1.0} if device == "cuda" else {}),
            **{k: float(v) for k, v in self.env_resources.items()}}
        self.actor_class = self.ray.remote(UpconformWorker)
        self._restore_print: Any = None
        if log_dir is not None:
            self._quiet_driver(os.path.join(self.log_dir, "ray.log"))

    # ------------------------------------------------------------------------------ the protocol

    def _new_worker(self, key: str, fw: str, log_path: str | None, env: dict[str, str],
                    configures: list[str] | None) -> ActorWorker:
        w = self._seen[key] = ActorWorker(self, key, fw, log_path, env, configures)
        w.released = self.lanes_done
        return w

    def close(self) -> None:
        """Kill the actors; shut down the local instance this executor started (or disconnect from the
        cluster it connected to). Later calls answer crash "the run was stopped"."""
        with self._lock:
            workers = list(self.workers.values())
        super().close()
        for w in workers:  # a lane still waiting on its killed actor sees it die before Ray goes away
            if w._busy.acquire(timeout=5):
                w._busy.release()
        if self._restore_print is not None:
            self._restore_print()
            self._restore_print = None
        if self.started_ray and self.ray.is_initialized():
            self.ray.shutdown()
            self.started_ray = False
            restore_env(self._env_before)

    # ------------------------------------------------------------------------------ placement

    def actor_options(self, env: Mapping[str, str], reserve: bool = True) -> dict[str, Any]:
        """``ActorClass.options`` of a worker: its resources (on a cluster: ``threads`` CPUs, a GPU with
        ``device="cuda"``, the ``env_resources``; on a local instance of its own, or without
        ``reserve`` (a worker whose lane is done: nothing it runs is timed): no CPUs and a share of
        the GPU), no restarts or retries (a crash is the check's outcome), one call at a time, the
        path's environment set before Python starts.

        Example:
            >>> ex = object.__new__(RayExecutor)
            >>> ex.threads, ex.device, ex.env_resources, ex.own_instance = 4, "cuda", {"upconform-env-ab12": 1}, False
            >>> sorted(ex.actor_options({}).items())[:4]
            [('max_concurrency', 1), ('max_restarts', 0), ('max_task_retries', 0), ('num_cpus', 4)]
            >>> ex.actor_options({})["num_gpus"], ex.actor_options({})["resources"]
            (1, {'upconform-env-ab12': 1})
            >>> ex.actor_options({}, reserve=False)["num_cpus"], ex.actor_options({}, reserve=False)["num_gpus"]
            (0, 0.0625)
        """
        reserve = reserve and not self.own_instance
        opts: dict[str, Any] = {"num_cpus": self.threads if reserve else 0, "max_restarts": 0,
                                "max_task_retries": 0, "max_concurrency": 1}
        if self.device == "cuda":
            opts["num_gpus"] = 1 if reserve else LOCAL_GPU_SHARE
        if self.env_resources and not self.own_instance:
            opts["resources"] = dict(self.env_resources)
        if env:
            opts["runtime_env"] = {"env_vars": dict(env)}
        return opts

    def stopped(self) -> str | None:
        return "the run was stopped" if self.closed else None

    def others_busy(self, me: ActorWorker) -> bool:
        """Another actor of this run is in a call: the cluster is working, a pending actor waits on."""
        with self._lock:
            return any(w.in_call for w in self.workers.values() if w is not me)

    def release(self, key: str | None) -> None:
        """The runner is done with ``key``'s lane (None: with every lane, the checks are done): its
        actor is the first to go when another needs room (it stays up while there is room: the
        discrepancy reports may call it again), and an actor started for it later holds no CPUs."""
        with self._lock:
            if key is None:
                self.lanes_done = True
            for k, w in self.workers.items():
                if key is None or k == key:
                    w.released = True

    def make_room(self, me: ActorWorker, waited: float) -> bool:
        """Kill an idle actor of this run when ``me`` waits for resources: when this run's actors (``me``
        included) need more than the cluster has, or when a shared cluster has had no room for
        ``PATIENCE_S``. Actors whose lane is done go first, then those idle for ``IDLE_S``, least recently
        used first. True when one was killed."""
        if waited < POLL_S or not me.reserved:
            return False
        try:
            free, total = self.ray.available_resources(), self.ray.cluster_resources()
        except Exception:  # noqa: BLE001
            return False
        if any(total.get(k, 0.0) < v for k, v in self.need.items()):
            return False  # no node could ever take it (an autoscaler may add one): killing does not help
        with self._lock:
            live = [w for w in self.workers.values() if w.handle is not None and w.reserved]
        over = any(len(live) * v > total.get(k, 0.0) for k, v in self.need.items())
        if not over and (waited < PATIENCE_S or all(free.get(k, 0.0) >= v for k, v in self.need.items())):
            return False  # being placed or started
        now = time.monotonic()
        idle = sorted((w for w in live if w is not me and not w.in_call and (w.released or now - w.last_used >= IDLE_S)),
                      key=lambda w: (not w.released, w.last_used))
        for w in idle:
            if not w._busy.acquire(blocking=False):
                continue
            try:
                if w.handle is None or w.in_call:
                    continue
                w.stop()
                self.evictions += 1
                return True
            finally:
                w._busy.release()
        return False

    # ------------------------------------------------------------------------------ reporting

    def describe(self) -> dict[str, Any]:
        """For provenance: Ray's version, where it ran, each key's actor (node, pid, starts), the
        actors killed to make room."""
        return {"version": self.ray.__version__, "address": self.address or "local", "device": self.device,
                "env_resources": self.env_resources or None, "evictions": self.evictions,
                "actors": {w.label: {**(w.where or {}), "starts": w.starts} for w in self._seen.values()}}

    def resources(self) -> str:
        """The cluster in a few words: '1 node, 2 CPUs' (what a run prints as it starts)."""
        try:
            total = self.ray.cluster_resources()
            nodes = len([n for n in self.ray.nodes() if n.get("Alive")])
        except Exception as e:  # noqa: BLE001 - only words for the console
            return f"resources unknown ({_err(e)})"
        parts = [f"{nodes} node{'s' * (nodes != 1)}", f"{total.get('CPU', 0):g} CPUs"]
        if total.get("GPU"):
            parts.append(f"{total['GPU']:g} GPUs")
        return ", ".join(parts)

    def _quiet_driver(self, path: str) -> None:
        """Ray prints its raylet's messages ("A worker died or was killed ...") on the driver's stdout
        even with ``log_to_driver=False``; a run's crashes are its results, so they go to ``path``."""
        mod = getattr(getattr(self.ray, "_private", None), "worker", None)
        original = getattr(mod, "print_to_stdstream", None)
        if original is None:
            return

        def to_log(data: dict[str, Any], ignore_prefix: bool = False, **_: Any) -> None:
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "a", encoding="utf-8") as f:
                    for line in data.get("lines", ()):
                        f.write(f"({data.get('pid', '')}) {line}\n")
            except OSError:
                pass

        mod.print_to_stdstream = to_log

        def restore() -> None:
            if mod.print_to_stdstream is to_log:
                mod.print_to_stdstream = original

        self._restore_print = restore
