"""The classifier and the GAN as functions of F (mx.nd or mx.sym), and the weight
layouts MXNet's operators want.

Weights are converted to MXNet's layout once in prepare and back in `outputs` (neither
is timed): dense weights as FullyConnected's (out, in), the scenario's (in, out)
transposed; the generator's last transposed convolution with a second, all-zero
output channel (see `generator`).
"""
import numpy as np

LEAK = 0.2


def _transpose(a):
    return np.ascontiguousarray(a.T)


def _add_zero_channel(a):
    return np.concatenate([a, np.zeros_like(a)], axis=1 if a.ndim == 4 else 0)


def _first_channel(a):
    return np.ascontiguousarray(a[:, :1] if a.ndim == 4 else a[:1])


def _same(a):
    return a


# name -> (scenario layout to MXNet's, MXNet's back to the scenario's)
LAYOUTS = {
    "fc1_w": (_transpose, _transpose), "fc2_w": (_transpose, _transpose),
    "g_fc_w": (_transpose, _transpose), "d_fc_w": (_transpose, _transpose),
    "g_ct2_w": (_add_zero_channel, _first_channel), "g_ct2_b": (_add_zero_channel, _first_channel),
}


def to_mxnet(name, array):
    return LAYOUTS.get(name, (_same, _same))[0](array)


def from_mxnet(name, array):
    return LAYOUTS.get(name, (_same, _same))[1](array)


# --- classifier ---------------------------------------------------------------

def classifier_logits(F, x, c1w, c1b, c2w, c2b, f1w, f1b, f2w, f2b):
    pool = dict(kernel=(2, 2), stride=(2, 2), pool_type="max")
    h = F.Pooling(F.relu(F.Convolution(x, c1w, c1b, kernel=(5, 5), pad=(2, 2), num_filter=32)), **pool)
    h = F.Pooling(F.relu(F.Convolution(h, c2w, c2b, kernel=(5, 5), pad=(2, 2), num_filter=64)), **pool)
    h = F.relu(F.FullyConnected(h, f1w, f1b, num_hidden=1024))  # flattens NCHW in order
    return F.FullyConnected(h, f2w, f2b, num_hidden=10)


def classifier_loss(F, x, labels, *w):
    """Softmax cross-entropy averaged over the batch; labels are float32 indices, as pick takes them."""
    logits = classifier_logits(F, x, *w)
    return -F.mean(F.pick(F.log_softmax(logits, axis=1), labels, axis=1))


# --- GAN ----------------------------------------------------------------------

def generator(F, z, fcw, fcb, c1w, c1b, c2w, c2b):
    up = dict(kernel=(4, 4), stride=(2, 2), pad=(1, 1), no_bias=False)
    h = F.relu(F.reshape(F.FullyConnected(z, fcw, fcb, num_hidden=6272), shape=(-1, 128, 7, 7)))
    h = F.relu(F.Deconvolution(h, c1w, c1b, num_filter=64, **up))
    # MXNet 1.9.1's oneDNN Deconvolution cannot take the input gradient of a single
    # output channel ("could not create a primitive descriptor for a reorder
    # primitive"), so the layer has a second, all-zero channel (LAYOUTS) that is
    # dropped here: no gradient reaches it, so it stays zero. 1/40 of G's work.
    y = F.slice_axis(F.Deconvolution(h, c2w, c2b, num_filter=2, **up), axis=1, begin=0, end=1)
    return F.tanh(y)


def discriminator(F, x, c1w, c1b, c2w, c2b, fcw, fcb):
    down = dict(kernel=(4, 4), stride=(2, 2), pad=(1, 1))
    h = F.LeakyReLU(F.Convolution(x, c1w, c1b, num_filter=64, **down), act_type="leaky", slope=LEAK)
    h = F.LeakyReLU(F.Convolution(h, c2w, c2b, num_filter=128, **down), act_type="leaky", slope=LEAK)
    return F.FullyConnected(h, fcw, fcb, num_hidden=1)


def _softplus(F, x):
    return F.Activation(x, act_type="softrelu")  # log(1 + e^x), the stable BCE-from-logits term


def d_loss(F, real, fake, *d):
    return (F.mean(_softplus(F, -discriminator(F, real, *d)))
            + F.mean(_softplus(F, discriminator(F, fake, *d))))


def g_loss(F, fake, *d):
    return F.mean(_softplus(F, -discriminator(F, fake, *d)))  # non-saturating
