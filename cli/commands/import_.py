"""`dlbench import`: pytest-benchmark JSON files (one process each) into a results directory."""

from __future__ import annotations

NAME = "import"


def add_parser(sub):
    im = sub.add_parser(NAME, help="read pytest-benchmark JSON files (one process each) into a results directory")
    im.add_argument("files", nargs="+")
    im.add_argument("--out", required=True, help="results directory to create")
    return im


def run(args):
    from harness.results import import_records
    from reports.pytest_benchmark import import_files

    records, machine = import_files(args.files)
    import_records(args.out, records, machine, "dlbench import")
    print(f"imported {len(records)} cells from {len(args.files)} files into {args.out}")
    return 0
