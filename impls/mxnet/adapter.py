"""MXNet adapter: the scenario set in mx.nd operators, imperative or hybridized.

Every computation is written once as a function of `F` (mx.nd or mx.sym, Gluon's
hybrid_forward convention): eager mode calls it with mx.nd, one operator at a time;
graph mode wraps it in a HybridBlock hybridized with static memory and shapes, which
MXNet turns into one cached graph on the first call (outside the timed samples).

MXNet's engine is asynchronous: an operator call only queues work. `sync` waits for
all of it (mx.nd.waitall) and the harness calls it inside every timed sample.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile

import numpy as np

import mxnet as mx
from mxnet import autograd, gluon

from impls.base import Step, Unsupported
from scenarios import qgemm as qgemm_scenario

from . import quantized

LEAK = 0.2


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
        "blas": next((n for n in ("BLAS_MKL", "BLAS_OPEN", "BLAS_ATLAS", "BLAS_APPLE") if features.is_enabled(n)),
                     None),
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
    return {"onednn": version.group(1) if version else None,
            "onednn_isa": isa.group(1).strip() if isa else None,
            "int8_gemm_exact_in_one_pass": exact}


def configure(threads):
    # OMP_NUM_THREADS and MXNET_OMP_MAX_THREADS were set before MXNet was imported
    # (the manifest's THREAD_VARIABLES): its engine reads them once, at start-up.
    pass


def device_unavailable(device):
    if device == "cpu":
        return None
    if device == "cuda":
        if not mx.runtime.Features().is_enabled("CUDA"):
            return (f"mxnet {mx.__version__} in .venv-mxnet is a CPU-only build; for a GPU install a CUDA "
                    f"build (e.g. mxnet-cu112) there instead of mxnet")
        if mx.context.num_gpus() == 0:
            return "no CUDA device visible to mxnet"
        return None
    return f"mxnet adapter has no device {device!r}"


def sync(device):
    mx.nd.waitall()


def peak_device_memory(device, reset=False):
    return None  # MXNet 1.x has no peak-memory counter


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


def _build(fn, mode, **kwargs):
    """A callable over NDArrays: the F-function itself (eager) or its hybridized block."""
    if mode == "eager":
        return lambda *args, **out: fn(mx.nd, *args, **kwargs, **out)
    if mode == "graph":
        block = _Hybrid(fn, **kwargs)
        # static_alloc: memory planned once and reused; static_shape: shapes never change.
        block.hybridize(static_alloc=True, static_shape=True)
        return block
    raise Unsupported(f"mxnet has no mode {mode!r} (modes: eager, graph)")


def _step(run, outputs, device):
    return Step(run, outputs, sync=lambda: sync(device))


# --- conv, sigmoid ------------------------------------------------------------

def _conv(F, x, w, b, kernel, stride, pad, filters):
    return F.Convolution(x, w, b, kernel=(kernel, kernel), stride=(stride, stride), pad=(pad, pad),
                         num_filter=filters)


def conv(problem, phase, device, mode):
    p = problem.params
    x, w, b = _arrays(problem, ("x", "w", "b"), device)
    fn = _build(_conv, mode, kernel=p["kernel"], stride=p["stride"], pad=p["pad"], filters=p["c_out"])
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
    fn = _build(_sigmoid_forward if phase == "forward" else _sigmoid_backward, mode)
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

def qgemm(problem, phase, device, mode):
    if device != "cpu":
        raise Unsupported("mxnet's integer GEMM (quantized_fully_connected) runs through oneDNN, on the CPU only")
    p = problem.params
    stage = qgemm_scenario.output_stage(p)
    acc_bound = p["k"] * max(p["za"], 255 - p["za"]) * max(p["zb"], 255 - p["zb"])
    divisor, offset = quantized.requantize_constants(acc_bound, stage["multiplier"], stage["shift"])
    a, b = _arrays(problem, ("a", "b"), device, dtype="uint8")
    fn = _build(quantized.qgemm, mode, k=p["k"], n=p["n"], za=p["za"], zb=p["zb"], zc=p["zc"],
                multiplier=stage["multiplier"], shift=stage["shift"], divisor=divisor, offset=offset,
                one_pass=quantized.one_pass_exact(p["m"], p["k"], p["n"]))
    out = {}

    def run():
        out["acc"], out["out"] = fn(a, b)

    return _step(run, lambda: {"acc": out["acc"].asnumpy(), "out": out["out"].asnumpy()}, device)


# --- networks -----------------------------------------------------------------
# Some weights live in the layout MXNet's operators want, converted once in prepare
# and back in `outputs` (neither is timed): dense weights as FullyConnected's (out, in),
# the scenario's (in, out) transposed; the generator's last transposed convolution
# with a second, all-zero output channel (see _generator).

def _transpose(a):
    return np.ascontiguousarray(a.T)


def _add_zero_channel(a):
    return np.concatenate([a, np.zeros_like(a)], axis=1 if a.ndim == 4 else 0)


def _first_channel(a):
    return np.ascontiguousarray(a[:, :1] if a.ndim == 4 else a[:1])


LAYOUTS = {
    "fc1_w": (_transpose, _transpose), "fc2_w": (_transpose, _transpose),
    "g_fc_w": (_transpose, _transpose), "d_fc_w": (_transpose, _transpose),
    "g_ct2_w": (_add_zero_channel, _first_channel), "g_ct2_b": (_add_zero_channel, _first_channel),
}


def _weights(problem, spec, device):
    """NDArrays of the initial weights in MXNet's layout, gradients attached."""
    arrays = []
    for name, _, _ in spec:
        to_mx = LAYOUTS.get(name, (lambda a: a, None))[0]
        arrays.append(mx.nd.array(to_mx(problem.inputs[name]), ctx=_ctx(device)))
        arrays[-1].attach_grad()
    return arrays


