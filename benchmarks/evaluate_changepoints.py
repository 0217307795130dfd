"""Which change-point library finds a benchmark's steps on this machine's noise?

Synthetic histories of 200 commits (a cell's median per commit), built from the run-to-run
noise measured here (NOISE below), with steps of 3, 5, 10 and 20% at known commits and
step-free series. Each candidate method runs on log(values), and a detected change smaller
than MIN_CHANGE between the medians of its two segments is dropped (the same filter for
every method). Reported per method: precision and recall (a detection matches a true step
within TOLERANCE commits), how far off the location is, false detections per 100 commits on
step-free series, and the time per series.

The libraries do not share one environment (E-Divisive's package pins numpy 1.26, Otava
pulls numpy 2.2 and cloud clients): each method runs under the interpreter that has it,

    python benchmarks/evaluate_changepoints.py --method ruptures-pelt --python .venv/bin/python ...

and `--table` merges the JSON files into the markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # reports.changepoints, what dlbench ships

COMMITS = 200
STEPS = (0.03, 0.05, 0.10, 0.20)
TOLERANCE = 5  # commits either side of a true step that count as finding it
MIN_CHANGE = 0.02  # a detected change below 2% between its segments' medians is not reported

# Run-to-run noise of a cell's median on this machine, in log units (so 0.028 is about 2.8%),
# from results/cpu-vm-2core/gate-evaluation/aa (10 A/A gate runs, 18 cells, two sides each):
# per-cell standard deviation across runs, 25th/50th/90th percentile 0.020/0.028/0.060. And
# the slow mode: a run whose process landed in the machine's slow state, 10-25% slower (the
# largest deviations there: 0.18 for reference conv, 0.23-0.29 for torch's int8 GEMM),
# seen in about 1 run in 20 (stored A/A runs, compare-evaluation/stored/stored-a*).
NOISE = {"quiet": 0.013, "typical": 0.028, "noisy": 0.060}
SLOW_MODE_P = 0.05
SLOW_MODE = (0.10, 0.25)


def history(rng, sigma, steps):
    """(values, true steps [(index, relative change)]) of one cell over COMMITS commits."""
    level = np.zeros(COMMITS)
    truth = []
    for index, change in steps:
        level[index:] += math.log1p(change)
        truth.append((index, change))
    noise = rng.normal(0.0, sigma, COMMITS)
    slow = rng.random(COMMITS) < SLOW_MODE_P
    noise[slow] += np.log1p(rng.uniform(*SLOW_MODE, slow.sum()))
    return np.exp(level + noise), truth


def cases(seed=20261201, per_level=40, free=60):
    """Every series of the evaluation, the same for every method (fixed seed)."""
    rng = np.random.default_rng(seed)
    out = []
    for name, sigma in NOISE.items():
        for step in STEPS:
            for _ in range(per_level):
                n = 1 if rng.random() < 0.5 else 2
                indices = sorted(rng.choice(np.arange(25, COMMITS - 25), n, replace=False))
                if n == 2 and indices[1] - indices[0] < 40:
                    indices = [indices[0]]
                signs = rng.choice([-1, 1], len(indices))
                values, truth = history(rng, sigma, [(int(i), s * step) for i, s in zip(indices, signs)])
                out.append({"noise": name, "step": step, "values": values, "truth": truth})
        for _ in range(free):
            values, _ = history(rng, sigma, [])
            out.append({"noise": name, "step": 0.0, "values": values, "truth": []})
    return out


# -- the candidates: each takes log values, returns change indices (first index of the new level)


def e_divisive(x):
    from signal_processing_algorithms.energy_statistics.energy_statistics import e_divisive

    np.random.seed(0)  # its permutation test draws from numpy's global generator
    return sorted(e_divisive(x, pvalue=0.01, permutations=100))


def otava(x):
    from otava.analysis import compute_change_points

    points, _ = compute_change_points(list(x), window_len=50, max_pvalue=0.001)
    return sorted(p.index for p in points)


def ruptures_pelt(x, cost="l1", penalty=None):
    import ruptures

    # the penalty scales with the noise: BIC-like, 2 * sigma^2 * log(n) (l2), or
    # sigma * log(n) for l1, with sigma estimated robustly from successive differences
    sigma = 1.4826 * np.median(np.abs(np.diff(x))) / math.sqrt(2)
    pen = penalty if penalty is not None else 3.0 * max(sigma, 1e-6) * math.log(len(x))
    algo = ruptures.Pelt(model=cost, min_size=5, jump=1).fit(x.reshape(-1, 1))
    return [b for b in algo.predict(pen=pen) if b < len(x)]


def ruptures_kernel(x, factor=3.0):
    """ruptures' KernelCPD (C code) with the rbf kernel, on ranks: a slow-mode run then weighs
    no more than any other high value. Penalty: factor * log(n), chosen once for all series."""
    import ruptures

    ranks = np.argsort(np.argsort(x)) / len(x)
    algo = ruptures.KernelCPD(kernel="rbf", min_size=5, jump=1).fit(ranks.reshape(-1, 1))
    return [b for b in algo.predict(pen=factor * math.log(len(x)) / 10) if b < len(x)]


def dlbench_binseg(x):
    """What dlbench ships (reports.changepoints): ruptures' Binseg, l2 cost, on a running
    median of 3, penalty 6 sigma^2 log n; it applies the MIN_CHANGE filter itself."""
    from reports.changepoints import change_indices

    return change_indices(x)


FILTERS_ITSELF = {"ruptures-binseg-l2-median3 (dlbench)"}
METHODS = {
    "e-divisive": e_divisive,
    "otava": otava,
    "ruptures-pelt-l1": ruptures_pelt,
    "ruptures-kernel-rank": ruptures_kernel,
    "ruptures-binseg-l2-median3 (dlbench)": dlbench_binseg,
}


def filtered(x, indices):
    """The detections whose segments' medians differ by MIN_CHANGE or more (on the original scale)."""
    bounds = [0, *indices, len(x)]
    kept = []
    for k, i in enumerate(indices):
        before = np.median(x[bounds[k] : i])
        after = np.median(x[i : bounds[k + 2]])
        if abs(math.expm1(after - before)) >= MIN_CHANGE:
            kept.append(i)
    return kept


