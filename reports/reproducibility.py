"""Do a run's figures reproduce? Measures over identical runs (benchmarks/evaluate_reproducibility.py):

- ratio changes: each cell's vs-reference ratio (as the report prints it: paired where the
  run has turns) against the same cell's in the next run, |log change| as a percentage;
- coverage: the fraction of cells whose next-run median lies inside this run's stated
  interval, beside the level the interval states, and the intervals' median width;
- drift flags: how many cells a run flagged `drift`, and how many of them the next run
  contradicts (the flagged time lies inside the next run's interval: the flag was not needed).
"""

from __future__ import annotations

import math
import statistics

import records
from reports.load import load
from reports.metrics import add_metrics


def _cells(results_dir):
    df = add_metrics(load([results_dir]))
    return {records.key(r): r for r in df.to_dict("records")}


def _pct(values, q):
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _ok(v):
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def evaluate(dirs):
    """Figures over consecutive pairs of runs (dirs in run order)."""
    runs = [_cells(d) for d in dirs]
    changes, inside, levels, widths, flagged, contradicted = [], [], [], [], 0, 0
    for a, b in zip(runs, runs[1:]):
        for key, ra in a.items():
            rb = b.get(key)
            if rb is None or ra["status"] != "ok" or rb["status"] != "ok":
                continue
            if ra["impl"] != "reference" and _ok(ra.get("vs_reference")) and _ok(rb.get("vs_reference")):
                changes.append(abs(math.log(rb["vs_reference"] / ra["vs_reference"])) * 100)
            low, high, med = ra.get("ci_low"), ra.get("ci_high"), ra.get("median")
            if _ok(low) and _ok(high) and _ok(med) and _ok(rb.get("median")):
                inside.append(low <= rb["median"] <= high)
                levels.append(ra.get("ci_level"))
                widths.append((high - low) / med * 100)
                if ra.get("drift"):
                    flagged += 1
                    bl, bh = rb.get("ci_low"), rb.get("ci_high")
                    contradicted += bool(_ok(bl) and _ok(bh) and bl <= med <= bh)
    return {
        "runs": len(dirs),
        "ratio_pairs": len(changes),
        "ratio_change_median_pct": _pct(changes, 0.5),
        "ratio_change_p90_pct": _pct(changes, 0.9),
        "ratio_change_max_pct": max(changes) if changes else None,
        "coverage": sum(inside) / len(inside) if inside else None,
        "coverage_cells": len(inside),
        "stated_level": statistics.median([v for v in levels if _ok(v)]) if levels else None,
        "interval_width_median_pct": _pct(widths, 0.5),
        "drift_flagged": flagged,
        "drift_contradicted": contradicted,
    }
