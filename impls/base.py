"""The adapter interface every implementation answers.

An implementation is a package `impls/<name>/`:
- `__init__.py`, its manifest, cheap to import anywhere (no framework import):
  NAME, MODES, DEVICES, ENVIRONMENT (None, or the name of the virtual environment
  whose interpreter runs its worker) and INSTALL_HINT (the command that installs it).
- `adapter.py`, imported only inside that implementation's worker process:
  `probe()` (versions and build facts for the fingerprint), `configure(threads)`,
  `device_unavailable(device)` (None or the reason), `sync(device)`,
  `peak_device_memory(device)` (bytes or None), and one function per scenario,
  named as the scenario: `conv(problem, phase, device, mode) -> Step`.
  Anything an adapter cannot do raises Unsupported with a reason a user can act on.
- optionally `peaks(device, threads, seconds) -> dict`: the device's practical
  ceilings as this framework reaches them, for `dlbench machine`, each metric
  {"value": rate, "how": what was timed}: `fp32_gemm_gflops`, `int8_gemm_gops`
  (only with an integer GEMM kernel), `memory_gbs`; a string value is a note (why a
  metric is missing). `harness.peak_probe` times them within about `seconds` each.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import numpy as np


class Unsupported(Exception):
    """This (scenario, phase, device, mode) cannot run here; the message says why."""


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
    # Seconds spent compiling/tracing outside the first call (where the adapter does it in prepare).
    compile_s: Optional[float] = None
    # Training steps only: restore the initial weights (see above); None where nothing changes.
    reset: Optional[Callable[[], None]] = None


def timed(fn: Callable[[], object]):
    """Return (result, seconds) of one call."""
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0
