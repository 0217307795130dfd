"""dlib adapter: the scenarios dlib's DNN toolkit can express, through the C++ bridge.

`prepare` (each scenario function) copies the inputs and weights into dlib tensors
held by a C++ object; `run` is one call into C++ that releases the GIL; `outputs`
copies the results back. Nothing crosses the boundary inside the timed region.
"""

from __future__ import annotations

import os

import numpy as np

from impls import common
from impls.base import Unsupported
from scenarios.classifier import WEIGHT_NAMES as CLASSIFIER_NAMES
from scenarios.gan import LEAK, NOISE
from scenarios.gan import WEIGHT_NAMES as GAN_NAMES

from . import blas, bridge_path

# ImportError (the worker adds the fix) where the bridge was never built.
# DLBENCH_DLIB_BRIDGE_DIR loads a bridge built elsewhere (python -m impls.dlib.build --out DIR).
_bridge = bridge_path.import_bridge(blas.select_before_load(), os.environ.get("DLBENCH_DLIB_BRIDGE_DIR"))


def probe():
    info = {
        "version": _bridge.version,
        "bridge": _bridge.__file__,
        "build_flags": _bridge.build_flags,
        "cuda_build": _bridge.cuda_build,
        "blas": blas.blas_facts(_bridge),
        "build": bridge_path.build_info(os.path.dirname(_bridge.__file__)),
    }
    return info


def configure(threads):
    # OPENBLAS_NUM_THREADS is set by the harness before the worker starts; this also
    # holds when dlib's BLAS was loaded some other way. dlib's own loops are serial.
    _bridge.set_blas_threads(threads)


def device_unavailable(device):
    if device == "cpu":
        if _bridge.cuda_build:
            return "this bridge was compiled against a CUDA build of dlib, which runs every tensor on the GPU"
        return None
    if not _bridge.cuda_build:  # cuda: the manifest's only other device
        return (
            "dlib was built without CUDA (Debian's libdlib-dev is CPU-only); a CUDA build needs dlib "
            "compiled from source with DLIB_USE_CUDA and the bridge rebuilt against it"
        )
    return None


def sync(device):
    if device == "cuda":
        _bridge.synchronize()  # CPU: run() returns when the work is done


def peak_device_memory(device, reset=False):
    return None


_step = common.stepper(sync)


def _f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def conv(problem, phase, device, mode):
    p = problem.params
    i = problem.inputs
    c = _bridge.Conv(_f32(i["x"]), _f32(i["w"]), _f32(i["b"]), p["stride"], p["pad"])
    return _step(c.run, lambda: {"y": c.y()}, device)


def sigmoid(problem, phase, device, mode):
    i = problem.inputs
    if phase == "forward":
        s = _bridge.Sigmoid(_f32(i["z"]))
        return _step(s.run, lambda: {"y": s.y()}, device)
    g = _bridge.SigmoidGrad(_f32(i["y"]), _f32(i["dy"]))
    return _step(g.run, lambda: {"dz": g.dz()}, device)


def qgemm(problem, phase, device, mode):
    # every phase: the accumulator needs an integer GEMM, the output stage int64 integer ops
    raise Unsupported(
        "dlib's tensors are float32 only and its DNN has no integer GEMM: an exact "
        "uint8 x uint8 -> int32 product (or gemmlowp's integer output stage) cannot be "
        "expressed in dlib"
    )


def _named(problem, names, arrays):
    """The bridge's flat weights, each in the shape of the scenario's input of that name."""
    return {n: a.reshape(problem.inputs[n].shape) for n, a in zip(names, arrays)}


def classifier(problem, phase, device, mode):
    i = problem.inputs
    net = _bridge.Classifier(
        [_f32(i[n]) for n in CLASSIFIER_NAMES], _f32(i["x"]), i["labels"].astype(np.int64), float(problem.params["lr"])
    )
    if phase == "inference":
        return _step(net.inference, lambda: {"logits": net.logits()}, device)
    return _step(
        net.train_step,
        lambda: {"loss": np.float32(net.loss()), **_named(problem, CLASSIFIER_NAMES, net.weights())},
        device,
        reset=net.reset,
    )  # the bridge copies the weights it loaded back into the net


def gan(problem, phase, device, mode):
    i = problem.inputs
    g = _bridge.Gan([_f32(i[n]) for n in GAN_NAMES], _f32(i["z"]), _f32(i["real"]), float(problem.params["lr"]), LEAK)
    return _step(
        g.step,
        lambda: {
            "loss_d": np.float32(g.loss_d()),
            "loss_g": np.float32(g.loss_g()),
            **_named(problem, GAN_NAMES, g.weights()),
        },
        device,
        reset=g.reset,
    )


def task(problem, phase, device, mode):
    """The task layer (scenarios.task's loop): each batch copied into the bridge's net (the
    feeding), then one step in C++: the classifier's by SGD, the GAN's by dlib's Adam."""
    if phase == "generate":
        return _gan_task(problem)
    i, batch = problem.inputs, problem.params["batch"]
    net = _bridge.Classifier(
        [_f32(i[n]) for n in CLASSIFIER_NAMES],
        _f32(i["x_train"][:batch]),
        i["y_train"][:batch].astype(np.int64),
        float(problem.params["lr"]),
    )

    def train(x, labels):
        net.set_batch(_f32(x), labels.astype(np.int64, copy=False))
        net.train_step()
        return net.loss()  # a double already: dlib's CPU step is done when it returns

    trainer = common.Trainer(
        load=lambda weights: net.load([_f32(weights[n]) for n in CLASSIFIER_NAMES]),
        train=train,
        predict=lambda x: net.predict(_f32(x)),
    )
    return common.task_step(problem, phase, trainer)


def _gan_task(problem):
    from scenarios import task as task_scenario

    i, batch = problem.inputs, problem.params["gan_batch"]
    z = np.zeros((batch, NOISE), np.float32)  # the shape only: each step sets its own
    net = _bridge.Gan([_f32(i[n]) for n in GAN_NAMES], z, _f32(i["real_train"][:batch]), 0.0, LEAK)
    net.use_adam(float(problem.params["gan_lr"]), task_scenario.BETA1, task_scenario.BETA2)

    def train(z, real):
        net.set_batch(_f32(z), _f32(real))
        net.step()
        return net.loss_d(), net.loss_g()

    trainer = common.Trainer(
        load=lambda weights: net.load([_f32(weights[n]) for n in GAN_NAMES]),
        train=train,
        predict=lambda z: net.generate(_f32(z)),
        loss=lambda losses: losses,
    )
    return common.task_step(problem, "generate", trainer)
