"""The NumPy reference checked against independent computations.

Nothing here compares the reference with itself or with another framework: every
expected value comes from a direct definition written in this file (nested loops,
scatter loops, pure-Python integers, float64 closed forms from NumPy/SciPy) or from
central finite differences of a scalar loss built from the reference's forward pass.

Most checks run in float64: the ops are dtype-generic (im2col + GEMM), so a float64
input gives float64 results and finite differences are accurate to ~1e-9 relative.
Where an op forces float32 (bce_with_logits casts its gradient to float32; leaky ReLU
multiplies by np.float32(0.2)), the tolerance is loosened and the reason is given.
"""

from __future__ import annotations

import math
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, logsumexp

try:
    from impls.reference import nets, ops, quant
except ImportError:  # not installed: run from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from impls.reference import nets, ops, quant
from scenarios import qgemm as qgemm_scenario

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# --- helpers ------------------------------------------------------------------------


def central_diff(f, arr, index, eps):
    """(f(arr + eps e_i) - f(arr - eps e_i)) / 2 eps, restoring arr afterwards."""
    old = arr[index]
    arr[index] = old + eps
    fp = f()
    arr[index] = old - eps
    fm = f()
    arr[index] = old
    return (fp - fm) / (2 * eps)


def fd_grad(f, arr, eps=1e-6):
    """Finite-difference gradient of the scalar f() with respect to every entry of arr."""
    g = np.zeros(arr.shape, dtype=np.float64)
    for index in np.ndindex(arr.shape):
        g[index] = central_diff(f, arr, index, eps)
    return g


def sample_indices(rng, shape, count):
    size = int(np.prod(shape))
    flat = rng.choice(size, size=min(count, size), replace=False)
    return [np.unravel_index(int(i), shape) for i in flat]


def conv2d_loops(x, w, b, stride, pad):
    """Direct cross-correlation in pure Python: y[n,o,i,j] = b[o] + sum x_pad * w."""
    n_, c_, h_, w_ = x.shape
    o_, _, k, _ = w.shape
    oh = (h_ + 2 * pad - k) // stride + 1
    ow = (w_ + 2 * pad - k) // stride + 1
    xl, wl = x.tolist(), w.tolist()
    y = np.zeros((n_, o_, oh, ow), dtype=np.float64)
    for n in range(n_):
        for o in range(o_):
            for i in range(oh):
                for j in range(ow):
                    acc = 0.0 if b is None else float(b[o])
                    for c in range(c_):
                        for a in range(k):
                            r = i * stride + a - pad
                            if not 0 <= r < h_:
                                continue
                            for bb in range(k):
                                q = j * stride + bb - pad
                                if 0 <= q < w_:
                                    acc += xl[n][c][r][q] * wl[o][c][a][bb]
                    y[n, o, i, j] = acc
    return y


def conv_transpose2d_scatter(x, w, b, stride, pad):
    """Each input pixel adds w[ci, co] * x to a k x k window at stride s; crop pad."""
    n_, cin, h_, w_ = x.shape
    _, cout, k, _ = w.shape
    full = np.zeros((n_, cout, (h_ - 1) * stride + k, (w_ - 1) * stride + k))
    for n in range(n_):
        for ci in range(cin):
            for i in range(h_):
                for j in range(w_):
                    full[n, :, i * stride : i * stride + k, j * stride : j * stride + k] += w[ci] * x[n, ci, i, j]
    oh = (h_ - 1) * stride - 2 * pad + k
    ow = (w_ - 1) * stride - 2 * pad + k
    y = full[:, :, pad : pad + oh, pad : pad + ow]
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


def softplus64(x):
    return np.logaddexp(0.0, np.asarray(x, dtype=np.float64))


# --- 1. conv2d forward --------------------------------------------------------------

CONV_CASES = [
    # (N, C, H, W, O, k, stride, pad, bias)
    (2, 3, 7, 7, 4, 3, 1, 0, True),
    (2, 3, 7, 7, 4, 3, 1, 1, True),
    (1, 2, 6, 9, 3, 3, 1, 2, False),
    (1, 2, 8, 6, 3, 3, 2, 1, True),
    (2, 2, 9, 9, 3, 5, 2, 2, True),
    (2, 2, 8, 8, 3, 4, 2, 1, True),  # the GAN discriminator's geometry
    (1, 1, 7, 5, 2, 2, 2, 0, True),  # odd size, stride 2: last row/column dropped
    (1, 3, 5, 5, 2, 1, 1, 0, True),  # 1x1 conv
    (1, 1, 6, 6, 2, 5, 1, 2, True),  # LeNet-style 5x5 pad 2 ("same")
]


def _conv_case(case, seed):
    n, c, h, w, o, k, s, p, bias = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((o, c, k, k))
    b = rng.standard_normal(o) if bias else None
    return x, wt, b, s, p


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_direct_loops_float64(case):
    x, w, b, s, p = _conv_case(case, 1)
    y, _ = ops.conv2d(x, w, b, s, p)
    expected = conv2d_loops(x, w, b, s, p)
    assert y.dtype == np.float64
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES[::2])
def test_conv2d_float32_matches_float64_loops(case):
    x, w, b, s, p = _conv_case(case, 2)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    b32 = None if b is None else b.astype(np.float32)
    y, _ = ops.conv2d(x32, w32, b32, s, p)
    assert y.dtype == np.float32
    # exact sum of the float32-rounded inputs, in float64
    expected = conv2d_loops(
        x32.astype(np.float64), w32.astype(np.float64), None if b32 is None else b32.astype(np.float64), s, p
    )
    # float32 sums of <= 75 products of N(0,1) values: error ~ 1e-6 of the output scale
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_im2col_patches_and_col2im_is_its_adjoint():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 6))
    k, s, p = 3, 2, 1
    cols, oh, ow = ops.im2col(x, k, s, p)
    assert (oh, ow) == ((7 + 2 - 3) // 2 + 1, (6 + 2 - 3) // 2 + 1)
    xp = np.zeros((2, 3, 9, 8))
    xp[:, :, 1:8, 1:7] = x
    row = 0
    for n in range(2):
        for i in range(oh):
            for j in range(ow):
                patch = xp[n, :, i * s : i * s + k, j * s : j * s + k].reshape(-1)  # (C, kh, kw)
                np.testing.assert_array_equal(cols[row], patch)
                row += 1
    c = rng.standard_normal(cols.shape)
    back = ops.col2im(c, x.shape, k, s, p, oh, ow)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(cols, c), np.vdot(x, back), rtol=1e-12)


