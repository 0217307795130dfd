"""gemmlowp's output stage, written once for any array library with integer ops.

OutputStageQuantizeDownInt32ByFixedPoint (SaturatingRoundingDoublingHighMul by a Q31
multiplier, then RoundingDivideByPOT) and the saturating cast to uint8, in int64
integer ops only, exactly as impls/reference/quant.py computes it. The reference keeps
its own copy on purpose: it is the oracle, and tests/test_gemmlowp.py holds this
function equal to it on gemmlowp's edge values. torch, tensorflow and cupy call this
with their own IntOps; MXNet cannot (impls/mxnet/quantized.py builds a symbol graph
whose integer ops are not NumPy-like), so it keeps its one-division form.

A module, not a package: impls.names() lists packages only, so this is no implementation.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Callable

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


@dataclass(frozen=True)
class IntOps:
    """What output_stage needs from an array library, beyond + - * and comparisons.

    `where(cond, a, b)` takes int64 arrays or Python ints for a and b and returns int64;
    `to_int64` casts an int32 or boolean array; `clip_to_uint8` clamps an int64 array to
    [0, 255] and casts it to uint8. The shifts and the and take an int64 array and a
    Python int.
    """

    to_int64: Callable
    where: Callable
    clip_to_uint8: Callable
    right_shift: Callable = operator.rshift
    bitwise_and: Callable = operator.and_


def numpy_like(xp) -> IntOps:
    """IntOps of NumPy or a module that answers like it (CuPy)."""
    return IntOps(
        to_int64=lambda a: a.astype(xp.int64),
        where=xp.where,
        clip_to_uint8=lambda a: xp.clip(a, 0, 255).astype(xp.uint8),
    )


def output_stage(ops: IntOps, acc, multiplier: int, shift: int, zc: int):
    """uint8 clamp(RoundingDivideByPOT(SRDHM(acc, multiplier), shift) + zc, 0, 255) of an
    int32 array `acc`, with an int32 `multiplier`, 0 <= shift <= 31 and zero point `zc`."""
    # SaturatingRoundingDoublingHighMul: (acc * multiplier + nudge) / 2^31, the division
    # toward zero as in C; >> floors, so shift |x| and restore the sign
    ab = ops.to_int64(acc) * multiplier
    x = ab + ops.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = ops.where(x >= 0, ops.right_shift(x, 31), -ops.right_shift(-x, 31))
    if multiplier == INT32_MIN:  # its one saturating case: INT32_MIN * INT32_MIN
        high = ops.where(acc == INT32_MIN, INT32_MAX, high)
    # RoundingDivideByPOT: to nearest, ties away from zero
    mask = (1 << shift) - 1
    threshold = (mask >> 1) + ops.to_int64(high < 0)
    scaled = ops.right_shift(high, shift) + ops.to_int64(ops.bitwise_and(high, mask) > threshold)
    return ops.clip_to_uint8(scaled + zc)
