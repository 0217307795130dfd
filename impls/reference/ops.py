"""Layers in NumPy, forward and backward, written to be read and to be fast.

Convolution is im2col + one GEMM, the way the frameworks lower it; its input
gradient is col2im, and a transposed convolution is exactly that input gradient,
so col2im serves both. Layouts: NCHW activations, OIHW conv weights, (in, out, kh,
kw) transposed-conv weights, (in, out) dense weights. float32 throughout.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def im2col(x, k, stride, pad):
    """(N, C, H, W) -> (N*OH*OW, C*k*k) patches, columns ordered (C, kh, kw) like OIHW."""
    n, c, _, _ = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x
    win = sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    oh, ow = win.shape[2], win.shape[3]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * k * k)
    return cols, oh, ow


def col2im(cols, x_shape, k, stride, pad, oh, ow):
    """Adjoint of im2col: scatter-add patch gradients back to an (N, C, H, W) image."""
    n, c, h, w = x_shape
    patches = cols.reshape(n, oh, ow, c, k, k).transpose(0, 3, 4, 5, 1, 2)  # N C kh kw OH OW
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=cols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] += patches[:, :, i, j]
    return out[:, :, pad : pad + h, pad : pad + w] if pad else out


def to_rows(y):
    """(N, C, H, W) -> (N*H*W, C): the GEMM layout of an activation."""
    n, c, h, w = y.shape
    return y.transpose(0, 2, 3, 1).reshape(n * h * w, c)


def from_rows(rows, n, h, w):
    """(N*H*W, C) -> contiguous (N, C, H, W)."""
    return np.ascontiguousarray(rows.reshape(n, h, w, -1).transpose(0, 3, 1, 2))


# --- convolution -----------------------------------------------------------


def conv2d(x, w, b, stride, pad):
    """Returns (y, cache)."""
    o, _, k, _ = w.shape
    cols, oh, ow = im2col(x, k, stride, pad)
    y = cols @ w.reshape(o, -1).T
    if b is not None:
        y += b
    return from_rows(y, x.shape[0], oh, ow), (x.shape, cols, oh, ow)


def conv2d_backward(dy, w, stride, pad, cache, need_dx=True):
    """Returns (dx or None, dw, db)."""
    x_shape, cols, oh, ow = cache
    o, _, k, _ = w.shape
    dy_rows = to_rows(dy)
    dw = (dy_rows.T @ cols).reshape(w.shape)
    db = dy_rows.sum(axis=0)
    dx = col2im(dy_rows @ w.reshape(o, -1), x_shape, k, stride, pad, oh, ow) if need_dx else None
    return dx, dw, db


def conv_transpose2d(x, w, b, stride, pad):
    """Fractionally strided conv: the input gradient of conv2d with OIHW weight w.

    x (N, Cin, H, W), w (Cin, Cout, k, k) -> (N, Cout, (H-1)*stride - 2*pad + k, ...).
    """
    n, cin, h, wd = x.shape
    _, cout, k, _ = w.shape
    out_h = (h - 1) * stride - 2 * pad + k
    out_w = (wd - 1) * stride - 2 * pad + k
    cols = to_rows(x) @ w.reshape(cin, -1)
    y = col2im(cols, (n, cout, out_h, out_w), k, stride, pad, h, wd)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y, x


def conv_transpose2d_backward(dy, w, stride, pad, x, need_dx=True):
    """Returns (dx or None, dw, db): dx is a plain conv2d of dy with w."""
    cin = w.shape[0]
    k = w.shape[2]
    cols, oh, ow = im2col(dy, k, stride, pad)
    dw = (to_rows(x).T @ cols).reshape(w.shape)
    db = dy.sum(axis=(0, 2, 3))
    dx = from_rows(cols @ w.reshape(cin, -1).T, dy.shape[0], oh, ow) if need_dx else None
    return dx, dw, db


# --- pooling and activations ----------------------------------------------


def maxpool(x, k):
    """k x k max-pool, stride k, sizes multiples of k. Returns (y, cache: argmax within each window)."""
    n, c, h, w = x.shape
    win = x.reshape(n, c, h // k, k, w // k, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // k, w // k, k * k)
    idx = win.argmax(axis=-1)
    y = np.take_along_axis(win, idx[..., None], axis=-1)[..., 0]
    return y, (x.shape, k, idx)


def maxpool_backward(dy, cache):
    (n, c, h, w), k, idx = cache
    win = np.zeros((n, c, h // k, w // k, k * k), dtype=dy.dtype)
    np.put_along_axis(win, idx[..., None], dy[..., None], axis=-1)
    return win.reshape(n, c, h // k, w // k, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)


def relu(x):
    return np.maximum(x, 0)


def relu_backward(dy, x):
    return dy * (x > 0)


def leaky_relu(x, slope):
    return np.where(x > 0, x, x * np.float32(slope))


def leaky_relu_backward(dy, x, slope):
    return np.where(x > 0, dy, dy * np.float32(slope))


def sigmoid(z, out=None):
    """1 / (1 + exp(-z)) in place-friendly steps; exp overflow to inf gives 0, as it should."""
    out = np.negative(z, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def sigmoid_backward(dy, y, out=None, tmp=None):
    tmp = np.subtract(np.float32(1), y, out=tmp)
    tmp *= y
    return np.multiply(dy, tmp, out=out)


# --- losses -----------------------------------------------------------------


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of integer labels; returns (loss, dlogits)."""
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - shifted[np.arange(n), labels]))
    grad = exp / total
    grad[np.arange(n), labels] -= 1
    return loss, grad / np.float32(n)


def softplus(x):
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def bce_with_logits(logits, target_real):
    """Mean binary cross-entropy from logits, stable form; returns (loss, dlogits).

    Target 1 ("real"): softplus(-l), gradient -sigmoid(-l). Target 0: softplus(l), sigmoid(l).
    """
    n = logits.shape[0]
    sign = np.float32(-1 if target_real else 1)
    loss = float(np.mean(softplus(sign * logits)))
    grad = sign * sigmoid(sign * logits) / np.float32(n)
    return loss, grad.astype(np.float32)


def sgd(weights, grads, lr):
    """Plain SGD, in place."""
    lr = np.float32(lr)
    for name, g in grads.items():
        weights[name] -= lr * g


class Adam:
    """Adam (Kingma and Ba 2015, Algorithm 1), in place, a state per weight name: bias-corrected
    moments, w -= lr * m_hat / (sqrt(v_hat) + eps), as torch.optim.Adam. TensorFlow's,
    MXNet's and dlib's kernels fold the corrections into the rate (the paper's section 2
    form), where eps stands beside sqrt(v), not sqrt(v_hat): the same step wherever a
    gradient is far above eps (1e-8)."""

    def __init__(self, lr, beta1, beta2, eps):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.state = {}

    def __call__(self, weights, grads):
        b1, b2 = self.beta1, self.beta2
        for name, g in grads.items():
            t, m, v = self.state.get(name) or (0, np.zeros_like(g), np.zeros_like(g))
            t += 1
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * (g * g)
            m_hat = m / (1 - b1**t)
            v_hat = v / (1 - b2**t)
            weights[name] -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(np.float32)
            self.state[name] = (t, m.astype(np.float32), v.astype(np.float32))
