"""How long `dlbench publish` takes, and how large the site is, for 100 commits x 63 cells.

    .venv/bin/python benchmarks/dashboard_build.py [--commits 100] [--cells 63] [--out DIR]

A database of one machine is built from a real run (results/cpu-vm-2core/small: its first
N ok cells): one run per commit, each cell's median the real one times this machine's
run-to-run noise (log-normal, sigma 0.028, and 1 run in 20 10-25% slower: the model of
docs/change-points.md), with a 10% slowdown planted in every seventh cell at a random
commit. Then `dlbench publish` runs through the CLI, timed, and the site is measured.
Prints the build time, the file count and size, and how many planted steps were found.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cli import main as cli  # noqa: E402
from harness.db import engine, ingest  # noqa: E402
from harness.results import read_machine, read_results  # noqa: E402

TEMPLATE = os.path.join(ROOT, "results", "cpu-vm-2core", "small")


def build_db(url, commits, n_cells, seed=0):
    rng = np.random.default_rng(seed)
    template = [r for r in read_results(TEMPLATE).records if r["status"] == "ok"][:n_cells]
    machine = read_machine(TEMPLATE)
    steps = {k: int(rng.integers(10, commits - 10)) for k in range(0, len(template), 7)}
    db = engine.open_db(url)
    t0 = time.perf_counter()
    for c in range(commits):
        run_id = f"bench-{c:03d}"
        records = []
        for k, rec in enumerate(template):
            factor = math.exp(rng.normal(0, 0.028)) * (1 + rng.uniform(0.10, 0.25) * (rng.random() < 0.05))
            factor *= 1.10 if k in steps and c >= steps[k] else 1.0
            records.append(
                dict(
                    rec,
                    run_id=run_id,
                    git_commit=f"{c:04d}" + "ab" * 18,
                    timestamp=f"2026-{1 + c // 28:02d}-{1 + c % 28:02d}T12:00:00+00:00",
                    median=rec["median"] * factor,
                    ci_low=rec["ci_low"] * factor if rec.get("ci_low") else None,
                    ci_high=rec["ci_high"] * factor if rec.get("ci_high") else None,
                )
            )
        ingest.ingest(db, ingest.Run(run_id, "synthetic", machine, records), "bench-vm")
    db.close()
    return len(template), steps, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--cells", type=int, default=63)
    parser.add_argument("--out", default=None, help="the site's folder (default: a temporary one)")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="dlbench-dashboard-")
    url = f"sqlite:///{folder}/history.sqlite"
    cells, steps, seconds = build_db(url, args.commits, args.cells)
    print(f"database: {args.commits} runs x {cells} cells ingested in {seconds:.1f} s")
    out = args.out or os.path.join(folder, "site")
    t0 = time.perf_counter()
    assert cli.main(["publish", "--db", url, "--out", out]) == 0
    wall = time.perf_counter() - t0
    files = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs]
    size = sum(os.path.getsize(f) for f in files)
    regressions = open(os.path.join(out, "regressions.html"), encoding="utf-8").read()
    found = regressions.count('class="change regression"')
    print(
        f"publish: {wall:.2f} s for {args.commits} commits x {cells} cells; {len(files)} files, "
        f"{size / 1e6:.2f} MB (index.html {os.path.getsize(os.path.join(out, 'index.html')) / 1e3:.0f} kB); "
        f"{len(steps)} planted 10% slowdowns, {found} regressions listed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
