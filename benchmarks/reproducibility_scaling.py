"""What more processes per run would buy, from a finished ten-run evaluation
(benchmarks/evaluate_reproducibility.py): runs combined k at a time, their processes
relabelled, into one run of 3k processes; then the change of every vs-reference ratio
(paired, harness.paired) between consecutive combined runs.

Run:  .venv/bin/python benchmarks/reproducibility_scaling.py results/cpu-vm-2core/reproducibility
"""

from __future__ import annotations

import glob
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import paired  # noqa: E402


def read_runs(base):
    runs = sorted(glob.glob(os.path.join(base, "run-*")), key=lambda d: int(d.rsplit("-", 1)[1]))
    out = []
    for d in runs:
        with open(os.path.join(d, "results.jsonl")) as f:
            recs = [json.loads(line) for line in f]
        out.append({(r["scenario"], r["phase"], r["impl"], r["mode"]): r for r in recs if r["status"] == "ok"})
    return out


def combine(group):
    """One run's cells from several: samples pooled, each run's processes numbered apart."""
    out = {}
    for key in group[0]:
        if not all(key in g for g in group):
            continue
        samples, processes, turns = [], [], []
        for j, g in enumerate(group):
            r = g[key]
            samples += r["samples"]
            processes += [p + 100 * j for p in r["sample_process"]]
            turns += r["sample_turn"]
        out[key] = {"samples": samples, "sample_process": processes, "sample_turn": turns}
    return out


def quantile(values, q):
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def main(base):
    runs = read_runs(base)
    for k in (1, 2, 3):
        combined = [combine(runs[i : i + k]) for i in range(0, len(runs) - k + 1, k)]
        changes = []
        for a, b in zip(combined, combined[1:]):
            for key, cell in a.items():
                ref = (key[0], key[1], "reference", "eager")
                if key[2] == "reference" or key not in b or ref not in a or ref not in b:
                    continue
                x, y = paired.ratio(a[ref], cell), paired.ratio(b[ref], b[key])
                changes.append(abs(math.log(y["ratio"] / x["ratio"])) * 100)
        print(
            f"{3 * k} processes per run ({len(combined)} runs): ratio change median {quantile(changes, 0.5):.2f}%  "
            f"p90 {quantile(changes, 0.9):.2f}%  max {max(changes):.1f}%  ({len(changes)} pairs)"
        )


if __name__ == "__main__":
    main(sys.argv[1])
