"""A third-party framework with a compiled and an exported path, each able to plant a fault.

``Exported`` "exports" a repeat call to an attribute dict and runs it; tests switch on a wrong
exported attribute (values still right: the audit must catch it), wrong values, or a refusal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from upconform import reference
from upconform.adapters import Binding, Framework, NativeCall, Path, Unsupported


class PathRepeat(Binding):
    name = "fakepath.repeat"
    framework = "fakepath"
    ops = ("repeat",)

    def to_native(self, case: Any) -> NativeCall | Unsupported:
        r = case.params["repeats"]
        return NativeCall(self.name, {"repeats": list(r) if isinstance(r, (list, tuple)) else [r]})

    def from_native(self, args, shapes, op=None):
        return {"repeats": list(args["repeats"]) * (len(shapes["x"]) - 2 if len(args["repeats"]) == 1 else 1)}

    def prepare(self, call, tensors, device="cpu"):
        return tensors["x"], call.args["repeats"]

    def execute(self, prepared):
        import os
        import time

        delay = float(os.environ.get("UPCONFORM_FAKE_SLEEP", "0"))  # tests slow a run down to stop it midway
        if delay:
            time.sleep(delay)
        x, r = prepared
        return reference.repeat(x, repeats=r[0]).astype(x.dtype)

    def to_canonical(self, out, prepared):
        return out


class Exported(Path):
    name = "exported"
    framework = "fakepath"
    wrong_attribute = False  # the export writes repeats + 1 but computes with repeats
    wrong_values = 0.0  # the exported graph adds this to every value

    def supports(self, binding, call, case):
        return Unsupported("the fake exporter has no repeat by 5") if call.args["repeats"][0] == 5 else None

    def prepare(self, binding, call, tensors, device="cpu"):
        r = list(call.args["repeats"])
        graph = {"op": "Repeat", "repeats": [v + 1 for v in r] if self.wrong_attribute else r}
        return graph, binding.prepare(call, tensors, device), binding

    def execute(self, prepared):
        _, inner, binding = prepared
        y = binding.execute(inner)
        return y + np.asarray(self.wrong_values, dtype=y.dtype) if self.wrong_values else y

    def to_canonical(self, out, prepared):
        return out

    def build_info(self, prepared):
        return {"ops": [prepared[0]["op"]]}

    def audit(self, binding, call, prepared, shapes, op):
        graph = prepared[0]
        return {"nodes": [graph["op"]], "meaning": binding.from_native({"repeats": graph["repeats"]}, shapes, op)}


class Compiled(Exported):
    name = "compiled"

    def supports(self, binding, call, case):
        return None

    def audit(self, binding, call, prepared, shapes, op):
        return None


FRAMEWORK = Framework("fakepath", paths=(("exported", Exported), ("compiled", Compiled)))
BINDINGS = [PathRepeat()]
