"""The machine's practical ceilings (`dlbench machine`), per device, for machine.json.

Each implementation with a `peaks()` probe measures them inside its own worker (its own
interpreter: the parent imports no framework); the machine's ceiling for a metric is
the best any of them reached. Bandwidth is measured per cache level (L2, L3, DRAM;
`memory_gbs` stays the DRAM figure) at working sets this module chooses from the
machine's cache sizes (harness.caches); other devices get one figure, their memory's.
Stored as

    "peaks": {"cpu": {"threads": 2, "seconds": 0.4, "measured": "...",
                      "working_sets": {"L2": 2097152, "L3": 251658240, "DRAM": 2013265920},
                      "best": {"fp32_gemm_gflops": {"value": 91.0, "impl": "torch", "how": "..."},
                               "memory_gbs_l2": {"value": 180.0, "impl": "torch", "how": "...",
                                                 "working_set_bytes": 2097152}, ...},
                      "by_impl": {"reference": {"fp32_gemm_gflops": {...}, ...},
                                  "mxnet": {"unsupported": "the mxnet adapter has no peaks() probe"}}},
              "cuda": {...}}
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

import impls
from harness import caches as cache_sizes
from harness import contention
from harness.processes import Side, run_worker, worker_env
from timing.ceiling import quick

METRICS = {  # metric -> (what it is, unit)
    "fp32_gemm_gflops": ("fp32 GEMM", "GFLOP/s"),
    "int8_gemm_gops": ("int8 GEMM", "GOP/s"),
    "memory_gbs_l2": ("L2 bandwidth", "GB/s"),
    "memory_gbs_l3": ("L3 bandwidth", "GB/s"),
    "memory_gbs": ("memory bandwidth", "GB/s"),
}
LEVEL_METRICS = ("memory_gbs_l2", "memory_gbs_l3")
DEFAULT_SECONDS = 0.25  # per metric and implementation (a GEMM sweep takes what its sizes need)
# A probe on a busy machine reads low (a parallel GEMM waits for its slowest thread): each
# implementation's probe waits for quiet first, this long in all, then probes anyway
# (none with DLBENCH_QUICK_PROBES=1: timing.ceiling.quick).
PROBE_QUIET_WAIT = 30.0


def _default_quiet_wait():
    return 0.0 if quick() else PROBE_QUIET_WAIT


DRAM_MIN = 512 << 20  # the old 256 MiB copy (source and destination): past a small machine's caches
DRAM_MAX = 4 << 30  # bounds the probe's memory and time: two 2 GiB buffers, a few tenths of a second a copy


def working_sets(caches, threads, memory_bytes=None):
    """{"L2": bytes, "L3": bytes, "DRAM": bytes}: source + destination of each level's copy.

    A ceiling must hold for every working set of its level, and within a level the
    bandwidth falls as the set grows, so each level is probed near its small end: L2 at
    half of what the threads' L2s hold, L3 at four times that L2 capacity (well past L2)
    or half of L3 if smaller, and DRAM at four times L3, capped by an eighth of the
    machine's memory. A shared L3, as a VM reports it, is the host's: the share a guest
    really gets is far smaller (here 480 MiB reported, about 30 GB/s up to 32 MiB and
    DRAM-like at 240 MiB), so a probe at half of it would read DRAM speed and every
    cell held to it would pass 100%. Levels of unknown size are left out."""
    caps = cache_sizes.capacities(caches, threads)
    sets = {}
    if caps.get("L2"):
        sets["L2"] = caps["L2"] // 2
    if caps.get("L3") and caps["L3"] // 2 > caps.get("L2", 0):
        sets["L3"] = min(caps["L3"] // 2, 4 * caps["L2"]) if caps.get("L2") else caps["L3"] // 2
    dram = (64 << 20) if quick() else max(DRAM_MIN, 4 * max(caps.values(), default=0))
    if isinstance(memory_bytes, int) and memory_bytes > 0:
        dram = min(dram, memory_bytes // 8)
    sets["DRAM"] = min(dram, DRAM_MAX)
    return sets


def has_levels(entry):
    """Whether a device's peaks entry has bandwidth per cache level (else one figure)."""
    entry = entry if isinstance(entry, dict) else {}
    return any(m in (entry.get("best") or {}) for m in LEVEL_METRICS) or any(
        level in (entry.get("working_sets") or {}) for level in ("L2", "L3")
    )


def metric_name(metric, levels):
    """What a metric is called: memory_gbs is "DRAM bandwidth" beside cache levels."""
    if metric == "memory_gbs" and levels:
        return "DRAM bandwidth"
    return METRICS.get(metric, (metric.replace("_", " "), ""))[0]


