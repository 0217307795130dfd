"""The task layer's cells (a scenario with trials, scenarios.task): how many trials a cell
runs, and what its record says of them, after MLPerf Training's rules: each trial is timed
to the quality target; the figure is the mean after the fastest and the slowest are
dropped; a trial that did not reach the target is said, never averaged in.

Each trial is a process of the cell (process k runs trial k), so the harness's rounds give
a task group one round per trial, its implementations one after another (a trial is
seconds to minutes: it is not timed in turns with the others), each in the round's worker
of its implementation and mode, the others stopped meanwhile: one framework import a
round serves trial k of every task phase, each after validating its own first epoch.
"""

from __future__ import annotations

import statistics

import scenarios
from scenarios import task as task_scenario


def trial_count(cell, options):
    """Trials for this cell (--task-runs, else its size's `runs`); None: not a task cell."""
    scenario = scenarios.get(cell.scenario)
    if not scenario.trials:
        return None
    return getattr(options, "task_runs", None) or scenario.params(cell.size)["runs"]


def rounds_for(cells, options):
    """Rounds (processes) a group of comparable cells gets: its trials, or --processes."""
    return trial_count(cells[0], options) or options.processes


def summary(results, params, phase):
    """The record's `task` from the processes' results (each one trial), None for no trial."""
    goal = task_scenario.GOALS[phase]
    runs = [r["task"] for r in results if r.get("task")]
    if not runs:
        return None
    reached = [t for t in runs if t["reached"]]
    times = sorted(t["seconds"] for t in reached)
    kept = times[1:-1] if len(times) >= 3 else times  # MLPerf: the fastest and the slowest dropped
    best = max(_quality(t) for t in runs)
    return {
        "metric": goal.metric,
        "target": goal.target(params),
        "target_text": goal.format(goal.target(params)),
        "max_epochs": goal.max_epochs(params),
        "runs": runs,
        "of": len(runs),
        "reached": len(reached),
        "time_to_target_s": statistics.fmean(kept) if kept else None,
        "averaged": f"mean of {len(kept)} after the fastest and slowest were dropped"
        if len(times) >= 3
        else f"mean of all {len(kept)} that reached it (fewer than 3: none dropped)",
        "epochs_to_target": [t["epochs"] for t in reached],
        "eval_s": sum(t["eval_s"] for t in runs),
        "best": best,
        "best_text": goal.format(best, places=1),
    }


def _quality(trial):
    return trial["quality"] if "quality" in trial else trial["accuracy"]  # records before the generate phase


def target_text(task):
    return task.get("target_text") or f"{task['target']:.0%}"


def not_reached(task):
    """Why a cell none of whose trials reached the target has no time (the record's reason)."""
    return (
        f"no trial reached {target_text(task)} {task['metric']} within {task['max_epochs']} epochs "
        f"({task['of']} tried, best {task['best_text']}): fewer epochs than the size's max_epochs, "
        "or a training step that differs from the reference's"
    )


def missed_note(task):
    """'' or what to say of trials that did not reach the target, beside the time of those that did."""
    missed = task["of"] - task["reached"]
    if not missed:
        return ""
    return f"{missed} of {task['of']} trials did not reach {target_text(task)} within {task['max_epochs']} epochs"


# A framework whose trials take far more or far fewer epochs than the reference's computes
# something else (a different step, not a faster one): outside the reference's range widened
# by half of it (at least one epoch), its epochs are flagged.
EPOCH_SLACK = 0.5


def epochs_flag(epochs, reference_epochs):
    """'' or why these epochs to target do not look like the reference's."""
    if not epochs or not reference_epochs:
        return ""
    low, high = min(reference_epochs), max(reference_epochs)
    low_bound = low - max(1.0, EPOCH_SLACK * low)
    high_bound = high + max(1.0, EPOCH_SLACK * high)
    mid = statistics.median(epochs)
    if low_bound <= mid <= high_bound:
        return ""
    way = "fewer" if mid < low_bound else "more"
    return (
        f"converges in {way} epochs than the reference ({mid:g} against {low}-{high}): "
        "a different computation, not a faster one"
    )
