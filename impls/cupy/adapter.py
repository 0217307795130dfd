"""CuPy adapter: conv, sigmoid and qgemm on the GPU from scratch.

Inputs go to the device in prepare; the harness synchronizes the stream inside each
timed sample. The networks (classifier, gan) are the frameworks' job: a hand-written
GPU backward pass would measure this adapter, not the hardware.
"""

from __future__ import annotations

import cupy as cp

from impls import common
from impls.base import Unsupported
from scenarios import qgemm as qgemm_scenario

from . import device_memory, kernels

# One fused kernel each, as a framework's elementwise op would be.
_SIGMOID = cp.ElementwiseKernel("float32 z", "float32 y", "y = 1.0f / (1.0f + expf(-z))", "dlbench_sigmoid")
_SIGMOID_GRAD = cp.ElementwiseKernel(
    "float32 dy, float32 y", "float32 dz", "dz = dy * y * (1.0f - y)", "dlbench_sigmoid_grad"
)


def probe():
    info = {"version": cp.__version__}
    try:
        info["cuda_runtime"] = cp.cuda.runtime.runtimeGetVersion()
        info["cuda_driver"] = cp.cuda.runtime.driverGetVersion()
        props = cp.cuda.runtime.getDeviceProperties(0)
        info["gpu"] = {
            "name": props["name"].decode(),
            "memory_bytes": props["totalGlobalMem"],
            "capability": f"{props['major']}.{props['minor']}",
        }
    except Exception as exc:  # no driver or no device: probe still answers
        info["gpu"] = None
        info["gpu_error"] = str(exc).splitlines()[0]
    return info


_tracker = None  # device_memory.Tracker, made at the first configure


def _memory():
    global _tracker
    if _tracker is None:  # once per process: a second hook of the same name is refused
        _tracker = device_memory.Tracker(cp.cuda.MemoryHook)
    return _tracker


def configure(threads):
    # the GPU's parallelism is not set by a thread count; the memory tracker is made here
    _memory()


def device_unavailable(device):
    try:  # cuda: the manifest's only device
        if cp.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device"
    except Exception as exc:
        return f"no CUDA device ({str(exc).splitlines()[0]})"
    return None


def sync(device):
    cp.cuda.Device().synchronize()


def peak_device_memory(device, reset=False):
    """The most bytes CuPy's arrays held at once between a reset and this call (the
    default pool's blocks, as torch's max_memory_allocated counts its tensors'). The
    hook that counts them runs from the reset to the read only: Python on every
    allocation, kept out of the timed calls (see device_memory)."""
    if reset:
        return _memory().start(cp.get_default_memory_pool().used_bytes())
    return _memory().stop()


_step = common.stepper(sync)


def conv(problem, phase, device, mode):
    p = problem.params
    x, w, b = (cp.asarray(problem.inputs[k]) for k in ("x", "w", "b"))
    out = {}

    def run():
        out["y"] = kernels.conv2d(cp, x, w, b, p["stride"], p["pad"])

    return _step(run, lambda: {"y": cp.asnumpy(out["y"])}, device)


def sigmoid(problem, phase, device, mode):
    z, y, dy = (cp.asarray(problem.inputs[k]) for k in ("z", "y", "dy"))
    buf = cp.empty_like(z)
    if phase == "forward":
        return _step(lambda: _SIGMOID(z, buf), lambda: {"y": cp.asnumpy(buf)}, device)
    return _step(lambda: _SIGMOID_GRAD(dy, y, buf), lambda: {"dz": cp.asnumpy(buf)}, device)


def qgemm(problem, phase, device, mode):
    p = problem.params
    stage = qgemm_scenario.output_stage(p)
    i = {name: cp.asarray(problem.inputs[name]) for name in (("acc",) if phase == "requantize" else ("a", "b"))}
    out = {}

    def accumulate():
        out["acc"] = kernels.qgemm_accumulate(cp, i["a"], i["b"], p["za"], p["zb"])

    def requantize(acc):
        out["out"] = kernels.requantize(cp, acc, stage["multiplier"], stage["shift"], p["zc"])

    def full():
        accumulate()
        requantize(out["acc"])

    run = {"gemm": accumulate, "requantize": lambda: requantize(i["acc"]), "full": full}[phase]
    return _step(run, lambda: {name: cp.asnumpy(t) for name, t in out.items()}, device)


def classifier(problem, phase, device, mode):
    raise Unsupported(
        "the CuPy baseline covers the kernel-level scenarios (conv, sigmoid, qgemm); use torch for networks on the GPU"
    )


gan = classifier
