"""TensorFlow adapter: the scenario set in TF ops, eager, through tf.function, or XLA.

Inputs and weights are placed on the device once, in prepare. TF's CPU convolutions
take NHWC, so prepare also converts the scenario's NCHW inputs and OIHW weights (and
the dense rows that follow a flatten) once; `outputs` converts back, untimed.
"""

from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from impls import common, gemmlowp
from impls.base import Unsupported
from scenarios import qgemm as qgemm_scenario
from scenarios.classifier import CONV1, CONV2, FLAT_SHAPE, POOL
from scenarios.classifier import WEIGHT_NAMES as CLASSIFIER_NAMES
from scenarios.classifier import WEIGHTS as CLASSIFIER_WEIGHTS
from scenarios.gan import D_C1, D_C2, D_FLAT, DISCRIMINATOR_NAMES, G_CT1, G_CT2, G_START, GENERATOR_NAMES, LEAK, NOISE
from scenarios.gan import WEIGHT_NAMES as GAN_NAMES

from . import MANIFEST

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


def _onednn():
    """Whether oneDNN (formerly MKL) kernels are on: the build's default, or TF_ENABLE_ONEDNN_OPTS."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def probe():
    # The probe process never gets configure(); the harness gives it --threads only
    # through OMP_NUM_THREADS, so apply that to record what a cell of this run uses.
    threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
    if threads:
        try:
            configure(threads)
        except RuntimeError:  # TF's runtime already started in this process: report what it has
            pass
    build = dict(tf.sysconfig.get_build_info())
    info = {
        "version": tf.__version__,
        "git_version": getattr(tf.version, "GIT_VERSION", None),
        "onednn": _onednn(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "xla": tf.test.is_built_with_xla(),
        "build_info": {k: v for k, v in build.items() if isinstance(v, (str, int, float, bool))},
        "compile_flags": [f for f in tf.sysconfig.get_compile_flags() if not f.startswith("-I")],
        "threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "interop_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        info["gpu"] = {
            "name": details.get("device_name"),
            "capability": details.get("compute_capability"),
            "cuda": build.get("cuda_version"),
            "cudnn": build.get("cudnn_version"),
        }
    return info


def configure(threads):
    # TF sizes its pools when the runtime starts (the first op): set both before that.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def device_unavailable(device):
    if device == "cpu":
        return None
    if not tf.test.is_built_with_cuda():  # cuda: the manifest's only other device
        return "TensorFlow build has no GPU support"
    if not tf.config.list_physical_devices("GPU"):
        return "no GPU visible to TensorFlow"
    return None


def sync(device):
    if device == "cuda":
        tf.test.experimental.sync_devices()


def peak_device_memory(device, reset=False):
    if device != "cuda":
        return None
    if reset:
        tf.config.experimental.reset_memory_stats("GPU:0")
    return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def peaks(device, threads, seconds, working_sets=None):
    """Ceilings as TensorFlow reaches them on `device`: fp32 GEMM (tf.linalg.matmul), the
    exact uint8 product (QuantizedMatMul, qgemm's kernel; CPU only) and copies (DeepCopy,
    chained inside one tf.function so the call's overhead does not swamp a cache-sized
    copy), one per working set in `working_sets`."""
    from timing.ceiling import bandwidth_peaks, gemm_peak, past_caches

    gen = np.random.default_rng(0)

    def fp32(n):
        with _place(device):
            a, b = (tf.constant(gen.standard_normal((n, n), dtype=np.float32)) for _ in range(2))
        return lambda: tf.linalg.matmul(a, b).numpy() if device == "cpu" else tf.linalg.matmul(a, b)

    def int8(n):
        a, b = (tf.bitcast(tf.constant(gen.integers(0, 256, (n, n), dtype=np.uint8)), tf.quint8) for _ in range(2))
        (min_a, max_a), (min_b, max_b) = _quant_range(128), _quant_range(128)

        def call():
            tf.raw_ops.QuantizedMatMul(a=a, b=b, min_a=min_a, max_a=max_a, min_b=min_b, max_b=max_b, Toutput=tf.qint32)[
                0
            ].numpy()

        return call

    def make_copy(nbytes, repeats):
        with _place(device):
            src = tf.ones((nbytes // 4,), tf.float32)

        @tf.function
        def copies(x):
            # a chain of copies: each one's result feeds the next, so none is pruned, and
            # DeepCopy always writes a new buffer (an assign or identity may just alias)
            for _ in tf.range(repeats):
                x = tf.raw_ops.DeepCopy(x=x)
            return x

        return lambda: copies(src)

    def sync_device():
        sync(device)

    out = {"fp32_gemm_gflops": gemm_peak(fp32, seconds, f"tf.linalg.matmul float32 on {device}", sync_device)}
    if device == "cpu":
        out["int8_gemm_gops"] = gemm_peak(int8, seconds, "tf.raw_ops.QuantizedMatMul quint8 (exact, int32)")
    out.update(
        bandwidth_peaks(
            make_copy, working_sets or past_caches(device), seconds, f"tf.raw_ops.DeepCopy on {device}", sync_device
        )
    )
    return out


def _place(device):
    return tf.device("/GPU:0" if device == "cuda" else "/CPU:0")


def _constants(problem, names, device, layouts=None):
    """Device tensors of the named inputs, each transposed once by its layout (if any)."""
    layouts = layouts or {}
    with _place(device):
        return [tf.constant(_to_tf(problem.inputs[n], layouts.get(n))) for n in names]


def _variables(problem, names, device, layouts):
    with _place(device):
        return [tf.Variable(_to_tf(problem.inputs[n], layouts.get(n)), name=n) for n in names]


def _to_tf(a, layout):
    return np.ascontiguousarray(layout[0](a) if layout else a)


def _from_tf(t, layout):
    a = t.numpy()
    return np.ascontiguousarray(layout[1](a) if layout else a)


# Layout converters: (scenario -> TF, TF -> scenario), applied in prepare and outputs.
NCHW = (lambda a: a.transpose(NCHW_TO_NHWC), lambda a: a.transpose(NHWC_TO_NCHW))
OIHW = (lambda a: a.transpose(2, 3, 1, 0), lambda a: a.transpose(3, 2, 0, 1))  # conv filter, HWIO in TF
# Transposed conv (in, out, kh, kw) -> TF's conv2d_transpose filter (kh, kw, out, in): the same
# numbers, since both are the input gradient of a conv whose OIHW filter has O=in, I=out.
IOHW = (lambda a: a.transpose(2, 3, 1, 0), lambda a: a.transpose(3, 2, 0, 1))


def _flat_rows(c, h, w):
    """Dense weight whose rows follow a flatten: NCHW order (c, h, w) <-> NHWC order (h, w, c)."""
    return (
        lambda a: a.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(c * h * w, -1),
        lambda a: a.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1),
    )


def _flat_cols(c, h, w):
    """Dense weight (or bias) whose columns feed an NCHW reshape: reorder them to NHWC."""
    return (
        lambda a: a.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(a.shape),
        lambda a: a.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(a.shape),
    )


def _xla_unsupported(exc):
    """The reason XLA refuses a step, from tf2xla's message; None if that is not why it failed."""
    text = str(exc)
    if "unsupported operations" not in text:
        return None
    found = sorted(set(re.findall(r"No registered '(\w+)' OpKernel for (\w+)", text)))
    if not found:
        return "XLA cannot compile this step: " + text.strip().splitlines()[0][:300]
    ops = ", ".join(op for op, _ in found)
    return f"XLA cannot compile this step: {found[0][1]} has no kernel for {ops}"


