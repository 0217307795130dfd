"""classifier: a LeNet-style CNN, one SGD training step and inference.

conv 32 5x5 pad 2 -> ReLU -> max-pool 2 -> conv 64 5x5 pad 2 -> ReLU -> max-pool 2
-> flatten (in NCHW order: channel, row, column) -> dense 1024 -> ReLU -> dense 10
-> softmax cross-entropy averaged over the batch. Plain SGD, no momentum, no decay.

Weights: conv OIHW, dense (in, out). `train_step` is validated by the loss and by the
update of every weight (new - initial), `inference` by the logits.
"""
from . import nn_work
from .base import Scenario, Tolerance, float_tolerance, he_uniform, rng, small_bias

LR = 0.05
SIZES = {
    "tiny": dict(batch=2, lr=LR),
    "small": dict(batch=16, lr=LR),
    "medium": dict(batch=64, lr=LR),
    "large": dict(batch=256, lr=LR),
}

# (name, shape, fan_in) of every trainable tensor, in a fixed order.
WEIGHTS = (
    ("conv1_w", (32, 1, 5, 5), 25), ("conv1_b", (32,), None),
    ("conv2_w", (64, 32, 5, 5), 800), ("conv2_b", (64,), None),
    ("fc1_w", (3136, 1024), 3136), ("fc1_b", (1024,), None),
    ("fc2_w", (1024, 10), 1024), ("fc2_b", (10,), None),
)


def layers(batch):
    """Multiply-accumulates per layer, in forward order, for the FLOP count."""
    return [
        nn_work.conv_macs(batch, 1, 32, 28, 28, 5),
        nn_work.conv_macs(batch, 32, 64, 14, 14, 5),
        batch * 3136 * 1024,
        batch * 1024 * 10,
    ]


def make_inputs(p, seed):
    n = p["batch"]
    out = {
        "x": rng(seed, "classifier", "x").uniform(0, 1, size=(n, 1, 28, 28)).astype("float32"),
        "labels": rng(seed, "classifier", "labels").integers(0, 10, size=(n,), dtype="int64"),
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
    return n * (28 * 28 + 2 * 32 * 28 * 28 + 32 * 14 * 14 + 2 * 64 * 14 * 14 + 3136 + 2 * 1024 + 10)


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
    for name, _, _ in WEIGHTS:
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
)