def _numpy_weights(names, arrays):
    return {n: LAYOUTS.get(n, (None, lambda a: a))[1](a.asnumpy()) for n, a in zip(names, arrays)}


def _sgd(weights, grads, lr):
    """Plain SGD in place, MXNet's fused kernel: w -= lr * g (no decay, no rescaling)."""
    for w, g in zip(weights, grads):
        mx.nd.sgd_update(w, g, lr=lr, wd=0.0, rescale_grad=1.0, out=w)


def _classifier_logits(F, x, c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b):
    pool = dict(kernel=(2, 2), stride=(2, 2), pool_type="max")
    h = F.Pooling(F.relu(F.Convolution(x, c1w, c1b, kernel=(5, 5), pad=(2, 2), num_filter=32)), **pool)
    h = F.Pooling(F.relu(F.Convolution(h, c2w, c2b, kernel=(5, 5), pad=(2, 2), num_filter=64)), **pool)
    h = F.relu(F.FullyConnected(h, f1w, f1b, num_hidden=1024))  # flattens NCHW in order
    return F.FullyConnected(h, f2w, f2b, num_hidden=10)


def _cross_entropy(F, logits, labels):
    return -F.mean(F.pick(F.log_softmax(logits, axis=1), labels, axis=1))


def _classifier_loss(F, x, labels, *w):
    return _cross_entropy(F, _classifier_logits(F, x, *w), labels)


def classifier(problem, phase, device, mode):
    from scenarios.classifier import WEIGHTS
    names = [n for n, _, _ in WEIGHTS]
    w = _weights(problem, WEIGHTS, device)
    x = _arrays(problem, ("x",), device)[0]
    out = {}
    if phase == "inference":
        logits_fn = _build(_classifier_logits, mode)

        def run():
            out["logits"] = logits_fn(x, *w)
        return _step(run, lambda: {"logits": out["logits"].asnumpy()}, device)

    labels = _arrays(problem, ("labels",), device)[0]  # float32 indices, as pick takes them
    loss_fn = _build(_classifier_loss, mode)
    lr = problem.params["lr"]

    def run():
        with autograd.record():
            loss = loss_fn(x, labels, *w)
        loss.backward()
        _sgd(w, [t.grad for t in w], lr)
        out["loss"] = loss

    return _step(run, lambda: {"loss": out["loss"].asnumpy().reshape(()), **_numpy_weights(names, w)},
                 device)


