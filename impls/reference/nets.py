"""The classifier and the GAN in NumPy: explicit forward and backward per layer.

Weights are a dict of float32 arrays named as in the scenarios; updates are in place.
Strides, padding, pooling, the leak and the generator's reshape are the scenarios'
facts; widths are read from the weights' shapes (the tests run narrower networks).
"""

from __future__ import annotations

import numpy as np

from scenarios.classifier import CONV1, CONV2, POOL
from scenarios.gan import D_C1, D_C2, G_CT1, G_CT2, G_START, LEAK

from . import ops

# --- classifier ---------------------------------------------------------------


def classifier_forward(w, x):
    """Returns (logits, cache for backward)."""
    a1, c1 = ops.conv2d(x, w["conv1_w"], w["conv1_b"], CONV1.stride, CONV1.pad)
    r1 = ops.relu(a1)
    p1, pc1 = ops.maxpool(r1, POOL)
    a2, c2 = ops.conv2d(p1, w["conv2_w"], w["conv2_b"], CONV2.stride, CONV2.pad)
    r2 = ops.relu(a2)
    p2, pc2 = ops.maxpool(r2, POOL)
    flat = p2.reshape(p2.shape[0], -1)  # NCHW order
    h = flat @ w["fc1_w"] + w["fc1_b"]
    rh = ops.relu(h)
    logits = rh @ w["fc2_w"] + w["fc2_b"]
    return logits, (c1, a1, pc1, c2, a2, pc2, p2.shape, flat, h, rh)


def classifier_backward(w, dlogits, cache):
    c1, a1, pc1, c2, a2, pc2, p2_shape, flat, h, rh = cache
    g = {"fc2_w": rh.T @ dlogits, "fc2_b": dlogits.sum(axis=0)}
    dh = ops.relu_backward(dlogits @ w["fc2_w"].T, h)
    g["fc1_w"], g["fc1_b"] = flat.T @ dh, dh.sum(axis=0)
    dp2 = (dh @ w["fc1_w"].T).reshape(p2_shape)
    da2 = ops.relu_backward(ops.maxpool_backward(dp2, pc2), a2)
    dp1, g["conv2_w"], g["conv2_b"] = ops.conv2d_backward(da2, w["conv2_w"], CONV2.stride, CONV2.pad, c2)
    da1 = ops.relu_backward(ops.maxpool_backward(dp1, pc1), a1)
    _, g["conv1_w"], g["conv1_b"] = ops.conv2d_backward(da1, w["conv1_w"], CONV1.stride, CONV1.pad, c1, need_dx=False)
    return g


def classifier_train_step(w, x, labels, lr):
    """Forward, backward, SGD update in place; returns the loss before the update."""
    logits, cache = classifier_forward(w, x)
    loss, dlogits = ops.softmax_cross_entropy(logits, labels)
    ops.sgd(w, classifier_backward(w, dlogits, cache), lr)
    return loss


# --- GAN ----------------------------------------------------------------------


def generator_forward(w, z):
    h = z @ w["g_fc_w"] + w["g_fc_b"]
    h4 = h.reshape(z.shape[0], *G_START)
    r0 = ops.relu(h4)
    a1, x1 = ops.conv_transpose2d(r0, w["g_ct1_w"], w["g_ct1_b"], G_CT1.stride, G_CT1.pad)
    r1 = ops.relu(a1)
    a2, x2 = ops.conv_transpose2d(r1, w["g_ct2_w"], w["g_ct2_b"], G_CT2.stride, G_CT2.pad)
    fake = np.tanh(a2)
    return fake, (z, h4, x1, a1, x2, fake)


def generator_backward(w, dfake, cache):
    z, h4, x1, a1, x2, fake = cache
    g = {}
    da2 = dfake * (1 - fake * fake)
    dr1, g["g_ct2_w"], g["g_ct2_b"] = ops.conv_transpose2d_backward(da2, w["g_ct2_w"], G_CT2.stride, G_CT2.pad, x2)
    da1 = ops.relu_backward(dr1, a1)
    dr0, g["g_ct1_w"], g["g_ct1_b"] = ops.conv_transpose2d_backward(da1, w["g_ct1_w"], G_CT1.stride, G_CT1.pad, x1)
    dh = ops.relu_backward(dr0, h4).reshape(z.shape[0], -1)
    g["g_fc_w"], g["g_fc_b"] = z.T @ dh, dh.sum(axis=0)
    return g


def discriminator_forward(w, x):
    a1, c1 = ops.conv2d(x, w["d_c1_w"], w["d_c1_b"], D_C1.stride, D_C1.pad)
    r1 = ops.leaky_relu(a1, LEAK)
    a2, c2 = ops.conv2d(r1, w["d_c2_w"], w["d_c2_b"], D_C2.stride, D_C2.pad)
    r2 = ops.leaky_relu(a2, LEAK)
    flat = r2.reshape(x.shape[0], -1)
    logit = flat @ w["d_fc_w"] + w["d_fc_b"]
    return logit, (c1, a1, c2, a2, flat)


def discriminator_backward(w, dlogit, cache, need_dx):
    c1, a1, c2, a2, flat = cache
    g = {"d_fc_w": flat.T @ dlogit, "d_fc_b": dlogit.sum(axis=0)}
    dr2 = (dlogit @ w["d_fc_w"].T).reshape(a2.shape)
    da2 = ops.leaky_relu_backward(dr2, a2, LEAK)
    dr1, g["d_c2_w"], g["d_c2_b"] = ops.conv2d_backward(da2, w["d_c2_w"], D_C2.stride, D_C2.pad, c2)
    da1 = ops.leaky_relu_backward(dr1, a1, LEAK)
    dx, g["d_c1_w"], g["d_c1_b"] = ops.conv2d_backward(da1, w["d_c1_w"], D_C1.stride, D_C1.pad, c1, need_dx=need_dx)
    return g, dx


def gan_step(w, z, real, lr, update=None):
    """Discriminator update on a real and a fake batch, then generator update with the
    non-saturating loss through the updated discriminator. Returns (loss_d, loss_g).
    `update(w, grads)`: the optimizer (ops.Adam for the task layer); plain SGD at `lr` without."""
    update = update or (lambda weights, grads: ops.sgd(weights, grads, lr))
    fake, g_cache = generator_forward(w, z)

    l_real, c_real = discriminator_forward(w, real)
    l_fake, c_fake = discriminator_forward(w, fake)
    loss_real, dl_real = ops.bce_with_logits(l_real, target_real=True)
    loss_fake, dl_fake = ops.bce_with_logits(l_fake, target_real=False)
    g_real, _ = discriminator_backward(w, dl_real, c_real, need_dx=False)
    g_fake, _ = discriminator_backward(w, dl_fake, c_fake, need_dx=False)
    update(w, {k: g_real[k] + g_fake[k] for k in g_real})

    l_gen, c_gen = discriminator_forward(w, fake)
    loss_g, dl_gen = ops.bce_with_logits(l_gen, target_real=True)
    _, dfake = discriminator_backward(w, dl_gen, c_gen, need_dx=True)
    update(w, generator_backward(w, dfake, g_cache))
    return loss_real + loss_fake, loss_g