def evaluate(method):
    detect = METHODS[method]
    rows = []
    for case in cases():
        x = np.log(case["values"])
        t0 = time.perf_counter()
        found = detect(x) if method in FILTERS_ITSELF else filtered(x, detect(x))
        found = [int(i) for i in found]
        seconds = time.perf_counter() - t0
        rows.append(
            {"noise": case["noise"], "step": case["step"], "truth": case["truth"], "found": found, "s": seconds}
        )
    return rows


def summarize(method, rows):
    """Markdown rows: per noise level and step size, recall, location error, precision; step-free FP rate."""
    lines = []
    for noise in NOISE:
        for step in (*STEPS, 0.0):
            sel = [r for r in rows if r["noise"] == noise and r["step"] == step]
            if not sel:
                continue
            if step == 0.0:
                fp = sum(len(r["found"]) for r in sel)
                per100 = 100 * fp / (len(sel) * COMMITS)
                clean = sum(not r["found"] for r in sel)
                lines.append(f"| {method} | {noise} | none | - | - | {clean}/{len(sel)} series clean | {per100:.2f} |")
                continue
            true_n = hit = 0
            errors, false = [], 0
            for r in sel:
                used = set()
                for index, _ in r["truth"]:
                    true_n += 1
                    near = [f for f in r["found"] if abs(f - index) <= TOLERANCE and f not in used]
                    if near:
                        best = min(near, key=lambda f: abs(f - index))
                        used.add(best)
                        hit += 1
                        errors.append(abs(best - index))
                false += len([f for f in r["found"] if f not in used])
            found_n = sum(len(r["found"]) for r in sel)
            precision = (found_n - false) / found_n if found_n else float("nan")
            within1 = sum(e <= 1 for e in errors)
            off = f"{statistics.median(errors):.0f} / {max(errors)}" if errors else "-"
            lines.append(
                f"| {method} | {noise} | {step:.0%} | {hit}/{true_n} ({hit / true_n:.0%}); within 1: {within1} "
                f"| {off} | precision {precision:.2f} | {100 * false / (len(sel) * COMMITS):.2f} |"
            )
    seconds = statistics.median(r["s"] for r in rows)
    lines.append(f"| {method} | all | time per series | median {seconds * 1000:.1f} ms | | | |")
    return lines


HEADER = [
    "| method | noise | step | recall (found within ±5 commits) | commits off (median / max) | precision | "
    "false detections per 100 commits |",
    "|---|---|---|---|---|---|---|",
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", choices=sorted(METHODS))
    parser.add_argument("--out", help="the method's raw results (JSON)")
    parser.add_argument("--table", nargs="+", help="JSON files to merge into one markdown table")
    args = parser.parse_args(argv)
    if args.table:
        lines = list(HEADER)
        for path in args.table:
            with open(path) as f:
                data = json.load(f)
            lines += summarize(data["method"], data["rows"])
        print("\n".join(lines))
        return 0
    rows = evaluate(args.method)
    with open(args.out, "w") as f:
        json.dump({"method": args.method, "python": sys.version.split()[0], "rows": rows}, f)
    print("\n".join(HEADER + summarize(args.method, rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
