"""Ratios of two cells timed in the same lockstep turns (harness.turns), with a paired
interval.

Sample i of process k of one implementation and sample i of process k of another were
timed within a second of each other, on the same CPUs, so their log ratio is free of the
machine's drift. Per process, the median of those log ratios; over processes, the
Hodges-Lehmann estimate and the exact Wilcoxon interval (the machinery of `compare
--interleave`, harness.stats), so the process-to-process spread (memory layout, what the
allocator kept) is in the interval as well as the turn-to-turn one. With one process
only, the turns themselves are the units, which the record's `ratio_units` says.
"""

from __future__ import annotations

import math
import statistics

from harness.stats import hodges_lehmann, wilcoxon_interval

ALPHA = 0.05


def turn_times(record):
    """{(process, turn): seconds} of a record's samples; {} for a record without turns."""
    samples = record.get("samples")
    turns = record.get("sample_turn")
    if not isinstance(samples, list) or not isinstance(turns, list) or len(turns) != len(samples):
        return {}
    processes = record.get("sample_process") or [0] * len(samples)
    return {(p, t): s for p, t, s in zip(processes, turns, samples) if s and s > 0}


def log_ratios(num, den):
    """{process: [log(num / den) of each shared turn]}."""
    a, b = turn_times(num), turn_times(den)
    out = {}
    for key in sorted(set(a) & set(b)):
        out.setdefault(key[0], []).append(math.log(a[key] / b[key]))
    return out


def ratio(num, den, alpha=ALPHA):
    """num's time over den's from their shared turns: {"ratio", "low", "high", "level",
    "units" ("processes" or "turns"), "n"}; None without shared turns."""
    per_process = log_ratios(num, den)
    if not per_process:
        return None
    if len(per_process) >= 2:
        values, units = [statistics.median(v) for v in per_process.values()], "processes"
    else:
        values, units = next(iter(per_process.values())), "turns"
    estimate = hodges_lehmann(values)
    if len(values) >= 2:
        low, high, level, _ = wilcoxon_interval(values, alpha)
    else:
        low = high = estimate
        level = None
    return {
        "ratio": math.exp(estimate),
        "low": math.exp(low),
        "high": math.exp(high),
        "level": level,
        "units": units,
        "n": len(values),
    }


def half_width(r):
    """An interval's relative half-width: ((high - low) / 2) / ratio."""
    return (r["high"] - r["low"]) / 2 / r["ratio"]
