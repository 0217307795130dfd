"""MXNet adapter: the scenario set in mx.nd operators, imperative or hybridized.

Every computation is written once as a function of `F` (mx.nd or mx.sym, Gluon's
hybrid_forward convention): eager mode calls it with mx.nd, one operator at a time;
graph mode wraps it in a HybridBlock hybridized with static memory and shapes, which
MXNet turns into one cached graph on the first call (outside the timed samples).

MXNet's engine is asynchronous: an operator call only queues work. `sync` waits for
all of it (mx.nd.waitall) and the harness calls it inside every timed sample.
"""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon

from impls import common
from impls.base import Unsupported
from scenarios import qgemm as qgemm_scenario
from scenarios.classifier import WEIGHT_NAMES as CLASSIFIER_NAMES
from scenarios.classifier import WEIGHTS
from scenarios.gan import DISCRIMINATOR_NAMES, GENERATOR_NAMES
from scenarios.gan import WEIGHT_NAMES as GAN_NAMES

from . import MANIFEST, nets, quantized


def probe():
    features = mx.runtime.Features()
    info = {
        "version": mx.__version__,
        "numpy": np.__version__,
        # compile-time facts: CPU_AVX/AVX2 off means mshadow's own kernels (elementwise
        # ops, reductions) are SSE3 code; oneDNN picks its instruction set at run time.
        "features": sorted(name for name, f in features.items() if f.enabled),
        "features_off": sorted(name for name, f in features.items() if not f.enabled),
        "mkldnn": features.is_enabled("MKLDNN"),
        "blas": next(
            (n for n in ("BLAS_MKL", "BLAS_OPEN", "BLAS_ATLAS", "BLAS_APPLE") if features.is_enabled(n)), None
        ),
        "cuda_build": features.is_enabled("CUDA"),
        "gpus": mx.context.num_gpus() if features.is_enabled("CUDA") else 0,
        "engine": os.environ.get("MXNET_ENGINE_TYPE", "ThreadedEnginePerDevice"),
        "omp_max_threads": os.environ.get("MXNET_OMP_MAX_THREADS"),
        "cpu_worker_threads": os.environ.get("MXNET_CPU_WORKER_NTHREADS"),
    }
    if features.is_enabled("MKLDNN"):
        info.update(_onednn_facts())
    return info


def _onednn_facts():
    """oneDNN's version and the instruction set it dispatches to on this CPU, read from its
    verbose log; only the first oneDNN call of a process reads DNNL_VERBOSE (the probe's)."""
    os.environ["DNNL_VERBOSE"] = "1"
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+") as log:
        os.dup2(log.fileno(), 1)  # oneDNN prints from C: catch it at the file descriptor
        try:
            exact = quantized.one_pass_exact()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            del os.environ["DNNL_VERBOSE"]
        log.seek(0)
        text = log.read()
    version = re.search(r"oneDNN (v[\d.]+)", text)
    isa = re.search(r"isa:([^\n]+)", text)
    return {
        "onednn": version.group(1) if version else None,
        "onednn_isa": isa.group(1).strip() if isa else None,
        "int8_gemm_exact_in_one_pass": exact,
    }


def configure(threads):
    # OMP_NUM_THREADS and MXNET_OMP_MAX_THREADS were set before MXNet was imported
    # (the manifest's THREAD_VARIABLES): its engine reads them once, at start-up.
    pass


def device_unavailable(device):
    if device == "cpu":
        return None
    if not mx.runtime.Features().is_enabled("CUDA"):  # cuda: the manifest's only other device
        return (
            f"mxnet {mx.__version__} in .venv-mxnet is a CPU-only build; for a GPU install a CUDA "
            f"build (e.g. mxnet-cu112) there instead of mxnet"
        )
    if mx.context.num_gpus() == 0:
        return "no CUDA device visible to mxnet"
    return None


def sync(device):
    mx.nd.waitall()