def _xla(fn, device, *example):
    """fn through XLA, lowered once here, on the cell's device: an op XLA lacks makes the
    cell Unsupported instead of an error at the first call."""
    compiled = tf.function(fn, jit_compile=True)
    try:
        with _place(device):
            compiled.experimental_get_compiler_ir(*example)(stage="hlo")
    except (ValueError, tf.errors.InvalidArgumentError, tf.errors.UnimplementedError) as exc:
        why = _xla_unsupported(exc)
        if why:
            raise Unsupported(why) from None
        raise
    return compiled


# _FUNCTION[mode](fn, device, *example arguments): fn as that mode runs it
_FUNCTION = common.by_mode(
    MANIFEST, eager=lambda fn, device, *example: fn, graph=lambda fn, device, *example: tf.function(fn), xla=_xla
)


def _placed(run, device):
    if not tf.config.list_physical_devices("GPU"):  # everything runs on the CPU: skip the context
        return run

    def placed():
        with _place(device):
            run()

    return placed


_step = common.stepper(sync, place=_placed)


def _resetter(problem, names, variables, device, layouts):
    """Assigns the initial weights (constants made here, in prepare) back into the same
    variables, which tf.function and XLA captured: no retrace."""
    return common.resetter(variables, _constants(problem, names, device, layouts), lambda v, c: v.assign(c))


