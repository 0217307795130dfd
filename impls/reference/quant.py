"""gemmlowp's integer GEMM semantics in NumPy.

The accumulator is computed as a float64 BLAS product: every operand is an integer
with |a - za|, |b - zb| <= 255, so each partial sum of k <= 2^22 terms stays below
2^53 and float64 represents it exactly; that is far faster than NumPy's integer
matmul, which has no BLAS. The output stage follows gemmlowp's fixedpoint.h.
"""

import numpy as np

from scenarios.qgemm import exact_accumulator

INT32_MIN = -(1 << 31)


def accumulate(a, b, za, zb):
    """int32 acc[m, n] = sum_k (a[m, k] - za) * (b[k, n] - zb), exactly."""
    k = a.shape[1]
    if k * max(za, 255 - za) * max(zb, 255 - zb) > (1 << 31) - 1:
        # beyond this an int32 accumulator could wrap (float64 itself is exact up to k ~ 2^22)
        raise ValueError(f"k={k} with zero points {za}, {zb} can overflow an int32 accumulator")
    return exact_accumulator(a, b, za, zb)


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 a (array) and int32 b (scalar)."""
    ab = a.astype(np.int64) * np.int64(b)
    nudge = np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    x = ab + nudge
    # C's integer division truncates toward zero; >> floors, so divide |x| and restore the sign
    high = np.where(x >= 0, x >> 31, -((-x) >> 31))
    if b == INT32_MIN:
        high = np.where(a == INT32_MIN, np.int64((1 << 31) - 1), high)
    return high


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero."""
    mask = np.int64((1 << exponent) - 1)
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def output_stage(acc, multiplier, shift, zc):
    """OutputStageQuantizeDownInt32ByFixedPoint, then saturating cast to uint8."""
    scaled = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(acc, multiplier), shift)
    return np.clip(scaled + zc, 0, 255).astype(np.uint8)
