"""What every adapter would otherwise write again: binding its sync to a step, putting a
training step's weights back, and choosing how a mode builds a step.

No framework import here (impls.base only): it loads in any worker, whatever its environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from impls.base import MalformedImplementation, Step


def stepper(sync, place=None):
    """step(run, outputs, device, reset=None, agree=None) -> Step with the adapter's `sync(device)` bound,
    which the harness calls inside every timed sample. place(run, device) -> run: where the
    framework needs its calls made inside a device context."""

    def step(run, outputs, device, reset=None, agree=None):
        return Step(
            run if place is None else place(run, device), outputs, sync=lambda: sync(device), reset=reset, agree=agree
        )

    return step


def resetter(weights, initial, restore):
    """Step.reset for a training step: restore(weight, value) puts each initial value (made
    now, in prepare) back into the very weight the step updates, in place, so a compiled
    graph or captured variable keeps working without a retrace."""
    pairs = list(zip(weights, initial))

    def reset():
        for weight, value in pairs:
            restore(weight, value)

    return reset


def by_mode(manifest, **ways):
    """{mode: way of building a step}, one for each mode the manifest declares: checked when
    the adapter is imported, so a declared mode without a way is a malformed adapter, not a
    KeyError in one cell. The runner's precheck only lets declared modes reach an adapter."""
    if set(ways) != set(manifest.modes):
        raise MalformedImplementation(
            f"adapter.py builds modes {', '.join(sorted(ways))}; the manifest declares {', '.join(manifest.modes)}"
        )
    return dict(ways)


@dataclass
class Trainer:
    """scenarios.task.Trainer as functions: what an adapter's `task` builds."""

    load: Callable[[dict], None]
    train: Callable[..., object]
    predict: Callable[[object], object]
    loss: Callable[[object], object] = float
    sync: Callable[[], None] = lambda: None


def task_step(problem, phase, trainer):
    """The task scenario's Step from an implementation's Trainer (scenarios.task.Trainer):
    `run` is trial 0's first epoch (validated loss by loss against the reference's), `trial`
    one whole run to the target. The loop is scenarios.task's, the same for everyone; its
    measure of quality (the GAN's scorer, loaded or trained) is ready before any clock."""
    from impls.reference import scorer  # NumPy only
    from scenarios import task

    out = {}
    goal = task.GOALS[phase]
    quality = goal.quality(problem) if goal.quality else scorer.quality(problem)

    def run():
        out["losses"] = task.first_epoch(problem, phase, trainer)

    return Step(
        run,
        lambda: {"losses": out["losses"]},
        sync=trainer.sync,
        trial=lambda k: task.run_to_target(problem, phase, trainer, k, quality),
    )
