"""Timing a device's practical ceilings, inside an implementation's worker (`dlbench machine`).

NumPy only, like the rest of the worker side: an adapter's `peaks()` hands in its own
GEMM and copy calls and these helpers time them. A ceiling is the best call seen, not
the median: the question is how fast this machine can go, not how fast it usually goes.
"""

from __future__ import annotations

import os
import time

GEMM_SIZES = (256, 512, 1024, 2048, 4096, 8192)


def best_seconds(call, sync, seconds, min_reps=3):
    """Fastest of repeated calls, for `seconds` and at least `min_reps` calls."""
    call()  # first call: allocation, kernel choice, page faults
    sync()
    best = float("inf")
    reps = 0
    end = time.perf_counter() + seconds
    while reps < min_reps or time.perf_counter() < end:
        t0 = time.perf_counter()
        call()
        sync()
        best = min(best, time.perf_counter() - t0)
        reps += 1
    return best


MIN_N = 2048  # a CPU's GEMM peak needs big blocks: n=256-512 reads a fraction of it
# DLBENCH_QUICK_PROBES=1: probes for a quick look, not a ceiling (the tests' runs): GEMMs
# to n=256, a 64 MiB copy for DRAM, no wait for quiet (harness.machine_peaks)
QUICK_ENV = "DLBENCH_QUICK_PROBES"
QUICK_MIN_N = 256


def quick():
    return os.environ.get(QUICK_ENV) == "1"


MAX_CALL_S = 3.0  # but a kernel this slow at the next size is no machine ceiling: stop there


def gemm_peak(make_call, seconds, what, sync=lambda: None, sizes=GEMM_SIZES, min_n=None):
    """Best rate (1e9 ops/s, 2 n^3 ops) over square GEMMs of growing n.

    `make_call(n)` returns a call computing one n x n x n product. The sweep always goes
    on to n = `min_n` (the budget follows the work: a quarter-second budget stopped a
    busy machine at n=256, a fiftieth of its peak), unless one call of the next size
    would take over MAX_CALL_S (a kernel that slow sets no ceiling: another
    implementation's does). Past min_n, n grows while the budget left still fits a few
    calls of the next size (8x the work) and the rate still improves.
    """
    min_n = min_n or (QUICK_MIN_N if quick() else MIN_N)
    end = time.perf_counter() + seconds
    best_rate, best_n, last, tried, stop = 0.0, None, None, [], ""
    for n in sizes:
        left = end - time.perf_counter()
        if last is not None:
            expected = 8 * last
            if expected > MAX_CALL_S:
                stop = f"; stopped before n={n}: a call would take ~{expected:.0f} s"
                break
            if n > min_n and 3 * expected > left:
                break
        t = best_seconds(make_call(n), sync, max(left * 0.3, 0.0), min_reps=2 if last and 8 * last > 1 else 3)
        tried.append(n)
        rate = 2.0 * n**3 / t / 1e9
        if rate > best_rate:
            best_rate, best_n = rate, n
        elif rate < 0.9 * best_rate and n >= min_n:
            break  # past the top: bigger only spills caches
        last = t
    swept = f" (swept n={tried[0]}-{tried[-1]}{stop})" if len(tried) > 1 else ""
    return {"value": best_rate, "how": f"{what}, n={best_n}{swept}"}


# Bandwidth levels: the working set the parent chose for each (harness.machine_peaks),
# and the machine.json metric it becomes. memory_gbs stays the DRAM figure.
LEVEL_METRICS = {"L2": "memory_gbs_l2", "L3": "memory_gbs_l3", "DRAM": "memory_gbs"}
# A copy that fits L2 takes microseconds, close to a call's own overhead: repeat it
# inside one timed call until the call moves at least this much.
MIN_BYTES_PER_CALL = 64 << 20


def past_caches(device):
    """The working sets where the parent gave none: one large copy, past any cache (a GPU's too)."""
    return {"DRAM": 2 * ((1 << 30) if device == "cuda" else (256 << 20))}


def bandwidth_peaks(make_copy, working_sets, seconds, what, sync=lambda: None):
    """Bandwidth per level, counted as sigmoid's GB/s is: bytes read + written.

    `working_sets` is {"L2" | "L3" | "DRAM": bytes}: source and destination together,
    so each copies half. `make_copy(nbytes, repeats)` returns a call that copies an
    nbytes buffer `repeats` times; its buffers are dropped before the next level's.
    """
    out = {}
    for level, metric in LEVEL_METRICS.items():
        size = working_sets.get(level)
        if not size:
            continue
        nbytes = max(4096, size // 2 // 4096 * 4096)
        repeats = max(1, -(-MIN_BYTES_PER_CALL // (2 * nbytes)))
        call = make_copy(nbytes, repeats)
        t = best_seconds(call, sync, seconds)
        del call
        per_call = f", {repeats} copies per call" if repeats > 1 else ""
        out[metric] = {
            "value": repeats * 2.0 * nbytes / t / 1e9,
            "working_set_bytes": 2 * nbytes,
            "how": f"{what}, {nbytes / (1 << 20):.4g} MiB copied{per_call}",
        }
    return out
