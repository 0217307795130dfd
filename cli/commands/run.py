"""`dlbench run`: run cells, validate each against the reference, time it; the ceilings
before and after, the results table at the end; optionally into the database, saved as a
baseline, compared with one."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from cli.common import cells, compare_stored, default_out, options, print_report
from cli.options import (
    DEFAULT_PROCESSES,
    UsageError,
    add_db_option,
    add_machine_option,
    add_selection,
    add_verdict_options,
    default_processes,
    fraction,
    non_negative_float,
    positive_float,
    positive_int,
    probe_time,
)

NAME = "run"
RUN_SAMPLES, RUN_MIN_TIME = 20, 0.025  # turns per process and seconds per sample


def add_parser(sub):
    r = sub.add_parser(NAME, help="run cells, validate each against the reference, time it")
    add_selection(r)
    # in lockstep turns, shorter samples pair closer in time and twice the turns halve the
    # ratios' variance for the same seconds of sampling (docs/precision.md)
    r.set_defaults(samples=RUN_SAMPLES, min_time=RUN_MIN_TIME)
    r.add_argument(
        "--across-machines",
        action="store_true",
        help="this is one rank of a job a launcher started on several machines (torchrun, srun, mpirun, "
        "TF_CONFIG): the cells run over the job's ranks, the results meet at rank 0 (README: across machines)",
    )
    r.add_argument("--out", default=None, help="results directory (default out/run-TIMESTAMP)")
    r.add_argument(
        "--processes",
        type=positive_int,
        default=default_processes(),
        help="fresh worker processes per cell; the interval of the median is over them "
        f"(default {DEFAULT_PROCESSES}, or DLBENCH_PROCESSES)",
    )
    r.add_argument(
        "--quiet-wait",
        type=non_negative_float,
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
        type=fraction,
        default=None,
        metavar="P",
        help="after --processes rounds, more rounds for the cells whose interval (the paired ratio "
        "to the cell's fastest; alone, its own) is wider than +-P, e.g. 3%%, within --budget",
    )
    r.add_argument(
        "--budget",
        type=positive_float,
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
    probe_time(r, "peak probe and implementation")
    add_db_option(
        r,
        nargs="?",
        const="",
        help_start="also record the run into the database as it runs (--db alone: the default database); "
        "the results directory is written as always, and a failed database write ends the run with "
        "exit 2 and the command that adds it later",
    )
    add_machine_option(r, "the name this machine's history is kept under in the database (machine.json's machine_name)")
    r.add_argument(
        "--save",
        metavar="NAME",
        help="add this run to baseline NAME for this machine, in the database (--db, else the default one)",
    )
    r.add_argument(
        "--keep", type=positive_int, default=5, help="the baseline's newest runs --compare pools (default 5)"
    )
    r.add_argument(
        "--compare", metavar="NAME", help="then compare against saved baseline NAME (exit 1 if slower; see --strict)"
    )
    add_verdict_options(r)
    return r


def run(args):
    from harness import history
    from harness.progress import ProgressDisplay
    from harness.runner import open_runner

    launch = _launch(args)
    todo = cells(args)
    for name in (args.save, args.compare):
        if name:
            history.check_name(name)
    out = args.out or default_out("run")
    if launch and launch.rank > 0:  # every rank writes the same records: rank 0 into --out, the others beside
        out = os.path.join(out, f"rank-{launch.rank}")
    recorder = _recorder(args, out)
    runner = open_runner(
        "run",
        out,
        options(args, args.processes),
        progress=ProgressDisplay(),
        resume=args.resume,
        machine_name=args.machine,
        listeners=[recorder.add] if recorder else (),
    )
    runner.launch = launch
    devices = list(dict.fromkeys(c.device for c in todo))
    probing = sorted({c.impl for c in todo} | {"reference"}) if args.machine_probe else None
    try:
        runner.prepare(
            sorted({c.impl for c in todo}),
            probe_with=probing,
            probe_seconds=args.probe_time,
            devices=devices,
            keep_existing=True,
            hint="; --no-machine-probe skips this",
        )
        runner.run(todo)
        if probing:
            from reports.ceiling_check import beaten

            runner.ceilings.recheck(probing, devices, beaten)
    except KeyboardInterrupt:
        done = len(runner.results_dir.done) + len(runner.records)
        journal = os.path.join(out, "rounds.jsonl")
        rounds = sum(1 for _ in open(journal)) if os.path.exists(journal) else 0
        kept = f" (and {rounds} timed rounds in {journal})" if rounds else ""
        print(
            f"\ninterrupted: {done} cells saved in {out}{kept}; finish with: dlbench run ... --out {out} --resume",
            file=sys.stderr,
        )
        return 130
    finally:
        runner.close()
        if launch:
            launch.close()
        if recorder:
            recorder.close()
    if not args.quiet:
        print_report([out], "table")
    print(f"results: {os.path.join(out, 'results.jsonl')}")
    code = 0
    if recorder and recorder.failure:
        # --save keeps the baseline as a folder then: nothing lost, and ingest --history names it
        baseline = (args.save, history.save(out, args.save, args.keep)) if args.save else None
        print(f"dlbench run: {recorder.failure_line(baseline)}", file=sys.stderr)
        code = 2
    elif recorder:
        print(f"database: {recorder.written} cells recorded in {recorder.where()}")
    if args.compare:
        code = max(code, compare_stored([args.compare], out, args))
    if args.save and not (recorder and recorder.failure):  # a failed recorder kept it as a folder already
        code = max(code, _save(args, out))
    return code


def _launch(args):
    """--across-machines: this rank's place in the launcher's job (harness.launch); the
    cells then run at the job's size, one implementation after another."""
    if not args.across_machines:
        return None
    from harness.launch import from_environment

    launch = from_environment()
    if args.ranks not in ([1], [launch.world]):
        raise UsageError(f"dlbench run: --ranks {args.ranks} with --across-machines: the job has {launch.world} ranks")
    if args.precision is not None or not args.out:
        raise UsageError("dlbench run: --across-machines needs --out (the same on every rank) and no --precision")
    args.ranks, args.lockstep = [launch.world], False
    return launch


def _save(args, out):
    """run --save: the run into the store's database, tagged. Where the database cannot be
    written the baseline is kept as a folder instead, and the line says how to add it."""
    from harness import history
    from harness.db.settings import shown
    from harness.errors import DlbenchError
    from harness.store import Store

    store = Store(args.db)
    try:
        print(f"saved baseline {args.save!r}: {store.save(out, args.save, args.machine)}")
        return 0
    except (DlbenchError, OSError) as exc:
        folder = history.save(out, args.save, args.keep)
        db = f" --db {shlex.quote(shown(args.db))}" if args.db else ""
        machine = f" --machine {args.machine}" if args.machine else ""
        print(
            f"dlbench run: saving baseline {args.save!r} failed ({exc}); kept as the folder {folder}; "
            f"add it later with: dlbench db ingest --history{db}{machine}",
            file=sys.stderr,
        )
        return 2
    finally:
        store.close()


def _recorder(args, out):
    """run --db: a recorder for the runner to hand its records to (harness.db.recorder), or None."""
    if args.db is None:
        return None
    from harness.db.recorder import Recorder

    return Recorder(args.db or None, out, args.machine)
