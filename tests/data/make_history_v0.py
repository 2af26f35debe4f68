"""How tests/data/history_v0.sqlite was made: three runs written by ``history.append`` as of commit
2845ce8 (the ``runs`` table with ``torch``/``tensorflow`` columns, ``PRAGMA user_version`` 0), then
vacuumed to 1 KiB pages to keep the file small. It needs that commit's code on the path:

Example:
    git worktree add /tmp/upconform-v0 2845ce8
    PYTHONPATH=/tmp/upconform-v0 python tests/data/make_history_v0.py tests/data/history_v0.sqlite
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any


def _check(case: str, binding: str, fw: str, outcome: str, ulp: float | None, t: float | None) -> dict[str, Any]:
    return {"case_id": case, "binding": binding, "op": case.split("/")[0], "framework": fw, "dtype": "float32",
            "outcome": outcome, "metrics": {"max_abs_err": ulp * 1e-7 if ulp is not None else None, "max_ulp": ulp},
            "timing": {"median_s": t} if t is not None else {}}


def main(db: str) -> None:
    from upconform.reports import history

    assert "torch TEXT" in history._SCHEMA, "run this with the code of commit 2845ce8 on PYTHONPATH"
    base = {"upconform": "0.1.0", "python": "3.11.9", "numpy": "1.26.4", "platform": "Linux-x86_64",
            "cpu": "Test CPU", "threads": 1, "device": "cpu"}
    interp, resize, rep = "torch.nn.functional.interpolate", "tf.image.resize", "torch.repeat_interleave"
    runs = [
        ({**base, "torch": "2.1.0", "tensorflow": "2.16.1", "keras": "3.0.0", "git_commit": "aaaa1111",
          "time_utc": "2025-01-01T00:00:00+00:00"},
         [_check("resize/a[float32]", interp, "torch", "pass", 0.5, 1e-3),
          _check("resize/a[float32]", resize, "tensorflow", "fail", 12.0, 2e-3),
          _check("repeat/b[float32]", rep, "torch", "unsupported", None, None)]),
        ({**base, "torch": "2.2.0", "tensorflow": None, "git_commit": "bbbb2222", "time_utc": "2025-02-01T00:00:00+00:00"},
         [_check("resize/a[float32]", interp, "torch", "pass", 0.5, 1.1e-3)]),
        ({**base, "numpy": "2.4.6", "frameworks": {"torch": {"torch": "2.13.0+cpu"},
                                                   "tensorflow": {"tensorflow-cpu": "2.21.0", "keras": "3.15.1"}},
          "torch": "2.13.0+cpu", "tensorflow": "2.21.0", "git_commit": "cccc3333",
          "time_utc": "2025-03-01T00:00:00+00:00"},
         [_check("resize/a[float32]", interp, "torch", "pass", 0.5, 0.9e-3),
          _check("resize/a[float32]", resize, "tensorflow", "pass", 1.0, 2.1e-3)]),
    ]
    for i, (prov, res) in enumerate(runs):
        history.append(db, {"provenance": prov, "results": res}, f"run{i + 1}/results.json")
    con = sqlite3.connect(db)
    con.execute("PRAGMA page_size=1024")
    con.execute("VACUUM")
    con.close()


if __name__ == "__main__":
    main(sys.argv[1])
