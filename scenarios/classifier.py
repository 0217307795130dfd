"""classifier: a LeNet-style CNN, one SGD training step and inference.

conv 32 5x5 pad 2 -> ReLU -> max-pool 2 -> conv 64 5x5 pad 2 -> ReLU -> max-pool 2
-> flatten (in NCHW order: channel, row, column) -> dense 1024 -> ReLU -> dense 10
-> softmax cross-entropy averaged over the batch. Plain SGD, no momentum, no decay.

Weights: conv OIHW, dense (in, out). `train_step` is validated by the loss and by the
update of every weight (new - initial), `inference` by the logits.
"""

from . import nn_work
from .base import Scenario, Tolerance, float_tolerance, he_uniform, rng, small_bias
from .layers import Conv, Dense, weight_names, weight_specs

LR = 0.05
SIZES = {
    "tiny": dict(batch=2, lr=LR),
    "small": dict(batch=16, lr=LR),
    "medium": dict(batch=64, lr=LR),
    "large": dict(batch=256, lr=LR),
}

# The network's facts, which every implementation reads.
IMAGE = 28  # input height and width; CONV1.c_in channels
CONV1 = Conv(1, 32, kernel=5, pad=2)
CONV2 = Conv(32, 64, kernel=5, pad=2)
POOL = 2  # the max-pool after each conv: window and stride
CONV1_OUT = CONV1.out_size(IMAGE)  # 28
CONV2_OUT = CONV2.out_size(CONV1_OUT // POOL)  # 14
FLAT_SHAPE = (CONV2.c_out, CONV2_OUT // POOL, CONV2_OUT // POOL)  # what fc1 flattens, NCHW order
FC1 = Dense(nn_work.numel(FLAT_SHAPE), 1024)
FC2 = Dense(FC1.n_out, 10)  # one logit per class
LAYERS = (("conv1", CONV1), ("conv2", CONV2), ("fc1", FC1), ("fc2", FC2))

# (name, shape, fan_in) of every trainable tensor, in a fixed order.
WEIGHTS = weight_specs(LAYERS)
WEIGHT_NAMES = weight_names(WEIGHTS)


def layers(batch):
    """Multiply-accumulates per layer, in forward order, for the FLOP count."""
    return [CONV1.macs(batch, IMAGE), CONV2.macs(batch, CONV1_OUT // POOL), FC1.macs(batch), FC2.macs(batch)]


def make_inputs(p, seed):
    n = p["batch"]
    out = {
        "x": rng(seed, "classifier", "x").uniform(0, 1, size=(n, CONV1.c_in, IMAGE, IMAGE)).astype("float32"),
        "labels": rng(seed, "classifier", "labels").integers(0, FC2.n_out, size=(n,), dtype="int64"),
    }
    for name, shape, fan_in in WEIGHTS:
        gen = rng(seed, "classifier", name)
        out[name] = he_uniform(gen, shape, fan_in) if fan_in else small_bias(gen, shape[0])
    return out


def flops(p, phase):
    macs = layers(p["batch"])
    if phase == "inference":
        return nn_work.forward_flops(macs)
    params = sum(nn_work.numel(shape) for _, shape, _ in WEIGHTS)
    return nn_work.train_flops(macs, first_needs_input_grad=False) + 2 * params


def _activations(n):
    """Elements of every layer's output (pre- and post-ReLU both), the input included."""
    return n * (
        CONV1.c_in * IMAGE**2
        + (2 * CONV1_OUT**2 + (CONV1_OUT // POOL) ** 2) * CONV1.c_out
        + 2 * CONV2.c_out * CONV2_OUT**2
        + FC1.n_in
        + 2 * FC1.n_out
        + FC2.n_out
    )


def bytes_moved(p, phase):
    params = sum(nn_work.numel(shape) for _, shape, _ in WEIGHTS)
    activations = _activations(p["batch"])
    passes = 1 if phase == "inference" else 3  # forward; forward + backward (read and write)
    return 4 * (passes * activations + (1 if phase == "inference" else 3) * params)


def working_set(p, phase):
    # a training step keeps every activation and its gradient, every weight and its gradient
    params = sum(nn_work.numel(shape) for _, shape, _ in WEIGHTS)
    copies = 1 if phase == "inference" else 2
    return 4 * copies * (_activations(p["batch"]) + params)


def tolerances(p, phase):
    if phase == "inference":
        return {"logits": float_tolerance()}
    tol = {"loss": Tolerance(rtol=1e-4)}
    for name in WEIGHT_NAMES:
        # Compare the update (new - initial): the weight itself would hide a wrong gradient.
        tol[name] = Tolerance(baseline=name, norm_rtol=1e-2)
    return tol


SCENARIO = Scenario(
    name="classifier",
    description="LeNet-style CNN: SGD training step and inference, 28x28x1",
    phases=("train_step", "inference"),
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
    working_set=working_set,
    parallel_phases=("train_step",),  # data parallel: the batch split over ranks, gradients averaged
    split="batch",
)
