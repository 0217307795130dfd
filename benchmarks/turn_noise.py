"""Where a lockstep ratio's noise lives, from the raw records of identical runs.

For every cell with paired turns against the reference, in every process: the log ratio
of each shared turn. Prints, over an evaluation folder's runs (run-0, run-1, ...):
- the standard deviation of a turn's log ratio around its process's median (turn noise),
- the lag-1 autocorrelation of those residuals from one turn to the next (near 0: the
  noise is faster than a turn, and only more turns average it; near 1: slow drift that
  the pairing would cancel),
- the vs-reference ratio change between consecutive runs (median and 90th percentile),
  with the ratio estimated as dlbench does (per process the median log ratio of the
  shared turns, over processes their Hodges-Lehmann estimate),
- per cell, the standard deviation of that estimate over the runs against what one
  run's own processes predict of it (the variance of their estimates over their count),
  median over cells: about 1 when the runs differ only as their processes do, above 1
  when whole runs move (the machine's state over minutes),
- and where the records keep two figures per sample (`sample_means` beside `samples`,
  from the call-quantile trial in docs/precision.md) the same for each, on the same turns.

Run:  .venv/bin/python benchmarks/turn_noise.py results/cpu-vm-2core/reproducibility [more folders]
"""

from __future__ import annotations

import glob
import json
import math
import os
import statistics
import sys


def _records(run_dir):
    with open(os.path.join(run_dir, "results.jsonl")) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return {(r["scenario"], r["phase"], r["impl"], r["mode"]): r for r in recs if r["status"] == "ok"}


def _turns(rec, field, process):
    values = rec.get(field) or rec["samples"]
    return {t: v for t, v, p in zip(rec["sample_turn"], values, rec["sample_process"]) if p == process}


def _hodges_lehmann(xs):
    return statistics.median((xs[i] + xs[j]) / 2 for i in range(len(xs)) for j in range(i, len(xs)))


def _lag1(xs):
    if len(xs) < 6:
        return None
    m = statistics.fmean(xs)
    num = sum((a - m) * (b - m) for a, b in zip(xs, xs[1:]))
    den = sum((a - m) ** 2 for a in xs)
    return num / den if den > 0 else None


def run_figures(run_dir, field):
    """{cell: estimate}, turn residuals, lag-1 autocorrelations of one run."""
    cells = _records(run_dir)
    estimates, residuals, lags, spread = {}, [], [], {}
    for k, rec in cells.items():
        ref = cells.get((k[0], k[1], "reference", "eager"))
        if k[2] == "reference" or ref is None or not rec.get("sample_turn") or not ref.get("sample_turn"):
            continue
        per_process = []
        for p in sorted(set(rec["sample_process"])):
            a, b = _turns(rec, field, p), _turns(ref, field, p)
            shared = sorted(set(a) & set(b))
            if not shared:
                continue
            logs = [math.log(a[t] / b[t]) for t in shared]
            mid = statistics.median(logs)
            per_process.append(mid)
            res = [x - mid for x in logs]
            residuals += res
            lag = _lag1(res)
            if lag is not None:
                lags.append(lag)
        if per_process:
            estimates[k] = _hodges_lehmann(per_process)
        if len(per_process) > 1:  # what one run's own processes predict of its estimate's spread
            spread[k] = statistics.variance(per_process) / len(per_process)
    return estimates, residuals, lags, spread


def _pct(xs, q):
    xs = sorted(xs)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    return xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * (pos - lo)


def summarize(folder, field):
    runs = sorted(glob.glob(os.path.join(folder, "run-*")), key=lambda d: int(d.rsplit("-", 1)[1]))
    figures = [run_figures(d, field) for d in runs]
    changes = [abs(b[0][k] - a[0][k]) * 100 for a, b in zip(figures, figures[1:]) for k in a[0] if k in b[0]]
    residuals = [r for f in figures for r in f[1]]
    lags = [x for f in figures for x in f[2]]
    if not changes:
        return None
    # per cell: the spread of its estimate over the runs against what each run's own
    # processes predict (their variance / their count); a ratio above 1 is a run-level part
    excess = []
    for k in figures[0][0]:
        ests = [f[0][k] for f in figures if k in f[0]]
        within = [f[3][k] for f in figures if k in f[3]]
        if len(ests) > 2 and within and statistics.fmean(within) > 0:
            excess.append(math.sqrt(statistics.variance(ests) / statistics.fmean(within)))
    return {
        "runs": len(runs),
        "pairs": len(changes),
        "ratio_change_median_pct": round(_pct(changes, 0.5), 2),
        "ratio_change_p90_pct": round(_pct(changes, 0.9), 2),
        "turn_log_ratio_sd": round(statistics.pstdev(residuals), 3),
        "turn_lag1_autocorrelation_median": round(statistics.median(lags), 3),
        "between_over_within_sd_median": round(statistics.median(excess), 2) if excess else None,
    }


def main(argv):
    for folder in argv[1:]:
        has_means = any(
            '"sample_means"' in open(os.path.join(d, "results.jsonl")).read()
            for d in glob.glob(os.path.join(folder, "run-*"))
        )
        fields = ("samples", "sample_means") if has_means else ("samples",)
        for field in fields:
            print(json.dumps({"folder": folder, "figure": field, **(summarize(folder, field) or {})}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
