"""Memory containment: a worker that grows past --memory-limit is stopped, not the machine.

Not an address-space limit (RLIMIT_AS): TensorFlow and CUDA reserve far more virtual
memory than they ever touch. Instead the parent, while it waits for a worker, polls the
resident memory of the worker's whole process group (the worker is a session leader,
so its children are in the group) and kills the group past the limit. The worker also
volunteers for the kernel's OOM killer (oom_score_adj 1000, set in harness.worker), so
if the machine runs out first, it is the worker that dies, never the parent.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

POLL_S = 0.025  # a worker touching memory at ~10 GB/s grows ~250 MB between polls
RESCAN_EVERY = 10  # polls between scans for the group's children (a /proc scan costs ~1 ms)
NEAR = 0.9  # a SIGKILL nobody here sent, at this fraction of the limit, was the kernel's OOM killer
LOW_AVAILABLE = 0.03  # ... or with this fraction of the machine's memory left available
MIN_LIMIT = 64 << 20  # below this a Python worker cannot even import NumPy
# 75% of the machine: the parent (pandas, the report) and the rest of the system keep a
# quarter, so the limit stops a runaway worker before the kernel has to pick a victim.
DEFAULT_LIMIT = "75%"

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "m": 1 << 20,
    "mib": 1 << 20,
    "g": 1 << 30,
    "gib": 1 << 30,
    "t": 1 << 40,
    "tib": 1 << 40,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
}
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def parse_limit(text, total=None):
    """'512M', '4G', '1.5GiB' (K/M/G/T are powers of 1024, KB/MB/GB of 1000), '75%' (of
    the machine's memory) or 'none' -> bytes, or None for no limit. ValueError, with a
    message fit for one line, otherwise."""
    value = text.strip().lower()
    if value in ("none", "off", "unlimited"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*(%|[a-z]*)", value)
    if not match or match.group(2) not in _UNITS and match.group(2) != "%":
        raise ValueError(f"{text!r} is not a memory size like 512M, 4G, 1.5GiB, 75% or none")
    number, unit = float(match.group(1)), match.group(2)
    if unit == "%":
        if not 0 < number <= 100:
            raise ValueError(f"{text!r}: a percentage of the machine's memory must be above 0 and at most 100")
        nbytes = int(number / 100 * (total or total_memory()))
    else:
        nbytes = int(number * _UNITS[unit])
    if nbytes < MIN_LIMIT:
        raise ValueError(f"{text!r} is {bytes_text(nbytes)}, below {bytes_text(MIN_LIMIT)}: too little for any worker")
    return nbytes


def bytes_text(nbytes):
    """'300 MiB', '1.5 GiB'."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{nbytes} B"


def total_memory():
    """The memory this process may use: the machine's, or its cgroup's limit when lower."""
    total = _meminfo("MemTotal") or 0
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                limit = int(f.read().strip())
        except (OSError, ValueError):  # absent, or "max"
            continue
        if 0 < limit < total:
            total = limit
    if not total:  # no /proc: not Linux
        import psutil

        total = psutil.virtual_memory().total
    return total


class MemoryGuard:
    """Watches one worker's process group: kills it past the limit, and tells afterwards
    whether it died for memory."""

    def __init__(self, pid, limit):
        self.pgid, self.limit = pid, limit
        self.members = {pid}
        self.polls = 0
        self.last_rss = 0
        self.peak_rss = 0
        self.killed_at = None  # the resident bytes that made us kill it
        self.low_available = False
        self._oom_kills = _oom_kill_count()

    def check(self):
        """One poll; True when the group was over the limit and has been killed."""
        if self.polls % RESCAN_EVERY == 0:
            self.members = _group_members(self.pgid) | {self.pgid}
            available, total = _meminfo("MemAvailable"), _meminfo("MemTotal")
            self.low_available = bool(available is not None and total and available < LOW_AVAILABLE * total)
        self.polls += 1
        rss = sum(_rss(pid) for pid in self.members)
        self.last_rss, self.peak_rss = rss, max(self.peak_rss, rss)
        if self.limit is not None and rss > self.limit and self.killed_at is None:
            self.killed_at = rss
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return True
        return False

    def reason(self, returncode, stage):
        """Why the worker ended, when memory is why; else None."""
        where = f"during {stage or 'start-up'}"
        if self.killed_at is not None:
            return (
                f"out of memory, limit {bytes_text(self.limit)}: the worker reached {bytes_text(self.killed_at)} "
                f"{where} and was stopped"
            )
        if returncode != -signal.SIGKILL:
            return None
        near = self.limit is not None and self.last_rss >= NEAR * self.limit
        if near or self.low_available or _oom_kill_count() > self._oom_kills:
            limit = f", limit {bytes_text(self.limit)}" if self.limit is not None else ""
            return (
                f"out of memory (killed by the kernel) {where}; last seen at {bytes_text(self.last_rss)} "
                f"resident{limit}"
            )
        return None


def wait(proc, guard, timeout=None, done=None):
    """proc.wait(timeout), polling the guard meanwhile; the return code (the group is
    killed by the guard past its limit). subprocess.TimeoutExpired as proc.wait raises it.
    done: a check that ends the wait early, with None, while the process lives on (a
    serving worker's result file appearing)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if done is not None and done():
            return None
        code = proc.poll()
        if code is not None:
            return code
        if guard.check():
            return proc.wait()
        if deadline is not None and time.monotonic() >= deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(POLL_S if deadline is None else max(0.0, min(POLL_S, deadline - time.monotonic())))


def _rss(pid):
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _group_members(pgid):
    members = set()
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return members
    for pid in pids:
        try:
            if os.getpgid(pid) == pgid:
                members.add(pid)
        except OSError:
            pass
    return members


def _meminfo(field):
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _oom_kill_count():
    """The kernel's count of OOM kills since boot (Linux 4.13+), or 0."""
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
