"""The task layer's digit scorer: a LeNet the reference trains once on the training split,
and the Inception score (Salimans et al. 2016) of generated digits under it.

The score is exp(E_x[KL(p(y|x) || p(y))]), p(y|x) the scorer's softmax for a sample x
and p(y) its mean over the samples: 1 when the samples all look alike (or like no digit
in particular), up to 10 when each is confidently one digit and the ten digits come
equally often. The scorer is the classifier scenario's LeNet trained by the reference
(plain SGD, 0.02, batch 32, `scorer_epochs` epochs, its own fixed weights and orders,
whatever the cell's seed), so every implementation's samples are judged by the same one.

It is trained once per run directory (the worker's reference cache, where the reference's
outputs go) and read back by every other process: a minute of NumPy at `small`, before any
clock runs. NumPy only: it loads in every implementation's environment.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from scenarios import datasets
from scenarios import task as task_scenario
from scenarios.base import he_uniform, rng, small_bias
from scenarios.classifier import WEIGHT_NAMES

from . import nets

RECIPE = dict(lr=0.02, batch=32, version=1)  # a change here names a new cache file
_memory = {}


def _key(p):
    blob = dict(RECIPE, digits=datasets.DIGITS_SHA256, train=p["train"], test=p["test"], epochs=p["scorer_epochs"])
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def train(p):
    """(weights, test accuracy): the scorer trained from its own weights on the split's training part."""
    x_train, y_train, x_test, y_test = task_scenario.split(p)
    w = {}
    for name, shape, fan_in in task_scenario.WEIGHTS:
        gen = rng(task_scenario.SPLIT_SEED, "task", "scorer weights", name)
        w[name] = he_uniform(gen, shape, fan_in) if fan_in else small_bias(gen, shape[0])
    b = RECIPE["batch"]
    for epoch in range(p["scorer_epochs"]):
        order = rng(task_scenario.SPLIT_SEED, "task", "scorer order", str(epoch)).permutation(len(y_train))
        for i in range(len(order) // b):
            idx = order[i * b : (i + 1) * b]
            nets.classifier_train_step(w, x_train[idx], y_train[idx], RECIPE["lr"])
    accuracy = task_scenario.accuracy(logits(w, x_test), y_test)
    return w, accuracy


def load(problem):
    """The scorer for this problem's size: {weights..., "test_accuracy", "key"}, from the
    run's cache when another process trained it already, else trained now and saved."""
    p = problem.params
    key = _key(p)
    if key in _memory:
        return _memory[key]
    cache = getattr(problem, "cache_dir", None)
    path = os.path.join(cache, f"task-scorer-{key}.npz") if cache else None
    model = None
    if path and os.path.exists(path):
        try:
            with np.load(path, allow_pickle=False) as data:
                model = {k: data[k] for k in data.files}
        except (OSError, ValueError):
            model = None  # a torn or foreign file: train again and overwrite
    if model is None:
        weights, accuracy = train(p)
        model = dict(weights, test_accuracy=np.float64(accuracy))
        if path:
            os.makedirs(cache, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp.npz"
            np.savez(tmp, **model)
            os.replace(tmp, path)
    model = {k: (float(v) if k == "test_accuracy" else v) for k, v in model.items()}
    model["key"] = key
    _memory[key] = model
    return model


def quality(problem):
    """The generate phase's measure: trainer -> the score of its samples from the size's
    fixed noise, with the scorer loaded (or trained) now, before any clock runs."""
    model = load(problem)
    z = task_scenario.score_noise(problem.params, problem.seed)

    def measure(trainer):
        return inception_score(model, trainer.predict(z))

    measure.about = {"scorer": {"key": model["key"], "test_accuracy": model["test_accuracy"]}}
    return measure


def logits(w, images, batch=250):
    return np.concatenate([nets.classifier_forward(w, images[i : i + batch])[0] for i in range(0, len(images), batch)])


def inception_score(model, samples):
    """exp(E[KL(p(y|x) || p(y))]) of generated images in the generator's range [-1, 1]."""
    w = {n: model[n] for n in WEIGHT_NAMES}
    return score(logits(w, task_scenario.from_gan(samples)))


def score(sample_logits):
    """The Inception score of samples given the scorer's logits (N, classes)."""
    z = np.asarray(sample_logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    log_marginal = np.log(p.mean(axis=0) + 1e-300)
    return float(np.exp(np.mean(np.sum(p * (log_p - log_marginal), axis=1))))
