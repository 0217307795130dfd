"""Derived numbers per cell: rate, speedups, and % of the machine's measured peak.

Which peak a cell is held to follows the roofline, decided once per cell: with
arithmetic intensity I (FLOPs per byte moved, from the scenario's counts), a device
with compute peak P and bandwidth B can reach at most min(P, I * B). B is the
bandwidth of the level the cell's working set fits in: the smallest of L2 (per core,
times the cell's threads), L3 and DRAM whose capacity holds it and whose bandwidth
`dlbench machine` measured (an older machine.json has one figure, "memory
bandwidth"). A cell below the ridge (I * B < P) is memory-bound: its rate is GB/s,
compared with B; above, its rate is GFLOP/s (GOP/s for integer work), compared with
P: fp32 GEMM for float work, int8 GEMM for integer work. Without both ceilings the
scenario's own call (intensity below 1 FLOP/byte) decides, still for both. A cell
above 100% keeps its figure (never capped); it is flagged `ceiling_low` only when even
the slow end of its interval beats the ceiling (the probe read low), and otherwise noted
as at the ceiling within its noise. A ceiling that `dlbench run` marked invalid (cells
still beat it after it probed again) gives no % at all: a dash, the reason said once in
the machine's header. Failed cells get no numbers at all, only their status and reason.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import scenarios
from records import key_fields
from reports.precision import add_precision

# cells that compete with each other: the same problem on the same inputs and threads, in one source
GROUP = ["source", *key_fields(without=("impl", "device", "mode"))]
COMPUTE_PEAK = {"FLOP": ("peak_fp32_gflops", "fp32 GEMM"), "OP": ("peak_int8_gops", "int8 GEMM")}
# (capacity column, bandwidth column, what it is) of each cache level, smallest first
CACHE_LEVELS = (
    ("capacity_l2_bytes", "peak_l2_gbs", "L2 bandwidth"),
    ("capacity_l3_bytes", "peak_l3_gbs", "L3 bandwidth"),
)
DRAM_PEAK = ("peak_memory_gbs", "DRAM bandwidth")
ONE_BANDWIDTH = "memory bandwidth"  # an older machine.json's single figure (or a GPU's)
PEAK_VALUE_COLUMNS = (
    "peak_fp32_gflops",
    "peak_int8_gops",
    "peak_memory_gbs",
    "peak_l2_gbs",
    "peak_l3_gbs",
    "capacity_l2_bytes",
    "capacity_l3_bytes",
)


def unit_of(work_unit):
    return "GOP/s" if work_unit == "OP" else "GFLOP/s"


def _positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def memory_level(row):
    """(bandwidth column, what it is) of the level the cell's working set fits in: the
    smallest cache level that holds it and has a measured bandwidth, else DRAM."""
    working_set = row.get("working_set_bytes")
    if not _positive(working_set):  # a record from before working sets: its bytes moved
        working_set = row.get("bytes")
    if _positive(working_set):
        for capacity, column, what in CACHE_LEVELS:
            if _positive(row.get(capacity)) and working_set <= row[capacity] and _positive(row.get(column)):
                return column, what
    levels = any(_positive(row.get(column)) for _, column, _ in CACHE_LEVELS)
    return DRAM_PEAK[0], DRAM_PEAK[1] if levels else ONE_BANDWIDTH


def _peak_choice(row):
    """(bound, peak column or None when not measured, what it is) for one cell; ("none",
    None, "") for one without work counts (a task's trial: its work depends on its epochs)."""
    if row.get("flops") == 0 and row.get("bytes") == 0:
        return "none", None, ""
    column, what = COMPUTE_PEAK.get(row.get("work_unit") or "FLOP", COMPUTE_PEAK["FLOP"])
    band_column, band_what = memory_level(row)
    has_compute, has_bandwidth = _positive(row.get(column)), _positive(row.get(band_column))
    intensity = row.get("intensity")
    if has_compute and has_bandwidth and _positive(intensity):
        memory = intensity * row[band_column] < row[column]
    else:  # without both ceilings: the scenario's own call (intensity below 1 FLOP/byte)
        memory = bool(row.get("memory_bound"))
    if memory:
        return "memory", band_column if has_bandwidth else None, band_what
    return "compute", column if has_compute else None, what


def _note(column, what, pct, ceiling_low, invalid):
    if column is None:
        return f"no {what} peak measured (dlbench machine)"
    if invalid:
        return f"{what} ceiling invalid for this run (machine header)"
    if ceiling_low:
        return f"above the {what} ceiling: the ceiling read low"
    return f"at the {what} ceiling, within the cell's noise" if pct > 100.0 else ""


def invalid_columns(row):
    """The peak columns machine.json marks invalid for this row's device (reports.load)."""
    return set(filter(None, str(row.get("invalid_peaks") or "").split(",")))


def _collectives(df):
    """Which rows are a collective's (a scenario with a bus factor: scenarios.allreduce)."""
    known = set(scenarios.names())
    names = {n for n in df["scenario"].dropna().unique() if n in known and scenarios.get(n).bus_factor}
    return df["scenario"].isin(names)


def _bus_rate(df):
    """A collective's bus bandwidth from its algorithm bandwidth and its scenario's factor
    (not the record's bus_gbs: records before this rule gave one rank a factor of 1)."""

    def bus(row):
        params = row.get("params")
        if not isinstance(params, dict) or row.get("scenario") not in scenarios.names():
            return math.nan
        factor = scenarios.get(row["scenario"]).bus_factor
        return row["gbs"] * factor(params) if factor and factor(params) > 0 else math.nan

    return pd.Series([bus(r) for r in df.to_dict("records")], index=df.index, dtype=float)


def add_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """The loaded cells plus: intensity, bound, rate, rate_unit, peak_of, peak_value,
    pct_of_peak, ceiling_low, peak_note, vs_reference, vs_fastest (numbers NaN for cells
    that are not ok), and reports.precision's intervals and flags. `bound` decides both
    the rate's unit and the peak it is held to."""
    df = df.copy()
    ok = df["status"] == "ok"
    for column in ("median", "gflops", "gbs", "flops", "bytes", "working_set_bytes", "rel_iqr"):
        values = df[column] if column in df else pd.Series(math.nan, index=df.index)  # older records lack some
        df[column] = pd.to_numeric(values, errors="coerce").where(ok)
    if "memory_bound" not in df:
        df["memory_bound"] = False
    if "work_unit" not in df:
        df["work_unit"] = "FLOP"
    df["memory_bound"] = df["memory_bound"].fillna(False).astype(bool)
    df["work_unit"] = df["work_unit"].fillna("FLOP")
    df["intensity"] = (df["flops"] / df["bytes"]).where(ok & (df["bytes"] > 0))
    for column in PEAK_VALUE_COLUMNS:
        if column not in df:
            df[column] = math.nan
    rows = df.to_dict("records")
    choices = [_peak_choice(row) for row in rows]
    df["bound"] = [c[0] for c in choices]
    memory = df["bound"] == "memory"
    df["rate"] = np.where(memory, df["gbs"], df["gflops"])
    df["rate"] = df["rate"].where(ok)
    df["rate_unit"] = [("GB/s" if m else unit_of(u)) for m, u in zip(memory, df["work_unit"])]
    df["peak_of"] = [c[2] for c in choices]
    df["peak_column"] = [c[1] for c in choices]  # which of PEAK_VALUE_COLUMNS, None when not measured
    df["peak_value"] = [row[c[1]] if c[1] else math.nan for row, c in zip(rows, choices)]
    invalid = pd.Series([c[1] is not None and c[1] in invalid_columns(r) for r, c in zip(rows, choices)], df.index)
    # a collective is held to the copy ceiling by its bus bandwidth (the traffic per rank),
    # and to none at one rank, where nothing crosses (TensorFlow's then copies nothing at all)
    df["bus_rate"] = _bus_rate(df).where(ok)  # the bandwidth table prints it too (reports.collectives)
    held = df["rate"].where(~_collectives(df), df["bus_rate"])
    df["pct_of_peak"] = (100.0 * held / df["peak_value"]).where(ok & ~invalid)
    # the rate at the slow end of the cell's interval: beyond the ceiling even there, the
    # probe read low; between, the cell is at the ceiling within its own noise
    high = pd.to_numeric(df["ci_high"], errors="coerce") if "ci_high" in df else pd.Series(math.nan, index=df.index)
    slow = (df["median"] / high).where(high > df["median"], 1.0)
    df["ceiling_low"] = (df["pct_of_peak"] * slow > 100.0).fillna(False).astype(bool)
    df["peak_note"] = [
        "" if c[0] == "none" else _note(c[1], c[2], pct, low, bad)
        for c, pct, low, bad in zip(choices, df["pct_of_peak"].fillna(0.0), df["ceiling_low"], invalid)
    ]

    return add_precision(df, GROUP)  # speedups, their intervals, and the flags


def best_pct_of_peak(df: pd.DataFrame) -> pd.DataFrame:
    """Each implementation's best % of peak per scenario (and source, device): the closing
    summary of how close each framework gets to this machine's ceilings."""
    cells = df[df["pct_of_peak"].notna()]
    if cells.empty:
        return pd.DataFrame(columns=["source", "device", "scenario", "impl", "best_pct_of_peak", "cell"])
    idx = cells.groupby(["source", "device", "scenario", "impl"])["pct_of_peak"].idxmax()
    best = cells.loc[idx]
    return pd.DataFrame(
        {
            "source": best["source"],
            "device": best["device"],
            "scenario": best["scenario"],
            "impl": best["impl"],
            "best_pct_of_peak": best["pct_of_peak"],
            "cell": best["phase"] + "/" + best["size"] + " " + best["mode"] + " (" + best["peak_of"] + ")",
        }
    ).reset_index(drop=True)
