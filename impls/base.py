"""The contract every implementation answers, as code: its manifest and its adapter.

An implementation is a package `impls/<name>/`:
- `__init__.py` holds `MANIFEST = Manifest(...)`: cheap to import anywhere (no
  framework import), read by the parent to plan cells and start workers.
- `adapter.py` answers `Adapter`: imported only inside that implementation's worker
  (it imports the framework). One function per scenario, named as the scenario:
  `conv(problem, phase, device, mode) -> Step`; a scenario it lacks is an
  `unsupported` cell. Anything an adapter cannot do raises Unsupported with a reason
  a user can act on. A scenario function is only called with a device and mode its
  manifest declares (the runner's precheck refuses the rest): it need not check them.
  impls.common holds what adapters share: `stepper(sync)` binds sync to each Step,
  `resetter` puts a training step's weights back, `by_mode(MANIFEST, eager=...,
  graph=...)` maps each declared mode to how it builds a step (checked at import).

Both are checked when implementations are discovered (impls.discover): the manifest
by type, the adapter by reading its source for the functions below, without
importing the framework; the worker checks the imported module's signatures again.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Protocol, Tuple

import numpy as np

KNOWN_DEVICES = ("cpu", "cuda")


class Unsupported(Exception):
    """This (scenario, phase, device, mode) cannot run here; the message says why."""


class MalformedImplementation(ValueError):
    """An implementation package that does not answer the contract: one line saying what is wrong."""


@dataclass(frozen=True)
class Manifest:
    """What the parent knows of an implementation without importing its framework."""

    name: str  # the package's name
    description: str  # one line, for `dlbench list`
    modes: Tuple[str, ...]  # eager first; graph, xla, ... where the framework has them
    devices: Tuple[str, ...]  # of KNOWN_DEVICES
    install_hint: str  # the command that installs it, quoted in every "not installed" reason
    environment: Optional[str] = None  # its worker runs in .venv-<environment> (harness.environments)
    # set to --threads before the worker imports the framework, beside OMP_NUM_THREADS & co.
    thread_variables: Tuple[str, ...] = ()
    # more of the worker's environment, read by the framework once at import
    worker_env: Mapping[str, str] = field(default_factory=dict)
    # Over several ranks (--ranks N > 1): its collective engine, in words, for `dlbench
    # list`; None: it runs in one process only, and `single_process` says why, in the
    # reason of each such cell (unsupported).
    distributed: Optional[str] = None
    single_process: str = "it has no collective engine in dlbench: it runs at --ranks 1"

    def __post_init__(self):
        for what in ("name", "description", "install_hint"):
            if not isinstance(getattr(self, what), str) or not getattr(self, what).strip():
                raise MalformedImplementation(f"Manifest.{what} must be a non-empty string")
        for what in ("modes", "devices", "thread_variables"):
            value = getattr(self, what)
            if not isinstance(value, tuple) or not all(isinstance(v, str) and v for v in value):
                raise MalformedImplementation(f"Manifest.{what} must be a tuple of names, not {value!r}")
        if not self.modes:
            raise MalformedImplementation("Manifest.modes names no mode")
        unknown = [d for d in self.devices if d not in KNOWN_DEVICES]
        if not self.devices or unknown:
            raise MalformedImplementation(
                f"Manifest.devices must be some of {', '.join(KNOWN_DEVICES)}, not {self.devices!r}"
            )
        if self.environment is not None and (not isinstance(self.environment, str) or not self.environment):
            raise MalformedImplementation(f"Manifest.environment must be None or a name, not {self.environment!r}")
        if not isinstance(self.worker_env, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.worker_env.items()
        ):
            raise MalformedImplementation("Manifest.worker_env must map variable names to strings")


@dataclass
class Step:
    """A prepared cell: `run` is what is timed, `outputs` fetches results for validation.

    `run` must leave its device work queued or done; the harness calls `sync` inside
    the timed region after the calls of each sample. `outputs` is called after the
    first `run` (validation) and once after sampling, and returns NumPy arrays named as
    the scenario's tolerances.

    `reset`, for a training step: put the initial weights back, in place, into the
    same storage `run` updates (so compiled graphs and captured variables keep working
    without retracing). The harness calls it before every sample, outside the timed
    region, then `sync`, so each sample times steps from the validated starting point.
    """

    run: Callable[[], object]
    outputs: Callable[[], Dict[str, np.ndarray]]
    sync: Callable[[], None] = lambda: None
    # Training steps only: restore the initial weights (see above); None where nothing changes.
    reset: Optional[Callable[[], None]] = None
    # Over several ranks: the largest of a number over all ranks, through the framework's
    # own collective, so the ranks agree on calls per sample and samples (harness.worker).
    agree: Optional[Callable[[float], float]] = None
    # The task layer (scenarios.task): trial(k) runs trial k to the target and says how it
    # went (its own clock); the harness calls it once per process instead of sampling `run`,
    # which is then the validated first epoch.
    trial: Optional[Callable[[int], dict]] = None


class Adapter(Protocol):
    """What an implementation's adapter.py defines at top level (besides its scenarios)."""

    def probe(self) -> dict:
        """Versions and build facts, for `dlbench list` and the machine fingerprint."""

    def configure(self, threads: int) -> None:
        """Set the framework's thread pools to `threads` (before any scenario runs)."""

    def device_unavailable(self, device: str) -> Optional[str]:
        """None, or why `device` (one of the manifest's devices) cannot be used here."""

    def sync(self, device: str) -> None:
        """Wait for the device's queued work."""

    def peak_device_memory(self, device: str, reset: bool = False) -> Optional[int]:
        """Bytes of device memory in use at the most since the last reset; None where not
        counted (the reset's answer too: the worker then makes no extra call). The worker
        resets and reads around one untimed call after sampling (harness.worker.device_peak)."""

    # Optional: `peaks(device, threads, seconds, working_sets=None) -> dict`, the
    # device's practical ceilings as this framework reaches them (`dlbench machine`):
    # {metric: {"value": rate, "how": what was timed}} for fp32_gemm_gflops,
    # int8_gemm_gops (only with an integer GEMM kernel) and memory_gbs (per cache level
    # with working_sets: timing.ceiling.bandwidth_peaks); a string value is a note
    # saying why a metric is missing. timing.ceiling times them.


# function -> how many positional parameters it takes (from the Protocol above)
REQUIRED = {"probe": 0, "configure": 1, "device_unavailable": 1, "sync": 1, "peak_device_memory": 1}
SCENARIO_PARAMETERS = 4  # problem, phase, device, mode


def adapter_names(source: str) -> set:
    """The names an adapter's source defines at top level (functions, assignments,
    imports), read without running it: the parent never imports a framework."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def missing_functions(names) -> list:
    return [f for f in REQUIRED if f not in names]


def check_adapter_module(module, scenario_names) -> Optional[str]:
    """After import, in the worker: None, or what is wrong with the adapter's functions."""
    problems = []
    for fname, arity in list(REQUIRED.items()) + [(s, SCENARIO_PARAMETERS) for s in scenario_names]:
        fn = getattr(module, fname, None)
        if fn is None:
            if fname in REQUIRED:
                problems.append(f"no {fname}()")
            continue
        if not callable(fn):
            problems.append(f"{fname} is not a function")
        elif not _accepts(fn, arity):
            problems.append(f"{fname}() does not take {arity} positional arguments")
    return "; ".join(problems) or None


def _accepts(fn, arity):
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return True
    try:
        sig.bind(*range(arity))
        return True
    except TypeError:
        return False
