"""The drift sentinel: a fixed small workload (NumPy's exp over 256K floats, one thread)
timed by the parent before every round of every cell, on the CPU the workers are pinned to.

The machine's speed drifts over minutes on a shared VM; a cell's absolute time carries
that drift, which no statistic over its own samples can see. The sentinel's series is the
machine's speed over the run: its spread goes in machine.json and the report header, and
a cell timed while the sentinel ran slower than usual, by more than the series' own
noise, is flagged `drift`. Ratios from lockstep turns cancel the drift; absolute times
do not, and the flag says which of them to distrust.
"""

from __future__ import annotations

import math
import os
import statistics
import time

WORKLOAD = "numpy exp, 262144 float32, 16 calls per sample, 7 samples, one thread"
FLOATS = 1 << 18
CALLS = 16
SAMPLES = 7
# a round is slow when its sentinel is above the run's median by more than this many of
# the series' own robust standard deviations (1.4826 MAD of the logs), and at least FLOOR
SIGMAS = 3.0
FLOOR = 0.03


_BUFFERS = []


def _buffers():
    """The input and output, allocated once per process at fixed offsets (2 KiB apart
    modulo 4 KiB: no 4K aliasing between them), so that every reading of a run times the
    same memory layout and only the machine's speed changes."""
    if not _BUFFERS:
        import numpy as np

        buf = np.empty(2 * FLOATS + 1024, dtype=np.float32)
        x, y = buf[:FLOATS], buf[FLOATS + 512 : 2 * FLOATS + 512]
        x[:] = np.linspace(-4.0, 4.0, FLOATS, dtype=np.float32)
        _BUFFERS.extend((np, x, y))
    return _BUFFERS


def measure(cpu=None):
    """One sentinel reading: {"median": seconds per sample, "rel_iqr"} (timed on `cpu`)."""
    np, x, y = _buffers()
    before = os.sched_getaffinity(0) if cpu is not None and hasattr(os, "sched_getaffinity") else None
    if before is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        np.exp(x, out=y)  # warm: pages touched, code in cache
        values = []
        for _ in range(SAMPLES):
            t0 = time.perf_counter()
            for _ in range(CALLS):
                np.exp(x, out=y)
            values.append(time.perf_counter() - t0)
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)
    values.sort()
    q1, med, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": med, "rel_iqr": (q3 - q1) / med}


def summarize(points):
    """The run's speed from its sentinel points ({"t", "median", ...}): median, p5 and p95
    (seconds per sample), noise (robust relative sd of the series), the slow bound, and the
    points themselves. None without points."""
    values = sorted(p["median"] for p in points)
    if not values:
        return None
    med = statistics.median(values)
    logs = [math.log(v / med) for v in values]
    mad = statistics.median(abs(v) for v in logs)
    noise = 1.4826 * mad
    return {
        "workload": WORKLOAD,
        "median": med,
        "p5": _quantile(values, 0.05),
        "p95": _quantile(values, 0.95),
        "noise": noise,
        "slow_bound": max(SIGMAS * noise, FLOOR),
        "points": points,
    }


def _quantile(sorted_values, q):
    pos = q * (len(sorted_values) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def slowdown(value, summary):
    """How much slower than the run's median the sentinel read (0.14: 14%)."""
    return value / summary["median"] - 1.0


def drift_reason(readings, summary):
    """Why a cell is flagged `drift`, from the sentinel readings of its rounds (seconds,
    None where not read), or '' unless at least half its rounds ran on a slow machine."""
    if not summary or not readings:
        return ""
    slow = [
        (i, slowdown(v, summary)) for i, v in enumerate(readings) if v and slowdown(v, summary) > summary["slow_bound"]
    ]
    # half its rounds or more: then its figure, a median over them, is the slow machine's;
    # one slow round of three moved no figure, and flagging it (any round) was contradicted
    # by the next run for 60% of the flags here
    if not slow or 2 * len(slow) < len(readings):
        return ""
    worst = max(s for _, s in slow)
    rounds = ", ".join(str(i + 1) for i, _ in slow)
    return (
        f"timed while the machine ran up to {worst:.0%} slower than over the run (sentinel, bound "
        f"{summary['slow_bound']:.0%}) in round {rounds} of {len(readings)}"
    )


def resolvable_change(noise, pairs=1):
    """The smallest change two separate runs on this machine can tell apart, about: twice
    the run-to-run spread of a level (2 x 1.96 sd / sqrt(pairs)), from the sentinel's noise."""
    return 2 * 1.96 * noise / math.sqrt(max(pairs, 1))


def floor_line(summary):
    """`dlbench machine`'s line on the noise floor."""
    med = summary["median"]
    return (
        f"noise floor (drift sentinel, {len(summary['points'])} readings over {summary['points'][-1]['t']:.0f} s): "
        f"{med * 1e3:.3g} ms median, p5-p95 {summary['p5'] / med - 1:+.1%} to {summary['p95'] / med - 1:+.1%}, "
        f"noise {summary['noise']:.1%}: separate runs resolve changes of about "
        f"{resolvable_change(summary['noise']):.0%}"
    )
