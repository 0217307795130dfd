"""PyTorch adapter: the scenario set in ATen ops, eager or through torch.compile.

Inputs and weights are copied to the device once, in prepare; `run` only launches
work, and the harness synchronizes the device inside the timed region.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from impls import common, gemmlowp
from impls.base import Unsupported
from scenarios import qgemm as qgemm_scenario
from scenarios.classifier import CONV1, CONV2, POOL
from scenarios.classifier import WEIGHT_NAMES as CLASSIFIER_NAMES
from scenarios.classifier import WEIGHTS as CLASSIFIER_WEIGHTS
from scenarios.gan import D_C1, D_C2, DISCRIMINATOR_NAMES, G_CT1, G_CT2, G_START, GENERATOR_NAMES, LEAK
from scenarios.gan import WEIGHT_NAMES as GAN_NAMES

from . import MANIFEST


def probe():
    info = {
        "version": torch.__version__,
        "cuda_build": torch.version.cuda,
        "mkldnn": torch.backends.mkldnn.is_available(),
        "mkl": torch.backends.mkl.is_available(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
    }
    config = torch.__config__.show()
    info["blas"] = next(
        (ln.split("=", 1)[1].split(",")[0] for ln in config.split() if ln.startswith("BLAS_INFO")), None
    )
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = {
            "name": props.name,
            "memory_bytes": props.total_memory,
            "capability": f"{props.major}.{props.minor}",
            "cudnn": torch.backends.cudnn.version(),
        }
    return info


def configure(threads):
    # fp32 scenarios mean fp32: TF32 tensor-core math would fail validation, and
    # would compare a different precision against the other frameworks
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(threads)
    try:  # only allowed before the first inter-op parallel work
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass


def device_unavailable(device):
    if device == "cpu":
        return None
    if torch.version.cuda is None:  # cuda: the manifest's only other device
        return f"no CUDA device: torch {torch.__version__} is a CPU-only build"
    if not torch.cuda.is_available():
        return "no CUDA device visible to torch"
    return None


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def peak_device_memory(device, reset=False):
    if device != "cuda":
        return None
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return torch.cuda.max_memory_allocated()


def peaks(device, threads, seconds, working_sets=None):
    """Ceilings as torch reaches them on `device`: fp32 GEMM, int8 GEMM (torch._int_mm,
    int32 accumulation, qgemm's kernel) and tensor copies, one per working set in
    `working_sets` ({"L2": bytes, "L3": ..., "DRAM": ...}; None: one large copy)."""
    from timing.ceiling import bandwidth_peaks, gemm_peak, past_caches

    def sync_device():
        sync(device)

    gen = torch.Generator().manual_seed(0)

    def fp32(n):
        a, b = (torch.randn(n, n, generator=gen).to(device) for _ in range(2))
        c = torch.empty(n, n, device=device)
        return lambda: torch.mm(a, b, out=c)

    def int8(n):
        a, b = (torch.randint(-128, 128, (n, n), dtype=torch.int8, generator=gen).to(device) for _ in range(2))
        return lambda: torch._int_mm(a, b)

    def make_copy(nbytes, repeats):
        src = torch.ones(nbytes // 4, device=device)
        dst = torch.empty_like(src)

        def copy():
            for _ in range(repeats):
                dst.copy_(src)

        return copy

    out = {"fp32_gemm_gflops": gemm_peak(fp32, seconds, f"torch.mm float32 on {device}", sync_device)}
    try:
        out["int8_gemm_gops"] = gemm_peak(int8, seconds, f"torch._int_mm int8 on {device}", sync_device)
    except RuntimeError as exc:  # a build or device without the integer kernel: no int8 ceiling from torch
        out["int8_gemm_gops_unavailable"] = f"torch._int_mm: {str(exc).splitlines()[0][:200]}"
    out.update(
        bandwidth_peaks(
            make_copy, working_sets or past_caches(device), seconds, f"Tensor.copy_ on {device}", sync_device
        )
    )
    if device == "cuda":  # the tensor-core ceilings: what reduced-precision work could reach

        def bf16(n):
            a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
            return lambda: torch.mm(a, b)

        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            out["tf32_gemm_gflops"] = gemm_peak(fp32, seconds, "torch.mm float32 with TF32 on cuda", sync_device)
        finally:
            torch.backends.cuda.matmul.allow_tf32 = False
        out["bf16_gemm_gflops"] = gemm_peak(bf16, seconds, "torch.mm bfloat16 on cuda", sync_device)
    return out


def _tensors(problem, names, device, grad=False):
    return [torch.from_numpy(problem.inputs[n].copy()).to(device).requires_grad_(grad) for n in names]


# _COMPILE[mode](fn): fn as that mode runs it
_COMPILE = common.by_mode(MANIFEST, eager=lambda fn: fn, graph=lambda fn: torch.compile(fn, dynamic=False))
_step = common.stepper(sync)


def _resetter(params):
    """Restores `params` to their values now: copied back in place, so a compiled step,
    which took these very tensors as inputs, runs on without recompiling."""
    initial = [t.detach().clone() for t in params]
    # one pair, the two lists: all of them copied back in one fused call
    return common.resetter([params], [initial], torch.no_grad()(torch._foreach_copy_))


def _numpy(t):
    return t.detach().cpu().numpy()


def conv(problem, phase, device, mode):
    p = problem.params
    x, w, b = _tensors(problem, ("x", "w", "b"), device)
    fn = _COMPILE[mode](lambda x, w, b: F.conv2d(x, w, b, stride=p["stride"], padding=p["pad"]))
    out = {}

    @torch.inference_mode()
    def run():
        out["y"] = fn(x, w, b)

    return _step(run, lambda: {"y": _numpy(out["y"])}, device)


def sigmoid(problem, phase, device, mode):
    z, y, dy = _tensors(problem, ("z", "y", "dy"), device)
    buf = torch.empty_like(z)
    if mode == "eager":  # write into a preallocated buffer, as the reference does
        if phase == "forward":

            def run():
                torch.sigmoid(z, out=buf)
        else:  # ATen's own sigmoid-gradient kernel, not autograd around the forward

            def run():
                torch.ops.aten.sigmoid_backward.grad_input(dy, y, grad_input=buf)

        def out_fn():
            return buf

    else:
        fn = _COMPILE[mode](torch.sigmoid if phase == "forward" else torch.ops.aten.sigmoid_backward)
        args = (z,) if phase == "forward" else (dy, y)
        out = {}

        def run():
            out["r"] = fn(*args)

        def out_fn():
            return out["r"]

    name = "y" if phase == "forward" else "dz"
    return _step(run, lambda: {name: _numpy(out_fn())}, device)


def _pad_to(t, rows, cols):
    """Zero-pad a 2-D int8 tensor; zeros add nothing to a product of shifted operands."""
    if t.shape == (rows, cols):
        return t
    out = torch.zeros((rows, cols), dtype=t.dtype, device=t.device)
    out[: t.shape[0], : t.shape[1]] = t
    return out


def _round_up(n, m):
    return -(-n // m) * m


# gemmlowp.output_stage's array ops in torch (the shifts and the and are the tensors' own)
_INT_OPS = gemmlowp.IntOps(
    to_int64=lambda t: t.to(torch.int64), where=torch.where, clip_to_uint8=lambda t: t.clamp_(0, 255).to(torch.uint8)
)


def qgemm(problem, phase, device, mode):
    """uint8 GEMM through torch._int_mm (int8 x int8 -> int32), gemmlowp's algebra around it.

    Flipping the top bit turns uint8 v into int8 v - 128, so with za' = za - 128 and
    zb' = zb - 128: sum (a-za)(b-zb) = A'B' - zb' rowsum(A') - za' colsum(B') + k za' zb'.
    int32 wraps modulo 2^32 and the true result fits, so the accumulator is exact. The
    output stage is impls.gemmlowp's, in int64 integer ops, exact. Phase `full` is one function
    of both, which torch.compile may fuse.
    """
    p = problem.params
    stage = qgemm_scenario.output_stage(p)
    mult, shift, zc = stage["multiplier"], stage["shift"], p["zc"]
    za, zb, k = p["za"] - 128, p["zb"] - 128, p["k"]
    m, n = p["m"], p["n"]
    # cuBLASLt's int8 GEMM wants m > 16 and k, n multiples of 8
    shape = (max(_round_up(m, 8), 24), _round_up(k, 8), _round_up(n, 8)) if device == "cuda" else (m, k, n)

    def accumulate(a, b):
        a8 = torch.bitwise_xor(a, 128).view(torch.int8)
        b8 = torch.bitwise_xor(b, 128).view(torch.int8)
        prod = torch._int_mm(_pad_to(a8, shape[0], shape[1]), _pad_to(b8, shape[1], shape[2]))[:m, :n]
        rows = a8.sum(dim=1, dtype=torch.int32).unsqueeze(1)
        cols = b8.sum(dim=0, dtype=torch.int32).unsqueeze(0)
        return prod - zb * rows - za * cols + k * za * zb

    def requantize(acc):
        return gemmlowp.output_stage(_INT_OPS, acc, mult, shift, zc)

    def both(a, b):
        acc = accumulate(a, b)
        return acc, requantize(acc)

    # each phase: (its function, returning a tuple of outputs; its inputs; its outputs' names)
    fn, inputs, names = {
        "gemm": (lambda a, b: (accumulate(a, b),), ("a", "b"), ("acc",)),
        "requantize": (lambda acc: (requantize(acc),), ("acc",), ("out",)),
        "full": (both, ("a", "b"), ("acc", "out")),
    }[phase]
    fn = _COMPILE[mode](fn)
    args = _tensors(problem, inputs, device)
    out = {}

    def run():
        out["r"] = fn(*args)

    return _step(run, lambda: {name: _numpy(t) for name, t in zip(names, out["r"])}, device)


# --- networks -----------------------------------------------------------------


def _process_group(problem, device):
    """This process's group over problem.params' ranks, made once: gloo on the CPU, NCCL on
    CUDA; over one rank an in-memory store, over several the harness's rendezvous on
    loopback (problem.address, rank 0 listening)."""
    import torch.distributed as dist

    world = problem.params.get("ranks", 1)
    if not dist.is_initialized():
        backend = "nccl" if device == "cuda" else "gloo"
        if world == 1:
            dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
        else:
            url = f"tcp://{problem.address}"
            dist.init_process_group(backend, init_method=url, rank=problem.rank, world_size=world)
    return dist


def _agreer(dist, device):
    """Step.agree through the group: the largest of a number over the ranks."""

    def agree(value):
        t = torch.tensor([float(value)], dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    return agree


def allreduce(problem, phase, device, mode):
    """dist.all_reduce (sum) of this rank's row, in place: each call first copies the row
    back into the buffer (S bytes at memory speed, a few % of a loopback collective), so
    every call sums the same values and the first one can be checked."""
    if mode != "eager":
        raise Unsupported("a collective is a call into torch.distributed; torch.compile adds nothing to it")
    dist = _process_group(problem, device)
    mine = torch.from_numpy(problem.inputs["x"][problem.rank]).to(device)
    buf = torch.empty_like(mine)

    def run():
        buf.copy_(mine)
        dist.all_reduce(buf)

    return _step(run, lambda: {"sum": _numpy(buf)}, device, agree=_agreer(dist, device))


def _sgd(params, loss, lr):
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        torch._foreach_add_(params, grads, alpha=-lr)


def _conv(x, w, b, layer):
    """A scenario's layer (scenarios.layers.Conv): its weight and bias, its stride and padding."""
    if layer.transposed:
        return F.conv_transpose2d(x, w, b, stride=layer.stride, padding=layer.pad)
    return F.conv2d(x, w, b, stride=layer.stride, padding=layer.pad)


def _classifier_logits(w, x):
    c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b = w
    h = F.max_pool2d(F.relu(_conv(x, c1w, c1b, CONV1)), POOL)
    h = F.max_pool2d(F.relu(_conv(h, c2w, c2b, CONV2)), POOL)
    h = F.relu(torch.addmm(f1b, h.flatten(1), f1w))  # flatten in NCHW order
    return torch.addmm(f2b, h, f2w)


def _classifier_loss(w, x, labels):
    return F.cross_entropy(_classifier_logits(w, x), labels)


def classifier(problem, phase, device, mode):
    if "ranks" in problem.params:
        return classifier_data_parallel(problem, device, mode)
    w = _tensors(problem, CLASSIFIER_NAMES, device, grad=(phase == "train_step"))
    x, labels = _tensors(problem, ("x", "labels"), device)
    out = {}
    if phase == "inference":
        logits_fn = _COMPILE[mode](_classifier_logits)

        @torch.inference_mode()
        def run():
            out["logits"] = logits_fn(w, x)

        return _step(run, lambda: {"logits": _numpy(out["logits"])}, device)

    loss_fn = _COMPILE[mode](_classifier_loss)
    lr = problem.params["lr"]

    def run():
        loss = loss_fn(w, x, labels)
        _sgd(w, loss, lr)
        out["loss"] = loss

    return _step(
        run,
        lambda: {"loss": _numpy(out["loss"]), **{n: _numpy(t) for n, t in zip(CLASSIFIER_NAMES, w)}},
        device,
        reset=_resetter(w),
    )


def _generator(g, z):
    fcw, fcb, c1w, c1b, c2w, c2b = g
    h = F.relu(torch.addmm(fcb, z, fcw).view(z.shape[0], *G_START))
    h = F.relu(_conv(h, c1w, c1b, G_CT1))
    return torch.tanh(_conv(h, c2w, c2b, G_CT2))


def _discriminator(d, x):
    c1w, c1b, c2w, c2b, fcw, fcb = d
    h = F.leaky_relu(_conv(x, c1w, c1b, D_C1), LEAK)
    h = F.leaky_relu(_conv(h, c2w, c2b, D_C2), LEAK)
    return torch.addmm(fcb, h.flatten(1), fcw)


def _d_loss(d, real, fake):
    # stable BCE from logits: softplus(-l) for real, softplus(l) for fake
    return F.softplus(-_discriminator(d, real)).mean() + F.softplus(_discriminator(d, fake)).mean()


def _g_loss(d, fake):
    return F.softplus(-_discriminator(d, fake)).mean()  # non-saturating


def gan(problem, phase, device, mode):
    if "ranks" in problem.params:
        return gan_data_parallel(problem, device, mode)
    g = _tensors(problem, GENERATOR_NAMES, device, grad=True)
    d = _tensors(problem, DISCRIMINATOR_NAMES, device, grad=True)
    reset = _resetter(g + d)
    z, real = _tensors(problem, ("z", "real"), device)
    gen, d_loss, g_loss = (_COMPILE[mode](f) for f in (_generator, _d_loss, _g_loss))
    lr = problem.params["lr"]
    out = {}

    def run():
        fake = gen(g, z)
        loss_d = d_loss(d, real, fake.detach())
        _sgd(d, loss_d, lr)
        loss_g = g_loss(d, fake)
        _sgd(g, loss_g, lr)
        out["loss_d"], out["loss_g"] = loss_d, loss_g

    def outputs():
        res = {"loss_d": _numpy(out["loss_d"]), "loss_g": _numpy(out["loss_g"])}
        res.update({n: _numpy(t) for n, t in zip(GAN_NAMES, g + d)})
        return res

    return _step(run, outputs, device, reset=reset)


# --- data parallel --------------------------------------------------------------
# Over several ranks a training step is DistributedDataParallel's: each rank its shard of
# the batch, the same weights, gradients averaged by DDP's bucketed all-reduce during
# backward (a comm hook may replace it: the summed-gradients test plants one), then the
# same SGD update on every rank. Validated against the reference's one-process step on
# the whole batch: the loss (the ranks' mean, equal shards) and every weight's update.


class _Net(torch.nn.Module):
    """A scenario's functional network (weights list -> output) as the Module DDP wraps."""

    def __init__(self, weights, forward):
        super().__init__()
        self.weights = torch.nn.ParameterList(torch.nn.Parameter(t) for t in weights)
        self.fn = forward

    def forward(self, *args):
        return self.fn(list(self.weights), *args)


def _ddp(problem, device, mode, names, forward, comm_hook):
    """(the DDP module as `mode` runs it, its weights, the plain module): the weights
    broadcast from rank 0 by DDP (the same initial weights everywhere already)."""
    from torch.nn.parallel import DistributedDataParallel

    net = _Net(_tensors(problem, names, device), forward)
    ddp = DistributedDataParallel(net, device_ids=[0] if device == "cuda" else None)
    if comm_hook is not None:
        ddp.register_comm_hook(None, comm_hook)
    return _COMPILE[mode](ddp), list(net.parameters()), net


def _shards(problem, names, device):
    return [torch.from_numpy(problem.shard(n).copy()).to(device) for n in names]


@torch.no_grad()
def _sgd_grads(params, lr):
    """The update from the gradients backward left (DDP's averaged ones), then cleared."""
    torch._foreach_add_(params, [p.grad for p in params], alpha=-lr)
    for p in params:
        p.grad = None


def _mean_over_ranks(dist, t):
    """The whole batch's mean loss from each rank's shard mean (equal shards): for validation."""
    t = t.detach().clone()
    dist.all_reduce(t)
    return _numpy(t / dist.get_world_size())


def classifier_data_parallel(problem, device, mode, comm_hook=None):
    dist = _process_group(problem, device)
    model, w, _ = _ddp(problem, device, mode, CLASSIFIER_NAMES, _classifier_logits, comm_hook)
    x, labels = _shards(problem, ("x", "labels"), device)
    lr, out = problem.params["lr"], {}

    def run():
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        _sgd_grads(w, lr)
        out["loss"] = loss

    def outputs():
        return {"loss": _mean_over_ranks(dist, out["loss"]), **{n: _numpy(t) for n, t in zip(CLASSIFIER_NAMES, w)}}

    return _step(run, outputs, device, reset=_resetter(w), agree=_agreer(dist, device))


def gan_data_parallel(problem, device, mode, comm_hook=None):
    """The GAN step over ranks: D's update through D's DDP (real and fake shards in one
    forward, so one backward reduces once), then G's through G's DDP, its loss read through
    the plain D (D's gradients are not wanted, and backward(inputs=G) leaves them alone)."""
    dist = _process_group(problem, device)
    gen, g, _ = _ddp(problem, device, mode, GENERATOR_NAMES, _generator, comm_hook)
    disc, d, disc_plain = _ddp(problem, device, mode, DISCRIMINATOR_NAMES, _discriminator, comm_hook)
    disc_plain = _COMPILE[mode](disc_plain)
    z, real = _shards(problem, ("z", "real"), device)
    lr, n, out = problem.params["lr"], len(real), {}

    def run():
        fake = gen(z)
        logits = disc(torch.cat([real, fake.detach()]))
        loss_d = F.softplus(-logits[:n]).mean() + F.softplus(logits[n:]).mean()
        loss_d.backward()
        _sgd_grads(d, lr)
        loss_g = F.softplus(-disc_plain(fake)).mean()
        loss_g.backward(inputs=g)
        _sgd_grads(g, lr)
        out["loss_d"], out["loss_g"] = loss_d, loss_g

    def outputs():
        res = {k: _mean_over_ranks(dist, out[k]) for k in ("loss_d", "loss_g")}
        res.update({name: _numpy(t) for name, t in zip(GAN_NAMES, g + d)})
        return res

    return _step(run, outputs, device, reset=_resetter(g + d), agree=_agreer(dist, device))


def task(problem, phase, device, mode):
    """The task layer (scenarios.task's loop): the classifier's SGD step or the GAN's Adam
    step, fed each batch from NumPy."""
    if phase == "generate":
        return _gan_task(problem, device, mode)
    w = [torch.empty(shape, device=device, requires_grad=True) for _, shape, _ in CLASSIFIER_WEIGHTS]
    loss_fn = _COMPILE[mode](_classifier_loss)
    lr = problem.params["lr"]

    def train(x, labels):
        loss = loss_fn(w, torch.from_numpy(x).to(device), torch.from_numpy(labels).to(device))
        _sgd(w, loss, lr)
        return loss

    @torch.inference_mode()
    def predict(x):  # outside the clock: eager, whatever the mode (the test split is not a batch's shape)
        return _numpy(_classifier_logits(w, torch.from_numpy(x).to(device)))

    trainer = common.Trainer(
        _loader(w, CLASSIFIER_NAMES), train, predict, loss=lambda t: float(t.detach()), sync=lambda: sync(device)
    )
    return common.task_step(problem, phase, trainer)


def _loader(tensors, names, then=lambda: None):
    @torch.no_grad()
    def load(weights):
        for t, name in zip(tensors, names):
            t.copy_(torch.from_numpy(weights[name]))  # in place: a compiled step keeps its inputs
        then()

    return load


def _gan_task(problem, device, mode):
    """The GAN step of gan() with torch.optim.Adam (DCGAN's settings) for D, then for G."""
    from scenarios import task as task_scenario
    from scenarios.gan import DISCRIMINATOR, GENERATOR

    g = [torch.empty(shape, device=device, requires_grad=True) for _, shape, _ in GENERATOR]
    d = [torch.empty(shape, device=device, requires_grad=True) for _, shape, _ in DISCRIMINATOR]
    gen, d_loss, g_loss = (_COMPILE[mode](f) for f in (_generator, _d_loss, _g_loss))
    adam = dict(lr=problem.params["gan_lr"], betas=(task_scenario.BETA1, task_scenario.BETA2), eps=task_scenario.EPS)
    opts = {}

    def fresh_optimizers():  # a trial starts with Adam's moments at zero
        opts["d"], opts["g"] = torch.optim.Adam(d, **adam), torch.optim.Adam(g, **adam)

    def descend(opt, params, loss):
        for t, grad in zip(params, torch.autograd.grad(loss, params)):
            t.grad = grad
        opt.step()

    def train(z, real):
        z, real = torch.from_numpy(z).to(device), torch.from_numpy(real).to(device)
        fake = gen(g, z)
        loss_d = d_loss(d, real, fake.detach())
        descend(opts["d"], d, loss_d)
        loss_g = g_loss(d, fake)
        descend(opts["g"], g, loss_g)
        return loss_d, loss_g

    @torch.inference_mode()
    def predict(z):  # outside the clock, eager
        return _numpy(_generator(g, torch.from_numpy(z).to(device)))

    trainer = common.Trainer(
        _loader(g + d, GAN_NAMES, then=fresh_optimizers),
        train,
        predict,
        loss=lambda losses: tuple(float(t.detach()) for t in losses),
        sync=lambda: sync(device),
    )
    return common.task_step(problem, "generate", trainer)
