"""The collectives' table: all-reduce bandwidth against message size and ranks.

One row per source, implementation, mode and rank count; one column per message size
(the scenario's sizes, small to large), each `algorithm / bus` GB/s (nccl-tests'
definitions: S/t, and S/t x 2(n-1)/n). Only validated cells have a figure.
"""

from __future__ import annotations

import pandas as pd

import scenarios

SCENARIO = "allreduce"


def bandwidth_table(m):
    """(DataFrame of text, [notes]) over the allreduce cells of m; (None, []) without any."""
    if "scenario" not in m or not (m["scenario"] == SCENARIO).any():
        return None, []
    cells = m[(m["scenario"] == SCENARIO) & (m["status"] == "ok")]
    if cells.empty:
        return None, []
    sizes = [s for s in scenarios.get(SCENARIO).sizes if s in set(cells["size"])]
    cells = cells.assign(bus=cells["bus_rate"])  # reports.metrics: none at one rank, whatever the record says
    rows = []
    for (source, impl, mode, device, ranks), group in cells.groupby(
        ["source", "impl", "mode", "device", "ranks"], sort=True
    ):
        row = {"source": source, "impl": impl, "mode": mode, "device": device, "ranks": int(ranks)}
        for size in sizes:
            hit = group[group["size"] == size]
            if hit.empty:
                row[size] = ""
                continue
            r = hit.iloc[0]
            row[size] = f"{r['gbs']:.2f} / {r['bus']:.2f}" if pd.notna(r["bus"]) else f"{r['gbs']:.2f}"
        rows.append(row)
    table = pd.DataFrame(rows)
    if table["source"].nunique() <= 1:
        table = table.drop(columns=["source"])
    notes = [
        "GB/s, algorithm / bus bandwidth (S/t and S/t x 2(n-1)/n); message sizes: "
        + ", ".join(f"{s} {scenarios.get(SCENARIO).sizes[s]['elements']:,} floats" for s in sizes)
    ]
    return table, notes