def _pads(p):
    return [[0, 0], [p, p], [p, p], [0, 0]]  # explicit and symmetric, never "SAME"


def _conv(x, w, b, stride, pad):
    return tf.nn.bias_add(tf.nn.conv2d(x, w, strides=stride, padding=_pads(pad)), b)


def _layer(x, w, b, layer):
    """A scenario's layer (scenarios.layers.Conv) on NHWC x: its stride and padding."""
    if not layer.transposed:
        return _conv(x, w, b, layer.stride, layer.pad)
    out = layer.out_size(x.shape[1])
    shape = (x.shape[0], out, out, layer.c_out)  # static: XLA wants it known at compile time
    return tf.nn.bias_add(tf.nn.conv2d_transpose(x, w, shape, strides=layer.stride, padding=_pads(layer.pad)), b)


def conv(problem, phase, device, mode):
    p = problem.params
    x, w, b = _constants(problem, ("x", "w", "b"), device, {"x": NCHW, "w": OIHW})
    fn = _FUNCTION[mode](lambda x, w, b: _conv(x, w, b, p["stride"], p["pad"]), device, x, w, b)
    out = {}

    def run():
        out["y"] = fn(x, w, b)

    return _step(run, lambda: {"y": _from_tf(out["y"], NCHW)}, device)


def sigmoid(problem, phase, device, mode):
    if phase == "forward":
        args = _constants(problem, ("z",), device)
        fn, name = (lambda z: tf.sigmoid(z)), "y"
    else:  # TF's own sigmoid-gradient kernel, not a tape around the forward
        args = _constants(problem, ("y", "dy"), device)
        fn, name = (lambda y, dy: tf.raw_ops.SigmoidGrad(y=y, dy=dy)), "dz"
    fn = _FUNCTION[mode](fn, device, *args)
    out = {}

    def run():
        out["r"] = fn(*args)

    return _step(run, lambda: {name: out["r"].numpy()}, device)


def _quant_range(zero_point):
    """(min, max) for which TF's quint8 zero point is exactly zero_point.

    TF derives it as round(-min / scale) with scale = (max - min) / 255 (quantization_utils.h's
    FloatToQuantizedUnclamped of 0.0); with scale 1, min = -z and max = 255 - z give z.
    """
    return tf.constant(-float(zero_point)), tf.constant(255.0 - zero_point)


def _int64(t):
    return tf.cast(t, tf.int64)


# gemmlowp.output_stage's array ops in TF: where's constants made int64, the bitwise ops by name
_INT_OPS = gemmlowp.IntOps(
    to_int64=_int64,
    where=lambda c, a, b: tf.where(c, _int64(a), _int64(b)),
    clip_to_uint8=lambda t: tf.cast(tf.clip_by_value(t, 0, 255), tf.uint8),
    right_shift=lambda t, n: tf.bitwise.right_shift(t, _int64(n)),
    bitwise_and=lambda t, n: tf.bitwise.bitwise_and(t, _int64(n)),
)


