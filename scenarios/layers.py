"""The layers the network scenarios are made of, as facts every implementation reads.

A scenario states each layer once (channels, kernel, stride, padding); its weight
shapes, initial weights and work counts follow from that, and each adapter builds its
network from the same objects, so no framework types a stride or a width of its own.
"""

from dataclasses import dataclass

from . import nn_work
from .base import conv_out, conv_transpose_out


@dataclass(frozen=True)
class Conv:
    """A square convolution with symmetric explicit padding, NCHW.

    Its weight is OIHW, (c_out, c_in, k, k); a transposed convolution's is (c_in, c_out,
    k, k), the layout whose transposed conv is the input gradient of the OIHW conv with
    O = c_in, I = c_out.
    """

    c_in: int
    c_out: int
    kernel: int
    stride: int = 1
    pad: int = 0
    transposed: bool = False

    @property
    def weight_shape(self):
        k = self.kernel
        return (self.c_in, self.c_out, k, k) if self.transposed else (self.c_out, self.c_in, k, k)

    @property
    def fan_in(self):
        # a transposed conv spreads each input's k*k taps over stride^2 outputs
        taps = self.c_in * self.kernel**2
        return taps // self.stride**2 if self.transposed else taps

    @property
    def width(self):
        return self.c_out

    def out_size(self, size):
        """Output height (or width) for an input of height (or width) `size`."""
        at = conv_transpose_out if self.transposed else conv_out
        return at(size, self.kernel, self.stride, self.pad)

    def macs(self, batch, size):
        """Useful multiply-accumulates on a (batch, c_in, size, size) input (nn_work.conv_macs:
        not the taps on padding). A transposed convolution is the input gradient of the
        convolution from its output back to its input, so it does the same useful work."""
        if self.transposed:
            return nn_work.conv_macs(batch, self.c_in, self.c_out, *(2 * (self.out_size(size),)), *self._taps)
        return nn_work.conv_macs(batch, self.c_in, self.c_out, size, size, *self._taps)

    @property
    def _taps(self):
        return self.kernel, self.stride, self.pad


@dataclass(frozen=True)
class Dense:
    """y = x W + b with W of shape (n_in, n_out)."""

    n_in: int
    n_out: int

    @property
    def weight_shape(self):
        return (self.n_in, self.n_out)

    @property
    def fan_in(self):
        return self.n_in

    @property
    def width(self):
        return self.n_out

    def macs(self, batch):
        return batch * self.n_in * self.n_out


def weight_specs(named_layers):
    """(name, shape, fan_in) of every trainable tensor, in layer order: NAME_w (fan_in
    for its He-uniform initialization) then NAME_b (None: a small uniform bias)."""
    specs = []
    for name, layer in named_layers:
        specs += [(f"{name}_w", layer.weight_shape, layer.fan_in), (f"{name}_b", (layer.width,), None)]
    return tuple(specs)


def weight_names(specs):
    """The names of weight_specs' tensors, in their order: what adapters index inputs by."""
    return tuple(name for name, _, _ in specs)
