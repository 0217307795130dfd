"""What else the machine did while a cell was timed: other processes' CPU, steal, load.

A busy neighbour makes a cell slow without making its samples spread: a parallel
kernel waits for its slowest thread every call, so the whole cell shifts (34x for a
2-thread sigmoid beside a compile job, with a 3% IQR). The samples cannot tell; the
kernel's counters can. From /proc/stat (system-wide CPU time) minus this process's
own and its parent's (the harness and its progress display), over the timed stretches
only, comes the CPU that other processes used while we timed.

Standard library only: it runs inside every worker, under any implementation's NumPy.
"""

from __future__ import annotations

import math
import os
import resource
import time

# Other processes using more than this many cores on average while we timed, or the
# hypervisor stealing more than this share of the CPU, make a cell `contended`.
# A quiet 2-core VM here reads 0.00-0.05 cores (kernel threads, the odd daemon wake-up),
# and /proc/stat counts in 10 ms ticks, so a 0.5 s window is good to about +-0.04 cores
# per core; a quarter of a core is well clear of both and well below what hurts (a
# second busy process is a whole core).
OTHER_CPU_THRESHOLD = 0.25
STEAL_THRESHOLD = 0.05

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def system_times():
    """(busy, steal, total) CPU seconds of the whole machine since boot, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    v = [int(x) for x in fields[1:9]] + [0] * max(0, 9 - len(fields))
    user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
    busy = user + nice + system + irq + softirq  # guest time is already inside user
    return busy / _TICK, steal / _TICK, (busy + idle + iowait + steal) / _TICK


def process_cpu(pid):
    """CPU seconds (user + system, all threads) used by process `pid` so far, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    after_name = text.rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses
    return (int(after_name[11]) + int(after_name[12])) / _TICK


def descendants(pid):
    """Every process below `pid` alive now: its children, theirs, and so on."""
    found, todo = set(), [pid]
    while todo:
        new = children(todo.pop()) - found
        found |= new
        todo += new
    return found


def children(pid):
    """The pids of the processes `pid` started that are alive now (every thread's list)."""
    found = set()
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.update(int(c) for c in f.read().split())
        except (OSError, ValueError):
            pass
    return found


def load1():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


class Meter:
    """Accumulates what others used over the stretches it is wrapped around.

    `with meter:` around each timed stretch (all samples at once, or each lockstep turn):
    what happens between stretches (the other side's turn, our own set-up) is not counted.
    `own_pids`: processes whose CPU is ours (this worker, the harness that runs it).
    """

    def __init__(self, own_pids=None):
        self.own_pids = list(own_pids) if own_pids is not None else [os.getpid(), os.getppid()]
        self.wall = self.other = self.steal = self.total = 0.0
        self.stretches = 0
        self.available = system_times() is not None
        self._start = None

    def _read(self):
        return time.perf_counter(), system_times(), {p: process_cpu(p) for p in self.own_pids}

    @staticmethod
    def _own_used(before, after):
        """Our processes' CPU between two readings. A process that ended in between (a
        data-parallel cell's other rank, done first) counts as having used nothing more:
        read as 0 CPU at the end, it would count its whole lifetime as someone else's
        (0.6 cores over a tiny all-reduce cell, seen in CI)."""
        return sum(after[p] - before[p] for p in before if before[p] is not None and after.get(p) is not None)

    def __enter__(self):
        if self.available:
            self._start = self._read()
        return self

    def __exit__(self, *exc):
        if self._start is None:
            return False
        (t0, sys0, own0), (t1, sys1, own1) = self._start, self._read()
        self._start = None
        if sys0 is None or sys1 is None:
            return False
        self.wall += t1 - t0
        # not clamped at 0 here: one short stretch reads a tick high or low, and clamping
        # each would add up to a bias over the hundreds of stretches of a lockstep run
        self.other += (sys1[0] - sys0[0]) - self._own_used(own0, own1)
        self.steal += sys1[1] - sys0[1]
        self.total += sys1[2] - sys0[2]
        self.stretches += 1
        return False

    def result(self):
        """The record's `contention` figures for this process, or None where /proc is missing."""
        if not self.available or self.wall <= 0:
            return None
        return summary(
            max(0.0, self.other) / self.wall,
            self.steal / self.total if self.total > 0 else None,
            load1(),
            self.wall,
            self.stretches,
            self.total,
        )


