"""allreduce: an fp32 sum over data-parallel ranks, each rank ending with the whole sum.

The collective behind every data-parallel training step (DeepBench benchmarks it beside
GEMM and convolution; its message sizes are DeepBench's, in floats). Each rank holds one
row of `x`; every value is a small whole number, so any summation order gives the exact
sum and the result is checked for equality. Reported as nccl-tests does: algorithm
bandwidth S/t (S the message's bytes: the record's GB/s) and bus bandwidth S/t x
2(n-1)/n, the traffic a ring moves per rank: that is what a report holds to the
memory-copy ceiling on a CPU (reports.metrics).

At one rank the collective has nothing to exchange: it measures the framework's path
(a copy at most; TensorFlow's one-replica all-reduce hands its input back, no copy at
all), the baseline the ranks' figures are read against. Its bus bandwidth is none, so it
is held to no ceiling.
"""

import numpy as np

from .base import Scenario, Tolerance, rng

SIZES = {  # floats per rank, DeepBench's all-reduce sizes
    "tiny": dict(elements=100_000),
    "small": dict(elements=3_097_600),
    "medium": dict(elements=16_777_217),
    "large": dict(elements=64_500_000),
}
VALUE_RANGE = 16  # |x| <= 16 and at most 2^19 ranks: every partial sum is exact in fp32


def ranks(p):
    return p.get("ranks", 1)


def make_inputs(p, seed):
    n = p["elements"]
    rows = [rng(seed, "allreduce", str(r)).integers(-VALUE_RANGE, VALUE_RANGE + 1, n) for r in range(ranks(p))]
    return {"x": np.stack(rows).astype(np.float32)}


def flops(p, phase):
    return (ranks(p) - 1) * p["elements"]  # the additions, wherever they happen


def bytes_moved(p, phase):
    return 4 * p["elements"]  # S: algorithm bandwidth is S over the time


def bus_factor(p):
    n = ranks(p)
    return 2 * (n - 1) / n  # 0 at one rank, as in nccl-tests: nothing crosses between ranks


def tolerances(p, phase):
    return {"sum": Tolerance()}  # whole numbers: exactly equal


SCENARIO = Scenario(
    name="allreduce",
    description="fp32 sum over data-parallel ranks (the collective of data parallelism)",
    phases=("sum",),
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
    parallel_phases=("sum",),
    bus_factor=bus_factor,
)