# --- 2. conv2d backward -------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        (2, 2, 5, 5, 3, 3, 1, 1, True),
        (1, 2, 6, 5, 2, 3, 2, 0, True),
        (1, 2, 8, 8, 2, 4, 2, 1, True),
        (2, 1, 5, 5, 2, 5, 1, 2, True),
        (1, 2, 7, 7, 3, 3, 2, 2, True),
    ],
)
def test_conv2d_backward_matches_finite_differences(case):
    x, w, b, s, p = _conv_case(case, 4)
    y, cache = ops.conv2d(x, w, b, s, p)
    r = np.random.default_rng(5).standard_normal(y.shape)

    def f():
        return float(np.sum(ops.conv2d(x, w, b, s, p)[0] * r))

    dx, dw, db = ops.conv2d_backward(r, w, s, p, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    # the function is linear in each argument, so central differences are exact up to
    # rounding: a large eps keeps that rounding small
    np.testing.assert_allclose(dx, fd_grad(f, x, 1e-3), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(dw, fd_grad(f, w, 1e-3), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(db, fd_grad(f, b, 1e-3), rtol=1e-8, atol=1e-9)

    dx2, dw2, db2 = ops.conv2d_backward(r, w, s, p, cache, need_dx=False)
    assert dx2 is None
    np.testing.assert_allclose(dw2, dw, rtol=1e-14)
    np.testing.assert_allclose(db2, db, rtol=1e-14)


# --- 3. transposed convolution ------------------------------------------------------

CT_CASES = [
    # (N, Cin, H, W, Cout, k, stride, pad, bias)
    (2, 3, 3, 3, 2, 4, 2, 1, True),  # the GAN generator's geometry
    (1, 2, 4, 3, 3, 3, 1, 1, True),
    (1, 2, 3, 4, 2, 3, 2, 0, False),
    (2, 1, 2, 2, 2, 2, 2, 0, True),
    (1, 2, 3, 3, 1, 5, 2, 2, True),
    (1, 1, 4, 4, 2, 3, 3, 1, True),
]


def _ct_case(case, seed):
    n, cin, h, w, cout, k, s, p, bias = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, cin, h, w))
    wt = rng.standard_normal((cin, cout, k, k))
    b = rng.standard_normal(cout) if bias else None
    return x, wt, b, s, p


@pytest.mark.parametrize("case", CT_CASES)
def test_conv_transpose2d_matches_scatter_definition(case):
    x, w, b, s, p = _ct_case(case, 6)
    y, _ = ops.conv_transpose2d(x, w, b, s, p)
    expected = conv_transpose2d_scatter(x, w, b, s, p)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "geometry",
    [
        # (N, I, H, W, O, k, stride, pad) with (H + 2 pad - k) divisible by stride
        (2, 3, 8, 8, 4, 4, 2, 1),
        (1, 2, 7, 5, 3, 3, 1, 1),
        (1, 2, 9, 7, 3, 3, 2, 1),
        (2, 1, 6, 6, 2, 2, 2, 0),
        (1, 3, 6, 6, 2, 5, 1, 2),
    ],
)
def test_conv_transpose2d_is_adjoint_of_conv2d(geometry):
    n, i_, h, w_, o, k, s, p = geometry
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, i_, h, w_))
    w = rng.standard_normal((o, i_, k, k))  # OIHW for conv2d; (in=O, out=I) for the transpose
    y_conv, _ = ops.conv2d(x, w, None, s, p)
    y = rng.standard_normal(y_conv.shape)
    xt, _ = ops.conv_transpose2d(y, w, None, s, p)
    assert xt.shape == x.shape
    lhs, rhs = np.vdot(y_conv, y), np.vdot(x, xt)
    assert abs(lhs) > 1e-3
    np.testing.assert_allclose(lhs, rhs, rtol=1e-11)


