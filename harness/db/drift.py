"""Has the machine under a name changed? Each run's fingerprint and measured peaks against
the same machine name's earlier runs.

- Fingerprint: CPU model, logical and physical cores, memory, GPUs. A run whose fingerprint
  differs from the run before it is flagged (the hardware under the name changed: results
  across that run are not comparable).
- Peaks (machine.json's `peaks`, per device the best of each ceiling): once at least
  MIN_EARLIER earlier runs measured a ceiling, a run whose value falls outside their range
  widened by TOLERANCE of their median is flagged. The range, not a standard deviation: a
  handful of runs gives no stable one, and the range already holds the machine's own
  run-to-run spread (25% between modes on a noisy VM). Peaks are compared only between runs
  that measured them on as many threads (a 1-thread peak is not a drop from a 2-thread one).
- machine_id is not compared: it hashes the hostname, which a CI host changes every job
  (issue 16); the hardware fields above are what makes results comparable.
"""

from __future__ import annotations

import statistics

MIN_EARLIER = 3
TOLERANCE = 0.10


def fingerprint(machine):
    cpu = machine.get("cpu") or {}
    gpus = machine.get("gpus") or []
    return {
        "CPU": cpu.get("model") if isinstance(cpu, dict) else cpu,
        "logical cores": machine.get("cores_logical"),
        "physical cores": machine.get("cores_physical"),
        "memory (GiB)": round(machine["memory_bytes"] / 2**30, 1) if machine.get("memory_bytes") else None,
        "GPUs": ", ".join(sorted(str(g.get("name", g)) if isinstance(g, dict) else str(g) for g in gpus)) or None,
    }


def peaks(machine):
    """{(device, ceiling, threads): value} of a machine.json."""
    out = {}
    for device, entry in (machine.get("peaks") or {}).items():
        for what, best in (entry.get("best") or {}).items():
            value = best.get("value") if isinstance(best, dict) else None
            if isinstance(value, (int, float)) and value > 0:
                out[(device, what, entry.get("threads"))] = float(value)
    return out


def run_warnings(runs):
    """{run_id: [warning, ...]} for the runs (RunInfo, oldest first) of one machine name."""
    warnings = {}
    previous = None
    seen = {}  # (device, ceiling, threads) -> earlier values
    for run in runs:
        notes = []
        if not run.machine:
            continue
        now = fingerprint(run.machine)
        if previous is not None:
            changed = [f"{k} {previous[k]} -> {now[k]}" for k in now if previous[k] != now[k]]
            if changed:
                notes.append("fingerprint changed: " + "; ".join(changed))
        previous = now
        for key, value in peaks(run.machine).items():
            earlier = seen.setdefault(key, [])
            if len(earlier) >= MIN_EARLIER:
                slack = TOLERANCE * statistics.median(earlier)
                lo, hi = min(earlier) - slack, max(earlier) + slack
                if not lo <= value <= hi:
                    notes.append(
                        f"{key[0]} {key[1]} {value:.4g}, outside the earlier runs' "
                        f"{min(earlier):.4g}-{max(earlier):.4g} (\u00b1{TOLERANCE:.0%})"
                    )
            earlier.append(value)
        if notes:
            warnings[run.run_id] = notes
    return warnings