def merge_levels(best):
    """Cache levels whose probes contradict the hierarchy, merged into the next level.

    A level's bandwidth no higher than the next level's means the cache is smaller than
    the system reports (a VM may report its host's, or none of it) or the probe was
    disturbed; held to it, cells in that cache would pass 100%. So the level is dropped
    from `best` (its cells fall to the next level's figure, the higher one) and kept
    under "merged" in the returned note's entry. Returns (best, {metric: entry}, note or None)."""
    order = (("L2", "memory_gbs_l2"), ("L3", "memory_gbs_l3"), ("DRAM", "memory_gbs"))
    best, merged, said = dict(best), {}, []
    for (a, ma), (b, mb) in zip(order, order[1:]):
        x, y = _metric(best.get(ma)), _metric(best.get(mb))
        if x is not None and y is not None and x <= y:
            merged[ma] = best.pop(ma)
            said.append(f"{a} {x:.1f} <= {b} {y:.1f} GB/s")
    if not said:
        return best, merged, None
    note = (
        f"cache levels merged, their probes contradict each other ({'; '.join(said)}): a cache "
        "smaller than reported, or a busy machine; cells there are held to the next level's figure"
    )
    return best, merged, note


def _metric(entry):
    """A metric entry as a positive finite number, or None (notes and junk are not metrics)."""
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _why_not(name, device, facts):
    manifest = impls.manifest(name)
    if device not in manifest.devices:
        return f"{name} does not run on {device}"
    if not impls.adapter_defines(name, "peaks"):  # known without starting (and importing) the framework
        return f"the {name} adapter has no peaks() probe"
    if not facts.get("installed"):
        return facts.get("reason") or f"{name} is not installed"
    return (facts.get("devices") or {}).get(device)


def busy_note(measured):
    """A warning when other work shared the CPU while the probes ran (harness.contention's
    figures for that stretch): ceilings measured then come out low (a parallel GEMM waits
    for its slowest thread), and % of peak high."""
    if not measured or not measured["contended"]:
        return None
    steal = f", steal {measured['steal']:.0%}" if measured.get("steal") else ""
    return (
        f"machine busy while measuring (other processes used {measured['other_cpu']:.2f} cores{steal}): "
        f"peaks may read low"
    )


def _probe(device, impl_names, facts, threads, seconds, workdir, side, sets, timeout, quiet_wait):
    """One probe: each implementation's peaks() in its own worker, each started once the
    machine is quiet (at most `quiet_wait` seconds of waiting in all). A dict for
    machine.json: measured, by_impl, contention, quiet_wait."""
    meter = contention.ParentMeter()
    by_impl, waits, deadline = {}, [], time.monotonic() + quiet_wait
    for name in impl_names:
        why = _why_not(name, device, facts.get(name, {}))
        if why:
            by_impl[name] = {"unsupported": why}
            continue
        waits.append(contention.wait_quiet(max(deadline - time.monotonic(), 0.0)))
        manifest = impls.manifest(name)
        python, _ = side.interpreter(manifest)
        spec = {
            "impl": name,
            "peaks": True,
            "device": device,
            "threads": threads,
            "seconds": seconds,
            "working_sets": sets,
        }
        with meter:
            res = run_worker(
                python, spec, worker_env(threads, manifest, side.repo_root), timeout, workdir, side.repo_root
            )
        if res.get("status") == "ok" and isinstance(res.get("peaks"), dict):
            by_impl[name] = res["peaks"]
        else:
            by_impl[name] = {res.get("status") or "error": res.get("reason") or "no result"}
    return {
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "by_impl": by_impl,
        "contention": meter.result(),
        "quiet_wait": contention.combine_waits(waits),
    }


def _best(probes):
    """{metric: {"value", "impl", "how"[, "working_set_bytes"]}}: the best of every probe."""
    best = {}
    for probe in probes:
        for name, entries in probe["by_impl"].items():
            for metric, entry in entries.items():
                value = _metric(entry)
                if value is not None and value > best.get(metric, {}).get("value", 0):
                    best[metric] = {"value": value, "impl": name, "how": entry.get("how", "")}
                    if isinstance(entry.get("working_set_bytes"), int):
                        best[metric]["working_set_bytes"] = entry["working_set_bytes"]
    return best


def _settle(entry):
    """best, merged levels and the warning, from the entry's first probe and its re-probes."""
    first = {k: entry[k] for k in ("measured", "by_impl", "contention") if k in entry}
    probes = [first, *entry.get("reprobes", [])]
    entry["best"], merged, level_note = merge_levels(_best(probes))
    entry.pop("merged", None)
    if merged:
        entry["merged"] = merged
    # a busy probe reads low; once any probe was quiet, the best is that one's or higher
    busy = [p["contention"] for p in probes if p.get("contention") and p["contention"]["contended"]]
    busy_warning = busy_note(busy[-1]) if busy and len(busy) == len(probes) else None
    warning = "; ".join(w for w in (busy_warning, level_note) if w)
    entry.pop("warning", None)
    if warning:
        entry["warning"] = warning
    return entry


