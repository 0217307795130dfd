"""The NumPy reference as an adapter: the same functions every implementation has."""

from __future__ import annotations

import numpy as np

from impls import common
from impls.base import Step
from scenarios import qgemm as qgemm_scenario
from scenarios import task as task_scenario
from scenarios.classifier import WEIGHT_NAMES as CLASSIFIER_NAMES
from scenarios.gan import WEIGHT_NAMES as GAN_NAMES

from . import nets, ops, quant


def probe():
    info = {"version": np.__version__}
    try:  # optional here: MXNet's environment may not have it
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:
        info["blas"] = "unknown (threadpoolctl not installed)"
    return info


def configure(threads):
    # OPENBLAS/MKL/OMP_NUM_THREADS are set by the harness before NumPy is imported;
    # threadpoolctl also fixes a BLAS that was loaded some other way.
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass


def device_unavailable(device):
    return None  # the CPU, its only device (the harness asks only about the manifest's devices)


def sync(device):
    pass


def peak_device_memory(device, reset=False):
    return None


def peaks(device, threads, seconds, working_sets=None):
    """This machine's ceilings as NumPy reaches them: BLAS sgemm, the exact uint8 product
    qgemm's reference computes (through a float64 BLAS product: on a CPU without a fast
    integer kernel this is the machine's int8 ceiling), and copies split over
    `threads` Python threads (np.copyto releases the GIL), so the bandwidth is the
    machine's, not one core's: one per working set in `working_sets` ({"L2": bytes,
    "L3": ..., "DRAM": ...}), each thread repeating its own chunk so it stays in its
    core's cache."""
    from concurrent.futures import ThreadPoolExecutor

    from timing.ceiling import bandwidth_peaks, gemm_peak, past_caches

    def gemm(n):
        gen = np.random.default_rng(0)
        a, b = (gen.standard_normal((n, n), dtype=np.float32) for _ in range(2))
        c = np.empty((n, n), dtype=np.float32)
        return lambda: np.matmul(a, b, out=c)

    def repeat_copy(dst, src, repeats):
        for _ in range(repeats):
            np.copyto(dst, src)

    with ThreadPoolExecutor(max_workers=threads) as pool:

        def make_copy(nbytes, repeats):
            src = np.ones(nbytes // 4, dtype=np.float32)
            dst = np.empty_like(src)
            chunks = [(dst[s], src[s]) for s in _slices(src.size, threads)]

            def copy():
                for f in [pool.submit(repeat_copy, d, s, repeats) for d, s in chunks]:
                    f.result()

            return copy

        memory = bandwidth_peaks(
            make_copy, working_sets or past_caches(device), seconds, f"np.copyto on {threads} threads"
        )

    def int8(n):
        gen = np.random.default_rng(0)
        a, b = (gen.integers(0, 256, size=(n, n), dtype=np.uint8) for _ in range(2))
        return lambda: quant.accumulate(a, b, 128, 128)

    return {
        "fp32_gemm_gflops": gemm_peak(gemm, seconds, "np.matmul float32"),
        "int8_gemm_gops": gemm_peak(int8, seconds, "exact uint8 product through float64 BLAS (qgemm's reference)"),
        **memory,
    }


def _slices(n, parts):
    step = -(-n // parts)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _weights(problem, names):
    """Fresh copies: a training step updates them in place."""
    return {n: problem.inputs[n].copy() for n in names}


def _reset(problem, w):
    """Copy the initial weights back into the arrays the step updates."""
    return common.resetter(w.values(), [problem.inputs[n] for n in w], np.copyto)


def conv(problem, phase, device, mode):
    x, w, b = (problem.inputs[k] for k in ("x", "w", "b"))
    p = problem.params
    out = {}

    def run():
        out["y"], _ = ops.conv2d(x, w, b, p["stride"], p["pad"])

    return Step(run, lambda: {"y": out["y"]})


def sigmoid(problem, phase, device, mode):
    i = problem.inputs
    out = np.empty_like(i["z"])
    if phase == "forward":
        return Step(lambda: ops.sigmoid(i["z"], out=out), lambda: {"y": out})
    tmp = np.empty_like(i["y"])
    return Step(lambda: ops.sigmoid_backward(i["dy"], i["y"], out=out, tmp=tmp), lambda: {"dz": out})


def allreduce(problem, phase, device, mode):
    """The sum over the ranks' rows in one process: what every rank must end with."""
    x = problem.inputs["x"]
    out = np.empty(x.shape[1], dtype=np.float32)
    return Step(lambda: np.sum(x, axis=0, out=out), lambda: {"sum": out})


def qgemm(problem, phase, device, mode):
    p = problem.params
    stage = qgemm_scenario.output_stage(p)
    i = problem.inputs
    out = {}

    def accumulate():
        out["acc"] = quant.accumulate(i["a"], i["b"], p["za"], p["zb"])

    def requantize(acc):
        out["out"] = quant.output_stage(acc, stage["multiplier"], stage["shift"], p["zc"])

    if phase == "gemm":
        return Step(accumulate, lambda: dict(out))
    if phase == "requantize":
        return Step(lambda: requantize(i["acc"]), lambda: dict(out))

    def full():
        accumulate()
        requantize(out["acc"])

    return Step(full, lambda: dict(out))


def classifier(problem, phase, device, mode):
    w = _weights(problem, CLASSIFIER_NAMES)
    x, labels = problem.inputs["x"], problem.inputs["labels"]
    out = {}
    if phase == "inference":

        def run():
            out["logits"], _ = nets.classifier_forward(w, x)

        return Step(run, lambda: {"logits": out["logits"]})

    def run():
        out["loss"] = nets.classifier_train_step(w, x, labels, problem.params["lr"])

    return Step(run, lambda: {"loss": np.float32(out["loss"]), **w}, reset=_reset(problem, w))


def gan(problem, phase, device, mode):
    w = _weights(problem, GAN_NAMES)
    z, real = problem.inputs["z"], problem.inputs["real"]
    out = {}

    def run():
        out["loss_d"], out["loss_g"] = nets.gan_step(w, z, real, problem.params["lr"])

    return Step(
        run,
        lambda: {"loss_d": np.float32(out["loss_d"]), "loss_g": np.float32(out["loss_g"]), **w},
        reset=_reset(problem, w),
    )


def task(problem, phase, device, mode):
    """The task layer (scenarios.task's loop): the digits classifier by SGD, or the GAN by Adam."""
    w, p = {}, problem.params
    adam = []

    def load(weights):
        w.clear()
        w.update({n: np.array(v, dtype=np.float32, copy=True) for n, v in weights.items()})
        adam[:] = [ops.Adam(p["gan_lr"], task_scenario.BETA1, task_scenario.BETA2, task_scenario.EPS)]

    if phase == "generate":
        trainer = common.Trainer(
            load=load,
            train=lambda z, real: nets.gan_step(w, z, real, None, update=adam[0]),
            predict=lambda z: nets.generator_forward(w, z)[0],
            loss=lambda losses: losses,
        )
    else:
        trainer = common.Trainer(
            load=load,
            train=lambda x, labels: nets.classifier_train_step(w, x, labels, p["lr"]),
            predict=lambda x: nets.classifier_forward(w, x)[0],
        )
    return common.task_step(problem, phase, trainer)
