"""qgemm: uint8 x uint8 GEMM with zero points, int32 accumulation, gemmlowp requantization.

acc[m,n] = sum_k (A[m,k] - za) * (B[k,n] - zb)                     (exact int32)
out      = clamp(RoundingDivideByPOT(SRDHM(acc, multiplier), shift) + zc, 0, 255)

SRDHM is gemmlowp's SaturatingRoundingDoublingHighMul; the pair (multiplier, shift)
encodes a real multiplier < 1 as a Q31 fixed-point number and a right shift, as in
gemmlowp's OutputStageQuantizeDownInt32ByFixedPoint.

Three phases, so each figure has a ceiling that fits it:
- `gemm`: the exact int32 accumulation only (output `acc`); compute-bound, 2mnk OP,
  held to the int8 GEMM peak.
- `requantize`: the output stage only, from the exact accumulator (input `acc`) to the
  uint8 output `out`; memory-bound (4mn bytes read, mn written), held to bandwidth.
- `full`: both (outputs `acc` and `out`), as one call: what a fused implementation
  (torch.compile) gains over the two apart; held to the int8 GEMM peak.
Every output is integer and every implementation computes it exactly, so every output
is validated bit for bit.
"""

import math

import numpy as np

from .base import Scenario, Tolerance, rng

PHASES = ("gemm", "requantize", "full")

# The output stage's work, counted as gemmlowp's four primitives per element:
# SaturatingRoundingDoublingHighMul, RoundingDivideByPOT, the zero-point add and the
# clamp to uint8 (on ARM each is one instruction or a few: vqrdmulh, vrshl, vadd, vqmovun).
# 4 OP per 5 bytes is under 1 OP per byte: Scenario.memory_bound calls the phase memory-bound.
REQUANTIZE_OPS_PER_ELEMENT = 4

ZERO_POINTS = dict(za=119, zb=135, zc=128)

SIZES = {
    # k=64 already sends accumulators past the int16 range: a narrow accumulator fails.
    "tiny": dict(m=5, k=64, n=12, **ZERO_POINTS),
    "small": dict(m=256, k=256, n=256, **ZERO_POINTS),
    "medium": dict(m=1024, k=1024, n=1024, **ZERO_POINTS),
    "large": dict(m=2048, k=2048, n=2048, **ZERO_POINTS),
    # A skinny product (small M): batch-1-ish inference, bound by reading B.
    "skinny": dict(m=16, k=2048, n=2048, **ZERO_POINTS),
}


def quantize_multiplier(real: float):
    """Real multiplier in (0, 1) -> (Q31 multiplier in [2^30, 2^31), right shift)."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"real multiplier {real} outside (0, 1)")
    mantissa, exponent = math.frexp(real)  # real = mantissa * 2**exponent, mantissa in [0.5, 1)
    q = int(round(mantissa * (1 << 31)))
    if q == 1 << 31:  # rounded up to 1.0
        q //= 2
        exponent += 1
    if exponent > 0:  # real in [1 - 2^-32, 1): the nearest Q31 value below 1, no shift
        return (1 << 31) - 1, 0
    return q, -exponent


def output_stage(p):
    """The requantization constants: the output's spread is about 40 levels around zc."""
    # Uniform uint8 minus a mid zero point has std ~74; a k-term sum of products ~74^2 sqrt(k).
    real = 40.0 / (74.0 * 74.0 * math.sqrt(p["k"]))
    multiplier, shift = quantize_multiplier(real)
    return {"multiplier": multiplier, "shift": shift}


def exact_accumulator(a, b, za, zb):
    """int32 sum_k (a - za)(b - zb) through a float64 BLAS product: every partial sum of
    k < 2^22 terms of magnitude <= 255^2 is an integer below 2^53, so float64 holds it exactly."""
    return ((a.astype(np.float64) - za) @ (b.astype(np.float64) - zb)).astype(np.int32)


def make_inputs(p, seed):
    a = rng(seed, "qgemm", "a").integers(0, 256, size=(p["m"], p["k"]), dtype="uint8")
    b = rng(seed, "qgemm", "b").integers(0, 256, size=(p["k"], p["n"]), dtype="uint8")
    # requantize's input: the exact accumulator, made here so no phase times its making
    return {"a": a, "b": b, "acc": exact_accumulator(a, b, p["za"], p["zb"])}


def _check_phase(phase):
    if phase not in PHASES:
        raise KeyError(f"qgemm has no phase {phase!r} (phases: {', '.join(PHASES)})")


def flops(p, phase):
    _check_phase(phase)
    mn = p["m"] * p["n"]
    gemm = 2 * mn * p["k"]
    requantize = REQUANTIZE_OPS_PER_ELEMENT * mn
    return {"gemm": gemm, "requantize": requantize, "full": gemm + requantize}[phase]


def bytes_moved(p, phase):
    _check_phase(phase)
    mn = p["m"] * p["n"]
    operands = p["m"] * p["k"] + p["k"] * p["n"]
    # gemm reads A and B and writes the int32 accumulator; requantize reads that and
    # writes the uint8 output; full reads A and B and writes both
    return {"gemm": operands + 4 * mn, "requantize": 5 * mn, "full": operands + 5 * mn}[phase]


def tolerances(p, phase):
    _check_phase(phase)
    exact = Tolerance(0, 0)
    return {"gemm": {"acc": exact}, "requantize": {"out": exact}, "full": {"acc": exact, "out": exact}}[phase]


SCENARIO = Scenario(
    name="qgemm",
    description="uint8 GEMM with zero points, int32 accumulation, gemmlowp requantization",
    phases=PHASES,
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
    work_unit="OP",
)
