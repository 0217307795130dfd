"""sigmoid: elementwise forward y = 1/(1+e^-z) and backward dz = dy * y * (1 - y).

Memory-bound: the figure of merit is GB/s. The backward phase takes y (the forward's
output) and dy, as a framework's sigmoid-gradient kernel does.
"""

import numpy as np

from .base import Scenario, Tolerance, rng

SIZES = {
    "tiny": dict(elements=1000),
    "small": dict(elements=1 << 20),
    "medium": dict(elements=16 << 20),
    "large": dict(elements=64 << 20),
}

# Counted per element: exp as one operation, then add and divide (forward);
# subtract and two multiplies (backward).
FLOPS_PER_ELEMENT = {"forward": 3, "backward": 3}
# float32 reads and writes per element: z -> y; (y, dy) -> dz.
ARRAYS_PER_ELEMENT = {"forward": 2, "backward": 3}


def make_inputs(p, seed):
    n = p["elements"]
    z = (rng(seed, "sigmoid", "z").standard_normal(n, dtype="float32") * np.float32(4.0)).astype(np.float32)
    dy = rng(seed, "sigmoid", "dy").standard_normal(n, dtype="float32")
    y = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)
    return {"z": z, "y": y, "dy": dy}


def flops(p, phase):
    return FLOPS_PER_ELEMENT[phase] * p["elements"]


def bytes_moved(p, phase):
    return 4 * ARRAYS_PER_ELEMENT[phase] * p["elements"]


def tolerances(p, phase):
    # A few ulps: frameworks use vectorized exp approximations.
    name = "y" if phase == "forward" else "dz"
    return {name: Tolerance(rtol=1e-5, atol=1e-6)}


SCENARIO = Scenario(
    name="sigmoid",
    description="elementwise sigmoid forward and backward, fp32",
    phases=("forward", "backward"),
    sizes=SIZES,
    make_inputs=make_inputs,
    flops=flops,
    bytes_moved=bytes_moved,
    tolerances=tolerances,
)
