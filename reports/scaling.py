"""The scaling table: a data-parallel training step over N ranks against the same
framework, mode and size at one rank.

Weak scaling (each rank the size's batch, the whole batch N times it): efficiency is
T1 / TN, 100% when N ranks do N times the work in the same time. Strong scaling (the
size's batch shared among the ranks): efficiency is T1 / (N x TN), 100% when N ranks
take 1/N of the time. Samples per second are the whole batch over the step's time (the
slowest rank's). Times are medians of runs that are not interleaved with each other (the
ranks' cells and the one-rank cell run apart), so an efficiency carries both cells'
run-to-run noise: read it with their intervals.
"""

from __future__ import annotations

import math

import pandas as pd

import scenarios

SAME = ["source", "scenario", "phase", "size", "impl", "mode", "device", "threads", "seed"]


def _batch(rec):
    split = scenarios.get(rec["scenario"]).split
    params = rec.get("params") if isinstance(rec.get("params"), dict) else {}
    return params.get(split) if split else None


def scaling_rows(m):
    """One dict per validated cell over several ranks with a scaling, beside its one-rank
    cell: ranks, scaling, the step's median, samples/s, efficiency (a fraction; None
    without a validated one-rank cell)."""
    if "scaling" not in m or not (m["scaling"].fillna("") != "").any():
        return []
    ok = m[m["status"] == "ok"]
    ones = {tuple(r[k] for k in SAME): r for r in ok[ok["ranks"] == 1].to_dict("records")}
    rows = []
    for r in ok[(ok["ranks"] > 1) & (ok["scaling"].fillna("") != "")].to_dict("records"):
        one = ones.get(tuple(r[k] for k in SAME))
        n, t = int(r["ranks"]), r["median"]
        eff = None
        if one is not None:
            eff = one["median"] / t if r["scaling"] == "weak" else one["median"] / (n * t)
        batch = _batch(r)
        rows.append(
            {
                **{k: r[k] for k in SAME},
                "scaling": r["scaling"],
                "ranks": n,
                "median": t,
                "base_median": one["median"] if one is not None else None,
                "samples_per_s": batch / t if batch else None,
                "base_samples_per_s": (_batch(one) / one["median"]) if one is not None and _batch(one) else None,
                "efficiency": eff,
            }
        )
    return rows


def _ms(v):
    return f"{v * 1e3:.3g} ms" if v is not None and math.isfinite(v) else ""


def scaling_table(m):
    """(DataFrame of text, [notes]) of scaling_rows; (None, []) without any."""
    rows = scaling_rows(m)
    if not rows:
        return None, []
    out = []
    for r in sorted(rows, key=lambda r: (r["source"], r["scenario"], r["phase"], r["size"], r["impl"], r["mode"])):
        out.append(
            {
                "source": r["source"],
                "scenario": f"{r['scenario']}/{r['phase']}",
                "size": r["size"],
                "impl": r["impl"],
                "mode": r["mode"],
                "scaling": r["scaling"],
                "ranks": r["ranks"],
                "step at 1 rank": _ms(r["base_median"]),
                "step": _ms(r["median"]),
                "samples/s": f"{r['samples_per_s']:.0f}" if r["samples_per_s"] else "",
                "efficiency": f"{r['efficiency'] * 100:.0f}%" if r["efficiency"] is not None else "no 1-rank cell",
            }
        )
    table = pd.DataFrame(out)
    if table["source"].nunique() <= 1:
        table = table.drop(columns=["source"])
    notes = [
        "weak: each rank the size's batch, efficiency T1/TN; strong: the size's batch split among the ranks, "
        "efficiency T1/(N x TN); samples/s: the whole batch over the slowest rank's step"
    ]
    return table, notes
