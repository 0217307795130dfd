"""The task layer's table: time to a quality target per implementation and mode (scenarios.task).

One row per task cell: the target, the trials that reached it, time to target as MLPerf
Training reports it (the mean after the fastest and the slowest are dropped), the range
over the trials, epochs to target, evaluation seconds (not in the time), and a flag where
a framework's epochs to target fall far from the reference's (harness.task_runs).
"""

from __future__ import annotations

import math

import pandas as pd

from harness import task_runs

SAME = ["source", "scenario", "phase", "size", "device", "threads", "seed"]


def _task(r):
    t = r.get("task")
    return t if isinstance(t, dict) else None


def task_rows(m):
    """One dict per task cell (any status with trials), the reference's epochs beside it."""
    if "task" not in m:
        return []
    cells = [r for r in m.to_dict("records") if _task(r)]
    reference = {tuple(r[k] for k in SAME): _task(r)["epochs_to_target"] for r in cells if r["impl"] == "reference"}
    rows = []
    for r in cells:
        t = _task(r)
        times = [run["seconds"] for run in t["runs"] if run["reached"]]
        ref_epochs = reference.get(tuple(r[k] for k in SAME))
        rows.append(
            {
                **{k: r[k] for k in SAME},
                "impl": r["impl"],
                "mode": r["mode"],
                "status": r["status"],
                "reason": r.get("reason") or "",
                "target": t["target"],
                "target_text": task_runs.target_text(t),
                "metric": t["metric"],
                "reached": t["reached"],
                "of": t["of"],
                "time_to_target_s": t["time_to_target_s"],
                "fastest_s": min(times) if times else None,
                "slowest_s": max(times) if times else None,
                "epochs": t["epochs_to_target"],
                "eval_s": t["eval_s"],
                "runs": t["runs"],
                "flag": "" if r["impl"] == "reference" else task_runs.epochs_flag(t["epochs_to_target"], ref_epochs),
                "note": t.get("note") or "",
            }
        )
    return rows


def _s(v):
    return f"{v:.3g} s" if v is not None and math.isfinite(v) else ""


def task_table(m):
    """(DataFrame of text, [notes]) of task_rows; (None, []) without any."""
    rows = task_rows(m)
    if not rows:
        return None, []
    out = []
    for r in sorted(rows, key=lambda r: (r["source"], r["size"], r["time_to_target_s"] or math.inf)):
        epochs = r["epochs"]
        out.append(
            {
                "source": r["source"],
                "task": f"{r['scenario']}/{r['phase']}",
                "size": r["size"],
                "impl": r["impl"],
                "mode": r["mode"],
                "target": r["target_text"],
                "reached": f"{r['reached']}/{r['of']}",
                "time to target": _s(r["time_to_target_s"]) or r["status"].upper(),
                "range": f"{r['fastest_s']:.3g}-{r['slowest_s']:.3g} s" if r["fastest_s"] is not None else "",
                "epochs": f"{min(epochs)}-{max(epochs)}"
                if epochs and min(epochs) != max(epochs)
                else (str(epochs[0]) if epochs else ""),
                "eval": _s(r["eval_s"]),
                "flag": r["flag"] or r["note"],
            }
        )
    table = pd.DataFrame(out)
    if table["source"].nunique() <= 1:
        table = table.drop(columns=["source"])
    notes = [
        "time to target: training only (the batches fed, the device synchronized each epoch), evaluation apart "
        "(eval); the mean after the fastest and slowest trials are dropped (MLPerf Training), each trial its "
        "own initial weights and data order, in the round's worker of its implementation; a trial that missed "
        "the target is counted, not averaged"
    ]
    return table, notes
