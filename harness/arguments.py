"""dlbench's command line: the commands, their options, and how each value is read.

A bad value is one line naming the option (UsageError), not argparse's usage dump.
"""

from __future__ import annotations

import argparse
import os

from harness import __version__
from harness.errors import DlbenchError
from harness.machine_peaks import DEFAULT_SECONDS as CEILING_SECONDS
from harness.memory_guard import DEFAULT_LIMIT as _MEMORY_DEFAULT
from harness.memory_guard import parse_limit

# Worker processes per cell by default. One process's samples agree with each other far
# better than processes do with each other on a shared machine, so an interval needs
# several; three keep the small suite within its time budget (README: precision).
# DLBENCH_PROCESSES changes the default (the tests run one).
DEFAULT_PROCESSES = 3
RUN_SAMPLES, RUN_MIN_TIME = 20, 0.025  # dlbench run's turns per process and seconds per sample


class UsageError(DlbenchError):
    """A line that is already whole (argparse's, with its own `dlbench COMMAND` prefix)."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage dump
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _csv(value):
    return [v.strip() for v in value.split(",") if v.strip()]


def _positive_int(value):
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return n


def _number(value):
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def _positive_float(value):
    x = _number(value)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be greater than 0")
    return x


def _non_negative_float(value):
    x = _number(value)
    if not x >= 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a number of seconds, 0 or more")
    return x


def _fraction(value):
    """'5%' or '0.05' -> 0.05"""
    text = value.strip()
    try:
        x = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a fraction like 5% or 0.05") from None
    if not 0 < x < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 100%")
    return x


def _default_processes():
    value = os.environ.get("DLBENCH_PROCESSES", str(DEFAULT_PROCESSES))
    try:
        return _positive_int(value)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"dlbench: DLBENCH_PROCESSES={value}: {exc}") from None


def _memory_limit(value):
    """--memory-limit: bytes, or None for no limit (harness.memory_guard.parse_limit)."""
    try:
        return parse_limit(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_selection(p):
    """Which cells, and how each is measured: shared by run and compare --interleave."""
    p.add_argument("--scenario", type=_csv, default=None, help="comma list (default: all)")
    p.add_argument("--impl", type=_csv, default=None, help="comma list (default: all installed)")
    p.add_argument("--device", type=_csv, default=["cpu"], help="cpu, cuda (alias gpu); default cpu")
    p.add_argument("--mode", type=_csv, default=None, help="eager, graph, ... (default: each implementation's own)")
    p.add_argument("--size", type=_csv, default=["medium"], help="tiny, small, medium, large (default medium)")
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="threads for every framework (default: the machine's cores)",
    )
    p.add_argument("--samples", type=_positive_int, default=10, help="timed samples per process (run: 20, compare: 10)")
    p.add_argument(
        "--min-time",
        type=_positive_float,
        default=0.05,
        help="seconds one sample lasts at least (run: 0.025, compare: 0.05)",
    )
    p.add_argument("--warmup", type=_positive_float, default=0.2, help="seconds of warm-up calls")
    p.add_argument("--max-time", type=_positive_float, default=20.0, help="sampling budget per cell, seconds")
    p.add_argument("--timeout", type=_positive_float, default=900.0, help="seconds before a worker is killed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--memory-limit",
        type=_memory_limit,
        default=_MEMORY_DEFAULT,
        metavar="SIZE",
        help="resident memory a worker (with its children) may use before it is stopped and its cell "
        "recorded as an error: 512M, 4G, 1.5GiB, 75%% of the machine, or none (default "
        f"{_MEMORY_DEFAULT.replace('%', '%%')}, leaving the rest to dlbench and the system)",
    )


def add_verdict_options(p):
    p.add_argument("--threshold", type=_fraction, default=0.05, help="smallest change that counts (default 5%%)")
    p.add_argument(
        "--alpha",
        type=_fraction,
        default=0.05,
        help="family-wise error rate over the suite: the chance that any cell of an unchanged "
        "suite is called slower (Holm's correction; default 0.05)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when any cell is not compared: unsupported on a side, missing or new",
    )


def _machine_name(value):
    from harness.db.settings import check_machine_name

    try:
        return check_machine_name(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def db_help(start=""):
    from harness.db.settings import TIMEOUT_ENV, default_db

    return (
        (start + ". " if start else "")
        + "The database: a file path, sqlite:///PATH or postgresql://USER@HOST/DB (default: $DLBENCH_DB, else "
        f"${{XDG_DATA_HOME:-~/.local/share}}/dlbench/results.sqlite, here {default_db()}); a writer "
        f"waits up to ${TIMEOUT_ENV} seconds (default 60) for another"
    ).replace("%", "%%")


def add_db_option(p, help_start="", **kwargs):
    p.add_argument("--db", default=None, metavar="DB", help=db_help(help_start), **kwargs)


def add_machine_option(p, what, default_help="$DLBENCH_MACHINE, else the fingerprint's hostname", env=True):
    p.add_argument(
        "--machine",
        type=_machine_name,
        default=(os.environ.get("DLBENCH_MACHINE") or None) if env else None,
        help=f"{what} (default: {default_help})",
    )


def add_db_parser(sub):
    """`dlbench db ingest|runs|export`: the results database (harness.db)."""
    d = sub.add_parser("db", help="the results database: ingest results directories, list runs, export a run")
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


def build_parser():
    parser = Parser(prog="dlbench", description="Benchmark deep-learning frameworks on one shared scenario set.")
    parser.add_argument("--version", action="version", version=f"dlbench {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="scenarios, sizes and phases; implementations and whether they are installed")
    p.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1, help=argparse.SUPPRESS)

    r = sub.add_parser("run", help="run cells, validate each against the reference, time it")
    add_selection(r)
    # in lockstep turns, shorter samples pair closer in time and twice the turns halve the
    # ratios' variance for the same seconds of sampling (docs/precision.md)
    r.set_defaults(samples=RUN_SAMPLES, min_time=RUN_MIN_TIME)
    r.add_argument("--out", default=None, help="results directory (default out/run-TIMESTAMP)")
    r.add_argument(
        "--processes",
        type=_positive_int,
        default=_default_processes(),
        help="fresh worker processes per cell; the interval of the median is over them "
        f"(default {DEFAULT_PROCESSES}, or DLBENCH_PROCESSES)",
    )
    r.add_argument(
        "--quiet-wait",
        type=_non_negative_float,
        default=0.0,
        metavar="S",
        help="before each cell, wait up to S seconds for other processes to go quiet "
        "(says when it gives up; the cell is then timed and flagged if contended)",
    )
    r.add_argument(
        "--lockstep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="time a cell's implementations in turns, their workers alive together, so their ratios "
        "cancel the machine's drift (default on; --no-lockstep: one implementation after another)",
    )
    r.add_argument(
        "--precision",
        type=_fraction,
        default=None,
        metavar="P",
        help="after --processes rounds, more rounds for the cells whose interval (the paired ratio "
        "to the cell's fastest; alone, its own) is wider than +-P, e.g. 3%%, within --budget",
    )
    r.add_argument(
        "--budget",
        type=_positive_float,
        default=None,
        metavar="S",
        help="wall seconds from the run's start that --precision may extend it to (default 1200)",
    )
    r.add_argument("--resume", action="store_true", help="run only the cells --out does not have yet")
    r.add_argument("--quiet", action="store_true", help="no results table at the end")
    r.add_argument(
        "--machine-probe",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("DLBENCH_MACHINE_PROBE", "1") != "0",
        help="measure the machine's peaks (GEMM, int8 GEMM, bandwidth) into machine.json first "
        "(default on; DLBENCH_MACHINE_PROBE=0 turns it off)",
    )
    r.add_argument(
        "--probe-time",
        type=_positive_float,
        default=None,
        help="seconds per peak probe and implementation (default %s)" % CEILING_SECONDS,
    )
    add_db_option(
        r,
        nargs="?",
        const="",
        help_start="also record the run into the database as it runs (--db alone: the default database); "
        "the results directory is written as always, and a failed database write ends the run with "
        "exit 2 and the command that adds it later",
    )
    add_machine_option(r, "the name this machine's history is kept under in the database (machine.json's machine_name)")
    r.add_argument("--save", metavar="NAME", help="add these results to baseline NAME for this machine")
    r.add_argument("--keep", type=_positive_int, default=5, help="runs a saved baseline keeps (default 5)")
    r.add_argument(
        "--compare", metavar="NAME", help="then compare against saved baseline NAME (exit 1 if slower; see --strict)"
    )
    add_verdict_options(r)

    c = sub.add_parser("compare", help="compare two results (directories or saved baselines); exit 1 if slower")
    c.add_argument(
        "dirs",
        nargs="*",
        metavar="BASE... CUR",
        help="baseline runs (results directories or a saved baseline name, whose runs all count), then the candidate",
    )
    add_verdict_options(c)
    add_db_option(
        c,
        help_start="look baseline names up in the database (its newest 5 runs of the name on the "
        "candidate's machine) instead of .dlbench/history",
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
    c.add_argument("--pairs", type=_positive_int, default=8, help="interleave: A/B process pairs per cell")
    c.add_argument("--out", default=None, help="interleave: where both sides' results go")
    c.add_argument(
        "--lockstep",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="interleave: the two processes of a pair alive together, one sample each in turn "
        "(default); --no-lockstep runs them one after the other",
    )
    add_selection(c)

    ex = sub.add_parser("export", help="write a results directory as pytest-benchmark JSON")
    ex.add_argument("dir")
    ex.add_argument("--out", required=True, help="the JSON file to write")
    im = sub.add_parser("import", help="read pytest-benchmark JSON files (one process each) into a results directory")
    im.add_argument("files", nargs="+")
    im.add_argument("--out", required=True, help="results directory to create")

    m = sub.add_parser(
        "machine",
        help="measure this machine's practical peaks (GEMM, int8 GEMM, memory "
        "bandwidth) into machine.json: the ceilings reports compare against",
    )
    m.add_argument(
        "--out",
        default=None,
        help="directory for machine.json (default out/machine); a results "
        "directory of this machine gets its peaks added",
    )
    m.add_argument("--impl", type=_csv, default=None, help="comma list (default: all installed)")
    m.add_argument("--device", type=_csv, default=None, help="default: cpu and every device an implementation can use")
    m.add_argument(
        "--threads",
        type=_positive_int,
        default=os.cpu_count() or 1,
        help="threads for every framework (default: the machine's cores)",
    )
    m.add_argument(
        "--probe-time",
        type=_positive_float,
        default=None,
        help="seconds per probe and implementation (default %s)" % CEILING_SECONDS,
    )

    from harness import bisect

    b = bisect.add_parser(sub)
    b.add_argument("--pairs", type=_positive_int, default=8, help="A/B process pairs per cell and step")
    add_verdict_options(b)
    add_selection(b)

    add_db_parser(sub)

    pub = sub.add_parser("publish", help="the database's history as a static site: trends, change points, regressions")
    add_db_option(pub)
    pub.add_argument("--out", required=True, help="folder to write the site into (replaced whole)")
    pub.add_argument(
        "--machine",
        type=_machine_name,
        action="append",
        default=None,
        help="only this machine's history (repeatable; default: every machine in the database)",
    )

    rep = sub.add_parser(
        "report",
        help="tables of one or more results directories (several machines or "
        "versions side by side); --html for a self-contained report",
    )
    rep.add_argument("dirs", nargs="+")
    rep.add_argument(
        "--format", choices=("table", "markdown", "json"), default="table", help="what to print (default table)"
    )
    rep.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (charts included)")
    rep.add_argument("--csv", metavar="FILE", help="also write one row per cell as CSV")
    return parser
