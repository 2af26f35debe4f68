"""Keras 3 on its other backends: the same ``keras.layers`` / ``keras.ops`` call, run with
``KERAS_BACKEND=jax`` (path ``keras_jax``) or ``KERAS_BACKEND=torch`` (path ``keras_torch``).

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so each backend runs in a worker of its
own (the path's ``worker_env``; that worker never imports TensorFlow): ``upconform run`` routes these
checks there and gives them a lane of their own under ``--jobs``. In a process whose Keras already
runs on another backend (library use, unit tests: :class:`~upconform.harness.workers.InProcess`) the
path is unsupported, with the reason.

The binding's own ``prepare`` builds the call (``KerasBinding``: backend tensors from
``keras.ops.convert_to_tensor``, layers built and their weights set as on TensorFlow); ``execute`` runs
it and waits for the result (``block_until_ready`` on JAX); ``to_canonical`` is
``keras.ops.convert_to_numpy``. Nothing is compiled or exported, so there is no audit; the output is
judged against the reference like any other check. ``vs_eager`` (against the TensorFlow-backend output)
is not computed: the eager call runs in another process; the eager check of the same case, judged
against the same reference, is its comparison.

Example:
    >>> from upconform.adapters.tf_bindings import FRAMEWORK
    >>> p = FRAMEWORK.path("keras_jax")
    >>> dict(p.worker_env), p.configures
    ({'KERAS_BACKEND': 'jax'}, ('jax',))
    >>> p.accepts(type("B", (), {"name": "tf.repeat"})()).reason
    'not a Keras call: only keras.* bindings run on another Keras backend'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..canonical import Case
from .base import Binding, NativeCall, Path, Unsupported


class KerasBackend(Path):
    """A ``keras.*`` binding's call on Keras's ``backend`` (jax or torch), in a worker of its own."""

    framework = "tensorflow"
    extra = ""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"keras_{backend}"
        self.module = backend  # jax or torch must be importable
        self.description = f"Keras 3 with KERAS_BACKEND={backend} (a worker of its own)"
        self.worker_env = {"KERAS_BACKEND": backend}
        self.configures = (backend,)

    def accepts(self, binding: Binding) -> Unsupported | None:
        if not binding.name.startswith("keras."):
            return Unsupported("not a Keras call: only keras.* bindings run on another Keras backend")
        return None

    def supports(self, binding: Binding, call: NativeCall, case: Case) -> Unsupported | None:
        return self.accepts(binding) or self.runs_here()

    def runs_here(self) -> Unsupported | None:
        from .tf_bindings import keras_backend

        have = keras_backend()
        if have != self.backend:
            return Unsupported(f"Keras runs on {have} in this process (KERAS_BACKEND is read once, at import): the "
                               f"{self.name} path needs a worker of its own with KERAS_BACKEND={self.backend} "
                               "(upconform run, the isolated executor)")
        return None

    def prepare(self, binding: Binding, call: NativeCall, tensors: Mapping[str, np.ndarray],
                device: str = "cpu") -> Any:
        prepared = binding.prepare(call, tensors, device)
        fn, args, kwargs = prepared[:3]
        last = prepared[4] if len(prepared) > 4 else getattr(binding, "channels_last", True)
        return {"fn": fn, "args": tuple(args), "kwargs": dict(kwargs), "last": last}

    def execute(self, prepared: Any) -> Any:
        out = prepared["fn"](*prepared["args"], **prepared["kwargs"])
        if self.backend == "jax":
            out.block_until_ready()
        elif self.backend == "torch" and getattr(out, "is_cuda", False):
            import torch

            torch.cuda.synchronize()
        return out

    def to_canonical(self, out: Any, prepared: Any) -> np.ndarray:
        from .tf_bindings import from_keras

        return from_keras(out, prepared["last"])

    def build_info(self, prepared: Any) -> dict[str, Any]:
        return {"keras_backend": self.backend}


def keras_jax() -> KerasBackend:
    return KerasBackend("jax")


def keras_torch() -> KerasBackend:
    return KerasBackend("torch")
