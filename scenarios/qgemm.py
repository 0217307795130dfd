"""qgemm: uint8 x uint8 GEMM with zero points, int32 accumulation, gemmlowp requantization.

acc[m,n] = sum_k (A[m,k] - za) * (B[k,n] - zb)                     (exact int32)
out      = clamp(RoundingDivideByPOT(SRDHM(acc, multiplier), shift) + zc, 0, 255)

SRDHM is gemmlowp's SaturatingRoundingDoublingHighMul; the pair (multiplier, shift)
encodes a real multiplier < 1 as a Q31 fixed-point number and a right shift, as in
gemmlowp's OutputStageQuantizeDownInt32ByFixedPoint. Both outputs are validated: the
accumulator bit for bit, the uint8 output within 1.
"""
import math

from .base import Scenario, Tolerance, rng

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


def make_inputs(p, seed):
    a = rng(seed, "qgemm", "a").integers(0, 256, size=(p["m"], p["k"]), dtype="uint8")
    b = rng(seed, "qgemm", "b").integers(0, 256, size=(p["k"], p["n"]), dtype="uint8")
    return {"a": a, "b": b}


def flops(p, phase):
    return 2 * p["m"] * p["n"] * p["k"]


def bytes_moved(p, phase):
    # read A and B; write the int32 accumulator and the uint8 output
    return p["m"] * p["k"] + p["k"] * p["n"] + 5 * p["m"] * p["n"]


def tolerances(p, phase):
    return {"acc": Tolerance(0, 0), "out": Tolerance(atol=1)}


SCENARIO = Scenario(
    name="qgemm",
    description="uint8 GEMM with zero points, int32 accumulation, gemmlowp requantization",
    phases=("gemm",),
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
    work_unit="OP",
)
