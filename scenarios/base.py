"""What a scenario is: parameters per size, deterministic inputs, work counts, tolerances.

Scenarios are plain data plus a few pure functions over NumPy; they never import a
framework, so the worker of any implementation (MXNet's old NumPy included) can load them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

SIZES = ("tiny", "small", "medium", "large")
# How a data-parallel training step's batch meets its ranks: weak, each rank the size's
# batch (the whole batch grows with them); strong, the size's batch shared among them.
SCALINGS = ("weak", "strong")


@dataclass(frozen=True)
class Tolerance:
    """|actual - expected| <= atol + rtol * |expected|, elementwise.

    `atol_scale` adds atol_scale * max|expected| to atol, so a tolerance can be
    stated relative to the magnitude of the whole output (float sums of a few
    thousand terms lose bits relative to the output's scale, not per element).
    """

    rtol: float = 0.0
    atol: float = 0.0
    atol_scale: float = 0.0
    # Name of an input to subtract from both sides first: a training step's updated
    # weight is compared as its update (new - initial), which a wrong gradient changes.
    baseline: Optional[str] = None
    # When set, the whole tensor is compared instead of each element:
    # ||actual - expected||_2 <= norm_rtol * ||expected||_2. Gradients are discontinuous
    # at a ReLU kink or a max-pool near-tie, and two correct float32 programs can fall on
    # either side for one element in a million; that moves one patch's contribution to a
    # weight's update, a small part of its norm, while a wrong gradient moves all of it.
    norm_rtol: Optional[float] = None
    # A trajectory (a training run's losses, step by step along the first axis): the bound
    # grows by this factor per step, up to `growth_cap` times the first step's. Two correct
    # float32 programs flip a max-pool or ReLU near-tie somewhere (see norm_rtol), and
    # training amplifies that difference step by step; a wrong step shows at once.
    growth: Optional[float] = None
    growth_cap: float = 1.0

    def bound(self, expected: np.ndarray) -> np.ndarray:
        exp = np.abs(expected.astype(np.float64))
        scale = float(exp.max()) if exp.size else 0.0
        base = self.atol + self.atol_scale * scale + self.rtol * exp
        if self.growth is None or not exp.ndim:
            return base
        steps = np.minimum(self.growth ** np.arange(exp.shape[0], dtype=np.float64), self.growth_cap)
        return base * steps.reshape((-1,) + (1,) * (exp.ndim - 1))

    def describe(self) -> str:
        text = f"rtol={self.rtol:g} atol={self.atol:g} atol_scale={self.atol_scale:g}"
        if self.growth is not None:
            text += f", x{self.growth:g} per step up to x{self.growth_cap:g}"
        return text


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    phases: Tuple[str, ...]
    sizes: Mapping[str, Mapping]
    make_inputs: Callable[[Mapping, int], Dict[str, np.ndarray]]
    flops: Callable[[Mapping, str], int]
    bytes_moved: Callable[[Mapping, str], int]
    tolerances: Callable[[Mapping, str], Dict[str, Tolerance]]
    # Outputs are compared in this order; the tolerance dict names them.
    work_unit: str = "FLOP"  # "OP" for integer work
    # Bytes one call touches (inputs, outputs, weights, kept activations, each once): the
    # cache level a report holds a memory-bound cell to. Default: bytes_moved, right
    # where every byte is read or written once; a scenario that passes over its data
    # several times (a training step) gives its own.
    working_set: Optional[Callable[[Mapping, str], int]] = None
    # Phases that run over several data-parallel ranks (--ranks N > 1): a collective, or a
    # training step with its batch split; the others run in one process only.
    parallel_phases: Tuple[str, ...] = ()
    # A collective's bus bandwidth over its algorithm bandwidth (nccl-tests' factor, from
    # params incl. "ranks"); None: not a collective.
    bus_factor: Optional[Callable[[Mapping], float]] = None
    # The parameter a data-parallel training phase splits over ranks (its batch): such a
    # phase runs over N ranks at both scalings (SCALINGS); None: a parallel phase splits
    # nothing (a collective: each rank holds the size's message).
    split: Optional[str] = None
    # The task layer (scenarios.task): a sample is one trial run to a quality target, each
    # process of a cell one trial, timed by the scenario's own loop (a Step's `trial`).
    # Minutes per cell: such a scenario runs only when named (--scenario task).
    trials: bool = False

    def __post_init__(self):
        if self.working_set is None:
            object.__setattr__(self, "working_set", self.bytes_moved)

    def params(self, size: str, ranks: int = 1, scaling: str = "") -> Dict:
        """The size's parameters; over several ranks, "ranks" too (one rank adds nothing, so
        a one-process cell's parameters, and its reference cache, stay as they were), and
        with a scaling, the whole batch the ranks share: weak, ranks x the size's; strong,
        the size's. The inputs are always the whole batch (Problem.shard is a rank's part),
        so the reference computes the one-process step the ranks must equal."""
        if size not in self.sizes:
            raise KeyError(f"scenario {self.name!r} has no size {size!r} (sizes: {', '.join(self.sizes)})")
        params = dict(self.sizes[size])
        if ranks != 1:
            params["ranks"] = ranks
        if scaling:
            if scaling not in SCALINGS or self.split is None:
                raise KeyError(f"scenario {self.name!r} has no scaling {scaling!r}")
            params["scaling"] = scaling
            if scaling == "weak":
                params[self.split] *= ranks
        return params

    def unsplittable(self, params: Mapping) -> Optional[str]:
        """Why this batch cannot be split evenly over the ranks (None: it can)."""
        n = params.get("ranks", 1)
        if self.split is None or n == 1 or params[self.split] % n == 0:
            return None
        whole = params[self.split]
        return f"a {self.split} of {whole} does not split evenly over {n} ranks: use another size or --scaling weak"

    def problem(self, size: str, seed: int = 0, ranks: int = 1, scaling: str = "") -> "Problem":
        params = self.params(size, ranks, scaling)
        return Problem(self, size, params, seed, self.make_inputs(params, seed))

    def memory_bound(self, phase: str, params: Mapping) -> bool:
        """Arithmetic intensity below 1 FLOP per byte: compare against bandwidth, not GEMM peak."""
        return self.flops(params, phase) < self.bytes_moved(params, phase)


@dataclass
class Problem:
    """One scenario at one size and seed: everything an implementation needs to compute."""

    scenario: Scenario
    size: str
    params: Dict
    seed: int
    inputs: Dict[str, np.ndarray] = field(repr=False)
    # Over several ranks (params["ranks"]): this process's rank, and host:port of the
    # rendezvous the harness picked for the cell (rank 0 listens there).
    rank: int = 0
    address: Optional[str] = None
    addresses: Tuple[str, ...] = ()  # every rank's own host:port, in rank order (a cluster spec's workers)
    # Where the run keeps what the reference computed once for every process (the worker's
    # reference cache): the task layer's scorer lives there too. None: this process only.
    cache_dir: Optional[str] = None

    @property
    def name(self) -> str:
        return self.scenario.name

    def shard(self, name: str) -> np.ndarray:
        """This rank's part of a batched input: its equal slice of the first axis (all of
        it over one rank)."""
        whole, n = self.inputs[name], self.params.get("ranks", 1)
        part = len(whole) // n
        return whole[self.rank * part : (self.rank + 1) * part]

    def key(self) -> str:
        """Stable digest of what is computed: used to cache reference outputs."""
        blob = json.dumps({"s": self.name, "p": self.params, "seed": self.seed}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def rng(seed: int, *names: str) -> np.random.Generator:
    """A generator per (seed, purpose), so adding an input never changes the others."""
    digest = hashlib.sha256(("/".join((str(seed),) + names)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def he_uniform(gen: np.random.Generator, shape: Sequence[int], fan_in: int) -> np.ndarray:
    limit = np.sqrt(6.0 / fan_in)
    return gen.uniform(-limit, limit, size=tuple(shape)).astype(np.float32)


def small_bias(gen: np.random.Generator, n: int) -> np.ndarray:
    return gen.uniform(-0.05, 0.05, size=(n,)).astype(np.float32)


def float_tolerance(rtol: float = 1e-4, atol_scale: float = 1e-4) -> Tolerance:
    """float32 against a float32 reference computed in another summation order."""
    return Tolerance(rtol=rtol, atol_scale=atol_scale)


def conv_out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


def conv_transpose_out(size: int, k: int, stride: int, pad: int) -> int:
    return (size - 1) * stride - 2 * pad + k
