"""FLOP counting for small networks: the useful work of a forward pass and a training step."""

from functools import reduce


def numel(shape):
    return reduce(lambda a, b: a * b, shape, 1)


def conv_macs(batch, c_in, c_out, out_h, out_w, k):
    """Multiply-accumulates of a convolution producing (batch, c_out, out_h, out_w)."""
    return batch * c_out * out_h * out_w * c_in * k * k


def forward_flops(macs):
    return 2 * sum(macs)


def train_flops(macs, first_needs_input_grad):
    """Forward + weight gradients + input gradients (the first layer's only if needed)."""
    input_grads = macs if first_needs_input_grad else macs[1:]
    return 2 * (2 * sum(macs) + sum(input_grads))