def _requantize(acc, mult, shift, zc):
    """gemmlowp's output stage in int64 integer ops, no float."""
    return gemmlowp.output_stage(_INT_OPS, acc, mult, shift, zc)


def qgemm(problem, phase, device, mode):
    """uint8 GEMM through tf.raw_ops.QuantizedMatMul (quint8 x quint8 -> qint32, gemmlowp).

    The zero points go in as float ranges that TF turns back into exactly za and zb;
    gemmlowp accumulates (a - za)(b - zb) exactly in int32. The kernel is CPU-only and
    has no XLA lowering, so `gemm` and `full` are unsupported on a GPU and under XLA;
    `requantize` is plain int64 integer ops and runs everywhere.
    """
    p = problem.params
    stage = qgemm_scenario.output_stage(p)
    mult, shift, zc = stage["multiplier"], stage["shift"], p["zc"]
    if phase == "requantize":
        (acc,) = _constants(problem, ("acc",), device)
        fn = _FUNCTION[mode](lambda acc: _requantize(acc, mult, shift, zc), device, acc)
        out = {}

        def run():
            out["out"] = fn(acc)

        return _step(run, lambda: {"out": out["out"].numpy()}, device)

    if device != "cpu":
        raise Unsupported("TensorFlow's QuantizedMatMul has a CPU kernel only")
    a, b = (tf.bitcast(t, tf.quint8) for t in _constants(problem, ("a", "b"), device))
    (min_a, max_a), (min_b, max_b) = _quant_range(p["za"]), _quant_range(p["zb"])

    def accumulate(a, b):
        acc, _, _ = tf.raw_ops.QuantizedMatMul(
            a=a, b=b, min_a=min_a, max_a=max_a, min_b=min_b, max_b=max_b, Toutput=tf.qint32
        )
        return tf.bitcast(acc, tf.int32)

    def both(a, b):
        acc = accumulate(a, b)
        return acc, _requantize(acc, mult, shift, zc)

    fn = _FUNCTION[mode](accumulate if phase == "gemm" else both, device, a, b)
    out = {}

    if phase == "gemm":

        def run():
            out["acc"] = fn(a, b)
    else:

        def run():
            out["acc"], out["out"] = fn(a, b)

    return _step(run, lambda: {name: t.numpy() for name, t in out.items()}, device)


# --- networks -----------------------------------------------------------------


def _sgd(variables, grads, lr):
    for v, g in zip(variables, grads):
        v.assign_sub(lr * g)


def _classifier_logits(w, x):
    c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b = w
    h = tf.nn.max_pool2d(tf.nn.relu(_layer(x, c1w, c1b, CONV1)), POOL, POOL, "VALID")
    h = tf.nn.max_pool2d(tf.nn.relu(_layer(h, c2w, c2b, CONV2)), POOL, POOL, "VALID")
    h = tf.reshape(h, (h.shape[0], -1))  # NHWC order: fc1_w's rows were permuted to match
    h = tf.nn.relu(tf.matmul(h, f1w) + f1b)
    return tf.matmul(h, f2w) + f2b