class ParentMeter(Meter):
    """The harness measuring through workers it starts and waits for (`dlbench machine`):
    ours is this process and its finished children (the kernel's account of them)."""

    def __init__(self):
        super().__init__(own_pids=[os.getpid()])

    def _read(self):
        t, system, own = super()._read()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return t, system, {**own, "finished children": kids.ru_utime + kids.ru_stime}


def tick_margin(stretches, cpus=None):
    """CPU seconds the counters may be off by over `stretches` wrapped stretches: each
    reading of /proc/stat is whole ticks on every CPU, our own time whole ticks too, so a
    stretch is off by up to (CPUs + 1) ticks, and independent stretches add up like
    random errors. Figures within it prove nothing either way."""
    cpus = cpus or os.cpu_count() or 1
    return (cpus + 1) / _TICK * math.sqrt(max(1, stretches))


def summary(other_cpu, steal, load, window_s, stretches=1, cpu_s=None):
    """The figures, and `contended`: other processes' CPU (or the steal) past its threshold
    by more than the counters' resolution over this window (tick_margin)."""
    margin = tick_margin(stretches)
    cpu_s = cpu_s if cpu_s else window_s * (os.cpu_count() or 1)
    contended = other_cpu * window_s - margin > OTHER_CPU_THRESHOLD * window_s or (
        steal is not None and steal * cpu_s - margin > STEAL_THRESHOLD * cpu_s
    )
    return {
        "other_cpu": round(other_cpu, 3),
        "steal": None if steal is None else round(steal, 4),
        "load1": load,
        "window_s": round(window_s, 3),
        "stretches": stretches,
        "cpu_s": round(cpu_s, 3),
        "margin_cores": round(margin / window_s, 3) if window_s > 0 else None,
        "threshold": OTHER_CPU_THRESHOLD,
        "steal_threshold": STEAL_THRESHOLD,
        "contended": contended,
    }


def combine(per_process):
    """A cell's contention over its worker processes: the CPU others used over all their
    timed windows together (a short window alone is a few 10 ms ticks: too coarse to
    judge), the steal over that window, the worst load; contended as one. The
    per-process entries keep their figures, not a verdict of their own."""
    measured = [c for c in per_process if c]
    if not measured:
        return None
    window = sum(c["window_s"] for c in measured)
    other = sum(c["other_cpu"] * c["window_s"] for c in measured) / window if window else 0.0
    cpu_s = sum(c.get("cpu_s") or c["window_s"] * (os.cpu_count() or 1) for c in measured)
    steals = [(c["steal"], c.get("cpu_s") or c["window_s"]) for c in measured if c["steal"] is not None]
    steal = sum(v * w for v, w in steals) / sum(w for _, w in steals) if steals else None
    loads = [c["load1"] for c in measured if c["load1"] is not None]
    out = summary(
        other, steal, max(loads) if loads else None, window, sum(c.get("stretches", 1) for c in measured), cpu_s
    )
    out["processes"] = [{k: v for k, v in c.items() if k != "contended"} for c in measured]
    return out


def other_cpu_now(seconds=0.5, own_pids=None):
    """Cores other processes use right now, over `seconds` (the parent waiting for quiet)."""
    meter = Meter(own_pids if own_pids is not None else [os.getpid()])
    if not meter.available:
        return None
    with meter:
        time.sleep(seconds)
    return meter.other / meter.wall if meter.wall > 0 else None


def wait_quiet(limit, step=0.5):
    """Wait up to `limit` seconds for other processes to use less than the contention
    threshold, measured over `step`-second windows: {"waited_s", "gave_up", "other_cpu"},
    or None when there is nothing to wait for (no limit, or no way to measure)."""
    if not limit:
        return None
    start = time.monotonic()
    while True:
        other = other_cpu_now(step)
        waited = time.monotonic() - start
        if other is None or other <= OTHER_CPU_THRESHOLD:
            return {"waited_s": round(waited, 1), "gave_up": False, "other_cpu": other}
        if waited >= limit:
            return {"waited_s": round(waited, 1), "gave_up": True, "other_cpu": round(other, 3)}


def combine_waits(waits):
    """Several waits (wait_quiet's, None for none) as one: seconds waited in all, gave up
    on any, the last one's reading; None when there was none."""
    waits = [w for w in waits if w]
    if not waits:
        return None
    return {
        "waited_s": round(sum(w["waited_s"] for w in waits), 1),
        "gave_up": any(w["gave_up"] for w in waits),
        "other_cpu": waits[-1]["other_cpu"],
    }