def peak_device_memory(device, reset=False):
    return None  # MXNet 1.x has no peak-memory counter


def peaks(device, threads, seconds, working_sets=None):
    """Ceilings as MXNet reaches them on `device`: fp32 GEMM (nd.dot), the exact uint8
    product through its int8 kernel (quantized.accumulate, qgemm's route: one
    quantized_fully_connected where the kernel sums exactly, two where it would saturate;
    CPU only) and NDArray copies (copyto), one per working set in `working_sets`."""
    from timing.ceiling import bandwidth_peaks, gemm_peak, past_caches

    gen = np.random.default_rng(0)
    ctx = _ctx(device)

    def sync_device():
        mx.nd.waitall()

    def fp32(n):
        a, b = (mx.nd.array(gen.standard_normal((n, n), dtype=np.float32), ctx=ctx) for _ in range(2))
        c = mx.nd.empty((n, n), ctx=ctx)
        return lambda: mx.nd.dot(a, b, out=c)

    def int8(n):
        a, b = (mx.nd.array(gen.integers(0, 256, (n, n), dtype=np.uint8), ctx=ctx, dtype="uint8") for _ in range(2))
        one_pass = quantized.one_pass_exact(n, n, n)
        return lambda: quantized.accumulate(mx.nd, a, b, k=n, n=n, za=128, zb=128, one_pass=one_pass)

    def make_copy(nbytes, repeats):
        src = mx.nd.ones((nbytes // 4,), ctx=ctx)
        dst = mx.nd.empty((nbytes // 4,), ctx=ctx)

        def copy():
            for _ in range(repeats):
                src.copyto(dst)

        return copy

    out = {"fp32_gemm_gflops": gemm_peak(fp32, seconds, f"mx.nd.dot float32 on {device}", sync_device)}
    if device == "cpu":
        how = "exact uint8 product through quantized_fully_connected (qgemm's route)"
        out["int8_gemm_gops"] = gemm_peak(int8, seconds, how, sync_device)
    out.update(
        bandwidth_peaks(
            make_copy, working_sets or past_caches(device), seconds, f"NDArray.copyto on {device}", sync_device
        )
    )
    return out


def _ctx(device):
    return mx.gpu(0) if device == "cuda" else mx.cpu()


def _arrays(problem, names, device, dtype="float32"):
    return [mx.nd.array(problem.inputs[n], ctx=_ctx(device), dtype=dtype) for n in names]


class _Hybrid(gluon.HybridBlock):
    """One F-function as a HybridBlock: its arguments are the block's inputs."""

    def __init__(self, fn, **kwargs):
        super().__init__()
        self._fn, self._kwargs = fn, kwargs

    def hybrid_forward(self, F, *args):
        return self._fn(F, *args, **self._kwargs)


def _eager(fn, **kwargs):
    return lambda *args, **out: fn(mx.nd, *args, **kwargs, **out)


def _hybridized(fn, **kwargs):
    block = _Hybrid(fn, **kwargs)
    # static_alloc: memory planned once and reused; static_shape: shapes never change.
    block.hybridize(static_alloc=True, static_shape=True)
    return block


# _BUILD[mode](fn, **kwargs): a callable over NDArrays, the F-function itself or its hybridized block
_BUILD = common.by_mode(MANIFEST, eager=_eager, graph=_hybridized)
_step = common.stepper(sync)


def _resetter(weights):
    """Copies the weights' values now back into the same NDArrays (their attached
    gradients and the hybridized blocks' bindings stay as they are)."""
    return common.resetter(weights, [w.copy() for w in weights], lambda w, i: i.copyto(w))


# --- conv, sigmoid ------------------------------------------------------------


def _conv(F, x, w, b, kernel, stride, pad, filters):
    return F.Convolution(x, w, b, kernel=(kernel, kernel), stride=(stride, stride), pad=(pad, pad), num_filter=filters)


def conv(problem, phase, device, mode):
    p = problem.params
    x, w, b = _arrays(problem, ("x", "w", "b"), device)
    fn = _BUILD[mode](_conv, kernel=p["kernel"], stride=p["stride"], pad=p["pad"], filters=p["c_out"])
    out = {}

    def run():
        out["y"] = fn(x, w, b)

    return _step(run, lambda: {"y": out["y"].asnumpy()}, device)


def _sigmoid_forward(F, z, **out):
    # the Activation operator (Gluon's nn.Activation), which MXNet runs through oneDNN's
    # vectorized eltwise kernel; F.sigmoid is mshadow's scalar-exp loop, ~5x slower here
    return F.Activation(z, act_type="sigmoid", **out)


def _sigmoid_backward(F, dy, y, **out):
    # the gradient kernel MXNet's autograd runs for F.sigmoid: dy * y * (1 - y) from the output
    return F._internal._backward_sigmoid(dy, y, **out)


def sigmoid(problem, phase, device, mode):
    z, y, dy = _arrays(problem, ("z", "y", "dy"), device)
    name = "y" if phase == "forward" else "dz"
    args = (z,) if phase == "forward" else (dy, y)
    fn = _BUILD[mode](_sigmoid_forward if phase == "forward" else _sigmoid_backward)
    if mode == "eager":  # into a preallocated buffer, as the reference does
        buf = mx.nd.empty(z.shape, ctx=z.context)

        def run():
            fn(*args, out=buf)

        return _step(run, lambda: {name: buf.asnumpy()}, device)
    out = {}

    def run():
        out["r"] = fn(*args)

    return _step(run, lambda: {name: out["r"].asnumpy()}, device)


# --- qgemm --------------------------------------------------------------------


def _output_stage(problem, acc_bound):
    """quantized.requantize's constants for accumulators of magnitude <= acc_bound."""
    p = problem.params
    stage = qgemm_scenario.output_stage(p)
    divisor, offset = quantized.requantize_constants(acc_bound, stage["multiplier"], stage["shift"])
    return dict(multiplier=stage["multiplier"], shift=stage["shift"], zc=p["zc"], divisor=divisor, offset=offset)


def qgemm(problem, phase, device, mode):
    if device != "cpu":
        raise Unsupported("mxnet's integer GEMM (quantized_fully_connected) runs through oneDNN, on the CPU only")
    p = problem.params
    if phase == "requantize":
        # the bound of the accumulator given, measured here (outside the timed calls)
        acc_bound = int(np.abs(problem.inputs["acc"].astype(np.int64)).max(initial=0))
        fn = _BUILD[mode](quantized.requantize, **_output_stage(problem, acc_bound))
        inputs, names = ("acc",), ("out",)
    else:
        gemm = dict(
            k=p["k"], n=p["n"], za=p["za"], zb=p["zb"], one_pass=quantized.one_pass_exact(p["m"], p["k"], p["n"])
        )
        if phase == "gemm":
            fn, inputs, names = _BUILD[mode](quantized.accumulate, **gemm), ("a", "b"), ("acc",)
        else:
            acc_bound = p["k"] * max(p["za"], 255 - p["za"]) * max(p["zb"], 255 - p["zb"])
            fn = _BUILD[mode](quantized.qgemm, **gemm, **_output_stage(problem, acc_bound))
            inputs, names = ("a", "b"), ("acc", "out")
    args = [mx.nd.array(problem.inputs[name], ctx=_ctx(device), dtype=problem.inputs[name].dtype) for name in inputs]
    out = {}

    def run():
        out["r"] = fn(*args)

    def outputs():
        result = out["r"] if isinstance(out["r"], (tuple, list)) else (out["r"],)
        return {name: r.asnumpy() for name, r in zip(names, result)}

    return _step(run, outputs, device)


# --- networks -----------------------------------------------------------------


def _weights(problem, names, device):
    """NDArrays of the initial weights in MXNet's layout (nets.LAYOUTS), gradients attached."""
    arrays = []
    for name in names:
        arrays.append(mx.nd.array(nets.to_mxnet(name, problem.inputs[name]), ctx=_ctx(device)))
        arrays[-1].attach_grad()
    return arrays


def _numpy_weights(names, arrays):
    return {n: nets.from_mxnet(n, a.asnumpy()) for n, a in zip(names, arrays)}


def _sgd(weights, grads, lr):
    """Plain SGD in place, MXNet's fused kernel: w -= lr * g (no decay, no rescaling)."""
    for w, g in zip(weights, grads):
        mx.nd.sgd_update(w, g, lr=lr, wd=0.0, rescale_grad=1.0, out=w)


def _classifier_sgd_step(loss_fn, x, labels, w, lr):
    """One SGD step of the classifier (the classifier's and the task's); its loss."""
    with autograd.record():
        loss = loss_fn(x, labels, *w)
    loss.backward()
    _sgd(w, [t.grad for t in w], lr)
    return loss


def classifier(problem, phase, device, mode):
    if "ranks" in problem.params:
        return _classifier_data_parallel(problem, device, mode)
    w = _weights(problem, CLASSIFIER_NAMES, device)
    x = _arrays(problem, ("x",), device)[0]
    out = {}
    if phase == "inference":
        logits_fn = _BUILD[mode](nets.classifier_logits)

        def run():
            out["logits"] = logits_fn(x, *w)

        return _step(run, lambda: {"logits": out["logits"].asnumpy()}, device)

    labels = _arrays(problem, ("labels",), device)[0]
    loss_fn = _BUILD[mode](nets.classifier_loss)
    lr = problem.params["lr"]

    def run():
        out["loss"] = _classifier_sgd_step(loss_fn, x, labels, w, lr)

    return _step(
        run,
        lambda: {"loss": out["loss"].asnumpy().reshape(()), **_numpy_weights(CLASSIFIER_NAMES, w)},
        device,
        reset=_resetter(w),
    )


def _gan_train_step(gen, d_loss, g_loss, g, d, update_d, update_g):
    """step(z, real) -> (loss_d, loss_g): D's update, then G's, each update(weights, grads)
    (plain SGD for the gan scenario, Adam for the task layer's)."""
    d_grads = [t.grad for t in d]

    def step(z, real):
        with autograd.record():
            fake = gen(z, *g)
            loss_d = d_loss(real, fake.detach(), *d)
        loss_d.backward()
        update_d(d, d_grads)
        # The generator's update goes through D' but needs no gradient for D's weights:
        # marked grad_req "null", MXNet skips them. (autograd.grad(loss_g, g) would say
        # the same, but in 1.9.1 it aborts the process on this graph.)
        autograd.mark_variables(d, d_grads, grad_reqs="null")
        with autograd.record():
            loss_g = g_loss(fake, *d)
        loss_g.backward()
        autograd.mark_variables(d, d_grads, grad_reqs="write")
        update_g(g, [t.grad for t in g])
        return loss_d, loss_g

    return step


def gan(problem, phase, device, mode):
    if "ranks" in problem.params:
        return _gan_data_parallel(problem, device, mode)
    g = _weights(problem, GENERATOR_NAMES, device)
    d = _weights(problem, DISCRIMINATOR_NAMES, device)
    reset = _resetter(g + d)
    z, real = _arrays(problem, ("z", "real"), device)
    gen, d_loss, g_loss = (_BUILD[mode](f) for f in (nets.generator, nets.d_loss, nets.g_loss))
    lr = problem.params["lr"]
    sgd = lambda w, grads: _sgd(w, grads, lr)  # noqa: E731
    train = _gan_train_step(gen, d_loss, g_loss, g, d, sgd, sgd)
    out = {}

    def run():
        out["loss_d"], out["loss_g"] = train(z, real)

    def outputs():
        res = {"loss_d": out["loss_d"].asnumpy().reshape(()), "loss_g": out["loss_g"].asnumpy().reshape(())}
        res.update(_numpy_weights(GAN_NAMES, g + d))
        return res

    return _step(run, outputs, device, reset=reset)


# --- over several ranks ---------------------------------------------------------
# MXNet's distributed kvstore, `dist_sync`, started as its launcher (dmlc tracker,
# `--launcher local`) starts it: a scheduler and one server beside the workers, each told
# its role and the scheduler's address by DMLC_* variables. The harness starts the
# workers (the ranks); rank 0 starts the scheduler and the server as its own children on
# loopback, which end with it. Gradients are pushed, summed by the server, pulled, and
# averaged in the update (rescale_grad 1/N); every rank applies the same SGD.

_KV = {}
AGREE, MEAN, SUM = 1 << 20, (1 << 20) + 1, (1 << 20) + 2  # kvstore keys beside the weights' 0..K-1


def _die_with_parent():
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kvstore(problem):
    """This process's kvstore, made once: over several ranks `dist_sync` (rank 0 starting
    the scheduler and server), at one rank `local`. Keys for agreeing and averaging are
    initialised here, in the same order on every rank (init is collective)."""
    if "kv" in _KV:
        return _KV["kv"]
    n = problem.params.get("ranks", 1)
    if n == 1:
        kv = mx.kv.create("local")
    else:
        import subprocess

        host, port = problem.address.rsplit(":", 1)
        own = problem.addresses[problem.rank].rsplit(":", 1)[0] if problem.addresses else host
        env = {
            "DMLC_PS_ROOT_URI": host,
            "DMLC_PS_ROOT_PORT": port,
            "DMLC_NUM_SERVER": "1",
            "DMLC_NUM_WORKER": str(n),
            "DMLC_NODE_HOST": own,  # this rank's address, not whichever interface ps-lite would pick
        }
        if own == "127.0.0.1":
            env["DMLC_INTERFACE"] = "lo"
        if problem.rank == 0:
            for role in ("scheduler", "server"):  # importing mxnet in that role runs it until the job ends
                subprocess.Popen(
                    [sys.executable, "-c", "import mxnet"],
                    env={**os.environ, **env, "DMLC_ROLE": role},
                    preexec_fn=_die_with_parent,
                    stdout=subprocess.DEVNULL,
                )
        os.environ.update(env, DMLC_ROLE="worker")
        kv = mx.kv.create("dist_sync")
    kv.init(AGREE, mx.nd.zeros((n,)))
    kv.init(MEAN, mx.nd.zeros((1,)))
    _KV["kv"] = kv
    return kv


def _agree(kv, n):
    """Step.agree: each rank pushes its value in its own slot, the sum of the slots is every value."""

    def agree(value):
        mine = mx.nd.zeros((n,))
        mine[kv.rank] = float(value)
        kv.push(AGREE, mine)
        kv.pull(AGREE, out=mine)
        return float(mine.max().asscalar())

    return agree


def _mean(kv, n, value):
    t = mx.nd.array([float(value)])
    kv.push(MEAN, t)
    kv.pull(MEAN, out=t)
    return np.float32(t.asscalar() / n)


def _ranked(problem):
    """(kvstore, ranks), with problem.rank set to the kvstore's: the scheduler numbers the
    workers as they register, and each rank takes the shard of that number."""
    kv = _kvstore(problem)
    problem.rank = kv.rank
    return kv, kv.num_workers


def _shards(problem, names, device):
    return [mx.nd.array(problem.shard(n), ctx=_ctx(device)) for n in names]


def _averaging(kv, n, weights, lr, first=0):
    """update(): this rank's gradients of `weights` pushed, pulled back summed over the
    ranks, then SGD with rescale_grad 1/N (the average). Their keys (from `first`, in
    order) are initialised here: every rank makes the same calls in the same order."""
    keys = list(range(first, first + len(weights)))
    grads = [w.grad for w in weights]
    for k, w in zip(keys, weights):
        kv.init(k, mx.nd.zeros(w.shape))

    def update():
        kv.push(keys, grads)
        kv.pull(keys, out=grads)
        for w, g in zip(weights, grads):
            mx.nd.sgd_update(w, g, lr=lr, wd=0.0, rescale_grad=1.0 / n, out=w)

    return update


def _sum_key(kv, shape):
    """The all-reduce's key for this message shape, initialised once per kvstore: a worker
    that serves several sizes in one round keeps its one `local` kvstore, where a second
    init of a key is an error ("duplicate init of key")."""
    keys = _KV.setdefault("sum_keys", {})
    if shape not in keys:
        keys[shape] = SUM + len(keys)
        kv.init(keys[shape], mx.nd.zeros(shape))
    return keys[shape]


def allreduce(problem, phase, device, mode):
    """kvstore push of this rank's row and pull of the sum (dist_sync: summed by the server)."""
    if mode != "eager":
        raise Unsupported("a kvstore push and pull are calls into MXNet's engine, not part of a Gluon graph")
    kv, n = _ranked(problem)
    mine = mx.nd.array(problem.inputs["x"][problem.rank], ctx=_ctx(device))
    buf = mx.nd.zeros(mine.shape, ctx=_ctx(device))
    key = _sum_key(kv, mine.shape)

    def run():
        kv.push(key, mine)
        kv.pull(key, out=buf)

    return _step(run, lambda: {"sum": buf.asnumpy()}, device, agree=_agree(kv, n))


def _classifier_data_parallel(problem, device, mode):
    kv, n = _ranked(problem)
    w = _weights(problem, CLASSIFIER_NAMES, device)
    x, labels = _shards(problem, ("x", "labels"), device)
    loss_fn = _BUILD[mode](nets.classifier_loss)
    update = _averaging(kv, n, w, problem.params["lr"])
    out = {}

    def run():
        with autograd.record():
            loss = loss_fn(x, labels, *w)
        loss.backward()
        update()
        out["loss"] = loss

    def outputs():
        return {"loss": _mean(kv, n, out["loss"].asscalar()), **_numpy_weights(CLASSIFIER_NAMES, w)}

    return _step(run, outputs, device, reset=_resetter(w), agree=_agree(kv, n))


def _gan_data_parallel(problem, device, mode):
    kv, n = _ranked(problem)
    g = _weights(problem, GENERATOR_NAMES, device)
    d = _weights(problem, DISCRIMINATOR_NAMES, device)
    z, real = _shards(problem, ("z", "real"), device)
    gen, d_loss, g_loss = (_BUILD[mode](f) for f in (nets.generator, nets.d_loss, nets.g_loss))
    lr = problem.params["lr"]
    update_d = _averaging(kv, n, d, lr)
    update_g = _averaging(kv, n, g, lr, first=len(d))
    d_grads = [t.grad for t in d]
    out = {}

    def run():
        with autograd.record():
            fake = gen(z, *g)
            loss_d = d_loss(real, fake.detach(), *d)
        loss_d.backward()
        update_d()
        autograd.mark_variables(d, d_grads, grad_reqs="null")  # as in the one-process step
        with autograd.record():
            loss_g = g_loss(fake, *d)
        loss_g.backward()
        autograd.mark_variables(d, d_grads, grad_reqs="write")
        update_g()
        out["loss_d"], out["loss_g"] = loss_d, loss_g

    def outputs():
        res = {k: _mean(kv, n, out[k].asscalar()) for k in ("loss_d", "loss_g")}
        res.update(_numpy_weights(GAN_NAMES, g + d))
        return res

    return _step(run, outputs, device, reset=_resetter(g + d), agree=_agree(kv, n))


def task(problem, phase, device, mode):
    """The task layer (scenarios.task's loop): the classifier's SGD step or the GAN's Adam
    step, fed each batch from NumPy."""
    if phase == "generate":
        return _gan_task(problem, device, mode)
    ctx = _ctx(device)
    w = _zero_weights(WEIGHTS, ctx)
    loss_fn = _BUILD[mode](nets.classifier_loss)
    predict_fn = _BUILD["eager"](nets.classifier_logits)  # outside the clock, whatever the mode
    lr = problem.params["lr"]

    def train(x, labels):
        x, labels = mx.nd.array(x, ctx=ctx), mx.nd.array(labels, ctx=ctx, dtype="float32")
        return _classifier_sgd_step(loss_fn, x, labels, w, lr)

    def predict(x):
        return predict_fn(mx.nd.array(x, ctx=ctx), *w).asnumpy()

    trainer = common.Trainer(
        _loader(w, CLASSIFIER_NAMES), train, predict, loss=lambda t: float(t.asscalar()), sync=lambda: sync(device)
    )
    return common.task_step(problem, phase, trainer)


def _zero_weights(specs, ctx):
    """Zero NDArrays in MXNet's layouts for these weights, gradients attached (load fills them)."""
    w = [mx.nd.zeros(nets.to_mxnet(name, np.zeros(shape, np.float32)).shape, ctx=ctx) for name, shape, _ in specs]
    for t in w:
        t.attach_grad()
    return w


def _loader(w, names, then=lambda: None):
    def load(weights):
        for t, name in zip(w, names):
            t[:] = nets.to_mxnet(name, weights[name])  # in place: the gradients and the graph's bindings stay
        then()

    return load


class _Adam:
    """Adam as mx.optimizer.Adam runs it: the fused adam_update kernel, with the bias
    corrections folded into the rate each step; its moments and step count set back to
    zero by `restart`."""

    def __init__(self, weights, lr):
        from scenarios import task as task_scenario

        self.beta1, self.beta2, self.eps = task_scenario.BETA1, task_scenario.BETA2, task_scenario.EPS
        self.lr, self.t = lr, 0
        self.moments = [(mx.nd.zeros(w.shape, ctx=w.context), mx.nd.zeros(w.shape, ctx=w.context)) for w in weights]

    def restart(self):
        self.t = 0
        for m, v in self.moments:
            m[:] = 0
            v[:] = 0

    def __call__(self, weights, grads):
        self.t += 1
        lr = self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for w, g, (m, v) in zip(weights, grads, self.moments):
            mx.nd.adam_update(
                w, g, m, v, lr=lr, beta1=self.beta1, beta2=self.beta2, epsilon=self.eps, wd=0.0, rescale_grad=1.0, out=w
            )


def _gan_task(problem, device, mode):
    """The gan scenario's step with Adam for D, then for G."""
    from scenarios.gan import DISCRIMINATOR, GENERATOR

    ctx = _ctx(device)
    g, d = _zero_weights(GENERATOR, ctx), _zero_weights(DISCRIMINATOR, ctx)
    gen, d_loss, g_loss = (_BUILD[mode](f) for f in (nets.generator, nets.d_loss, nets.g_loss))
    generate = _BUILD["eager"](nets.generator)  # outside the clock, whatever the mode
    lr = problem.params["gan_lr"]
    adam_d, adam_g = _Adam(d, lr), _Adam(g, lr)
    step = _gan_train_step(gen, d_loss, g_loss, g, d, adam_d, adam_g)

    def train(z, real):
        return step(mx.nd.array(z, ctx=ctx), mx.nd.array(real, ctx=ctx))

    def restart():
        adam_d.restart()
        adam_g.restart()

    trainer = common.Trainer(
        _loader(g + d, GAN_NAMES, then=restart),
        train,
        lambda z: generate(mx.nd.array(z, ctx=ctx), *g).asnumpy(),
        loss=lambda losses: tuple(float(t.asscalar()) for t in losses),
        sync=lambda: sync(device),
    )
    return common.task_step(problem, "generate", trainer)
