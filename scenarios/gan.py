"""gan: one DCGAN-style step on 28x28x1 images, without batch norm.

Generator:     z (100) -> dense 6272 -> reshape (128, 7, 7) -> ReLU
               -> transposed conv 4x4 s2 p1 to 64x14x14 -> ReLU
               -> transposed conv 4x4 s2 p1 to 1x28x28 -> tanh
Discriminator: conv 4x4 s2 p1 to 64x14x14 -> leaky ReLU 0.2
               -> conv 4x4 s2 p1 to 128x7x7 -> leaky ReLU 0.2 -> flatten -> dense 1

Binary cross-entropy from the logit in its stable form, softplus(-l) for "real" and
softplus(l) for "fake", each averaged over the batch. One step:
  1. fake = G(z); loss_d = mean softplus(-D(real)) + mean softplus(D(fake)); SGD on D
     (fake is a constant for this update).
  2. loss_g = mean softplus(-D'(fake)) with the updated D'; SGD on G only.
Weights: conv OIHW; transposed conv (in, out, kh, kw) (the layout whose transposed
conv is the input gradient of the OIHW conv with O=in, I=out); dense (in, out).
Flattening and the generator's reshape use NCHW order.
"""
from . import nn_work
from .base import Scenario, Tolerance, he_uniform, rng, small_bias

NOISE = 100
LR = 0.02
SIZES = {
    "tiny": dict(batch=2, noise=NOISE, lr=LR),
    "small": dict(batch=16, noise=NOISE, lr=LR),
    "medium": dict(batch=64, noise=NOISE, lr=LR),
    "large": dict(batch=256, noise=NOISE, lr=LR),
}

GENERATOR = (
    ("g_fc_w", (NOISE, 6272), NOISE), ("g_fc_b", (6272,), None),
    ("g_ct1_w", (128, 64, 4, 4), 128 * 16 // 4), ("g_ct1_b", (64,), None),
    ("g_ct2_w", (64, 1, 4, 4), 64 * 16 // 4), ("g_ct2_b", (1,), None),
)
DISCRIMINATOR = (
    ("d_c1_w", (64, 1, 4, 4), 16), ("d_c1_b", (64,), None),
    ("d_c2_w", (128, 64, 4, 4), 64 * 16), ("d_c2_b", (128,), None),
    ("d_fc_w", (6272, 1), 6272), ("d_fc_b", (1,), None),
)
WEIGHTS = GENERATOR + DISCRIMINATOR


def generator_macs(n):
    # a transposed conv does (input pixels x in x out x k^2) multiply-accumulates
    return [n * NOISE * 6272, n * 7 * 7 * 128 * 64 * 16, n * 14 * 14 * 64 * 1 * 16]


def discriminator_macs(n):
    return [nn_work.conv_macs(n, 1, 64, 14, 14, 4), nn_work.conv_macs(n, 64, 128, 7, 7, 4), n * 6272]


def make_inputs(p, seed):
    n = p["batch"]
    out = {
        "z": rng(seed, "gan", "z").standard_normal((n, p["noise"]), dtype="float32"),
        "real": rng(seed, "gan", "real").uniform(-1, 1, size=(n, 1, 28, 28)).astype("float32"),
    }
    for name, shape, fan_in in WEIGHTS:
        gen = rng(seed, "gan", name)
        out[name] = he_uniform(gen, shape, fan_in) if fan_in else small_bias(gen, shape[0])
    return out


def flops(p, phase):
    n = p["batch"]
    g, d = generator_macs(n), discriminator_macs(n)
    params = sum(nn_work.numel(s) for _, s, _ in WEIGHTS)
    d_update = 2 * nn_work.train_flops(d, first_needs_input_grad=False)  # real and fake batches
    # generator update: D forward, D input gradients all the way down, G backward
    g_update = nn_work.forward_flops(d) + 2 * sum(d) + nn_work.train_flops(g, first_needs_input_grad=False)
    return nn_work.forward_flops(g) + d_update + g_update + 2 * params


def _activations(n):
    """(generator, discriminator) elements of every layer's output for one batch."""
    return n * (NOISE + 2 * 6272 + 2 * 64 * 14 * 14 + 2 * 784), n * (784 + 2 * 64 * 14 * 14 + 2 * 6272 + 1)


def bytes_moved(p, phase):
    params = sum(nn_work.numel(s) for _, s, _ in WEIGHTS)
    g_act, d_act = _activations(p["batch"])
    return 4 * (3 * g_act + 3 * 3 * d_act + 3 * params)


def working_set(p, phase):
    # G's activations, D's for the real and the fake batch, each with its gradient; weights and gradients
    params = sum(nn_work.numel(s) for _, s, _ in WEIGHTS)
    g_act, d_act = _activations(p["batch"])
    return 4 * 2 * (g_act + 2 * d_act + params)


def tolerances(p, phase):
    tol = {"loss_d": Tolerance(rtol=1e-4), "loss_g": Tolerance(rtol=1e-4)}
    for name, _, _ in WEIGHTS:
        tol[name] = Tolerance(baseline=name, norm_rtol=1e-2)
    return tol


SCENARIO = Scenario(
    name="gan",
    description="one DCGAN-style step: discriminator SGD update, then generator update",
    phases=("step",),
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
    working_set=working_set,
)
