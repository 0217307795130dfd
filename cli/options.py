"""The options commands share and how each value is read (each command adds its own in
cli/commands/NAME.py). A bad value is one line naming the option (UsageError), not
argparse's usage dump.
"""

from __future__ import annotations

import argparse
import os

from harness.errors import DlbenchError
from harness.memory_guard import DEFAULT_LIMIT as _MEMORY_DEFAULT
from harness.memory_guard import parse_limit
from scenarios.base import SCALINGS

# Worker processes per cell by default. One process's samples agree with each other far
# better than processes do with each other on a shared machine, so an interval needs
# several; three keep the small suite within its time budget (README: precision).
# DLBENCH_PROCESSES changes the default (the tests run one).
DEFAULT_PROCESSES = 3


class UsageError(DlbenchError):
    """A line that is already whole (argparse's, with its own `dlbench COMMAND` prefix)."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage dump
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def csv(value):
    return [v.strip() for v in value.split(",") if v.strip()]


def rank_counts(value):
    """--ranks 1,2: the rank counts, each a whole number of at least 1, in order, once."""
    counts = [positive_int(v) for v in csv(value)]
    if not counts:
        raise argparse.ArgumentTypeError("--ranks names no rank count")
    return list(dict.fromkeys(counts))


def scalings(value):
    """--scaling weak,strong: which batch splits a data-parallel training step runs at."""
    chosen = csv(value)
    unknown = [s for s in chosen if s not in SCALINGS]
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(f"{value!r}: choose from {', '.join(SCALINGS)}")
    return list(dict.fromkeys(chosen))


def positive_int(value):
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be at least 1")
    return n


def number(value):
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def positive_float(value):
    x = number(value)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be greater than 0")
    return x


def non_negative_float(value):
    x = number(value)
    if not x >= 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} must be a number of seconds, 0 or more")
    return x


def fraction(value):
    """'5%' or '0.05' -> 0.05"""
    text = value.strip()
    try:
        x = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a fraction like 5% or 0.05") from None
    if not 0 < x < 1:
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 100%")
    return x


def probe_time(p, what="probe and implementation"):
    from harness.machine_peaks import DEFAULT_SECONDS

    p.add_argument(
        "--probe-time",
        type=positive_float,
        default=None,
        help=f"seconds per {what} (default {DEFAULT_SECONDS})",
    )


def threads(p):
    p.add_argument(
        "--threads",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="threads for every framework (default: the machine's cores)",
    )


def default_processes():
    value = os.environ.get("DLBENCH_PROCESSES", str(DEFAULT_PROCESSES))
    try:
        return positive_int(value)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"dlbench: DLBENCH_PROCESSES={value}: {exc}") from None


def memory_limit(value):
    """--memory-limit: bytes, or None for no limit (harness.memory_guard.parse_limit)."""
    try:
        return parse_limit(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_selection(p):
    """Which cells, and how each is measured: shared by run and compare --interleave."""
    p.add_argument(
        "--scenario",
        type=csv,
        default=None,
        help="comma list of scenarios or scenario/phase (task/generate) (default: all but the task layer)",
    )
    p.add_argument("--impl", type=csv, default=None, help="comma list (default: all installed)")
    p.add_argument("--device", type=csv, default=["cpu"], help="cpu, cuda (alias gpu); default cpu")
    p.add_argument("--mode", type=csv, default=None, help="eager, graph, ... (default: each implementation's own)")
    p.add_argument("--size", type=csv, default=["medium"], help="tiny, small, medium, large (default medium)")
    threads(p)
    p.add_argument("--samples", type=positive_int, default=10, help="timed samples per process (run: 20, compare: 10)")
    p.add_argument(
        "--min-time",
        type=positive_float,
        default=0.05,
        help="seconds one sample lasts at least (run: 0.025, compare: 0.05)",
    )
    p.add_argument("--warmup", type=positive_float, default=0.2, help="seconds of warm-up calls")
    p.add_argument("--max-time", type=positive_float, default=20.0, help="sampling budget per cell, seconds")
    p.add_argument("--timeout", type=positive_float, default=900.0, help="seconds before a worker is killed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--ranks",
        type=rank_counts,
        default=[1],
        metavar="N[,N...]",
        help="data-parallel ranks: each cell that has a data-parallel form (allreduce, the training "
        "steps) also runs over N worker processes, each with --threads threads, on loopback (default 1)",
    )
    p.add_argument(
        "--scaling",
        type=scalings,
        default=list(SCALINGS),
        metavar="weak,strong",
        help="over several ranks, how a training step's batch meets them: weak, each rank the size's "
        "batch; strong, the size's batch split among them (default both)",
    )
    p.add_argument(
        "--task-runs",
        type=positive_int,
        default=None,
        help="task scenario: trials to the target per cell, each a fresh process (default: the size's, 5 on small)",
    )
    p.add_argument(
        "--memory-limit",
        type=memory_limit,
        default=_MEMORY_DEFAULT,
        metavar="SIZE",
        help="resident memory a worker (with its children) may use before it is stopped and its cell "
        "recorded as an error: 512M, 4G, 1.5GiB, 75%% of the machine, or none (default "
        f"{_MEMORY_DEFAULT.replace('%', '%%')}, leaving the rest to dlbench and the system)",
    )


def add_verdict_options(p):
    p.add_argument("--threshold", type=fraction, default=0.05, help="smallest change that counts (default 5%%)")
    p.add_argument(
        "--alpha",
        type=fraction,
        default=0.05,
        help="family-wise error rate over the suite: the chance that any cell of an unchanged "
        "suite is called slower (Holm's correction; default 0.05)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) when any cell is not compared: unsupported on a side, missing or new",
    )


def machine_name(value):
    from harness.db.settings import check_machine_name

    try:
        return check_machine_name(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def db_help(start=""):
    from harness.db.settings import TIMEOUT_ENV, default_db, shown

    return (
        (start + ". " if start else "")
        + "The database: a file path, sqlite:///PATH or postgresql://USER@HOST/DB (default: $DLBENCH_DB, else "
        f"${{XDG_DATA_HOME:-~/.local/share}}/dlbench/results.sqlite, here {shown(default_db())}); a writer "
        f"waits up to ${TIMEOUT_ENV} seconds (default 60) for another"
    ).replace("%", "%%")


def add_db_option(p, help_start="", **kwargs):
    p.add_argument("--db", default=None, metavar="DB", help=db_help(help_start), **kwargs)


def add_machine_option(p, what, default_help="$DLBENCH_MACHINE, else the fingerprint's hostname", env=True):
    p.add_argument(
        "--machine",
        type=machine_name,
        default=(os.environ.get("DLBENCH_MACHINE") or None) if env else None,
        help=f"{what} (default: {default_help})",
    )
