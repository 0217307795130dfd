"""`dlbench db ingest|runs|export`: the results database (harness.db)."""

from __future__ import annotations

import sys

from cli.options import Parser, UsageError, add_db_option, add_machine_option

NAME = "db"


def add_parser(sub):
    d = sub.add_parser(NAME, help="the results database: ingest results directories, list runs, export a run")
    dsub = d.add_subparsers(dest="db_command", parser_class=Parser, metavar="DB_COMMAND")
    dsub.required = True
    i = dsub.add_parser(
        "ingest",
        help="add runs: results directories, pytest-benchmark folders (.benchmarks), saved baselines (--history)",
    )
    i.add_argument(
        "dirs",
        nargs="*",
        metavar="DIR",
        help="a results directory (one run per run id), or a folder of pytest-benchmark JSON files (one run each)",
    )
    i.add_argument(
        "--history",
        nargs="?",
        const="",
        metavar="FOLDER",
        help="also import saved baselines from a .dlbench/history folder (alone: this project's, or "
        "$DLBENCH_HISTORY), each run tagged with its baseline's name",
    )
    add_db_option(i)
    add_machine_option(
        i, "the name history keeps these runs under", "the name each run recorded, else its hostname", env=False
    )
    r = dsub.add_parser("runs", help="list the runs: run id, machine, commit, time, cells ok/total")
    add_db_option(r)
    e = dsub.add_parser("export", help="write a run back as a results directory (results.jsonl + machine.json)")
    e.add_argument("run_id", metavar="RUN_ID")
    e.add_argument("--out", required=True, help="results directory to create")
    add_db_option(e)
    return d


def _ingest_sources(args):
    """([Run], {run id: baseline name}) of everything `db ingest` was given, all read and checked
    before anything is written."""
    from harness import history
    from harness.db import ingest, sources

    if not args.dirs and args.history is None:
        raise UsageError("dlbench db ingest: give results directories or pytest-benchmark folders, or --history")
    found, tags = [], {}
    for d in args.dirs:
        if sources.is_pytest_benchmark_folder(d):
            from reports.pytest_benchmark import import_files

            found += sources.pytest_benchmark_runs(d, import_files)
            continue
        runs, warnings = ingest.read_runs(d)
        for w in warnings:
            print(w, file=sys.stderr)
        found += runs
    if args.history is not None:
        for name, run in sources.history_runs(args.history or history.root()):
            found.append(run)
            tags[run.run_id] = name
    return found, tags


def run(args):
    from harness.db import baselines, engine, export, ingest, listing

    if args.db_command == "ingest":
        found, tags = _ingest_sources(args)
        db = engine.open_db(args.db, create=True)
        try:
            for one in found:
                added = ingest.ingest(db, one, args.machine)
                if one.run_id in tags:
                    name = tags[one.run_id]
                    baselines.tag(db, name, [one.run_id], ingest.machine_name(one.machine, args.machine))
                if added == len(one.records):
                    print(f"ingested run {one.run_id} from {one.source} ({added} cells)")
                elif added:
                    print(f"run {one.run_id} from {one.source}: added the {added} cells the database lacked")
                else:
                    print(f"run {one.run_id} from {one.source} is in the database already; skipped")
        finally:
            db.close()
        print(f"database: {db.where}")
        return 0
    from harness.store import Store

    store = Store(args.db)
    try:
        if args.db_command == "runs":
            rows = store.runs()
            print(listing.format_runs(rows) if rows else f"no runs in {store.where}")
        else:
            n = export.export_run(store.database(), args.run_id, args.out)
            print(f"exported run {args.run_id} ({n} cells) to {args.out}")
    finally:
        store.close()
    return 0
