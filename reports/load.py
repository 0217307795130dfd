"""Results directories -> one pandas DataFrame, one row per cell, samples kept.

Each directory is a *source*: one machine at one time. Rows carry the source's label,
its machine id and the machine's measured peaks for the cell's device, so tables and
charts never need machine.json again. Anything unreadable stops here with one line
that names the file and the line (harness.results reads and checks each record,
records.read), except a torn last line (a crash cut it mid-write): that one is skipped,
and its source carries the warning for the caller to print.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pandas as pd

from harness.caches import capacities
from harness.errors import DlbenchError
from harness.results import MACHINE, RESULTS, ResultsError, read_machine, read_results

PEAK_COLUMNS = {
    "fp32_gemm_gflops": "peak_fp32_gflops",
    "int8_gemm_gops": "peak_int8_gops",
    "memory_gbs": "peak_memory_gbs",  # DRAM (the only bandwidth of an older machine.json)
    "memory_gbs_l2": "peak_l2_gbs",
    "memory_gbs_l3": "peak_l3_gbs",
}


class LoadError(DlbenchError, ValueError):
    """Nothing loadable, or a corrupt file: the message names the file and line."""


def _read_dir(d):
    if not os.path.exists(d):
        raise LoadError(f"{d}: no such results directory")
    if not os.path.isdir(d):
        raise LoadError(f"{d}: not a results directory (give the directory that holds {RESULTS})")
    if not os.path.exists(os.path.join(d, RESULTS)):
        raise LoadError(f"{d}: no {RESULTS} here")
    try:
        contents = read_results(d)
        machine = read_machine(d) or {}
    except ResultsError as exc:
        raise LoadError(str(exc)) from None
    except OSError as exc:
        raise LoadError(f"{os.path.join(d, RESULTS)}: cannot read ({exc.strerror or exc})") from None
    numbered = contents.numbered
    if not numbered:
        raise LoadError(f"{os.path.join(d, RESULTS)}: empty, no results to report")
    if "machine_id" in machine and not isinstance(machine.get("peaks", {}), dict):
        raise LoadError(f"{os.path.join(d, MACHINE)}: 'peaks' is not an object")
    warnings = (contents.torn.warning,) if contents.torn else ()
    return [rec for _, rec in numbered], machine, warnings


def machine_label(machine, d):
    """The name the user gave the machine (`dlbench run --machine`), else its host, else its id."""
    return (
        machine.get("machine_name")
        or machine.get("hostname")
        or machine.get("machine_id")
        or os.path.basename(os.path.normpath(d))
    )


def source_labels(dirs, machines):
    """A short, unique name per directory: the host, plus the directory where one host
    appears twice (one machine at several versions), plus the id where hosts collide."""
    names = [machine_label(m, d) for d, m in zip(dirs, machines)]
    ids = [m.get("machine_id") for m in machines]
    labels = list(names)
    for i, label in enumerate(names):
        same_label = [j for j, other in enumerate(names) if other == label]
        if len(same_label) > 1 and len({ids[j] for j in same_label}) > 1 and ids[i]:
            labels[i] = f"{label} [{ids[i][:6]}]"
    before = list(labels)
    labels = [
        f"{label} ({os.path.basename(os.path.normpath(d))})" if before.count(label) > 1 else label
        for label, d in zip(before, dirs)
    ]
    before = list(labels)
    return [f"{label} #{i + 1}" if before.count(label) > 1 else label for i, label in enumerate(before)]


def device_peaks(machine, device, threads=None):
    """{column: value} of the peaks machine.json holds for one device (missing: NaN), the
    columns of those `dlbench run` marked invalid (invalid_peaks, comma-separated), and
    on the CPU what L2 and L3 hold for a cell on `threads` threads (capacity_l2_bytes,
    capacity_l3_bytes: the cache level its working set fits in picks its bandwidth)."""
    entry = (machine.get("peaks") or {}).get(device) or {}
    best = entry.get("best") if isinstance(entry, dict) else None
    out = {}
    for metric, column in PEAK_COLUMNS.items():
        value = (best or {}).get(metric, {}).get("value") if isinstance((best or {}).get(metric), dict) else None
        out[column] = float(value) if isinstance(value, (int, float)) and value > 0 else math.nan
    out["peak_threads"] = entry.get("threads") if isinstance(entry, dict) else None
    invalid = (entry.get("invalid") if isinstance(entry, dict) else None) or {}
    out["invalid_peaks"] = ",".join(PEAK_COLUMNS[m] for m in sorted(invalid) if m in PEAK_COLUMNS)
    caps = capacities(machine.get("caches"), threads) if device == "cpu" else {}
    out["capacity_l2_bytes"] = float(caps.get("L2", math.nan))
    out["capacity_l3_bytes"] = float(caps.get("L3", math.nan))
    return out


def load(dirs):
    """One row per cell of every directory, in the order given (the first is the baseline)."""
    return load_sources(dirs)[0]


def load_sources(dirs):
    """(cells DataFrame, [Source]) for tables and the machine summary alike."""
    read = [_read_dir(d) for d in dirs]
    labels = source_labels(dirs, [m for _, m, _ in read])
    frames, sources = [], []
    for order, (d, (records, machine, warnings), label) in enumerate(zip(dirs, read, labels)):
        sources.append(Source(label, d, machine, warnings))
        df = pd.DataFrame.from_records(records)
        df["results_dir"] = d
        df["source"] = label
        df["source_order"] = order
        if "machine_id" not in df or machine.get("machine_id"):
            df["machine_id"] = machine.get("machine_id")
        df["hostname"] = machine.get("hostname")
        df["cpu_model"] = (machine.get("cpu") or {}).get("model")
        peaks = pd.DataFrame(
            [device_peaks(machine, dev, n) for dev, n in zip(df["device"], df["threads"])], index=df.index
        )
        frames.append(pd.concat([df, peaks], axis=1))
    df = pd.concat(frames, ignore_index=True)
    if "impl_version" not in df:
        df["impl_version"] = None
    df["reason"] = df["reason"].fillna("").astype(str)
    return df, sources


@dataclass(frozen=True)
class Source:
    """One results directory: its label in every table, its machine.json, and what was
    skipped reading it (one line each, for the caller to print)."""

    label: str
    results_dir: str
    machine: dict
    warnings: tuple = ()
