"""The GPU baseline's computations, written against an array module `xp`.

With xp = cupy they run on the GPU; with xp = numpy the same code runs on the CPU,
which is how the tests check them on a machine without a GPU.
"""

from __future__ import annotations

from impls import gemmlowp


def im2col(xp, x, k, stride, pad):
    """(N, C, H, W) -> (N*OH*OW, C*k*k), columns ordered (C, kh, kw) like OIHW."""
    n, c, h, w = x.shape
    if pad:
        x = xp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - k) // stride + 1
    ow = (w + 2 * pad - k) // stride + 1
    cols = xp.empty((n, oh, ow, c, k, k), dtype=x.dtype)
    for i in range(k):  # k*k strided copies: one kernel each on the GPU
        for j in range(k):
            cols[:, :, :, :, i, j] = x[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride].transpose(
                0, 2, 3, 1
            )
    return cols.reshape(n * oh * ow, c * k * k), oh, ow


def conv2d(xp, x, w, b, stride, pad):
    o, _, k, _ = w.shape
    cols, oh, ow = im2col(xp, x, k, stride, pad)
    y = cols @ w.reshape(o, -1).T  # cuBLAS SGEMM on the GPU
    y += b
    return xp.ascontiguousarray(y.reshape(x.shape[0], oh, ow, o).transpose(0, 3, 1, 2))


def qgemm_accumulate(xp, a, b, za, zb):
    """Exact int32 accumulation of (a - za)(b - zb): int32 operands, integer matmul."""
    return (a.astype(xp.int32) - za) @ (b.astype(xp.int32) - zb)


def requantize(xp, acc, multiplier, shift, zc):
    """gemmlowp's output stage (impls.gemmlowp), in int64 elementwise kernels."""
    return gemmlowp.output_stage(gemmlowp.numpy_like(xp), acc, multiplier, shift, zc)


def sigmoid(xp, z, out):
    """Fallback for array modules without a fused elementwise kernel."""
    xp.negative(z, out=out)
    xp.exp(out, out=out)
    out += 1
    return xp.reciprocal(out, out=out)


def sigmoid_backward(xp, dy, y, out):
    xp.subtract(1, y, out=out)
    out *= y
    out *= dy
    return out
