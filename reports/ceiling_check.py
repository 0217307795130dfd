"""Which of a run's ceilings its own validated cells beat, beyond their noise.

`dlbench run` asks this after its cells: a cell whose rate at the slow end of its
interval still beats the ceiling it is held to (reports.metrics' `ceiling_low`) shows
that the probe read low. The run then probes again and, where cells still beat it,
marks the ceiling invalid (harness.machine_peaks.invalidate) rather than print
thousands of per cent.
"""

from __future__ import annotations

from reports.load import PEAK_COLUMNS, load
from reports.metrics import add_metrics

METRIC_OF = {column: metric for metric, column in PEAK_COLUMNS.items()}


def beaten(results_dir):
    """{device: {metric: [{"cell", "impl", "pct"}]}}: the ceilings validated cells beat
    beyond their noise, and by whom."""
    df = add_metrics(load([results_dir]))
    out = {}
    for row in df[df["ceiling_low"]].to_dict("records"):
        column = row.get("peak_column")
        if column not in METRIC_OF:
            continue
        cell = f"{row['scenario']}/{row['phase']}/{row['size']} {row['impl']} {row['mode']}"
        hits = out.setdefault(row["device"], {}).setdefault(METRIC_OF[column], [])
        hits.append({"cell": cell, "impl": row["impl"], "pct": round(float(row["pct_of_peak"]), 1)})
    return out
