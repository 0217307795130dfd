"""Hardware comparison: the same cell on each source (machine, or machine at a version)
side by side, with the ratio against the first source given.

Cells match on scenario, phase, size, device, implementation and mode; not on threads,
which default to each machine's cores. A source that holds one cell at several thread
counts is split into one column set per count.
"""
from __future__ import annotations

import pandas as pd

from reports.metrics import add_metrics

KEY = ["scenario", "phase", "size", "device", "impl", "mode"]


def _column_labels(m):
    """source, or 'source @N threads' where a source ran a cell at several thread counts."""
    multi = m.groupby(["source"] + KEY)["threads"].transform("nunique") > 1
    return [f"{s} @{t} threads" if split else s for s, t, split in zip(m["source"], m["threads"], multi)]


def side_by_side(df: pd.DataFrame):
    """(table, column labels in order) or (None, labels) when there is one source only.

    Per label: `<label> median_ms`, `<label> rate`, `<label> status`; per label after
    the first: `<label> vs <first>` = first's median / this median (above 1: faster).
    """
    m = df if "pct_of_peak" in df else add_metrics(df)
    m = m.sort_values(["source_order", "threads"], kind="stable").copy()
    m["column"] = _column_labels(m)
    labels = list(dict.fromkeys(m["column"]))
    if len(labels) < 2:
        return None, labels
    rows = {}
    for rec in m.to_dict("records"):
        key = tuple(rec[k] for k in KEY)
        row = rows.setdefault(key, dict(zip(KEY, key)))
        label = rec["column"]
        row[f"{label} status"] = rec["status"]
        row[f"{label} median_ms"] = rec["median"] * 1e3 if rec["status"] == "ok" else None
        row[f"{label} rate"] = rec["rate"] if rec["status"] == "ok" else None
        row[f"{label} rate_unit"] = rec["rate_unit"]
        row[f"{label} reason"] = rec["reason"] if rec["status"] != "ok" else ""
    table = pd.DataFrame(list(rows.values()))
    base = labels[0]
    for label in labels:
        for suffix in ("status", "median_ms", "rate", "rate_unit", "reason"):
            if f"{label} {suffix}" not in table:
                table[f"{label} {suffix}"] = None
        table[f"{label} status"] = table[f"{label} status"].fillna("missing")
    for label in labels[1:]:
        table[f"{label} vs {base}"] = (pd.to_numeric(table[f"{base} median_ms"])
                                       / pd.to_numeric(table[f"{label} median_ms"]))
    return table.sort_values(KEY, kind="stable").reset_index(drop=True), labels


def display(table, labels):
    """Text columns for a terminal or markdown: time or status per source, then ratios."""
    out = pd.DataFrame({k: table[k] for k in KEY})
    for label in labels:
        out[label] = [f"{t:.3f} ms" if pd.notna(t) else s
                      for t, s in zip(table[f"{label} median_ms"], table[f"{label} status"])]
    base = labels[0]
    for label in labels[1:]:
        out[f"{label} vs {base}"] = table[f"{label} vs {base}"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}x")
    return out
