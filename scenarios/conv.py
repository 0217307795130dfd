"""conv: 2-D cross-correlation, NCHW float32, explicit symmetric padding.

Weights are OIHW; the bias is added. `small` is LeNet's second layer, `medium` and
`large` a 3x3 ResNet-style layer.
"""

from . import nn_work
from .base import Scenario, conv_out, float_tolerance, he_uniform, rng, small_bias

SIZES = {
    "tiny": dict(batch=2, c_in=3, c_out=4, height=9, width=9, kernel=3, stride=2, pad=1),
    "small": dict(batch=64, c_in=32, c_out=64, height=14, width=14, kernel=5, stride=1, pad=2),
    "medium": dict(batch=16, c_in=64, c_out=64, height=56, width=56, kernel=3, stride=1, pad=1),
    "large": dict(batch=64, c_in=64, c_out=64, height=56, width=56, kernel=3, stride=1, pad=1),
}


def out_hw(p):
    return (
        conv_out(p["height"], p["kernel"], p["stride"], p["pad"]),
        conv_out(p["width"], p["kernel"], p["stride"], p["pad"]),
    )


def make_inputs(p, seed):
    k = p["kernel"]
    x = rng(seed, "conv", "x").standard_normal((p["batch"], p["c_in"], p["height"], p["width"]), dtype="float32")
    w = he_uniform(rng(seed, "conv", "w"), (p["c_out"], p["c_in"], k, k), p["c_in"] * k * k)
    b = small_bias(rng(seed, "conv", "b"), p["c_out"])
    return {"x": x, "w": w, "b": b}


def flops(p, phase):
    oh, ow = out_hw(p)
    # the useful multiply-adds: taps on the zero padding are not work (nn_work.conv_macs)
    macs = nn_work.conv_macs(
        p["batch"], p["c_in"], p["c_out"], p["height"], p["width"], p["kernel"], p["stride"], p["pad"]
    )
    return 2 * macs + p["batch"] * p["c_out"] * oh * ow  # + bias


def bytes_moved(p, phase):
    oh, ow = out_hw(p)
    elems = (
        p["batch"] * p["c_in"] * p["height"] * p["width"]
        + p["c_out"] * (p["c_in"] * p["kernel"] ** 2 + 1)
        + p["batch"] * p["c_out"] * oh * ow
    )
    return 4 * elems


def tolerances(p, phase):
    return {"y": float_tolerance()}


SCENARIO = Scenario(
    name="conv",
    description="2-D convolution (cross-correlation), NCHW fp32, explicit padding",
    phases=("forward",),
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
)