def _classifier_train_step(lr):
    """One SGD step of the classifier on (weights, x, labels): the classifier's and the task's."""

    def train_step(w, x, labels):
        with tf.GradientTape() as tape:
            logits = _classifier_logits(w, x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        _sgd(w, tape.gradient(loss, w), lr)
        return loss

    return train_step


def _classifier_layouts():
    return {"conv1_w": OIHW, "conv2_w": OIHW, "fc1_w": _flat_rows(*FLAT_SHAPE)}


def classifier(problem, phase, device, mode):
    if "ranks" in problem.params:
        return _classifier_data_parallel(problem, device, mode)
    layouts = _classifier_layouts()
    w = _variables(problem, CLASSIFIER_NAMES, device, layouts)
    x, labels = _constants(problem, ("x", "labels"), device, {"x": NCHW})
    out = {}
    if phase == "inference":
        logits_fn = _FUNCTION[mode](_classifier_logits, device, w, x)

        def run():
            out["logits"] = logits_fn(w, x)

        return _step(run, lambda: {"logits": out["logits"].numpy()}, device)

    fn = _FUNCTION[mode](_classifier_train_step(problem.params["lr"]), device, w, x, labels)

    def run():
        out["loss"] = fn(w, x, labels)

    def outputs():
        return {"loss": out["loss"].numpy(), **{n: _from_tf(v, layouts.get(n)) for n, v in zip(CLASSIFIER_NAMES, w)}}

    return _step(run, outputs, device, reset=_resetter(problem, CLASSIFIER_NAMES, w, device, layouts))


def _generator(g, z):
    fcw, fcb, c1w, c1b, c2w, c2b = g
    channels, rows, cols = G_START
    h = tf.nn.relu(tf.reshape(tf.matmul(z, fcw) + fcb, (-1, rows, cols, channels)))  # columns permuted to NHWC
    h = tf.nn.relu(_layer(h, c1w, c1b, G_CT1))
    return tf.tanh(_layer(h, c2w, c2b, G_CT2))


def _discriminator(d, x):
    c1w, c1b, c2w, c2b, fcw, fcb = d
    h = tf.nn.leaky_relu(_layer(x, c1w, c1b, D_C1), LEAK)
    h = tf.nn.leaky_relu(_layer(h, c2w, c2b, D_C2), LEAK)
    return tf.matmul(tf.reshape(h, (h.shape[0], -1)), fcw) + fcb  # rows permuted to NHWC


def _gan_layouts():
    return {
        "g_fc_w": _flat_cols(*G_START),
        "g_fc_b": _flat_cols(*G_START),
        "g_ct1_w": IOHW,
        "g_ct2_w": IOHW,
        "d_c1_w": OIHW,
        "d_c2_w": OIHW,
        "d_fc_w": _flat_rows(*D_FLAT),
    }


def _gan_train_step(update_d, update_g):
    """One GAN step on (g, d, z, real): update_d(d, grads), then update_g(g, grads) (plain
    SGD for the gan scenario, Adam for the task layer's)."""

    def step(g, d, z, real):
        # the generator's tape records only what depends on G, around the D update
        with tf.GradientTape(watch_accessed_variables=False) as g_tape:
            g_tape.watch(g)
            fake = _generator(g, z)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:  # fake is a constant here
                    # stable BCE from logits: softplus(-l) for real, softplus(l) for fake
                    loss_d = tf.reduce_mean(tf.math.softplus(-_discriminator(d, real))) + tf.reduce_mean(
                        tf.math.softplus(_discriminator(d, fake))
                    )
                update_d(d, d_tape.gradient(loss_d, d))
            loss_g = tf.reduce_mean(tf.math.softplus(-_discriminator(d, fake)))  # non-saturating, updated D
        update_g(g, g_tape.gradient(loss_g, g))
        return loss_d, loss_g

    return step


def gan(problem, phase, device, mode):
    if "ranks" in problem.params:
        return _gan_data_parallel(problem, device, mode)
    layouts = _gan_layouts()
    g = _variables(problem, GENERATOR_NAMES, device, layouts)
    d = _variables(problem, DISCRIMINATOR_NAMES, device, layouts)
    z, real = _constants(problem, ("z", "real"), device, {"real": NCHW})
    lr = problem.params["lr"]
    step = _gan_train_step(lambda d, grads: _sgd(d, grads, lr), lambda g, grads: _sgd(g, grads, lr))
    fn = _FUNCTION[mode](step, device, g, d, z, real)
    out = {}

    def run():
        out["loss_d"], out["loss_g"] = fn(g, d, z, real)

    def outputs():
        res = {"loss_d": out["loss_d"].numpy(), "loss_g": out["loss_g"].numpy()}
        res.update({n: _from_tf(v, layouts.get(n)) for n, v in zip(GAN_NAMES, g + d)})
        return res

    return _step(run, outputs, device, reset=_resetter(problem, GAN_NAMES, g + d, device, layouts))


# --- over several ranks ---------------------------------------------------------
# One MultiWorkerMirroredStrategy per worker process: a cluster of the cell's ranks on
# loopback (problem.addresses, one port each), TensorFlow's collective ops between them
# (its ring all-reduce on the CPU, NCCL on a GPU). A step is strategy.run of one
# replica's work on this rank's shard; its gradients are averaged over the ranks by the
# replica context's all_reduce (MEAN), then every rank applies the same SGD update.

_CLUSTER = {}


def _strategy(problem, device):
    """This process's strategy over problem.addresses, made once (TensorFlow's collective
    runtime is configured once per process)."""
    if "strategy" not in _CLUSTER:
        if len(problem.addresses) != problem.params["ranks"]:
            raise RuntimeError("a TensorFlow cell over ranks needs one address per rank from the harness")
        resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec({"worker": list(problem.addresses)}),
            task_type="worker",
            task_id=problem.rank,
            num_accelerators={"GPU": 1} if device == "cuda" else {},
        )
        implementation = tf.distribute.experimental.CommunicationImplementation
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=implementation.NCCL if device == "cuda" else implementation.RING
        )
        _CLUSTER["strategy"] = tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=resolver, communication_options=options
        )
    return _CLUSTER["strategy"]


