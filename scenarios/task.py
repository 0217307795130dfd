"""task: the task layer, time to accuracy on real data (scikit-learn's handwritten digits).

`classify`: the classifier scenario's LeNet, trained from fixed initial weights by plain
SGD (the size's learning rate and batch) on a fixed train/test split of the digits
(scenarios.datasets: 8x8 scaled to the LeNet's 28x28), each epoch in a fixed order drawn
from the seed, until its accuracy on the test split reaches the size's target, or
`max_epochs` pass. A batch that does not fill up is dropped (every step has the same
shape: a compiled step never retraces), as the size's split divides evenly anyway.

What every implementation computes is the same program, driven by this module's loop:
the implementation provides a Trainer (load weights, one SGD step on a NumPy batch, the
step's loss, logits for a NumPy batch, sync), and `first_epoch` / `run_to_target` feed it.
So data feeding (the batch gathered from the shuffled indices, handed to the framework)
is timed, the same for every framework, and the evaluation after each epoch is not:
its seconds are reported on their own.

Validation: trial 0's first epoch, batch by batch: its losses must equal the reference's
(the same weights, the same order, the same learning rate). Then each process of a cell
runs one trial to the target (trial k: its own initial weights and orders, from the
seed), timed end to end; the harness runs `--task-runs` trials (each in a fresh process)
and reports them as MLPerf Training does.
"""

from __future__ import annotations

import gc
import time
from typing import Dict, Protocol

import numpy as np

from . import classifier, datasets
from .base import Scenario, Tolerance, he_uniform, rng, small_bias

SPLIT_SEED = 0  # the train/test split: fixed, whatever the cell's seed
# Not the classifier scenario's 0.05: on the digits that spikes the second step's loss to 7
# and makes correct frameworks' trajectories part sooner; 0.02 reaches 97% as soon (3-5 epochs).
LR = 0.02
SIZES = {
    # tests: a few epochs on a subset
    "tiny": dict(train=96, test=64, batch=16, lr=LR, target=0.5, max_epochs=4, runs=2),
    # the whole set: 1440 + 357 images; target: see docs/task.md (chosen by measurement)
    "small": dict(train=1440, test=357, batch=32, lr=LR, target=0.97, max_epochs=12, runs=5),
}
WEIGHTS = classifier.WEIGHTS


class Trainer(Protocol):
    """What an implementation hands the loop (impls.common.task_step wraps it in a Step)."""

    def load(self, weights: Dict[str, np.ndarray]) -> None:
        """Set every weight (classifier.WEIGHT_NAMES) to these values."""

    def train(self, x: np.ndarray, labels: np.ndarray) -> object:
        """One SGD step on this batch; returns its loss in any form `loss` reads."""

    def loss(self, handle: object) -> float:
        """A step's loss as a float (may wait for the device)."""

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Logits (N, 10) for these images, as NumPy."""

    def sync(self) -> None:
        """Wait for queued device work."""


# A fixed dither under the digits' own steps (1/16), added to every pixel: the 3x3-upscaled
# strokes and the flat background otherwise give max-pool windows of exactly equal values,
# and frameworks break such ties differently (the reference, torch and XLA pass the gradient
# to the first maximum; TensorFlow's eager kernels, MXNet and dlib did not agree with
# them): another subgradient, not rounding, which moved the first epoch's losses by 0.9%.
DITHER = 1.0 / 64


def split(p):
    """(x_train, y_train, x_test, y_test): the size's part of a fixed split of the digits."""
    x, y = datasets.digits()
    x = x + rng(SPLIT_SEED, "task", "dither").uniform(0, DITHER, size=x.shape).astype(np.float32)
    order = rng(SPLIT_SEED, "task", "split").permutation(len(y))
    n_test = SIZES["small"]["test"]
    test, train = order[:n_test][: p["test"]], order[n_test:][: p["train"]]
    return x[train], y[train], x[test], y[test]


def initial_weights(seed, trial):
    """Trial `trial`'s initial weights: He-uniform as the classifier's, drawn per trial."""
    out = {}
    for name, shape, fan_in in WEIGHTS:
        gen = rng(seed, "task", "weights", str(trial), name)
        out[name] = he_uniform(gen, shape, fan_in) if fan_in else small_bias(gen, shape[0])
    return out


def epoch_order(p, seed, trial, epoch):
    return rng(seed, "task", "order", str(trial), str(epoch)).permutation(p["train"])


def make_inputs(p, seed):
    x_train, y_train, x_test, y_test = split(p)
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, **initial_weights(seed, 0))


def _batches(p, order):
    b = p["batch"]
    return [order[i * b : (i + 1) * b] for i in range(p["train"] // b)]


def first_epoch(problem, trainer):
    """Trial 0's first epoch from its initial weights: the loss of every step, float32."""
    p, i = problem.params, problem.inputs
    trainer.load(initial_weights(problem.seed, 0))
    order = epoch_order(p, problem.seed, 0, 0)
    handles = [trainer.train(i["x_train"][idx], i["y_train"][idx]) for idx in _batches(p, order)]
    return np.array([trainer.loss(h) for h in handles], dtype=np.float32)


def accuracy(logits, labels):
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def run_to_target(problem, trainer, trial, clock=time.perf_counter):
    """One trial, from its own initial weights, until the test accuracy reaches the target.

    Returns {trial, reached, seconds (training only, to the epoch that reached it, or all
    of them), epochs, eval_s, accuracy (the last), curve: [[training seconds, accuracy]
    after each epoch]}. The clock runs over the epochs' steps (the batches gathered and
    fed, the device synchronized at each epoch's end) and stops for each evaluation."""
    p, i = problem.params, problem.inputs
    trainer.load(initial_weights(problem.seed, trial))
    trainer.sync()
    x, y = i["x_train"], i["y_train"]
    seconds, eval_s, curve, acc = 0.0, 0.0, [], 0.0
    for epoch in range(p["max_epochs"]):
        batches = _batches(p, epoch_order(p, problem.seed, trial, epoch))
        gc_was_enabled = gc.isenabled()
        gc.disable()  # as the harness's samples: a collection is not the framework's cost
        try:
            t0 = clock()
            for idx in batches:
                trainer.train(x[idx], y[idx])
            trainer.sync()
            seconds += clock() - t0
        finally:
            if gc_was_enabled:
                gc.enable()
        t1 = clock()
        acc = accuracy(trainer.predict(i["x_test"]), i["y_test"])
        eval_s += clock() - t1
        curve.append([round(seconds, 6), acc])
        if acc >= p["target"]:
            break
    return dict(
        trial=trial,
        reached=acc >= p["target"],
        seconds=seconds,
        epochs=len(curve),
        eval_s=eval_s,
        accuracy=acc,
        curve=curve,
    )


def flops(p, phase):
    return 0  # a run's work depends on how many epochs it takes: no rate is reported


def bytes_moved(p, phase):
    return 0


def tolerances(p, phase):
    # Step by step: float32 rounding at the first step (1e-4, thirty times what was seen),
    # doubling per step to at most 25% (docs/task.md: correct frameworks drift apart from a
    # near-tie flip on, up to 12% late in the epoch); a learning rate 0.5% off moves the
    # third step's loss by 0.6%, fifteen times its bound.
    return {"losses": Tolerance(rtol=1e-4, growth=2.0, growth_cap=2500.0)}


SCENARIO = Scenario(
    name="task",
    description="LeNet trained on scikit-learn's digits to a test accuracy: time to accuracy (MLPerf-style)",
    phases=("classify",),
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
    trials=True,
)
