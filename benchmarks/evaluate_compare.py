"""How often does `dlbench compare` cry wolf, and how often does it catch a slowdown?

Measured on this machine, with both ways of comparing, for every cell of --scenarios
(sigmoid: NumPy, memory-bound; conv: PyTorch, compute-bound) through the test-only
implementation tests/fake_impls/slowdown, whose step does a fraction more of the same
work (not a sleep, so it competes for the cores like real work):
- stored: a sequence of `dlbench run --processes P` runs of the same code; each
  candidate run is compared with the --baseline-runs runs before it (a rolling window,
  as a CI job keeps the last few good runs): A/A when the candidate is the next run of
  the same code, a slowdown when it is a run with DLBENCH_SLOWDOWN set;
- interleaved: `dlbench compare --interleave` with the two sides as two interpreters
  (wrappers that set DLBENCH_SLOWDOWN), pairs of fresh processes in lockstep.

    .venv/bin/python benchmarks/evaluate_compare.py --aa-trials 20 --trials 10 --out out/evaluate

Rerun with the same --out and another --threshold or --alpha to judge those settings on
the same measurements: runs that exist are not measured again.
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
    res = subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=env, capture_output=True, text=True)
    if check and res.returncode not in (0, 1):
        raise RuntimeError(f"dlbench {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    return res


def cell_args(opts):
    return [
        "--scenario",
        opts.scenarios,
        "--impl",
        "slowdown",
        "--size",
        opts.size,
        "--threads",
        str(opts.threads),
        "--samples",
        str(opts.samples),
        "--min-time",
        str(opts.min_time),
        "--warmup",
        str(opts.warmup),
    ]


def verdicts(compare_json):
    """{cell: (verdict, change)} from `dlbench compare --format json`."""
    out = {}
    for c in json.loads(compare_json)["cells"]:
        k = c["key"]
        out[f"{k['scenario']}/{k['phase']}"] = (c["verdict"], c.get("change"))
    return out


def stored_run(opts, workdir, name, slowdown):
    out = os.path.join(workdir, name)
    if not os.path.exists(os.path.join(out, "results.jsonl")):  # a rerun with the same --out reuses runs
        dlbench(
            [
                "run",
                *cell_args(opts),
                "--processes",
                str(opts.processes),
                "--out",
                out,
                "--quiet",
                "--no-machine-probe",
            ],
            slowdown,
        )
    return out


def stored_compare(opts, bases, cur):
    """The candidate run against a baseline of several runs (dlbench compare BASE... CUR)."""
    res = dlbench(
        ["compare", *bases, cur, "--threshold", str(opts.threshold), "--alpha", str(opts.alpha), "--format", "json"]
    )
    return verdicts(res.stdout)


def wrapper(workdir, slowdown):
    """An 'interpreter' for one side: this Python with DLBENCH_SLOWDOWN set."""
    path = os.path.join(workdir, f"python-slowdown-{slowdown:g}")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\nDLBENCH_SLOWDOWN={slowdown:g} exec {sys.executable} "$@"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


def interleaved_compare(opts, workdir, name, slowdown):
    out = os.path.join(workdir, name)
    if all(os.path.exists(os.path.join(out, side, "results.jsonl")) for side in ("base", "cur")):
        # measured before (a rerun with the same --out): only the verdict is recomputed,
        # so other --threshold/--alpha settings can be judged on the same measurements
        res = dlbench(
            [
                "compare",
                os.path.join(out, "base"),
                os.path.join(out, "cur"),
                "--threshold",
                str(opts.threshold),
                "--alpha",
                str(opts.alpha),
                "--format",
                "json",
            ]
        )
        return verdicts(res.stdout)
    res = dlbench(
        [
            "compare",
            "--interleave",
            "--base-python",
            wrapper(workdir, 0.0),
            "--cur-python",
            wrapper(workdir, slowdown),
            *cell_args(opts),
            "--pairs",
            str(opts.pairs),
            "--threshold",
            str(opts.threshold),
            "--alpha",
            str(opts.alpha),
            "--format",
            "json",
            "--out",
            os.path.join(workdir, name),
            "--lockstep" if opts.lockstep else "--no-lockstep",
        ]
    )
    # the JSON document follows the "results:" line
    return verdicts(res.stdout[res.stdout.index("{") :])


def evaluate(opts):
    """Rows of (way, cell, injected fraction, verdict, change)."""
    workdir = opts.out or tempfile.mkdtemp(prefix="dlbench-evaluate-")
    os.makedirs(workdir, exist_ok=True)
    rows = []
    started = time.perf_counter()

    def add(way, level, found):
        for cell, (verdict, change) in found.items():
            rows.append((way, cell, level, verdict, change))
            progress(way, cell, level, verdict, change, started)

    if "stored" in opts.ways:
        # A CI job compares against the last --baseline-runs good runs: a rolling window
        # over a sequence of runs of the same code; the next run is the A/A candidate.
        k = opts.baseline_runs
        same = [stored_run(opts, workdir, f"stored-a{i}", 0.0) for i in range(max(opts.aa_trials, opts.trials) + k)]
        for i in range(opts.aa_trials):
            add("stored", 0.0, stored_compare(opts, same[i : i + k], same[i + k]))
        for level in opts.levels:
            for i in range(opts.trials):
                slowed = stored_run(opts, workdir, f"stored-s{level:g}-{i}", level)
                add("stored", level, stored_compare(opts, same[i + 1 : i + 1 + k], slowed))
    if "interleaved" in opts.ways:
        for level in [0.0] + opts.levels:
            for i in range(opts.aa_trials if level == 0 else opts.trials):
                add("interleaved", level, interleaved_compare(opts, workdir, f"inter-{level:g}-{i}", level))
    return rows, time.perf_counter() - started, workdir


def progress(way, cell, level, verdict, change, started):
    change = "" if change is None else f"{change:+.1%}"
    print(
        f"[{time.perf_counter() - started:7.0f}s] {way:<11} {cell:<18} injected {level:>4.0%}: {verdict:<12} {change}",
        file=sys.stderr,
        flush=True,
    )


def report(opts, rows, seconds):
    lines = [
        f"impl slowdown, size {opts.size}, threads {opts.threads}, threshold {opts.threshold:.0%}, "
        f"alpha {opts.alpha:g}; stored: {opts.processes} processes per run, baseline of "
        f"{opts.baseline_runs} runs; interleaved: {opts.pairs} pairs"
        f"{' in lockstep' if opts.lockstep else ''}; {opts.trials} trials per row; "
        f"{seconds / 60:.1f} min in all",
        "",
        "| way | cell | injected work | measured change (median) | trials | slower | same | inconclusive | "
        "faster | caught / false alarms |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    table, changes = {}, {}
    for way, cell, level, verdict, change in rows:
        table.setdefault((way, cell, level), Counter())[verdict] += 1
        if change is not None:
            changes.setdefault((way, cell, level), []).append(change)
    for key, counts in table.items():
        way, cell, level = key
        n = sum(counts.values())
        rate = f"{counts['slower']}/{n} {'false alarms' if level == 0 else 'caught'}"
        measured = sorted(changes.get(key, []))
        measured = f"{measured[len(measured) // 2]:+.1%}" if measured else ""
        lines.append(
            f"| {way} | {cell} | +{level:.0%} | {measured} | {n} | {counts['slower']} | {counts['same']} | "
            f"{counts['inconclusive']} | {counts['faster']} | {rate} |"
        )
    return "\n".join(lines)


def pair_noise(workdir):
    """Per cell: the spread of per-pair log ratios around their trial's median, over every
    interleaved trial in workdir (how much one pair of processes says on its own)."""
    sys.path.insert(0, REPO)
    from harness.results import read_records
    from reports.compare import pair_log_ratios

    spread = {}
    for name in sorted(os.listdir(workdir)):
        sides = [os.path.join(workdir, name, s) for s in ("base", "cur")]
        if not (name.startswith("inter-") and all(os.path.exists(os.path.join(d, "results.jsonl")) for d in sides)):
            continue
        base, cur = ({(r["scenario"], r["phase"]): r for r in read_records(d) if r["status"] == "ok"} for d in sides)
        for cell in base.keys() & cur.keys():
            logs = pair_log_ratios(base[cell], cur[cell])
            mid = sorted(logs)[len(logs) // 2]
            spread.setdefault("/".join(cell), []).extend(v - mid for v in logs)
    lines = [
        "",
        "| cell | pairs | per-pair spread (1.4826 MAD of log ratio) | 90% of pairs within |",
        "|---|---|---|---|",
    ]
    for cell, dev in sorted(spread.items()):
        dev = sorted(abs(v) for v in dev)
        mad = 1.4826 * dev[len(dev) // 2]
        lines.append(f"| {cell} | {len(dev)} | {mad:.2%} | +-{dev[int(0.9 * (len(dev) - 1))]:.2%} |")
    return "\n".join(lines) if spread else ""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--scenarios", default="sigmoid,conv", help="comma list: sigmoid (NumPy), conv (PyTorch)")
    p.add_argument("--size", default="small")
    p.add_argument("--trials", type=int, default=20, help="comparisons per injected slowdown level")
    p.add_argument("--aa-trials", type=int, default=20, help="A/A comparisons (same code on both sides)")
    p.add_argument("--levels", type=lambda s: [float(x) for x in s.split(",")], default=[0.05, 0.10, 0.20])
    p.add_argument("--ways", type=lambda s: s.split(","), default=["stored", "interleaved"])
    p.add_argument("--processes", type=int, default=5, help="stored: processes per run")
    p.add_argument("--baseline-runs", type=int, default=3, help="stored: runs in the baseline")
    p.add_argument("--pairs", type=int, default=8, help="interleaved: process pairs per comparison")
    p.add_argument(
        "--lockstep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="interleaved: the pair's processes take turns sample by sample (default)",
    )
    p.add_argument("--threshold", type=float, default=0.03, help="the CI example's setting (see README)")
    p.add_argument("--alpha", type=float, default=0.05)
    # one thread below the cores: two threads on two shared cores flip between modes
    p.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1) - 1))
    p.add_argument("--samples", type=int, default=10)
    p.add_argument("--min-time", type=float, default=0.02)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--out", default=None)
    opts = p.parse_args(argv)
    rows, seconds, workdir = evaluate(opts)
    text = report(opts, rows, seconds) + pair_noise(workdir)
    print(text)
    with open(os.path.join(workdir, f"evaluation-threshold{opts.threshold:g}-alpha{opts.alpha:g}.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(workdir, "evaluation.json"), "w") as f:
        json.dump({"options": vars(opts), "seconds": seconds, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