def _replica_mode(mode):
    if mode == "xla":
        raise Unsupported(
            "dlbench runs TensorFlow's collectives (MultiWorkerMirroredStrategy) in eager and graph modes; "
            "XLA-compiled collectives are not built here"
        )
    return tf.function if mode == "graph" else (lambda fn: fn)


def _replicated(strategy, mode, fn):
    """fn(*args) as one replica's work under the strategy, in the mode's form."""
    return _replica_mode(mode)(lambda *args: strategy.run(fn, args=args))


def _all_ranks(strategy, op):
    """f(value) -> the value reduced over the ranks (op: 'mean', 'sum' or 'max'), untimed:
    validation's loss, and Step.agree."""

    def one(v):
        v = tf.identity(v)  # made on the replica's device: an input from outside has none to reduce to
        ctx = tf.distribute.get_replica_context()
        if op == "max":  # the replica context reduces by SUM or MEAN only: gather, then max
            return tf.reduce_max(ctx.all_gather(tf.reshape(v, [1]), axis=0))
        return ctx.all_reduce(tf.distribute.ReduceOp.MEAN if op == "mean" else tf.distribute.ReduceOp.SUM, v)

    fn = tf.function(lambda v: strategy.run(one, args=(v,)))
    return lambda value: fn(tf.constant(value, dtype=tf.float64)).numpy()


def _agree(strategy):
    largest = _all_ranks(strategy, "max")
    return lambda value: float(largest(float(value)))


def _mean_grads(grads):
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.MEAN, grads)


def _shards(problem, names, device, layouts):
    with _place(device):
        return [tf.constant(_to_tf(problem.shard(n), layouts.get(n))) for n in names]


def allreduce(problem, phase, device, mode):
    """The replica context's all_reduce (SUM) of this rank's row: a collective over the
    cluster's ring. At one rank the default strategy's replica context, whose all_reduce
    hands back its input: the figure is the call and the copy (no cluster: a strategy's
    collective runtime must be set up before a process runs anything else, and one worker
    runs many one-rank cells)."""
    strategy = _strategy(problem, device) if "ranks" in problem.params else tf.distribute.get_strategy()
    with _place(device):
        mine = tf.constant(problem.inputs["x"][problem.rank])

    def replica(v):  # v copied onto the replica's device first (as torch's copies into its buffer)
        return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(v))

    fn = _replicated(strategy, mode, replica)
    out = {}

    def run():
        out["sum"] = fn(mine)

    return _step(run, lambda: {"sum": out["sum"].numpy()}, device, agree=_agree(strategy))


