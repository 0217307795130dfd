"""The CPU's cache sizes (for machine.json) and what of them a number of threads can use.

Read from sysfs (/sys/devices/system/cpu/cpuN/cache/indexK), with py-cpuinfo's totals
(via the fingerprint) as the fallback. Stored as

    "caches": {"L1d": 49152, "L2": 2097152, "L3": 503316480,   # bytes, one instance each
               "L2_per_core": true, "L3_instances": 1, "source": "sysfs"}

Parent side (reports and `dlbench machine`); the worker never needs it.
"""

from __future__ import annotations

import os

SYSFS = "/sys/devices/system/cpu"
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text):
    """'48K', '2048 KB', '1M', 4194304 -> bytes; None when it is not a size."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return int(text) if text > 0 else None
    s = str(text or "").strip().upper().replace("IB", "").replace("B", "").replace(" ", "")
    if not s:
        return None
    scale = _UNITS.get(s[-1], 1)
    digits = s[:-1] if s[-1] in _UNITS else s
    try:
        value = int(float(digits) * scale)
    except ValueError:
        return None
    return value if value > 0 else None


def parse_cpu_list(text):
    """'0-3,8,10-11' -> {0, 1, 2, 3, 8, 10, 11}."""
    cpus = set()
    for part in (text or "").strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


def _read(path):
    with open(path) as f:
        return f.read().strip()


def _cpu_caches(root, cpu):
    """{(level, type): (size, shared cpus)} of one CPU's caches in sysfs."""
    base = os.path.join(root, f"cpu{cpu}", "cache")
    found = {}
    for name in sorted(os.listdir(base)):
        if not name.startswith("index"):
            continue
        d = os.path.join(base, name)
        try:
            level, kind = int(_read(os.path.join(d, "level"))), _read(os.path.join(d, "type"))
            size = parse_size(_read(os.path.join(d, "size")))
            shared = parse_cpu_list(_read(os.path.join(d, "shared_cpu_list")))
        except (OSError, ValueError):
            continue
        if size:
            found[(level, kind)] = (size, shared)
    return found


def read_sysfs(root=SYSFS, cpus=None):
    """The caches sysfs reports for cpu0 (and the L3 instances the usable CPUs span),
    or None where there is no such tree."""
    if cpus is None:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else {0}
    try:
        own = _cpu_caches(root, 0)
    except OSError:
        return None
    caches = {}
    if (1, "Data") in own:
        caches["L1d"] = own[(1, "Data")][0]
    l2 = own.get((2, "Unified")) or own.get((2, "Data"))
    if l2:
        try:
            core = parse_cpu_list(_read(os.path.join(root, "cpu0", "topology", "thread_siblings_list")))
        except OSError:
            core = {0}
        caches["L2"] = l2[0]
        caches["L2_per_core"] = l2[1] <= (core | {0})  # shared only by the core's own hardware threads
    if (3, "Unified") in own:
        caches["L3"] = own[(3, "Unified")][0]
        instances = set()
        for cpu in sorted(cpus):
            try:
                l3 = _cpu_caches(root, cpu).get((3, "Unified"))
            except OSError:
                continue
            if l3:
                instances.add(frozenset(l3[1]))
        caches["L3_instances"] = max(1, len(instances))
    if not caches:
        return None
    caches["source"] = "sysfs"
    return caches


def from_cpuinfo(cpu, physical_cores):
    """py-cpuinfo's figures (the fingerprint's `cpu` entry): totals over all instances,
    so L2 is shared out per physical core and L3 counts as one instance."""
    l2, l3 = parse_size((cpu or {}).get("l2_cache")), parse_size((cpu or {}).get("l3_cache"))
    caches = {}
    if l2:
        caches.update(L2=l2 // max(1, physical_cores or 1), L2_per_core=True)
    if l3:
        caches.update(L3=l3, L3_instances=1)
    if caches:
        caches["source"] = "py-cpuinfo"
    return caches or None


def collect(cpu, physical_cores, root=SYSFS):
    """sysfs where it has the sizes, else py-cpuinfo, else {} (then bandwidth is DRAM only)."""
    return read_sysfs(root) or from_cpuinfo(cpu, physical_cores) or {}


def capacities(caches, threads):
    """{"L2": bytes, "L3": bytes} the given number of threads can hold (absent: unknown).

    L2 counts one per thread when each core has its own; L3 counts its instances, as
    many as the threads can spread over."""
    caches = caches if isinstance(caches, dict) else {}
    try:
        threads = max(1, int(threads))
    except (TypeError, ValueError, OverflowError):  # unknown: one thread's share, the safe side
        threads = 1
    out = {}
    l2, l3 = parse_size(caches.get("L2")), parse_size(caches.get("L3"))
    if l2:
        out["L2"] = l2 * threads if caches.get("L2_per_core") else l2
    if l3:
        instances = caches.get("L3_instances")
        instances = instances if isinstance(instances, int) and instances > 0 else 1
        out["L3"] = l3 * min(instances, threads)
    return out
