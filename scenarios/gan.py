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
from .layers import Conv, Dense, weight_names, weight_specs

NOISE = 100
LR = 0.02
SIZES = {
    "tiny": dict(batch=2, noise=NOISE, lr=LR),
    "small": dict(batch=16, noise=NOISE, lr=LR),
    "medium": dict(batch=64, noise=NOISE, lr=LR),
    "large": dict(batch=256, noise=NOISE, lr=LR),
}

# The networks' facts, which every implementation reads.
LEAK = 0.2  # the discriminator's leaky ReLU slope
IMAGE = 28  # a real or fake image's height and width; D_C1.c_in channels
G_START = (128, 7, 7)  # the generator's dense output, reshaped in NCHW order
G_FC = Dense(NOISE, nn_work.numel(G_START))
G_CT1 = Conv(G_START[0], 64, kernel=4, stride=2, pad=1, transposed=True)
G_CT1_OUT = G_CT1.out_size(G_START[1])  # 14
G_CT2 = Conv(G_CT1.c_out, 1, kernel=4, stride=2, pad=1, transposed=True)  # to IMAGE x IMAGE
D_C1 = Conv(G_CT2.c_out, 64, kernel=4, stride=2, pad=1)
D_C1_OUT = D_C1.out_size(IMAGE)  # 14
D_C2 = Conv(D_C1.c_out, 128, kernel=4, stride=2, pad=1)
D_FLAT = (D_C2.c_out, D_C2.out_size(D_C1_OUT), D_C2.out_size(D_C1_OUT))  # what d_fc flattens, NCHW order
D_FC = Dense(nn_work.numel(D_FLAT), 1)  # one logit: real or fake

GENERATOR = weight_specs((("g_fc", G_FC), ("g_ct1", G_CT1), ("g_ct2", G_CT2)))
DISCRIMINATOR = weight_specs((("d_c1", D_C1), ("d_c2", D_C2), ("d_fc", D_FC)))
WEIGHTS = GENERATOR + DISCRIMINATOR
GENERATOR_NAMES, DISCRIMINATOR_NAMES = weight_names(GENERATOR), weight_names(DISCRIMINATOR)
WEIGHT_NAMES = GENERATOR_NAMES + DISCRIMINATOR_NAMES


def generator_macs(n):
    return [G_FC.macs(n), G_CT1.macs(n, G_START[1]), G_CT2.macs(n, G_CT1_OUT)]


def discriminator_macs(n):
    return [D_C1.macs(n, IMAGE), D_C2.macs(n, D_C1_OUT), D_FC.macs(n)]


def make_inputs(p, seed):
    n = p["batch"]
    out = {
        "z": rng(seed, "gan", "z").standard_normal((n, p["noise"]), dtype="float32"),
        "real": rng(seed, "gan", "real").uniform(-1, 1, size=(n, D_C1.c_in, IMAGE, IMAGE)).astype("float32"),
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
    image = D_C1.c_in * IMAGE**2
    g = NOISE + 2 * G_FC.n_out + 2 * G_CT1.c_out * G_CT1_OUT**2 + 2 * image
    d = image + 2 * D_C1.c_out * D_C1_OUT**2 + 2 * D_FC.n_in + D_FC.n_out
    return n * g, n * d


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
    for name in WEIGHT_NAMES:
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
    parallel_phases=("step",),  # data parallel: the batch split over ranks, gradients averaged
    split="batch",
)