def _classifier_data_parallel(problem, device, mode):
    strategy = _strategy(problem, device)
    layouts = _classifier_layouts()
    w = _variables(problem, CLASSIFIER_NAMES, device, layouts)
    x, labels = _shards(problem, ("x", "labels"), device, {"x": NCHW})
    lr, out = problem.params["lr"], {}

    def replica_step(x, labels):
        with tf.GradientTape() as tape:
            logits = _classifier_logits(w, x)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        _sgd(w, _mean_grads(tape.gradient(loss, w)), lr)
        return loss

    fn = _replicated(strategy, mode, replica_step)
    mean = _all_ranks(strategy, "mean")

    def run():
        out["loss"] = fn(x, labels)

    def outputs():
        res = {"loss": np.float32(mean(float(out["loss"].numpy())))}
        return {**res, **{n: _from_tf(v, layouts.get(n)) for n, v in zip(CLASSIFIER_NAMES, w)}}

    reset = _resetter(problem, CLASSIFIER_NAMES, w, device, layouts)
    return _step(run, outputs, device, reset=reset, agree=_agree(strategy))


def _gan_data_parallel(problem, device, mode):
    strategy = _strategy(problem, device)
    layouts = _gan_layouts()
    g = _variables(problem, GENERATOR_NAMES, device, layouts)
    d = _variables(problem, DISCRIMINATOR_NAMES, device, layouts)
    z, real = _shards(problem, ("z", "real"), device, {"real": NCHW})
    lr, out = problem.params["lr"], {}

    def replica_step(z, real):
        with tf.GradientTape(watch_accessed_variables=False) as g_tape:
            g_tape.watch(g)
            fake = _generator(g, z)
            with g_tape.stop_recording():
                with tf.GradientTape() as d_tape:
                    loss_d = tf.reduce_mean(tf.math.softplus(-_discriminator(d, real))) + tf.reduce_mean(
                        tf.math.softplus(_discriminator(d, fake))
                    )
                _sgd(d, _mean_grads(d_tape.gradient(loss_d, d)), lr)
            loss_g = tf.reduce_mean(tf.math.softplus(-_discriminator(d, fake)))
        _sgd(g, _mean_grads(g_tape.gradient(loss_g, g)), lr)
        return loss_d, loss_g

    fn = _replicated(strategy, mode, replica_step)
    mean = _all_ranks(strategy, "mean")

    def run():
        out["loss_d"], out["loss_g"] = fn(z, real)

    def outputs():
        res = {k: np.float32(mean(float(out[k].numpy()))) for k in ("loss_d", "loss_g")}
        res.update({n: _from_tf(v, layouts.get(n)) for n, v in zip(GAN_NAMES, g + d)})
        return res

    reset = _resetter(problem, GAN_NAMES, g + d, device, layouts)
    return _step(run, outputs, device, reset=reset, agree=_agree(strategy))


def task(problem, phase, device, mode):
    """The task layer (scenarios.task's loop): the classifier's SGD step or the GAN's Adam
    step, fed each batch from NumPy (NCHW -> NHWC is part of the feeding, as for any input)."""
    if phase == "generate":
        return _gan_task(problem, device, mode)
    layouts = _classifier_layouts()
    w = _zero_variables(CLASSIFIER_WEIGHTS, layouts, device)

    def feed(x, labels):
        with _place(device):
            return tf.constant(_to_tf(x, NCHW)), tf.constant(labels)

    batch = problem.params["batch"]
    example = feed(problem.inputs["x_train"][:batch], problem.inputs["y_train"][:batch])
    fn = _FUNCTION[mode](_classifier_train_step(problem.params["lr"]), device, w, *example)

    def train(x, labels):
        with _place(device):
            return fn(w, *feed(x, labels))

    def predict(x):  # outside the clock, eagerly, whatever the mode
        with _place(device):
            return _classifier_logits(w, tf.constant(_to_tf(x, NCHW))).numpy()

    load = _loader(w, CLASSIFIER_NAMES, layouts)
    trainer = common.Trainer(load, train, predict, loss=lambda t: float(t.numpy()), sync=lambda: sync(device))
    return common.task_step(problem, phase, trainer)


