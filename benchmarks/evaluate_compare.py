"""How often does `dlbench compare` cry wolf, and how often does it catch a slowdown?

Measured on this machine, with both ways of comparing:
- stored: independent `dlbench run --processes P` runs, compared afterwards
  (A/A: pairs of runs of the same code; slowdown: a baseline run against a run whose
  step does a fraction more of the same work);
- interleaved: `dlbench compare --interleave` with the two sides as two interpreters
  (wrappers that set DLBENCH_SLOWDOWN), pairs of fresh processes in ABBA order.

The slowed implementation is tests/fake_impls/slowdown: the same kernel over (1 + f)
times the data, not a sleep, so it competes for the cores like real work.

    .venv/bin/python benchmarks/evaluate_compare.py --trials 20 --out out/evaluate
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE_IMPLS = os.path.join(REPO, "tests", "fake_impls")
VERDICTS = ("slower", "faster", "same", "inconclusive")


def dlbench(args, slowdown=0.0, check=True):
    env = dict(os.environ, DLBENCH_EXTRA_IMPLS=FAKE_IMPLS, DLBENCH_SLOWDOWN=str(slowdown), PYTHONPATH=REPO)
    res = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO, env=env, capture_output=True,
                         text=True)
    if check and res.returncode not in (0, 1):
        raise RuntimeError(f"dlbench {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    return res


def cell_args(opts):
    scenario, phase, size = opts.cell.split("/")
    return ["--scenario", scenario, "--impl", "slowdown", "--size", size, "--threads", str(opts.threads),
            "--samples", str(opts.samples), "--min-time", str(opts.min_time), "--warmup", str(opts.warmup)], phase


def verdict_of(compare_json, phase):
    cells = [c for c in json.loads(compare_json)["cells"] if c["key"]["phase"] == phase]
    return cells[0]["verdict"], cells[0].get("change")


def stored_run(opts, workdir, name, slowdown):
    out = os.path.join(workdir, name)
    args, _ = cell_args(opts)
    dlbench(["run", *args, "--processes", str(opts.processes), "--out", out, "--quiet"], slowdown)
    return out


def stored_compare(opts, base, cur):
    _, phase = cell_args(opts)
    res = dlbench(["compare", base, cur, "--threshold", str(opts.threshold), "--alpha", str(opts.alpha),
                   "--format", "json"])
    return verdict_of(res.stdout, phase)


def wrapper(workdir, slowdown):
    """An 'interpreter' for one side: this Python with DLBENCH_SLOWDOWN set."""
    path = os.path.join(workdir, f"python-slowdown-{slowdown:g}")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nDLBENCH_SLOWDOWN={slowdown:g} exec {sys.executable} \"$@\"\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


def interleaved_compare(opts, workdir, name, slowdown):
    args, phase = cell_args(opts)
    res = dlbench(["compare", "--interleave", "--base-python", wrapper(workdir, 0.0), "--cur-python",
                   wrapper(workdir, slowdown), *args, "--pairs", str(opts.pairs), "--threshold",
                   str(opts.threshold), "--alpha", str(opts.alpha), "--format", "json",
                   "--out", os.path.join(workdir, name)])
    # the JSON document follows the "results:" line
    return verdict_of(res.stdout[res.stdout.index("{"):], phase)


def tally(rows):
    table = {}
    for level, verdict, _ in rows:
        table.setdefault(level, Counter())[verdict] += 1
    return table


def evaluate(opts):
    workdir = opts.out or tempfile.mkdtemp(prefix="dlbench-evaluate-")
    os.makedirs(workdir, exist_ok=True)
    rows = {"stored": [], "interleaved": []}
    started = time.perf_counter()
    if "stored" in opts.ways:
        bases = [stored_run(opts, workdir, f"stored-a{i}", 0.0) for i in range(2 * opts.trials)]
        for i in range(opts.trials):
            rows["stored"].append((0.0, *stored_compare(opts, bases[2 * i], bases[2 * i + 1])))
            progress("stored", rows["stored"][-1], started)
        for level in opts.levels:
            for i in range(opts.trials):
                slowed = stored_run(opts, workdir, f"stored-s{level:g}-{i}", level)
                rows["stored"].append((level, *stored_compare(opts, bases[i], slowed)))
                progress("stored", rows["stored"][-1], started)
    if "interleaved" in opts.ways:
        for level in [0.0] + opts.levels:
            for i in range(opts.trials):
                verdict = interleaved_compare(opts, workdir, f"inter-{level:g}-{i}", level)
                rows["interleaved"].append((level, *verdict))
                progress("interleaved", rows["interleaved"][-1], started)
    return rows, time.perf_counter() - started, workdir


def progress(way, row, started):
    level, verdict, change = row
    change = "" if change is None else f"{change:+.1%}"
    print(f"[{time.perf_counter() - started:7.0f}s] {way:<11} injected {level:>4.0%}: {verdict:<12} {change}",
          file=sys.stderr, flush=True)


def report(opts, rows, seconds):
    lines = [f"cell {opts.cell} (impl slowdown), threshold {opts.threshold:.0%}, alpha {opts.alpha:g}; "
             f"stored: {opts.processes} processes per run; interleaved: {opts.pairs} pairs; "
             f"{opts.trials} trials per row; {seconds / 60:.1f} min in all", "",
             "| way | injected | trials | slower | same | inconclusive | faster | caught / false alarms |",
             "|---|---|---|---|---|---|---|---|"]
    for way, way_rows in rows.items():
        for level, counts in sorted(tally(way_rows).items()):
            n = sum(counts.values())
            rate = f"{counts['slower']}/{n} {'false alarms' if level == 0 else 'caught'}"
            lines.append(f"| {way} | {level:.0%} | {n} | {counts['slower']} | {counts['same']} | "
                         f"{counts['inconclusive']} | {counts['faster']} | {rate} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cell", default="sigmoid/forward/small", help="scenario/phase/size (sigmoid or conv)")
    p.add_argument("--trials", type=int, default=20, help="comparisons per row (A/A pairs, slowdowns per level)")
    p.add_argument("--levels", type=lambda s: [float(x) for x in s.split(",")], default=[0.05, 0.10, 0.20])
    p.add_argument("--ways", type=lambda s: s.split(","), default=["stored", "interleaved"])
    p.add_argument("--processes", type=int, default=5, help="stored: processes per run")
    p.add_argument("--pairs", type=int, default=8, help="interleaved: process pairs per comparison")
    p.add_argument("--threshold", type=float, default=0.05)
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--min-time", type=float, default=0.02)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--out", default=None)
    opts = p.parse_args(argv)
    rows, seconds, workdir = evaluate(opts)
    text = report(opts, rows, seconds)
    print(text)
    with open(os.path.join(workdir, "evaluation.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(workdir, "evaluation.json"), "w") as f:
        json.dump({"options": vars(opts), "seconds": seconds, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
