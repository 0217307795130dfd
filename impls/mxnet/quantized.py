"""qgemm through MXNet's int8 GEMM (contrib.quantized_fully_connected, run by oneDNN).

The kernel multiplies uint8 data by int8 weights into int32. The scenario's uint8 x
uint8 with zero points becomes that product plus gemmlowp's offset algebra: with
B' = B - 128 (int8) and zb' = zb - 128,
    sum_k (a - za)(b - zb) = A.B' - zb' rowsum(A) - za colsum(B') + k za zb'.
The row and column sums are products with a vector of ones through the same kernel
(MXNet's integer reductions are far slower). Every term is exact in int32 whenever
the result is (the reference refuses k where it is not).

Without VNNI (AVX-512 VNNI, AVX-VNNI or AMX), oneDNN multiplies through vpmaddubsw,
which adds pairs of u8 x s8 products into int16 and saturates: 255*127*2 > 32767.
`one_pass_exact` tests for that on the kernel itself; where it saturates, A is split
into its low 7 bits and its top bit, A = A_low + 128 A_top, two products whose pair
sums stay below 2*127*128 < 32767.
"""

from __future__ import annotations

import functools

import mxnet as mx

from impls.base import Unsupported


def _int8_product(F, data_u8, weight_s8, n):
    """int32 data.weight^T through the quantized kernel; the float ranges it takes only
    label its output's range and do not change the integers."""
    lo, hi = F.zeros((1,)), F.ones((1,))
    out = F.contrib.quantized_fully_connected(
        data_u8, weight_s8, None, lo, hi, lo, hi, num_hidden=n, no_bias=True, flatten=True
    )
    return out[0]


@functools.lru_cache(maxsize=None)
def one_pass_exact(m=16, k=64, n=16):
    """Whether the int8 kernel sums 255 x 127 products exactly at this shape (no int16 saturation)."""
    data = mx.nd.full((m, k), 255, dtype="uint8")
    weight = mx.nd.full((n, k), 127, dtype="int8")
    got = _int8_product(mx.nd, data, weight, n).asnumpy()
    return bool((got == 255 * 127 * k).all())


def requantize_constants(acc_bound, multiplier, shift):
    """Constants of `requantize` for |acc| <= acc_bound: (divisor, offset).

    gemmlowp's two roundings, SaturatingRoundingDoublingHighMul (floor((ab + 2^30) / 2^31),
    ties up) then RoundingDivideByPOT (ties away from zero), fold into one floor division:
        out = floor((ab + 2^30 + c 2^31) / 2^(31+shift)),  ab = acc * multiplier,
        c = 2^(shift-1) - [ab < -2^30]  (c = 0 when shift = 0),
    since floor((floor(u / A) + c) / B) = floor((u + c A) / (A B)). MXNet's integer division
    truncates, so a multiple of the divisor is added first to make the numerator >= 0.
    """
    divisor = 1 << (31 + shift)
    reach = acc_bound * multiplier + (1 << 31) + (1 << (30 + shift))
    offset = divisor * (reach // divisor + 1)
    if reach + offset >= 1 << 63:
        raise Unsupported(
            f"requantization of |acc| <= {acc_bound} by {multiplier} >> {shift} would overflow "
            f"int64 in mxnet's one-division form"
        )
    return divisor, offset


def requantize(F, acc, multiplier, shift, zc, divisor, offset):
    """gemmlowp's OutputStageQuantizeDownInt32ByFixedPoint, exactly, then a saturating uint8 cast.

    Not impls.gemmlowp.output_stage, which torch, tensorflow and cupy share: that one needs
    NumPy-like int64 shifts and bitwise and, which MXNet 1.9's nd/sym operators (those a
    hybridized graph takes) do not have; hence this one-division form."""
    ab = F.cast(acc, "int64") * multiplier
    numerator = ab + (offset + (1 << 30))
    if shift > 0:
        numerator = numerator + ((1 << (30 + shift)) - (ab < -(1 << 30)) * (1 << 31))
    scaled = numerator / divisor  # numerator >= 0: truncation is the floor
    return F.cast(F.clip(scaled + (zc - offset // divisor), 0, 255), "uint8")


def accumulate(F, a, b, k, n, za, zb, one_pass):
    """The scenario's exact int32 accumulator, from uint8 a (m, k) and b (k, n)."""
    # B' = B - 128 in int8 arithmetic, which wraps: uint8 v >= 128 casts to v - 256, and
    # v - 256 - 128 wraps to v - 128. Transposed to (n, k), FullyConnected's weight layout.
    weight = F.transpose(F.cast(b, "int8") - 128)
    if one_pass:
        prod = _int8_product(F, a, weight, n)
    else:
        a32 = F.cast(a, "int32")
        top = a32 >= 128
        low = F.cast(a32 - top * 128, "uint8")
        prod = _int8_product(F, low, weight, n) + 128 * _int8_product(F, F.cast(top, "uint8"), weight, n)
    rows = _int8_product(F, a, F.ones((1, k), dtype="int8"), 1)  # (m, 1)
    cols = _int8_product(F, F.ones((1, k), dtype="uint8"), weight, n)  # (1, n)
    zb_shift = zb - 128
    return F.broadcast_add(F.broadcast_add(prod, rows * -zb_shift + k * za * zb_shift), cols * -za)


def qgemm(F, a, b, k, n, za, zb, zc, multiplier, shift, divisor, offset, one_pass):
    """(int32 accumulator, uint8 output) of the scenario, from uint8 a (m, k) and b (k, n)."""
    acc = accumulate(F, a, b, k, n, za, zb, one_pass)
    return acc, requantize(F, acc, multiplier, shift, zc, divisor, offset)
