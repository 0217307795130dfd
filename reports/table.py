"""The cells table: implementations side by side per scenario, phase and size.

`cells_table` keeps numbers as numbers (for CSV and JSON); `render` formats it for
a terminal. A cell that is not ok has its status and reason and no number at all.
"""
from __future__ import annotations

import pandas as pd

from reports.metrics import add_metrics

ORDER = ["source_order", "scenario", "phase", "size", "device", "threads", "impl", "mode"]
COLUMNS = ["source", "machine_id", "scenario", "phase", "size", "device", "threads", "impl", "mode", "impl_version",
           "status", "median_ms", "rel_iqr_pct", "rate", "rate_unit", "vs_reference", "vs_fastest", "pct_of_peak",
           "peak_of", "first_call_s", "n_samples", "reason"]
SHORT_PEAK = {"fp32 GEMM": "fp32", "int8 GEMM": "int8", "memory bandwidth": "bw"}


def cells_table(df: pd.DataFrame, with_samples=False) -> pd.DataFrame:
    """One row per cell, numbers unformatted; `df` as reports.load gives it."""
    m = df if "pct_of_peak" in df else add_metrics(df)
    m = m.sort_values(ORDER, kind="stable")
    ok = m["status"] == "ok"
    out = pd.DataFrame({
        "source": m["source"], "machine_id": m["machine_id"],
        **{k: m[k] for k in ("scenario", "phase", "size", "device", "threads", "impl", "mode", "impl_version",
                             "status")},
        "median_ms": m["median"] * 1e3,
        "rel_iqr_pct": m["rel_iqr"] * 100,
        "rate": m["rate"],
        "rate_unit": m["rate_unit"].where(ok),
        "vs_reference": m["vs_reference"],
        "vs_fastest": m["vs_fastest"],
        "pct_of_peak": m["pct_of_peak"],
        "peak_of": m["peak_of"].where(ok),
        "first_call_s": pd.to_numeric(m.get("first_call_s"), errors="coerce").where(ok),
        "n_samples": pd.to_numeric(m.get("n_samples"), errors="coerce").where(ok),
        "reason": m["reason"].where(~ok, m["peak_note"]),
    })
    if with_samples:
        out["samples_s"] = [list(v) if isinstance(v, list) and ok_ else [] for v, ok_ in zip(m["samples"], ok)]
    return out[COLUMNS + (["samples_s"] if with_samples else [])].reset_index(drop=True)


def _fmt(value, pattern):
    return "" if pd.isna(value) else pattern.format(value)


def display_table(cells: pd.DataFrame, width=110) -> pd.DataFrame:
    """The cells table as text columns: units attached, empty where a cell has no number."""
    out = pd.DataFrame({
        "source": cells["source"],
        **{k: cells[k] for k in ("scenario", "phase", "size", "device", "threads", "impl", "mode", "status")},
        "median ms": cells["median_ms"].map(lambda v: _fmt(v, "{:.3f}")),
        "IQR %": cells["rel_iqr_pct"].map(lambda v: _fmt(v, "{:.1f}")),
        "rate": [_fmt(v, "{:.2f} ") + (u if isinstance(u, str) and pd.notna(v) else "")
                 for v, u in zip(cells["rate"], cells["rate_unit"])],
        "vs ref": cells["vs_reference"].map(lambda v: _fmt(v, "{:.2f}x")),
        "vs fastest": cells["vs_fastest"].map(lambda v: _fmt(v, "{:.2f}x")),
        "% peak": [_fmt(v, "{:.1f}% ") + SHORT_PEAK.get(p, p or "") if pd.notna(v) else ""
                   for v, p in zip(cells["pct_of_peak"], cells["peak_of"])],
        "reason": cells["reason"].fillna("").map(lambda s: s if len(s) <= width else s[:width - 3] + "..."),
    })
    if out["source"].nunique() <= 1:
        out = out.drop(columns=["source"])
    if cells["threads"].nunique() <= 1:
        out = out.drop(columns=["threads"])
    if not out["reason"].astype(bool).any():
        out = out.drop(columns=["reason"])
    return out


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """Formatted, one row per cell (the table `dlbench run` ends with)."""
    return display_table(cells_table(df))


def render(df: pd.DataFrame) -> str:
    """Plain-text blocks, one per scenario."""
    table = display_table(cells_table(df))
    blocks = []
    for scenario, block in table.groupby("scenario", sort=False):
        blocks.append(f"{scenario}\n" + block.drop(columns=["scenario"]).to_string(index=False))
    return "\n\n".join(blocks)
