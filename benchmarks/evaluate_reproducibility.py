"""Ten identical runs of the small suite, then: do the figures reproduce?

Runs `dlbench run --size small --impl reference,torch,tensorflow --mode eager,graph` N
times into OUT/run-I (nothing else should run on the machine meanwhile), polling the
resident memory of all of dlbench's workers together, then prints
reports.reproducibility.evaluate over the runs in order (vs-reference ratio changes
between consecutive runs, coverage of the stated intervals, drift flags) and, per run,
its wall time, the sentinel's spread and the workers' peak memory. The raw results stay
in OUT; the summary is written to OUT/summary.json and printed.

Run:  .venv/bin/python benchmarks/evaluate_reproducibility.py --out results/cpu-vm-2core/reproducibility [--runs 10]
Extra arguments after -- go to every dlbench run (e.g. -- --no-lockstep for the baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from reports.reproducibility import evaluate  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")


def workers_rss():
    """Resident bytes of every dlbench worker process now."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"harness.worker" not in f.read():
                    continue
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):
            continue
    return total


class PeakMemory(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.stopped = 0, threading.Event()

    def run(self):
        while not self.stopped.wait(0.5):
            self.peak = max(self.peak, workers_rss())


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--size", default="small")
    p.add_argument("--impl", default="reference,torch,tensorflow")
    p.add_argument("--mode", default="eager,graph")
    p.add_argument("extra", nargs="*")
    args = p.parse_args(argv[1:])
    os.makedirs(args.out, exist_ok=True)
    dlbench = os.path.join(ROOT, ".venv", "bin", "dlbench")
    per_run, dirs = [], []
    for i in range(args.runs):
        out = os.path.join(args.out, f"run-{i}")
        if not os.path.exists(os.path.join(out, "results.jsonl")):
            cmd = [dlbench, "run", "--size", args.size, "--impl", args.impl, "--mode", args.mode]
            cmd += ["--no-machine-probe", "--quiet", "--out", out, *args.extra]
            watch = PeakMemory()
            watch.start()
            start = time.monotonic()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            wall = time.monotonic() - start
            watch.stopped.set()
            with open(os.path.join(out, "run-facts.json"), "w") as f:
                json.dump({"wall_s": round(wall, 1), "workers_peak_rss_bytes": watch.peak, "command": cmd[1:]}, f)
        dirs.append(out)
        with open(os.path.join(out, "run-facts.json")) as f:
            facts = json.load(f)
        with open(os.path.join(out, "machine.json")) as f:
            s = json.load(f).get("sentinel") or {}
        med = s.get("median")
        per_run.append(
            {
                "run": i,
                **facts,
                "sentinel_median_ms": med and round(med * 1e3, 4),
                "sentinel_p5_p95_pct": med
                and [round((s["p5"] / med - 1) * 100, 1), round((s["p95"] / med - 1) * 100, 1)],
            }
        )
        print(json.dumps(per_run[-1]), flush=True)
    # each consecutive pair alone too: a pair that spans hours (another session) shows apart
    pairs = [{"runs": [i, i + 1], **evaluate(dirs[i : i + 2])} for i in range(len(dirs) - 1)]
    summary = {"evaluation": evaluate(dirs), "runs": per_run, "pairs": pairs}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary["evaluation"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
