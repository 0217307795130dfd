"""The machine's practical ceilings (`dlbench machine`), per device, for machine.json.

Each implementation with a `peaks()` probe measures them inside its own worker (its own
interpreter: the parent imports no framework); the machine's ceiling for a metric is
the best any of them reached. Stored as

    "peaks": {"cpu": {"threads": 2, "seconds": 0.4, "measured": "...",
                      "best": {"fp32_gemm_gflops": {"value": 91.0, "impl": "torch", "how": "..."}, ...},
                      "by_impl": {"reference": {"fp32_gemm_gflops": {...}, ...},
                                  "mxnet": {"unsupported": "the mxnet adapter has no peaks() probe"}}},
              "cuda": {...}}
"""
from __future__ import annotations

import math
import os
from datetime import datetime, timezone

import impls
from harness.runner import Side, spawn, worker_env

METRICS = {  # metric -> (what it is, unit)
    "fp32_gemm_gflops": ("fp32 GEMM", "GFLOP/s"),
    "int8_gemm_gops": ("int8 GEMM", "GOP/s"),
    "memory_gbs": ("memory bandwidth", "GB/s"),
}
DEFAULT_SECONDS = 0.25  # per metric and implementation: a few seconds in all


def _metric(entry):
    """A metric entry as a positive finite number, or None (notes and junk are not metrics)."""
    value = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _why_not(name, device, probe):
    manifest = impls.manifest(name)
    if device not in manifest.DEVICES:
        return f"{name} does not run on {device}"
    if not impls.adapter_defines(name, "peaks"):  # known without starting (and importing) the framework
        return f"the {name} adapter has no peaks() probe"
    if not probe.get("installed"):
        return probe.get("reason") or f"{name} is not installed"
    return (probe.get("devices") or {}).get(device)


def busy_note():
    """A warning when other work shares the CPU: ceilings measured then come out low
    (a parallel GEMM waits for its slowest thread), and % of peak high."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load > 0.5 * cores:
        return f"machine busy while measuring (load average {load:.1f} on {cores} cores): peaks may read low"
    return None


def measure_device(device, impl_names, probes, threads, seconds, workdir, side=None, timeout=300):
    side = side or Side()
    busy = busy_note()
    by_impl = {}
    for name in impl_names:
        why = _why_not(name, device, probes.get(name, {}))
        if why:
            by_impl[name] = {"unsupported": why}
            continue
        manifest = impls.manifest(name)
        python, _ = side.interpreter(manifest)
        spec = {"impl": name, "peaks": True, "device": device, "threads": threads, "seconds": seconds}
        res = spawn(python, spec, worker_env(threads, manifest, side.repo_root), timeout, workdir, side.repo_root)
        if res.get("status") == "ok" and isinstance(res.get("peaks"), dict):
            by_impl[name] = res["peaks"]
        else:
            by_impl[name] = {res.get("status") or "error": res.get("reason") or "no result"}
    best = {}
    for name, entries in by_impl.items():
        for metric, entry in entries.items():
            value = _metric(entry)
            if value is not None and value > best.get(metric, {}).get("value", 0):
                best[metric] = {"value": value, "impl": name, "how": entry.get("how", "")}
    entry = {"threads": threads, "seconds": seconds,
             "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"), "best": best, "by_impl": by_impl}
    if busy:
        entry["warning"] = busy
    return entry


def measure(devices, impl_names, probes, threads, seconds, workdir, side=None):
    return {d: measure_device(d, impl_names, probes, threads, seconds, workdir, side) for d in devices}


def usable_devices(impl_names, probes):
    """cpu, and any other device at least one installed implementation can use."""
    devices = ["cpu"]
    for name in impl_names:
        probe = probes.get(name, {})
        if probe.get("installed"):
            devices += [d for d, why in (probe.get("devices") or {}).items() if not why and d not in devices]
    return devices


def describe(peaks):
    """Lines for the terminal: each device's ceilings and who reached them."""
    lines = []
    for device, entry in peaks.items():
        lines.append(f"{device} ({entry.get('threads')} threads):")
        if entry.get("warning"):
            lines.append(f"  WARNING: {entry['warning']}")
        extra = {m: (m.replace("_", " "), "") for m in entry.get("best", {}) if m not in METRICS}
        for metric, (what, unit) in {**METRICS, **extra}.items():
            b = entry.get("best", {}).get(metric)
            if b:
                lines.append(f"  {what:<17} {b['value']:10.1f} {unit:<8} {b['impl']}: {b.get('how', '')}")
            else:
                lines.append(f"  {what:<17} {'-':>10} {unit:<8} no implementation measured it")
        for name, entries in entry.get("by_impl", {}).items():
            for key in ("unsupported", "error", "timeout"):
                if key in entries:
                    lines.append(f"  ({name}: {key}: {entries[key]})")
    return lines
