"""Derived numbers per cell: rate, speedups, and % of the machine's measured peak.

Which peak a cell is held to follows the roofline: with arithmetic intensity I
(FLOPs per byte moved, from the scenario's counts), a device with compute peak P and
bandwidth B can reach at most min(P, I * B). A cell below the ridge (I * B < P) is
memory-bound and its GB/s is compared with B; above, its GFLOP/s (GOP/s for integer
work) with P: fp32 GEMM for float work, int8 GEMM for integer work. Failed cells get
no numbers at all, only their status and reason.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from reports.precision import add_precision

GROUP = ["source", "scenario", "phase", "size", "threads"]  # cells that compete with each other
COMPUTE_PEAK = {"FLOP": ("peak_fp32_gflops", "fp32 GEMM"), "OP": ("peak_int8_gops", "int8 GEMM")}
MEMORY_PEAK = ("peak_memory_gbs", "memory bandwidth")


def unit_of(work_unit):
    return "GOP/s" if work_unit == "OP" else "GFLOP/s"


def _peak_choice(row):
    """(bound, peak column, what it is) for one cell, or a reason there is none."""
    column, what = COMPUTE_PEAK.get(row.get("work_unit") or "FLOP", COMPUTE_PEAK["FLOP"])
    compute, bandwidth = row.get(column), row.get(MEMORY_PEAK[0])
    has_compute = isinstance(compute, float) and compute > 0
    has_bandwidth = isinstance(bandwidth, float) and bandwidth > 0
    intensity = row.get("intensity")
    if has_compute and has_bandwidth and intensity and intensity > 0:
        memory = intensity * bandwidth < compute
    else:  # without both ceilings: the scenario's own call (intensity below 1 FLOP/byte)
        memory = bool(row.get("memory_bound"))
    if memory:
        return ("memory", MEMORY_PEAK[0], MEMORY_PEAK[1]) if has_bandwidth else ("memory", None, MEMORY_PEAK[1])
    return ("compute", column, what) if has_compute else ("compute", None, what)


def add_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """The loaded cells plus: rate, rate_unit, intensity, bound, peak_of, peak_value,
    pct_of_peak, vs_reference, vs_fastest (all NaN for cells that are not ok), and
    reports.precision's intervals and flags."""
    df = df.copy()
    ok = df["status"] == "ok"
    for column in ("median", "gflops", "gbs", "flops", "bytes", "rel_iqr"):
        df[column] = pd.to_numeric(df.get(column), errors="coerce").where(ok)
    if "memory_bound" not in df:
        df["memory_bound"] = False
    if "work_unit" not in df:
        df["work_unit"] = "FLOP"
    df["memory_bound"] = df["memory_bound"].fillna(False).astype(bool)
    df["work_unit"] = df["work_unit"].fillna("FLOP")
    df["rate"] = np.where(df["memory_bound"], df["gbs"], df["gflops"])
    df["rate"] = df["rate"].where(ok)
    df["rate_unit"] = [("GB/s" if m else unit_of(u)) for m, u in zip(df["memory_bound"], df["work_unit"])]
    df["intensity"] = (df["flops"] / df["bytes"]).where(ok & (df["bytes"] > 0))
    for column in ("peak_fp32_gflops", "peak_int8_gops", "peak_memory_gbs"):
        if column not in df:
            df[column] = math.nan
    choices = [_peak_choice(row) for row in df.to_dict("records")]
    df["bound"] = [c[0] for c in choices]
    df["peak_of"] = [c[2] for c in choices]
    df["peak_value"] = [row[c[1]] if c[1] else math.nan for row, c in zip(df.to_dict("records"), choices)]
    achieved = np.where(df["bound"] == "memory", df["gbs"], df["gflops"])
    df["pct_of_peak"] = (100.0 * achieved / df["peak_value"]).where(ok)
    df["peak_note"] = ["" if c[1] else f"no {c[2]} peak measured (dlbench machine)" for c in choices]

    keys = GROUP
    ref = (df[ok & (df["impl"] == "reference")].groupby(keys)["median"].min().rename("_ref"))
    fastest = df[ok].groupby(keys)["median"].min().rename("_fastest")
    df = df.join(ref, on=keys).join(fastest, on=keys)
    df["vs_reference"] = (df["_ref"] / df["median"]).where(ok)
    df["vs_fastest"] = (df["_fastest"] / df["median"]).where(ok)
    return add_precision(df.drop(columns=["_ref", "_fastest"]), keys)


def best_pct_of_peak(df: pd.DataFrame) -> pd.DataFrame:
    """Each implementation's best % of peak per scenario (and source, device): the closing
    summary of how close each framework gets to this machine's ceilings."""
    cells = df[df["pct_of_peak"].notna()]
    if cells.empty:
        return pd.DataFrame(columns=["source", "device", "scenario", "impl", "best_pct_of_peak", "cell"])
    idx = cells.groupby(["source", "device", "scenario", "impl"])["pct_of_peak"].idxmax()
    best = cells.loc[idx]
    return pd.DataFrame({
        "source": best["source"], "device": best["device"], "scenario": best["scenario"], "impl": best["impl"],
        "best_pct_of_peak": best["pct_of_peak"],
        "cell": best["phase"] + "/" + best["size"] + " " + best["mode"] + " (" + best["peak_of"] + ")",
    }).reset_index(drop=True)
