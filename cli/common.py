"""What several commands do alike: pick the cells, read the measuring options, name a
default output folder, write a file, print a report, compare stored results."""

from __future__ import annotations

import os
import sys
from datetime import datetime

import impls
from harness import environments
from harness.errors import DlbenchError
from harness.plan import plan, single_process_phases
from scenarios.base import SCALINGS

DEFAULT_BUDGET = 1200.0  # seconds --precision may take without --budget


def cells(args):
    ranks, scaling = getattr(args, "ranks", [1]), getattr(args, "scaling", None) or SCALINGS
    found = plan(args.scenario, args.impl, args.device, args.mode, args.size, args.threads, args.seed, ranks, scaling)
    if any(r > 1 for r in ranks):
        alone = single_process_phases(args.scenario)
        if alone:
            note = f"at 1 rank only (no data-parallel form): {', '.join(alone)}"
            print(f"dlbench {args.command}: {note}", file=sys.stderr)
    if not args.impl:  # every implementation: say which ones could not be (`--impl NAME` is an error)
        for name, problem in impls.malformed().items():
            print(f"dlbench {args.command}: left out {name}: {problem}", file=sys.stderr)
    return found


def options(args, processes):
    from harness.runner import Options

    if not hasattr(args, "samples"):  # `dlbench machine`: no cells, only ceilings
        return Options(threads=args.threads, processes=processes)
    return Options(
        threads=args.threads,
        processes=processes,
        timeout=args.timeout,
        samples=args.samples,
        min_time=args.min_time,
        warmup_time=args.warmup,
        max_time=args.max_time,
        quiet_wait=getattr(args, "quiet_wait", 0.0),
        memory_limit=args.memory_limit,
        lockstep=getattr(args, "lockstep", True),
        precision=getattr(args, "precision", None),
        budget=getattr(args, "budget", None) or (DEFAULT_BUDGET if getattr(args, "precision", None) else None),
        task_runs=getattr(args, "task_runs", None),
    )


def default_out(prefix):
    return os.path.join(environments.REPO_ROOT, "out", datetime.now().strftime(f"{prefix}-%Y%m%d-%H%M%S"))


def write_text(path, content):
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)


def write(path, writer):
    try:
        writer(path)
    except OSError as exc:
        raise DlbenchError(f"cannot write {path}: {exc.strerror or exc}") from None


def print_report(dirs, fmt):
    """Print the results of dirs (warnings to stderr); the loaded (frame, sources)."""
    from reports import formats, load_sources

    df, sources = load_sources(dirs)
    for source in sources:
        for warning in source.warnings:
            print(warning, file=sys.stderr)
    show = {"table": formats.text, "markdown": formats.markdown, "json": formats.to_json}[fmt]
    print(show(df, sources))
    return df, sources


def compare_stored(base_args, cur_arg, args):
    """Print the comparison of stored results (reports.compare_runs); 1 when it fails. A
    baseline name is looked up in the database (--db, else the default one) for the
    candidate's machine (--machine, else the one its results name)."""
    from harness.store import Store
    from reports.compare_format import render
    from reports.compare_runs import compare_stored as compare

    store = Store(getattr(args, "db", None))
    try:
        comparison = compare(
            base_args,
            cur_arg,
            args.threshold,
            args.alpha,
            store=store,
            machine=args.machine,
            keep=getattr(args, "keep", None),
            strict=args.strict,
        )
    finally:
        store.close()
    for w in comparison.warnings:
        print(w, file=sys.stderr)
    print(render(comparison, getattr(args, "format", "table")))
    return 1 if comparison.failed else 0