def _generator(F, z, fcw, fcb, c1w, c1b, c2w, c2b):
    up = dict(kernel=(4, 4), stride=(2, 2), pad=(1, 1), no_bias=False)
    h = F.relu(F.reshape(F.FullyConnected(z, fcw, fcb, num_hidden=6272), shape=(-1, 128, 7, 7)))
    h = F.relu(F.Deconvolution(h, c1w, c1b, num_filter=64, **up))
    # MXNet 1.9.1's oneDNN Deconvolution cannot take the input gradient of a single
    # output channel ("could not create a primitive descriptor for a reorder
    # primitive"), so the layer has a second, all-zero channel (LAYOUTS) that is
    # dropped here: no gradient reaches it, so it stays zero. 1/40 of G's work.
    y = F.slice_axis(F.Deconvolution(h, c2w, c2b, num_filter=2, **up), axis=1, begin=0, end=1)
    return F.tanh(y)


def _discriminator(F, x, c1w, c1b, c2w, c2b, fcw, fcb):
    down = dict(kernel=(4, 4), stride=(2, 2), pad=(1, 1))
    h = F.LeakyReLU(F.Convolution(x, c1w, c1b, num_filter=64, **down), act_type="leaky", slope=LEAK)
    h = F.LeakyReLU(F.Convolution(h, c2w, c2b, num_filter=128, **down), act_type="leaky", slope=LEAK)
    return F.FullyConnected(h, fcw, fcb, num_hidden=1)


def _softplus(F, x):
    return F.Activation(x, act_type="softrelu")  # log(1 + e^x), the stable BCE-from-logits term


def _d_loss(F, real, fake, *d):
    return (F.mean(_softplus(F, -_discriminator(F, real, *d)))
            + F.mean(_softplus(F, _discriminator(F, fake, *d))))


def _g_loss(F, fake, *d):
    return F.mean(_softplus(F, -_discriminator(F, fake, *d)))  # non-saturating


def gan(problem, phase, device, mode):
    from scenarios.gan import DISCRIMINATOR, GENERATOR
    g_names = [n for n, _, _ in GENERATOR]
    d_names = [n for n, _, _ in DISCRIMINATOR]
    g = _weights(problem, GENERATOR, device)
    d = _weights(problem, DISCRIMINATOR, device)
    z, real = _arrays(problem, ("z", "real"), device)
    gen, d_loss, g_loss = (_build(f, mode) for f in (_generator, _d_loss, _g_loss))
    lr = problem.params["lr"]
    out = {}

    d_grads = [t.grad for t in d]

    def run():
        with autograd.record():
            fake = gen(z, *g)
            loss_d = d_loss(real, fake.detach(), *d)
        loss_d.backward()
        _sgd(d, d_grads, lr)
        # The generator's update goes through D' but needs no gradient for D's weights:
        # marked grad_req "null", MXNet skips them. (autograd.grad(loss_g, g) would say
        # the same, but in 1.9.1 it aborts the process on this graph.)
        autograd.mark_variables(d, d_grads, grad_reqs="null")
        with autograd.record():
            loss_g = g_loss(fake, *d)
        loss_g.backward()
        autograd.mark_variables(d, d_grads, grad_reqs="write")
        _sgd(g, [t.grad for t in g], lr)
        out["loss_d"], out["loss_g"] = loss_d, loss_g

    def outputs():
        res = {"loss_d": out["loss_d"].asnumpy().reshape(()), "loss_g": out["loss_g"].asnumpy().reshape(())}
        res.update(_numpy_weights(g_names + d_names, g + d))
        return res

    return _step(run, outputs, device)