@pytest.mark.parametrize("case", CT_CASES[:4])
def test_conv_transpose2d_backward_matches_finite_differences(case):
    x, w, b, s, p = _ct_case(case, 8)
    if b is None:
        b = np.zeros(w.shape[1])
    y, cache = ops.conv_transpose2d(x, w, b, s, p)
    r = np.random.default_rng(9).standard_normal(y.shape)

    def f():
        return float(np.sum(ops.conv_transpose2d(x, w, b, s, p)[0] * r))

    dx, dw, db = ops.conv_transpose2d_backward(r, w, s, p, cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    np.testing.assert_allclose(dx, fd_grad(f, x, 1e-3), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(dw, fd_grad(f, w, 1e-3), rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(db, fd_grad(f, b, 1e-3), rtol=1e-8, atol=1e-9)
    assert ops.conv_transpose2d_backward(r, w, s, p, cache, need_dx=False)[0] is None


# --- 4. max-pool --------------------------------------------------------------------


def _distinct_values(rng, shape, gap=0.1):
    """Values at least `gap` apart, in random order: no ties anywhere."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * gap - size * gap / 2).reshape(shape).astype(np.float64)


@pytest.mark.parametrize("shape, k", [((2, 3, 4, 6), 2), ((1, 1, 2, 2), 2), ((1, 2, 8, 4), 2), ((1, 2, 6, 9), 3)])
def test_maxpool_forward_matches_loops(shape, k):
    x = _distinct_values(np.random.default_rng(10), shape)
    y, _ = ops.maxpool(x, k)
    n_, c_, h, w = shape
    expected = np.empty((n_, c_, h // k, w // k))
    for n in range(n_):
        for c in range(c_):
            for i in range(h // k):
                for j in range(w // k):
                    expected[n, c, i, j] = max(x[n, c, k * i + a, k * j + bb] for a in range(k) for bb in range(k))
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("shape, k", [((2, 2, 4, 6), 2), ((1, 3, 6, 2), 2), ((1, 2, 3, 6), 3)])
def test_maxpool_backward_matches_finite_differences(shape, k):
    rng = np.random.default_rng(11)
    x = _distinct_values(rng, shape)
    y, cache = ops.maxpool(x, k)
    r = rng.standard_normal(y.shape)

    def f():
        return float(np.sum(ops.maxpool(x, k)[0] * r))

    dx = ops.maxpool_backward(r, cache)
    fd = fd_grad(f, x, 1e-4)  # eps far below the 0.1 gap between values: no argmax flips
    np.testing.assert_allclose(dx, fd, rtol=1e-8, atol=1e-10)
    # exactly one non-zero gradient per window
    assert np.count_nonzero(dx) == y.size


# --- 5. activations and losses ------------------------------------------------------


def test_relu_and_leaky_relu_against_formulas():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 7))
    dy = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(ops.relu(x), np.where(x > 0, x, 0.0))
    np.testing.assert_array_equal(ops.relu_backward(dy, x), np.where(x > 0, dy, 0.0))
    # leaky_relu multiplies by np.float32(slope): in float64 the slope is 0.2 rounded to
    # float32 (relative error 1.5e-8), so compare with rtol 1e-7 rather than exactly
    np.testing.assert_allclose(ops.leaky_relu(x, 0.2), np.where(x > 0, x, 0.2 * x), rtol=1e-7)
    np.testing.assert_allclose(ops.leaky_relu_backward(dy, x, 0.2), np.where(x > 0, dy, 0.2 * dy), rtol=1e-7)
    x32 = x.astype(np.float32)
    assert ops.leaky_relu(x32, 0.2).dtype == np.float32


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-14), (np.float32, 1e-6)])
def test_sigmoid_and_backward_against_float64_formulas(dtype, rtol):
    rng = np.random.default_rng(13)
    z = np.concatenate(
        [rng.standard_normal(50) * 4, [0.0, 1e-8, -1e-8, 30.0, -30.0, 88.0, -88.0, 100.0, -100.0, 1e3, -1e3, 1e5, -1e5]]
    )
    z = z.astype(dtype)
    y = ops.sigmoid(z)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all((y >= 0) & (y <= 1))
    expected = expit(z.astype(np.float64))
    # relative accuracy is meaningful down to the underflow of exp: compare relative where
    # the reference value is a normal number of this dtype, absolute below that
    tiny = np.finfo(dtype).tiny
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=tiny / np.finfo(dtype).eps)
    assert y[z == dtype(1e5)][0] == 1 and y[z == dtype(-1e5)][0] == 0

    out = np.empty_like(z)
    ret = ops.sigmoid(z, out=out)
    assert ret is out
    np.testing.assert_array_equal(out, y)

    dy = rng.standard_normal(z.shape).astype(dtype)
    yy = y.astype(np.float64)
    dz = ops.sigmoid_backward(dy, y)
    assert dz.dtype == dtype
    np.testing.assert_allclose(dz, dy.astype(np.float64) * yy * (1 - yy), rtol=10 * rtol, atol=1e-300)
    out2, tmp = np.empty_like(z), np.empty_like(z)
    assert ops.sigmoid_backward(dy, y, out=out2, tmp=tmp) is out2
    np.testing.assert_array_equal(out2, dz)


def test_sigmoid_backward_matches_finite_differences_of_sigmoid():
    z = np.random.default_rng(14).standard_normal(20) * 3
    y = ops.sigmoid(z)
    dz = ops.sigmoid_backward(np.ones_like(z), y)
    eps = 1e-4  # truncation error ~eps^2 relative; rounding ~1e-16 / eps absolute
    fd = (expit(z + eps) - expit(z - eps)) / (2 * eps)
    np.testing.assert_allclose(dz, fd, rtol=1e-7, atol=1e-11)


def test_softplus_against_logaddexp():
    x = np.array([-1e5, -800.0, -50.0, -1.0, -1e-9, 0.0, 1e-9, 1.0, 50.0, 800.0, 1e5])
    y = ops.softplus(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, np.logaddexp(0.0, x), rtol=1e-14, atol=1e-300)


def _softmax_ce_formula(logits, labels):
    l64 = logits.astype(np.float64)
    return float(np.mean(logsumexp(l64, axis=1) - l64[np.arange(len(labels)), labels]))


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_value_is_stable(scale, dtype):
    rng = np.random.default_rng(15)
    logits = (rng.standard_normal((6, 5)) * scale).astype(dtype)
    labels = rng.integers(0, 5, size=6)
    loss, grad = ops.softmax_cross_entropy(logits, labels)
    expected = _softmax_ce_formula(logits, labels)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert loss == pytest.approx(expected, rel=rtol, abs=rtol)
    # the gradient of a mean CE: each row of (softmax - onehot) / n sums to zero
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6 if dtype == np.float32 else 1e-14)
    p = np.exp(logits.astype(np.float64) - logsumexp(logits.astype(np.float64), axis=1, keepdims=True))
    p[np.arange(6), labels] -= 1
    np.testing.assert_allclose(
        grad, p / 6, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-7 if dtype == np.float32 else 1e-15
    )


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    rng = np.random.default_rng(16)
    logits = rng.standard_normal((4, 6)) * 2
    labels = np.array([0, 5, 2, 2])
    _, grad = ops.softmax_cross_entropy(logits, labels)
    fd = fd_grad(lambda: _softmax_ce_formula(logits, labels), logits, 1e-5)
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("target_real", [True, False])
def test_bce_with_logits_values_are_stable(target_real):
    logits = np.array([[-1e5], [-1e3], [-40.0], [-3.0], [-0.5], [0.0], [0.7], [5.0], [40.0], [1e3], [1e5]])
    for dtype in (np.float64, np.float32):
        z = logits.astype(dtype)
        loss, grad = ops.bce_with_logits(z, target_real)
        assert np.isfinite(loss) and np.all(np.isfinite(grad))
        l64 = z.astype(np.float64)
        expected = float(np.mean(softplus64(-l64 if target_real else l64)))
        assert loss == pytest.approx(expected, rel=1e-12 if dtype == np.float64 else 1e-6)
        n = z.shape[0]
        expected_grad = (-expit(-l64) if target_real else expit(l64)) / n
        # the gradient is cast to float32 by the op, whatever the input dtype
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-6, atol=1e-30)
    # moderate logits: the textbook -t log p - (1 - t) log(1 - p) agrees
    moderate = np.array([[-3.0], [-0.5], [0.0], [0.7], [5.0]])
    p = 1 / (1 + np.exp(-moderate))
    t = 1.0 if target_real else 0.0
    textbook = float(np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p)))
    assert ops.bce_with_logits(moderate, target_real)[0] == pytest.approx(textbook, rel=1e-12)


@pytest.mark.parametrize("target_real", [True, False])
def test_bce_with_logits_gradient_matches_finite_differences(target_real):
    logits = np.random.default_rng(17).standard_normal((7, 1)) * 3
    _, grad = ops.bce_with_logits(logits, target_real)
    assert grad.shape == logits.shape

    def f():
        return ops.bce_with_logits(logits, target_real)[0]

    # the op returns its gradient in float32 (relative rounding 6e-8): rtol 1e-6
    np.testing.assert_allclose(grad, fd_grad(f, logits, 1e-6), rtol=1e-6, atol=1e-9)


def test_sgd_updates_in_place():
    rng = np.random.default_rng(18)
    w = {"a": rng.standard_normal((3, 2)), "b": rng.standard_normal(4)}
    g = {"a": rng.standard_normal((3, 2)), "b": rng.standard_normal(4)}
    before = {k: v.copy() for k, v in w.items()}
    ids = {k: id(v) for k, v in w.items()}
    ops.sgd(w, g, 0.1)
    for k in w:
        assert id(w[k]) == ids[k]
        # lr goes through np.float32: 0.1 becomes 0.1 * (1 + 1.5e-8)
        np.testing.assert_allclose(w[k], before[k] - 0.1 * g[k], rtol=1e-7, atol=1e-9)


# --- 6. the classifier --------------------------------------------------------------


def _he(rng, shape, fan_in):
    lim = math.sqrt(6.0 / fan_in)
    return rng.uniform(-lim, lim, size=shape)


def _classifier_setup(seed=19):
    """A scaled-down LeNet (same layer sequence) on 8x8 images, float64 weights."""
    rng = np.random.default_rng(seed)
    c1, c2, hidden, classes, n = 3, 4, 8, 5, 3
    w = {
        "conv1_w": _he(rng, (c1, 1, 5, 5), 25),
        "conv1_b": rng.uniform(-0.05, 0.05, c1),
        "conv2_w": _he(rng, (c2, c1, 5, 5), 25 * c1),
        "conv2_b": rng.uniform(-0.05, 0.05, c2),
        "fc1_w": _he(rng, (c2 * 2 * 2, hidden), c2 * 4),
        "fc1_b": rng.uniform(-0.05, 0.05, hidden),
        "fc2_w": _he(rng, (hidden, classes), hidden),
        "fc2_b": rng.uniform(-0.05, 0.05, classes),
    }
    x = rng.uniform(0, 1, size=(n, 1, 8, 8))
    labels = rng.integers(0, classes, size=n)
    return w, x, labels


def _classifier_loss(w, x, labels):
    logits, _ = nets.classifier_forward(w, x)
    return _softmax_ce_formula(logits, labels)


def test_classifier_forward_matches_direct_layers():
    w, x, labels = _classifier_setup()
    logits, _ = nets.classifier_forward(w, x)

    def pool(a):
        n, c, h, wd = a.shape
        return a.reshape(n, c, h // 2, 2, wd // 2, 2).max(axis=(3, 5))

    a1 = np.maximum(conv2d_loops(x, w["conv1_w"], w["conv1_b"], 1, 2), 0)
    a2 = np.maximum(conv2d_loops(pool(a1), w["conv2_w"], w["conv2_b"], 1, 2), 0)
    flat = pool(a2).reshape(x.shape[0], -1)  # NCHW order
    h = np.maximum(flat @ w["fc1_w"] + w["fc1_b"], 0)
    expected = h @ w["fc2_w"] + w["fc2_b"]
    np.testing.assert_allclose(logits, expected, rtol=1e-12, atol=1e-12)


def test_classifier_backward_matches_finite_differences():
    w, x, labels = _classifier_setup()
    logits, cache = nets.classifier_forward(w, x)
    _, dlogits = ops.softmax_cross_entropy(logits, labels)
    grads = nets.classifier_backward(w, dlogits, cache)
    assert set(grads) == set(w)
    pick = np.random.default_rng(20)
    checked_nonzero = 0
    for name, arr in w.items():
        assert grads[name].shape == arr.shape, name
        for idx in sample_indices(pick, arr.shape, 5):
            fd = central_diff(lambda: _classifier_loss(w, x, labels), arr, idx, 1e-6)
            assert grads[name][idx] == pytest.approx(fd, rel=1e-5, abs=1e-8), (name, idx)
            checked_nonzero += abs(fd) > 1e-6
    assert checked_nonzero >= 20  # the check is not vacuous


def test_classifier_train_step_is_sgd_on_the_true_gradient():
    w, x, labels = _classifier_setup()
    w0 = {k: v.copy() for k, v in w.items()}
    lr = 0.05
    loss = nets.classifier_train_step(w, x, labels, lr)
    assert loss == pytest.approx(_classifier_loss(w0, x, labels), rel=1e-12)

    # every entry: the update is -lr times the backward gradient at the initial weights
    logits, cache = nets.classifier_forward(w0, x)
    grads = nets.classifier_backward(w0, ops.softmax_cross_entropy(logits, labels)[1], cache)
    for name in w:
        np.testing.assert_allclose(w[name] - w0[name], -lr * grads[name], rtol=1e-6, atol=1e-14, err_msg=name)

    # sampled entries: the update is -lr times the finite-difference gradient
    pick = np.random.default_rng(21)
    wfd = {k: v.copy() for k, v in w0.items()}
    for name, arr in wfd.items():
        for idx in sample_indices(pick, arr.shape, 3):
            fd = central_diff(lambda: _classifier_loss(wfd, x, labels), arr, idx, 1e-6)
            assert w[name][idx] - w0[name][idx] == pytest.approx(-lr * fd, rel=1e-5, abs=1e-9), (name, idx)


# --- 7. the GAN ---------------------------------------------------------------------

G_NAMES = ("g_fc_w", "g_fc_b", "g_ct1_w", "g_ct1_b", "g_ct2_w", "g_ct2_b")
D_NAMES = ("d_c1_w", "d_c1_b", "d_c2_w", "d_c2_b", "d_fc_w", "d_fc_b")


def _gan_setup(seed=22):
    """The scenario's geometry (the generator's 128x7x7 reshape is fixed) with narrow
    channels, noise dimension 3, batch 2, float64 weights."""
    rng = np.random.default_rng(seed)
    noise, g1, d1, d2, n = 3, 2, 2, 3, 2
    w = {
        "g_fc_w": _he(rng, (noise, 6272), noise),
        "g_fc_b": rng.uniform(-0.05, 0.05, 6272),
        "g_ct1_w": _he(rng, (128, g1, 4, 4), 128 * 16 // 4),
        "g_ct1_b": rng.uniform(-0.05, 0.05, g1),
        "g_ct2_w": _he(rng, (g1, 1, 4, 4), g1 * 16 // 4),
        "g_ct2_b": rng.uniform(-0.05, 0.05, 1),
        "d_c1_w": _he(rng, (d1, 1, 4, 4), 16),
        "d_c1_b": rng.uniform(-0.05, 0.05, d1),
        "d_c2_w": _he(rng, (d2, d1, 4, 4), d1 * 16),
        "d_c2_b": rng.uniform(-0.05, 0.05, d2),
        "d_fc_w": _he(rng, (d2 * 49, 1), d2 * 49),
        "d_fc_b": rng.uniform(-0.05, 0.05, 1),
    }
    z = rng.standard_normal((n, noise))
    real = rng.uniform(-1, 1, size=(n, 1, 28, 28))
    return w, z, real


def _loss_d(w, real, fake):
    l_real, _ = nets.discriminator_forward(w, real)
    l_fake, _ = nets.discriminator_forward(w, fake)
    return float(np.mean(softplus64(-l_real)) + np.mean(softplus64(l_fake)))


def _loss_g(w, z):
    fake, _ = nets.generator_forward(w, z)
    return float(np.mean(softplus64(-nets.discriminator_forward(w, fake)[0])))


def test_gan_forward_shapes_and_layers():
    w, z, real = _gan_setup()
    fake, _ = nets.generator_forward(w, z)
    assert fake.shape == (2, 1, 28, 28)
    # the generator by its definition: dense, NCHW reshape, ReLU, two transposed convs, tanh
    h = np.maximum((z @ w["g_fc_w"] + w["g_fc_b"]).reshape(2, 128, 7, 7), 0)
    a1 = np.maximum(conv_transpose2d_scatter(h, w["g_ct1_w"], w["g_ct1_b"], 2, 1), 0)
    expected = np.tanh(conv_transpose2d_scatter(a1, w["g_ct2_w"], w["g_ct2_b"], 2, 1))
    np.testing.assert_allclose(fake, expected, rtol=1e-11, atol=1e-12)
    logit, _ = nets.discriminator_forward(w, real)
    assert logit.shape == (2, 1)
    lr_ = lambda v: np.where(v > 0, v, 0.2 * v)  # noqa: E731
    a = lr_(conv2d_loops(real, w["d_c1_w"], w["d_c1_b"], 2, 1))
    a = lr_(conv2d_loops(a, w["d_c2_w"], w["d_c2_b"], 2, 1))
    # leaky slope is np.float32(0.2) in the op: relative difference ~1e-8
    np.testing.assert_allclose(logit, a.reshape(2, -1) @ w["d_fc_w"] + w["d_fc_b"], rtol=1e-7, atol=1e-9)


def test_gan_step_updates_are_sgd_on_finite_difference_gradients():
    w0, z, real = _gan_setup()
    lr = 0.02
    w = {k: v.copy() for k, v in w0.items()}
    loss_d, loss_g = nets.gan_step(w, z, real, lr)

    fake, _ = nets.generator_forward(w0, z)
    assert loss_d == pytest.approx(_loss_d(w0, real, fake), rel=1e-10)
    w_d_updated = {k: (w[k] if k in D_NAMES else w0[k]).copy() for k in w0}
    assert loss_g == pytest.approx(_loss_g(w_d_updated, z), rel=1e-10)

    # the bce gradient passes through float32 (the op casts it): rtol 1e-5, and an
    # absolute floor relative to each tensor's gradient scale
    pick = np.random.default_rng(23)
    nonzero = 0

    # discriminator: every entry of every D tensor (they are small), fake held fixed
    wd = {k: v.copy() for k, v in w0.items()}
    for name in D_NAMES:
        arr = wd[name]
        fd = fd_grad(lambda: _loss_d(wd, real, fake), arr, 1e-6)
        update = w[name] - w0[name]
        scale = np.abs(fd).max()
        assert scale > 0, name
        np.testing.assert_allclose(update, -lr * fd, rtol=1e-5, atol=1e-6 * lr * scale, err_msg=name)
        nonzero += np.count_nonzero(np.abs(fd) > 1e-7)

    # generator: a few entries of each G tensor, through the UPDATED discriminator
    wg = {k: v.copy() for k, v in w_d_updated.items()}
    for name in G_NAMES:
        arr = wg[name]
        update = w[name] - w0[name]
        for idx in sample_indices(pick, arr.shape, 8):
            fd = central_diff(lambda: _loss_g(wg, z), arr, idx, 1e-6)
            assert update[idx] == pytest.approx(-lr * fd, rel=1e-5, abs=1e-11), (name, idx)
            nonzero += abs(fd) > 1e-7
    assert nonzero > 100


def test_gan_step_generator_gradient_differs_from_stale_discriminator():
    """Guards the meaning of the check above: with these weights, the generator's
    gradient through the original D is measurably different from the one through D'."""
    w0, z, real = _gan_setup()
    w = {k: v.copy() for k, v in w0.items()}
    nets.gan_step(w, z, real, 0.02)
    arr_new = {k: (w[k] if k in D_NAMES else w0[k]).copy() for k in w0}
    arr_old = {k: v.copy() for k, v in w0.items()}
    idx = (0, 0, 1, 1)
    g_old = central_diff(lambda: _loss_g(arr_old, z), arr_old["g_ct2_w"], idx, 1e-6)
    g_new = central_diff(lambda: _loss_g(arr_new, z), arr_new["g_ct2_w"], idx, 1e-6)
    update = w["g_ct2_w"][idx] - w0["g_ct2_w"][idx]
    assert update == pytest.approx(-0.02 * g_new, rel=1e-5)
    assert abs(g_old - g_new) > 1e-4 * abs(g_new)


# --- 8. qgemm -----------------------------------------------------------------------


def _acc_int64(a, b, za, zb):
    return (a.astype(np.int64) - za) @ (b.astype(np.int64) - zb)


def test_accumulate_exact_beyond_int16():
    p = qgemm_scenario.SIZES["tiny"]
    rng = np.random.default_rng(24)
    a = rng.integers(0, 256, size=(p["m"], p["k"]), dtype=np.uint8)
    b = rng.integers(0, 256, size=(p["k"], p["n"]), dtype=np.uint8)
    acc = quant.accumulate(a, b, p["za"], p["zb"])
    expected = _acc_int64(a, b, p["za"], p["zb"])
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, expected)
    assert np.abs(expected).max() > np.iinfo(np.int16).max  # a 16-bit accumulator would fail

    # all-extreme operands: the largest magnitudes for these zero points, both signs
    a = np.array([[255] * 64, [0] * 64], dtype=np.uint8)
    b = np.array([[0] * 64, [255] * 64], dtype=np.uint8).T
    np.testing.assert_array_equal(quant.accumulate(a, b, 119, 135), _acc_int64(a, b, 119, 135))


@pytest.mark.parametrize("za, zb", [(0, 0), (255, 0), (128, 127)])
def test_accumulate_exact_past_float32_mantissa(za, zb):
    """k = 1500: sums reach ~1e8 > 2^24, where float32 can no longer hold every integer."""
    rng = np.random.default_rng(25)
    k = 1500
    a = rng.integers(0, 256, size=(3, k), dtype=np.uint8)
    b = rng.integers(0, 256, size=(k, 4), dtype=np.uint8)
    # push operands to the far end from the zero points so |a - za| and |b - zb| are large
    a = np.where(rng.random(a.shape) < 0.9, 255 if za < 128 else 0, a).astype(np.uint8)
    b = np.where(rng.random(b.shape) < 0.9, 255 if zb < 128 else 0, b).astype(np.uint8)
    expected = _acc_int64(a, b, za, zb)
    assert np.abs(expected).max() > 1 << 24
    # at least one exact result is not a float32 value: float32 accumulation must fail here
    assert np.any(expected.astype(np.float32).astype(np.int64) != expected)
    acc = quant.accumulate(a, b, za, zb)
    assert acc.dtype == np.int32
    np.testing.assert_array_equal(acc, expected)


def test_accumulate_rejects_k_too_large_for_float64():
    a = np.zeros((1, 1 << 22), dtype=np.uint8)
    b = np.zeros((1 << 22, 1), dtype=np.uint8)
    with pytest.raises(ValueError):
        quant.accumulate(a, b, 0, 0)


def test_accumulate_does_not_silently_overflow_int32():
    """BUG (quant.accumulate): the only guard is k < 2^22 (float64 exactness), but the
    result is then cast to int32 with .astype, which is undefined for values outside
    int32: with k = 40000 and |a - za| = |b - zb| = 255 the exact sum 2.6e9 comes back
    as INT32_MIN (plus a RuntimeWarning). Accept either an error or gemmlowp's int32
    wrap-around (the exact value modulo 2^32); garbage is neither."""
    k = 40000
    a = np.full((1, k), 255, dtype=np.uint8)
    b = np.full((k, 1), 255, dtype=np.uint8)
    exact = 255 * 255 * k
    assert exact > INT32_MAX
    wrapped = (exact + (1 << 31)) % (1 << 32) - (1 << 31)
    try:
        with np.errstate(invalid="ignore"):
            acc = quant.accumulate(a, b, 0, 0)
    except (ValueError, OverflowError):
        return
    assert int(acc[0, 0]) == wrapped, (
        f"accumulate returned {int(acc[0, 0])} for an exact sum of {exact} (int32 wrap: {wrapped}): "
        "the int32 cast overflows silently; the k < 2^22 guard does not cover int32 range"
    )


# gemmlowp's fixed-point primitives in pure Python integers, from their definitions


def srdhm_py(a, b):
    """SaturatingRoundingDoublingHighMul on int32 values."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    x = ab + nudge
    q = abs(x) // (1 << 31)  # C integer division truncates toward zero
    return q if x >= 0 else -q


def rdbpot_py(x, exponent):
    """RoundingDivideByPOT: Python's & and >> act as on two's-complement integers."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def output_stage_py(acc, multiplier, shift, zc):
    return min(255, max(0, rdbpot_py(srdhm_py(acc, multiplier), shift) + zc))


def test_python_rounding_divide_by_pot_is_round_half_away_from_zero():
    """Sanity check of the test's own model against exact rational rounding."""
    rng = np.random.default_rng(26)
    for x in [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, INT32_MIN, INT32_MAX] + [
        int(v) for v in rng.integers(-(2**31), 2**31, 200)
    ]:
        for e in (0, 1, 2, 3, 7, 16, 30, 31):
            q = Fraction(x, 1 << e)
            away = math.floor(abs(q) + Fraction(1, 2))
            assert rdbpot_py(x, e) == (away if q >= 0 else -away), (x, e)


SRDHM_EDGE_A = [
    INT32_MIN,
    INT32_MIN + 1,
    -(1 << 30),
    -(1 << 15),
    -3,
    -1,
    0,
    1,
    3,
    1 << 15,
    (1 << 30) - 1,
    1 << 30,
    INT32_MAX - 1,
    INT32_MAX,
    123456789,
    -987654321,
]
SRDHM_EDGE_B = [
    INT32_MIN,
    INT32_MIN + 1,
    -(1 << 30),
    -(1 << 15),
    -1,
    0,
    1,
    3,
    1 << 15,
    (1 << 15) * 3,
    1 << 30,
    (1 << 30) + 1,
    INT32_MAX,
    1518500250,
]


def test_srdhm_matches_gemmlowp_definition():
    rng = np.random.default_rng(27)
    random_a = [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 300, endpoint=True)]
    random_b = [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 12, endpoint=True)]
    # exact halves: a*b = +-2^30 and +-3*2^30 (the nudge decides the rounding direction)
    a_all = np.array(SRDHM_EDGE_A + random_a, dtype=np.int32)
    for b in SRDHM_EDGE_B + random_b:
        got = quant.saturating_rounding_doubling_high_mul(a_all, b)
        expected = [srdhm_py(int(a), b) for a in a_all]
        assert [int(v) for v in got] == expected, b
        assert all(INT32_MIN <= v <= INT32_MAX for v in expected)
    # the saturating case and the two exact halves, spelled out
    assert int(quant.saturating_rounding_doubling_high_mul(np.array([INT32_MIN], np.int32), INT32_MIN)[0]) == INT32_MAX
    assert int(quant.saturating_rounding_doubling_high_mul(np.array([1 << 15], np.int32), 1 << 15)[0]) == 1
    assert int(quant.saturating_rounding_doubling_high_mul(np.array([-(1 << 15)], np.int32), 1 << 15)[0]) == 0


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_rounding_divide_by_pot_matches_gemmlowp_definition(dtype):
    rng = np.random.default_rng(28)
    xs = [
        INT32_MIN,
        INT32_MIN + 1,
        -(1 << 30),
        -9,
        -8,
        -7,
        -6,
        -5,
        -4,
        -3,
        -2,
        -1,
        0,
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        (1 << 30),
        INT32_MAX - 1,
        INT32_MAX,
    ]
    xs += [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 300, endpoint=True)]
    xs += [int(v) for v in rng.integers(-5000, 5000, 200)]
    x_arr = np.array(xs, dtype=dtype)
    for e in range(0, 32):
        # exact halves for this exponent, both signs
        halves = [m * (1 << e) + (1 << e) // 2 for m in (-3, -2, -1, 0, 1, 2)] if e else []
        halves = [h for h in halves if INT32_MIN <= h <= INT32_MAX]
        arr = np.concatenate([x_arr, np.array(halves, dtype=dtype)])
        got = quant.rounding_divide_by_pot(arr, e)
        expected = [rdbpot_py(int(x), e) for x in arr]
        assert [int(v) for v in got] == expected, e


def test_output_stage_matches_gemmlowp_definition():
    rng = np.random.default_rng(29)
    acc = np.concatenate(
        [
            rng.integers(-3_000_000, 3_000_000, 400),
            rng.integers(INT32_MIN, INT32_MAX, 100, endpoint=True),
            [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX],
        ]
    ).astype(np.int32)
    cases = [
        (int(m), int(s), int(zc))
        for m, s, zc in zip(rng.integers(1 << 30, 1 << 31, 12), rng.integers(0, 32, 12), rng.integers(0, 256, 12))
    ]
    for k in (64, 256, 1024, 2048):  # the scenario's own constants
        st = qgemm_scenario.output_stage({"k": k})
        cases.append((st["multiplier"], st["shift"], qgemm_scenario.ZERO_POINTS["zc"]))
    cases += [(INT32_MAX, 0, 128), (1 << 30, 0, 0), (1 << 30, 31, 255), (INT32_MAX, 1, 17)]
    for multiplier, shift, zc in cases:
        got = quant.output_stage(acc, multiplier, shift, zc)
        assert got.dtype == np.uint8
        expected = [output_stage_py(int(a), multiplier, shift, zc) for a in acc]
        assert [int(v) for v in got] == expected, (multiplier, shift, zc)
    # and the outputs are not all clamped: the check exercises rounding, not just saturation
    # (the k=64 constants map an accumulator of +-60000 to about +-55 levels around zc)
    st = qgemm_scenario.output_stage({"k": 64})
    moderate = rng.integers(-60000, 60000, 2000).astype(np.int32)
    out = quant.output_stage(moderate, st["multiplier"], st["shift"], 128)
    assert [int(v) for v in out] == [output_stage_py(int(a), st["multiplier"], st["shift"], 128) for a in moderate]
    assert len(np.unique(out)) > 50 and 0 < out.min() and out.max() < 255


def _qgemm_phase(problem, phase):
    import impls

    step = impls.adapter("reference").qgemm(problem, phase, "cpu", "eager")
    step.run()
    return step.outputs()


def test_qgemm_phases_split_the_operation():
    """gemm gives the accumulator only, requantize the output stage of the given
    accumulator only, full both; each against the definitions above."""
    import scenarios

    problem = scenarios.get("qgemm").problem("tiny")
    p, i = problem.params, problem.inputs
    st = qgemm_scenario.output_stage(p)
    exact = _acc_int64(i["a"], i["b"], p["za"], p["zb"])
    gemm, full = _qgemm_phase(problem, "gemm"), _qgemm_phase(problem, "full")
    assert set(gemm) == {"acc"} and set(full) == {"acc", "out"}
    np.testing.assert_array_equal(gemm["acc"], exact)
    np.testing.assert_array_equal(full["acc"], exact)
    want_out = [output_stage_py(int(a), st["multiplier"], st["shift"], p["zc"]) for a in exact.ravel()]
    assert [int(v) for v in full["out"].ravel()] == want_out
    # requantize works from its input, not from A and B: a different accumulator, its own output
    shifted = (i["acc"] + 5000).astype(np.int32)
    problem.inputs = dict(i, acc=shifted)
    out = _qgemm_phase(problem, "requantize")
    assert set(out) == {"out"} and out["out"].dtype == np.uint8
    assert [int(v) for v in out["out"].ravel()] == [
        output_stage_py(int(a), st["multiplier"], st["shift"], p["zc"]) for a in shifted.ravel()
    ]


@pytest.mark.slow  # seconds of real runs or simulation: make test, not the edit loop
def test_qgemm_requantize_phase_at_gemmlowp_edges():
    """The requantize phase on accumulators at the int32 extremes, across hundreds of
    rounding boundaries, with output zero points 0, 255 and 128 (tests/qgemm_edges.py's
    cases, which every other implementation is held to)."""
    import scenarios
    from scenarios.base import Problem
    from tests.qgemm_edges import _requantize_cases

    for name, (p, acc) in _requantize_cases(np).items():
        st = qgemm_scenario.output_stage(p)
        out = _qgemm_phase(Problem(scenarios.get("qgemm"), "edge", p, 0, {"acc": acc}), "requantize")["out"]
        want = [output_stage_py(int(a), st["multiplier"], st["shift"], p["zc"]) for a in acc.ravel()]
        assert [int(v) for v in out.ravel()] == want, name
        assert {INT32_MIN, INT32_MAX} <= {int(a) for a in acc.ravel()}
        assert (min(want), max(want)) == (0, 255) and len(set(want)) > 10


def _reals_in_unit_interval():
    rng = np.random.default_rng(30)
    reals = list(10.0 ** rng.uniform(-12, 0, 300))
    reals += [
        0.5,
        0.25,
        0.75,
        0.1,
        1e-9,
        math.nextafter(0.5, 0),
        math.nextafter(0.5, 1),
        2.0**-40,
        1 - 2.0**-31,
        1 - 2.0**-30,
        0.999,
        5e-324 * 2**60,
    ]
    reals += [40.0 / (74.0 * 74.0 * math.sqrt(k)) for k in (64, 256, 1024, 2048)]
    return [r for r in reals if 0 < r < 1 - 2.0**-32]  # below 1 - 2^-32: see the test after


def test_quantize_multiplier_range_and_accuracy():
    for real in _reals_in_unit_interval():
        q, shift = qgemm_scenario.quantize_multiplier(real)
        assert isinstance(q, int) and isinstance(shift, int)
        assert (1 << 30) <= q < (1 << 31), real
        assert shift >= 0, real
        represented = Fraction(q, 1 << 31) / Fraction(2) ** shift
        assert abs(represented - Fraction(real)) <= Fraction(real) * Fraction(1, 1 << 31), real
    for bad in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(ValueError):
            qgemm_scenario.quantize_multiplier(bad)


def test_quantize_multiplier_gives_a_usable_right_shift_just_below_one():
    """BUG (scenarios/qgemm.py, quantize_multiplier): for real in [1 - 2^-32, 1) the mantissa
    rounds up to 2^31, the code halves it and increments the exponent to 1, and returns
    shift = -1. That is not a right shift: gemmlowp/TFLite's QuantizeMultiplierSmallerThanOne
    requires right_shift >= 0, and quant.output_stage raises 'negative shift count' on it."""
    real = 1 - 2.0**-40
    q, shift = qgemm_scenario.quantize_multiplier(real)
    assert (1 << 30) <= q < (1 << 31)
    assert shift >= 0, f"quantize_multiplier({real!r}) = ({q}, {shift}): negative right shift"
    assert int(quant.output_stage(np.array([100], np.int32), q, shift, 0)[0]) == 100
