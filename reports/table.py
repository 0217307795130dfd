"""The terminal results table: implementations side by side per scenario, phase and size."""
from __future__ import annotations

import pandas as pd

KEYS = ["scenario", "phase", "size", "device"]


def _rate(row):
    if row["status"] != "ok":
        return ""
    if row["memory_bound"]:
        return f"{row['gbs']:.2f} GB/s"
    unit = "GOP/s" if row["work_unit"] == "OP" else "GFLOP/s"
    return f"{row['gflops']:.2f} {unit}"


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per cell; failed cells carry their status and reason instead of numbers."""
    df = df.copy()
    ref = (df[(df["impl"] == "reference") & (df["status"] == "ok")]
           .groupby(KEYS)["median"].min().rename("ref_median"))
    df = df.join(ref, on=KEYS)
    ok = df["status"] == "ok"
    out = pd.DataFrame({
        **{k: df[k] for k in KEYS},
        "impl": df["impl"],
        "mode": df["mode"],
        "status": df["status"],
        "median_ms": (df["median"] * 1e3).where(ok).map(lambda v: f"{v:.3f}" if pd.notna(v) else ""),
        "rel_iqr_%": (df["rel_iqr"] * 100).where(ok).map(lambda v: f"{v:.1f}" if pd.notna(v) else ""),
        "rate": df.apply(_rate, axis=1),
        "vs_reference": (df["ref_median"] / df["median"]).where(ok).map(
            lambda v: f"{v:.2f}x" if pd.notna(v) else ""),
        "first_call_s": df["first_call_s"].where(ok).map(lambda v: f"{v:.3f}" if pd.notna(v) else ""),
        "reason": df["reason"].fillna("").map(lambda s: s if len(s) <= 100 else s[:97] + "..."),
    })
    return out.sort_values(KEYS + ["impl", "mode"], kind="stable").reset_index(drop=True)


def render(df: pd.DataFrame) -> str:
    table = results_table(df)
    if not table["reason"].astype(bool).any():
        table = table.drop(columns=["reason"])
    return table.to_string(index=False)
