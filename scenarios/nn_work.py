"""FLOP counting for small networks: the useful work of a forward pass and a training step."""

from functools import reduce


def numel(shape):
    return reduce(lambda a, b: a * b, shape, 1)


def input_taps(size, k, stride, pad):
    """Along one axis of a convolution over `size` inputs: how many (output, kernel tap)
    pairs land on an input rather than on the zero padding. Those are the useful
    multiply-adds: a kernel that skips the padding (oneDNN's direct convolution does)
    computes only these, and counting the padding too would let it pass 100% of a GEMM
    ceiling (LeNet's 5x5 pad-2 layer at 14x14: 16% of the taps are padding)."""
    out = (size + 2 * pad - k) // stride + 1
    return sum(sum(1 for t in range(k) if 0 <= o * stride - pad + t < size) for o in range(out))


def conv_macs(batch, c_in, c_out, size_h, size_w, k, stride=1, pad=0):
    """Useful multiply-accumulates of a convolution over a (batch, c_in, size_h, size_w)
    input: c_in x c_out per (output pixel, kernel tap) pair that lands on the input."""
    return batch * c_out * c_in * input_taps(size_h, k, stride, pad) * input_taps(size_w, k, stride, pad)


def forward_flops(macs):
    return 2 * sum(macs)


def train_flops(macs, first_needs_input_grad):
    """Forward + weight gradients + input gradients (the first layer's only if needed)."""
    input_grads = macs if first_needs_input_grad else macs[1:]
    return 2 * (2 * sum(macs) + sum(input_grads))
