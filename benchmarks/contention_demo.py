"""One cell timed on a quiet machine, then beside busy processes: the medians and flags.

    .venv/bin/python benchmarks/contention_demo.py [--scenario sigmoid] [--impl torch] [--size small]

What `make bench` on a machine doing other work looks like, reproduced: one spinning
process per core starts before the busy run and stops after it. Prints one line per
run (median, interval, other processes' CPU, flags) and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPIN = "import time\nend = time.time() + 600\nwhile time.time() < end: pass\n"


def run(out, args, extra=()):
    cmd = [
        sys.executable,
        "-m",
        "cli",
        "run",
        "--scenario",
        args.scenario,
        "--impl",
        args.impl,
        "--mode",
        args.mode,
        "--size",
        args.size,
        "--threads",
        str(args.threads),
        "--out",
        out,
        "--quiet",
        "--no-machine-probe",
        *extra,
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "results.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def line(label, rec):
    c = rec.get("contention") or {}
    interval = (
        f"[{rec['ci_low'] * 1e3:.3g}-{rec['ci_high'] * 1e3:.3g}] {rec['ci_level']:.0%}"
        if rec.get("ci_low") is not None
        else ""
    )
    flags = " ".join(w for w in ("contended", "noisy") if rec.get(w)) or "-"
    return (
        f"{label:<6} {rec['scenario']}/{rec['phase']}/{rec['size']} {rec['impl']}:{rec['mode']}  "
        f"median {rec['median'] * 1e3:.3f} ms {interval}  other processes {c.get('other_cpu', float('nan')):.2f} "
        f"cores  load {c.get('load1') or 0:.1f}  flags: {flags}"
    )


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default="sigmoid")
    p.add_argument("--impl", default="torch")
    p.add_argument("--mode", default="eager")
    p.add_argument("--size", default="small")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--busy", type=int, default=os.cpu_count() or 1, help="spinning processes in the busy run")
    args = p.parse_args()
    work = tempfile.mkdtemp(prefix="contention-demo-")
    quiet = run(os.path.join(work, "quiet"), args, ["--quiet-wait", "60"])
    hogs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(args.busy)]
    try:
        busy = run(os.path.join(work, "busy"), args)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    for q, b in zip(quiet, busy):
        print(line("quiet", q))
        print(line("busy", b))
        print(f"       busy / quiet = {b['median'] / q['median']:.1f}x")


if __name__ == "__main__":
    main()