def measure_device(
    device, impl_names, facts, threads, seconds, workdir, side=None, timeout=300, sets=None, quiet_wait=None
):
    """One device's ceilings; `sets` (working_sets()) gives the bandwidth levels, None one copy."""
    side = side or Side()
    quiet_wait = _default_quiet_wait() if quiet_wait is None else quiet_wait
    probe = _probe(device, impl_names, facts, threads, seconds, workdir, side, sets, timeout, quiet_wait)
    entry = {"threads": threads, "seconds": seconds, **probe}
    if sets:
        entry["working_sets"] = sets
    return _settle(entry)


def reprobe(entry, why, device, impl_names, facts, workdir, side=None, timeout=300, quiet_wait=None):
    """Probe `entry`'s device again with `impl_names` (another process, later in the run),
    keep that probe under "reprobes" with `why`, and take the best of all probes."""
    side = side or Side()
    quiet_wait = _default_quiet_wait() if quiet_wait is None else quiet_wait
    sets = entry.get("working_sets")
    probe = _probe(
        device, impl_names, facts, entry["threads"], entry["seconds"], workdir, side, sets, timeout, quiet_wait
    )
    entry.setdefault("reprobes", []).append({"why": why, **probe})
    return _settle(entry)


def invalidate(entry, metric, hits):
    """Mark a ceiling that validated cells still beat beyond their noise, after probing
    again, invalid for the run: reports show no % of it, and say why once. hits:
    [{"cell", "impl", "pct"}] (reports.ceiling_check.beaten)."""
    worst = max(hits, key=lambda h: h["pct"])
    more = f" and {len(hits) - 1} more" if len(hits) > 1 else ""
    entry.setdefault("invalid", {})[metric] = (
        f"validated cells beat it beyond their noise after it was probed again ({worst['cell']}: "
        f"{worst['pct']:.0f}%{more})"
    )


def measure_ceilings(devices, impl_names, facts, threads, seconds, workdir, side=None, machine=None, quiet_wait=None):
    """Every device's ceilings; the CPU's bandwidth at the levels of `machine`'s caches.
    facts: harness.machine_record.framework_facts() of impl_names."""
    machine = machine or {}
    cpu_sets = working_sets(machine.get("caches"), threads, machine.get("memory_bytes"))
    return {
        d: measure_device(
            d,
            impl_names,
            facts,
            threads,
            seconds,
            workdir,
            side,
            sets=cpu_sets if d == "cpu" else None,
            quiet_wait=quiet_wait,
        )
        for d in devices
    }


def usable_devices(impl_names, facts):
    """cpu, and any other device at least one installed implementation can use."""
    devices = ["cpu"]
    for name in impl_names:
        known = facts.get(name, {})
        if known.get("installed"):
            devices += [d for d, why in (known.get("devices") or {}).items() if not why and d not in devices]
    return devices


def size_text(n):
    return f"{n / (1 << 20):.4g} MiB" if isinstance(n, int) else "?"


def ceiling_lines(peaks):
    """Lines for the terminal: each device's ceilings and who reached them, bandwidth
    with the working set it was measured at."""
    lines = []
    for device, entry in peaks.items():
        lines.append(f"{device} ({entry.get('threads')} threads):")
        if entry.get("warning"):
            lines.append(f"  WARNING: {entry['warning']}")
        best = entry.get("best", {})
        extra = {m: (m.replace("_", " "), "") for m in best if m not in METRICS}
        for metric, (_, unit) in {**METRICS, **extra}.items():
            if metric in LEVEL_METRICS and metric not in best and not has_levels(entry):
                continue  # measured at one size only (another device, or before levels)
            what = metric_name(metric, has_levels(entry))
            b = best.get(metric)
            merged = (entry.get("merged") or {}).get(metric)
            if not b and not merged:
                lines.append(f"  {what:<17} {'-':>10} {unit:<8} no implementation measured it")
                continue
            b = b or merged
            where = f" ({size_text(b['working_set_bytes'])} working set)" if "working_set_bytes" in b else ""
            who = "merged into the next level (WARNING above); " if merged else ""
            lines.append(f"  {what:<17} {b['value']:10.1f} {unit:<8}{where} {who}{b['impl']}: {b.get('how', '')}")
        for name, entries in entry.get("by_impl", {}).items():
            for key in ("unsupported", "error", "timeout"):
                if key in entries:
                    lines.append(f"  ({name}: {key}: {entries[key]})")
    return lines
