"""How fast `dlbench db ingest` writes records into SQLite and into PostgreSQL.

    .venv/bin/python benchmarks/db_ingest_speed.py [--records 20000] [--template DIR] [--pg-url URL]

A synthetic results directory of N records is built from a real run's records (the
template, by default results/cpu-vm-2core/small: 81 cells with their samples), cut into
runs the template's size, each with a run id of its own. It is then ingested through the
CLI's own code path (`dlbench db ingest DIR --db ...`, in this process) into a new SQLite
file and into a new PostgreSQL database: by default one on a throwaway server
(tests/postgres.py, a Unix socket, fsync off), or --pg-url's. Prints one row per backend.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import psycopg  # noqa: E402, F401  (imported here: the timings are ingest's, not the imports')

from cli import main as cli  # noqa: E402
from harness.db import engine, ingest  # noqa: E402, F401
from harness.results import read_results  # noqa: E402

TEMPLATE = os.path.join(ROOT, "results", "cpu-vm-2core", "small")


def synthetic_dir(template, n, dest):
    """dest holding n records: the template's, repeated, each repeat a run of its own."""
    records = [rec for _, rec in read_results(template).numbered]
    os.makedirs(dest)
    shutil.copy(os.path.join(template, "machine.json"), dest)
    with open(os.path.join(dest, "results.jsonl"), "w") as f:
        for i in range(n):
            rec = dict(records[i % len(records)], run_id=f"synthetic-{i // len(records):05d}")
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return len(records), -(-n // len(records))


def timed_ingest(results_dir, url):
    """(wall, this process's CPU) seconds of `dlbench db ingest DIR --db URL`: reading,
    checking, opening, writing. The CPU time leaves out PostgreSQL's server, and is what a
    machine shared with other work can still compare."""
    start, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["db", "ingest", results_dir, "--db", url])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"dlbench db ingest into {url} exited {code}")
    return seconds, cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--template", default=TEMPLATE, help="a real results directory whose records are repeated")
    parser.add_argument("--pg-url", help="an empty PostgreSQL database (default: a throwaway server's)")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="dlbench-ingest-speed-")
    server = None
    try:
        results_dir = os.path.join(work, "results")
        per_run, n_runs = synthetic_dir(args.template, args.records, results_dir)
        pg_url = args.pg_url
        if not pg_url:
            from tests.postgres import Server

            server = Server()
            pg_url = server.new_database()
        backends = [("SQLite (file, WAL)", f"sqlite:///{work}/results.sqlite"), ("PostgreSQL 15", pg_url)]
        source = os.path.relpath(args.template, ROOT)
        print(f"{args.records} records ({n_runs} runs of {per_run}, from {source}), one `dlbench db ingest`")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"{'backend':<20} {'seconds':>8} {'records/s':>10} {'runs/s':>7} {'client CPU s':>13}")
        for name, url in backends:
            seconds, cpu = timed_ingest(results_dir, url)
            print(f"{name:<20} {seconds:8.2f} {args.records / seconds:10.0f} {n_runs / seconds:7.1f} {cpu:13.2f}")
    finally:
        if server:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
