"""The classifier and the GAN as functions of F (mx.nd or mx.sym), and the weight
layouts MXNet's operators want.

Weights are converted to MXNet's layout once in prepare and back in `outputs` (neither
is timed): dense weights as FullyConnected's (out, in), the scenario's (in, out)
transposed; the generator's last transposed convolution with a second, all-zero
output channel (see `generator`).
"""

import numpy as np

from scenarios.classifier import CONV1, CONV2, FC1, FC2, POOL
from scenarios.gan import D_C1, D_C2, D_FC, G_CT1, G_CT2, G_FC, G_START, LEAK


def _transpose(a):
    return np.ascontiguousarray(a.T)


def _add_zero_channel(a):
    return np.concatenate([a, np.zeros_like(a)], axis=1 if a.ndim == 4 else 0)


def _first_half(a):
    half = a.shape[1 if a.ndim == 4 else 0] // 2
    return np.ascontiguousarray(a[:, :half] if a.ndim == 4 else a[:half])


def _same(a):
    return a


# name -> (scenario layout to MXNet's, MXNet's back to the scenario's)
LAYOUTS = {
    "fc1_w": (_transpose, _transpose),
    "fc2_w": (_transpose, _transpose),
    "g_fc_w": (_transpose, _transpose),
    "d_fc_w": (_transpose, _transpose),
    "g_ct2_w": (_add_zero_channel, _first_half),
    "g_ct2_b": (_add_zero_channel, _first_half),
}


def to_mxnet(name, array):
    return LAYOUTS.get(name, (_same, _same))[0](array)


def from_mxnet(name, array):
    return LAYOUTS.get(name, (_same, _same))[1](array)


def _shape(layer, filters=None):
    """A scenario's conv layer (scenarios.layers.Conv) as MXNet's arguments; a symbol
    graph knows no weight shape, so the widths come from the layer too."""
    k, s, p = layer.kernel, layer.stride, layer.pad
    return dict(kernel=(k, k), stride=(s, s), pad=(p, p), num_filter=filters or layer.c_out)


# --- classifier ---------------------------------------------------------------


def classifier_logits(F, x, c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b):
    pool = dict(kernel=(POOL, POOL), stride=(POOL, POOL), pool_type="max")
    h = F.Pooling(F.relu(F.Convolution(x, c1w, c1b, **_shape(CONV1))), **pool)
    h = F.Pooling(F.relu(F.Convolution(h, c2w, c2b, **_shape(CONV2))), **pool)
    h = F.relu(F.FullyConnected(h, f1w, f1b, num_hidden=FC1.n_out))  # flattens NCHW in order
    return F.FullyConnected(h, f2w, f2b, num_hidden=FC2.n_out)


def classifier_loss(F, x, labels, *w):
    """Softmax cross-entropy averaged over the batch; labels are float32 indices, as pick takes them."""
    logits = classifier_logits(F, x, *w)
    return -F.mean(F.pick(F.log_softmax(logits, axis=1), labels, axis=1))


# --- GAN ----------------------------------------------------------------------


def generator(F, z, fcw, fcb, c1w, c1b, c2w, c2b):
    h = F.relu(F.reshape(F.FullyConnected(z, fcw, fcb, num_hidden=G_FC.n_out), shape=(-1, *G_START)))
    h = F.relu(F.Deconvolution(h, c1w, c1b, no_bias=False, **_shape(G_CT1)))
    # MXNet 1.9.1's oneDNN Deconvolution cannot take the input gradient of a single
    # output channel ("could not create a primitive descriptor for a reorder
    # primitive"), so the layer has as many again all-zero channels (LAYOUTS), dropped
    # here: no gradient reaches them, so they stay zero. 1/40 of G's work.
    y = F.Deconvolution(h, c2w, c2b, no_bias=False, **_shape(G_CT2, filters=2 * G_CT2.c_out))
    return F.tanh(F.slice_axis(y, axis=1, begin=0, end=G_CT2.c_out))


def discriminator(F, x, c1w, c1b, c2w, c2b, fcw, fcb):
    h = F.LeakyReLU(F.Convolution(x, c1w, c1b, **_shape(D_C1)), act_type="leaky", slope=LEAK)
    h = F.LeakyReLU(F.Convolution(h, c2w, c2b, **_shape(D_C2)), act_type="leaky", slope=LEAK)
    return F.FullyConnected(h, fcw, fcb, num_hidden=D_FC.n_out)


def _softplus(F, x):
    return F.Activation(x, act_type="softrelu")  # log(1 + e^x), the stable BCE-from-logits term


def d_loss(F, real, fake, *d):
    return F.mean(_softplus(F, -discriminator(F, real, *d))) + F.mean(_softplus(F, discriminator(F, fake, *d)))


def g_loss(F, fake, *d):
    return F.mean(_softplus(F, -discriminator(F, fake, *d)))  # non-saturating
