"""`dlbench report`: tables of one or more results directories (machines or versions side
by side), and the self-contained HTML report."""

from __future__ import annotations

import os
import sys
import time

from cli.common import print_report, write, write_text

NAME = "report"


def add_parser(sub):
    rep = sub.add_parser(
        NAME,
        help="tables of one or more results directories (several machines or "
        "versions side by side); --html for a self-contained report",
    )
    rep.add_argument("dirs", nargs="+")
    rep.add_argument(
        "--format", choices=("table", "markdown", "json"), default="table", help="what to print (default table)"
    )
    rep.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (charts included)")
    rep.add_argument("--csv", metavar="FILE", help="also write one row per cell as CSV")
    return rep


def run(args):
    from reports import formats

    t0 = time.perf_counter()
    df, sources = print_report(args.dirs, args.format)
    notes = []
    if args.csv:
        write(args.csv, lambda path: formats.write_csv(df, path))
        notes.append(f"csv: {args.csv}")
    if args.html:
        from reports.html import render_html

        page = render_html(df, sources)
        write(args.html, lambda path: write_text(path, page))
        notes.append(
            f"html report: {os.path.abspath(args.html)} ({len(page.encode()) / 1024:.0f} KiB, "
            f"built in {time.perf_counter() - t0:.2f} s)"
        )
    for note in notes:  # stderr with --format json keeps stdout parseable
        print(note, file=sys.stderr if args.format == "json" else sys.stdout)
    return 0
