"""`dlbench export`: a results directory as pytest-benchmark JSON."""

from __future__ import annotations

import json
import sys

from cli.common import write, write_text

NAME = "export"


def add_parser(sub):
    ex = sub.add_parser(NAME, help="write a results directory as pytest-benchmark JSON")
    ex.add_argument("dir")
    ex.add_argument("--out", required=True, help="the JSON file to write")
    return ex


def run(args):
    from reports.compare_runs import load_records
    from reports.pytest_benchmark import export

    records, machine, warnings = load_records(args.dir)
    for w in warnings:
        print(w, file=sys.stderr)
    doc, left_out = export(records, machine)
    write(args.out, lambda path: write_text(path, json.dumps(doc, indent=1)))
    note = f"; {left_out} cells not ok, left out (pytest-benchmark has no status)" if left_out else ""
    print(f"wrote {len(doc['benchmarks'])} benchmarks to {args.out}{note}")
    return 0