def _zero_variables(specs, layouts, device):
    with _place(device):
        return [
            tf.Variable(_to_tf(np.zeros(shape, np.float32), layouts.get(name)), name=name) for name, shape, _ in specs
        ]


def _loader(variables, names, layouts, then=lambda: None):
    def load(weights):
        for v, name in zip(variables, names):
            v.assign(_to_tf(weights[name], layouts.get(name)))  # the same variables: no retrace
        then()

    return load


class _Adam:
    """Adam through TensorFlow's fused kernel (ResourceApplyAdam, what its optimizers ran
    before Keras 3; XLA compiles it): its moments as variables beside the weights, a step
    count of its own, all set back to zero by `restart`."""

    def __init__(self, variables, lr, device):
        from scenarios import task as task_scenario

        self.beta1, self.beta2, self.eps = task_scenario.BETA1, task_scenario.BETA2, task_scenario.EPS
        self.lr = lr
        with _place(device):
            self.slots = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in variables]
            self.t = tf.Variable(0.0)

    def restart(self):
        for m, v in self.slots:
            m.assign(tf.zeros_like(m))
            v.assign(tf.zeros_like(v))
        self.t.assign(0.0)

    def __call__(self, variables, grads):
        self.t.assign_add(1.0)
        b1_power, b2_power = tf.pow(self.beta1, self.t), tf.pow(self.beta2, self.t)
        for var, grad, (m, v) in zip(variables, grads, self.slots):
            tf.raw_ops.ResourceApplyAdam(
                var=var.handle,
                m=m.handle,
                v=v.handle,
                beta1_power=b1_power,
                beta2_power=b2_power,
                lr=self.lr,
                beta1=self.beta1,
                beta2=self.beta2,
                epsilon=self.eps,
                grad=grad,
            )


def _gan_task(problem, device, mode):
    """The gan scenario's step with Adam for D, then for G."""
    from scenarios.gan import DISCRIMINATOR, GENERATOR

    layouts = _gan_layouts()
    g, d = _zero_variables(GENERATOR, layouts, device), _zero_variables(DISCRIMINATOR, layouts, device)
    lr = problem.params["gan_lr"]
    adam_d, adam_g = _Adam(d, lr, device), _Adam(g, lr, device)
    step = _gan_train_step(adam_d, adam_g)

    def feed(z, real):
        with _place(device):
            return tf.constant(z), tf.constant(_to_tf(real, NCHW))

    batch = problem.params["gan_batch"]
    example = feed(np.zeros((batch, NOISE), np.float32), problem.inputs["real_train"][:batch])  # shapes only
    fn = _FUNCTION[mode](step, device, g, d, *example)

    def train(z, real):
        with _place(device):
            return fn(g, d, *feed(z, real))

    def predict(z):  # outside the clock, eagerly: NHWC back to the scenario's NCHW
        with _place(device):
            return _from_tf(_generator(g, tf.constant(z)), NCHW)

    def restart():
        adam_d.restart()
        adam_g.restart()

    trainer = common.Trainer(
        _loader(g + d, GAN_NAMES, layouts, then=restart),
        train,
        predict,
        loss=lambda losses: tuple(float(t.numpy()) for t in losses),
        sync=lambda: sync(device),
    )
    return common.task_step(problem, "generate", trainer)
