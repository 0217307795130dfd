"""`dlbench compare`: stored results (directories, baseline names) against a candidate,
or both sides run now in lockstep (--interleave); exit 1 on a real slowdown."""

from __future__ import annotations

import argparse
import os
import sys

from cli.common import cells, compare_stored, default_out, options
from cli.options import (
    UsageError,
    add_db_option,
    add_machine_option,
    add_selection,
    add_verdict_options,
    positive_int,
)

NAME = "compare"


def add_parser(sub):
    c = sub.add_parser(NAME, help="compare two results (directories or saved baselines); exit 1 if slower")
    c.add_argument(
        "dirs",
        nargs="*",
        metavar="BASE... CUR",
        help="baseline runs (results directories or a saved baseline name, whose runs all count), then the candidate",
    )
    add_verdict_options(c)
    add_db_option(
        c,
        help_start="where baseline names are looked up: the newest 5 runs of the name on the candidate's "
        "machine; its history there also holds each verdict to the cell's run-to-run noise",
        nargs="?",
        const="",
    )
    add_machine_option(c, "the machine whose baseline a name means", "the candidate's machine name", env=True)
    c.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    c.add_argument(
        "--interleave",
        action="store_true",
        help="run baseline and candidate alternately now (A B B A ...), fresh processes",
    )
    c.add_argument("--base-python", help="interleave: interpreter of the baseline side")
    c.add_argument("--cur-python", help="interleave: interpreter of the candidate side")
    c.add_argument("--base-rev", help="interleave: git revision of the baseline side")
    c.add_argument("--cur-rev", help="interleave: git revision of the candidate side")
    c.add_argument("--pairs", type=positive_int, default=8, help="interleave: A/B process pairs per cell")
    c.add_argument("--out", default=None, help="interleave: where both sides' results go")
    c.add_argument(
        "--lockstep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="interleave: the two processes of a pair alive together, one sample each in turn "
        "(default); --no-lockstep runs them one after the other",
    )
    add_selection(c)
    return c


def run(args):
    if not args.interleave:
        if len(args.dirs) < 2:
            raise UsageError(
                "dlbench compare: give BASE [BASE ...] CUR (results directories or baseline names), or --interleave"
            )
        return compare_stored(args.dirs[:-1], args.dirs[-1], args)
    if args.dirs:
        raise UsageError(
            "dlbench compare: --interleave runs both sides itself; give --base-python/--base-rev "
            "and --cur-python/--cur-rev instead of directories"
        )
    if not (args.base_python or args.base_rev or args.cur_python or args.cur_rev):
        raise UsageError(
            "dlbench compare --interleave: name the sides with --base-python/--base-rev "
            "(and --cur-python/--cur-rev; the default candidate is this checkout)"
        )
    from harness.interleave import compare_sides
    from harness.progress import ProgressDisplay

    todo = cells(args)
    out = args.out or default_out("compare")
    try:
        compare_sides(
            todo,
            out,
            options(args, args.pairs),
            args.pairs,
            "compare",
            ProgressDisplay(),
            lockstep=args.lockstep,
            base_rev=args.base_rev,
            cur_rev=args.cur_rev,
            base_python=args.base_python,
            cur_python=args.cur_python,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted: partial results in {out}", file=sys.stderr)
        return 130
    print(f"results: {out}/base and {out}/cur")
    return compare_stored([os.path.join(out, "base")], os.path.join(out, "cur"), args)
