"""`dlbench`: list what can run, run cells, print results.

The CLI parses, calls and prints. Every user error is a harness.errors.DlbenchError,
mapped in main() to one line on stderr and exit status 2; an interrupted run exits 130
and keeps every cell it finished.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime

import impls
import scenarios
from harness import environments
from harness.arguments import UsageError, build_parser
from harness.errors import DlbenchError
from harness.plan import pick_impls, plan

EXIT_USAGE = 2


def cmd_list(args):
    from harness.runner import framework_facts

    print("Scenarios:")
    for s in scenarios.all_scenarios():
        print(f"  {s.name:<11} phases: {', '.join(s.phases):<24} sizes: {', '.join(s.sizes)}")
        print(f"  {'':<11} {s.description}")
    print("\nImplementations:")
    facts = framework_facts(impls.names(), args.threads)
    for name in impls.names():
        manifest = impls.manifest(name)
        known = facts[name]
        env = manifest.environment
        # an implementation in its own environment: say where, and the command that (re)makes it
        where = f" (environment {environments.env_dir(env)}, set up by: {manifest.install_hint})" if env else ""
        if known.get("installed"):
            info = known.get("info") or {}
            devices = ", ".join(d if not why else f"{d} [no: {why}]" for d, why in known["devices"].items())
            print(
                f"  {name:<11} installed {info.get('version', '?')}{where}; modes: {', '.join(manifest.modes)}; "
                f"devices: {devices}"
            )
        else:
            print(f"  {name:<11} NOT AVAILABLE{where}: {known.get('reason')}")
    for name, problem in impls.malformed().items():  # found, but not answering the contract: never run
        print(f"  {name:<11} MALFORMED: {problem}")
    return 0


def _cells(args):
    cells = plan(args.scenario, args.impl, args.device, args.mode, args.size, args.threads, args.seed)
    if not args.impl:  # every implementation: say which ones could not be (`--impl NAME` is an error)
        for name, problem in impls.malformed().items():
            print(f"dlbench {args.command}: left out {name}: {problem}", file=sys.stderr)
    return cells


def _options(args, processes):
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
    )


DEFAULT_BUDGET = 1200.0  # seconds --precision may take without --budget


def _default_out(prefix):
    return os.path.join(environments.REPO_ROOT, "out", datetime.now().strftime(f"{prefix}-%Y%m%d-%H%M%S"))


def cmd_run(args):
    from harness import history
    from harness.progress import ProgressDisplay
    from harness.runner import open_runner

    cells = _cells(args)
    for name in (args.save, args.compare):
        if name:
            history.check_name(name)
    out = args.out or _default_out("run")
    runner = open_runner("run", out, _options(args, args.processes), progress=ProgressDisplay(), resume=args.resume)
    runner.machine_name = args.machine
    recorder = _recorder(args, out, runner)
    try:
        runner.framework_facts(sorted({c.impl for c in cells}))
        runner.write_machine()
        if args.machine_probe:
            runner.measure_ceilings(
                sorted({c.impl for c in cells} | {"reference"}),
                args.probe_time,
                devices=list(dict.fromkeys(c.device for c in cells)),
                keep_existing=True,
                hint="; --no-machine-probe skips this",
            )
        runner.run(cells)
        if args.machine_probe:
            from reports.ceiling_check import beaten

            impl_names = sorted({c.impl for c in cells} | {"reference"})
            runner.recheck_ceilings(impl_names, list(dict.fromkeys(c.device for c in cells)), beaten)
    except KeyboardInterrupt:
        done = len(runner.done) + len(runner.records)
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
        if recorder:
            recorder.close()
    if not args.quiet:
        _print_report([out], "table")
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
        code = max(code, _compare_stored([args.compare], out, args, runner.machine["machine_id"]))
    if args.save and recorder:  # the database keeps the baseline: a tag on this run
        if not recorder.failure:
            print(f"saved baseline {args.save!r}: {_tag_baseline(args, runner)}")
    elif args.save:
        print(f"saved baseline {args.save!r}: {history.save(out, args.save, args.keep)}")
    return code


def _tag_baseline(args, runner):
    from harness.db import baselines, engine, ingest

    machine = ingest.machine_name(runner.machine, args.machine)
    db = engine.open_db(args.db or None)
    try:
        baselines.tag(db, args.save, [runner.run_id], machine)
        return f"run {runner.run_id} of machine {machine} in {db.where}"
    finally:
        db.close()


def _recorder(args, out, runner):
    """run --db: a recorder listening to the runner's records (harness.db.recorder), or None."""
    if args.db is None:
        return None
    from harness.db.recorder import Recorder

    recorder = Recorder(args.db or None, out, args.machine)
    runner.listeners.append(recorder.add)
    return recorder


def cmd_machine(args):
    from harness import machine_peaks, sentinel
    from harness.plan import normalize_devices
    from harness.runner import open_runner

    names = pick_impls(args.impl)
    devices = normalize_devices(args.device) if args.device else None
    out = args.out or os.path.join(environments.REPO_ROOT, "out", "machine")
    # resume=True: adding peaks to a results directory of this machine is fine
    runner = open_runner("machine", out, _options(args, 1), resume=True)
    try:
        runner.framework_facts(names)
        runner.write_machine()
        peaks = runner.measure_ceilings(names, args.probe_time, devices)
        floor = runner.measure_noise_floor()
    finally:
        runner.close()
    print("\n".join(machine_peaks.ceiling_lines(peaks)))
    print(sentinel.floor_line(floor))
    print(f"machine: {os.path.join(out, 'machine.json')}")
    return 0


def _compare_stored(base_args, cur_arg, args, machine_id=None):
    """Print the comparison of stored results (reports.compare_runs); 1 when it fails.
    With --db, a baseline name is looked up in the database, not in .dlbench/history, and
    the machine's history there holds each verdict to its cell's noise."""
    from reports.compare_format import render
    from reports.compare_runs import compare_stored

    with tempfile.TemporaryDirectory(prefix="dlbench-baseline-") as tmp:
        history = None
        if getattr(args, "db", None) is not None:
            base_args, history = _db_sides(base_args, cur_arg, args, tmp)
        comparison = compare_stored(
            base_args, cur_arg, args.threshold, args.alpha, machine_id, strict=args.strict, history=history
        )
    for w in comparison.warnings:
        print(w, file=sys.stderr)
    print(render(comparison, getattr(args, "format", "table")))
    return 1 if comparison.failed else 0


def _db_sides(base_args, cur_dir, args, tmp):
    """(baseline arguments, the candidate machine's history) from the database: a results
    directory as it is, a baseline name as a folder of its newest runs on the candidate's
    machine; the history holds each cell's series, whose noise a verdict must exceed."""
    from harness import history
    from harness.db import baselines, engine, ingest, series
    from harness.results import read_machine

    for arg in base_args:
        if not os.path.isdir(arg):
            history.check_name(arg)
    machine = ingest.machine_name(read_machine(cur_dir) if os.path.isdir(cur_dir) else None, args.machine)
    db = engine.open_db(args.db or None, create=False)
    try:
        folders = [
            arg
            if os.path.isdir(arg)
            else baselines.write_folder(
                db, baselines.newest(db, arg, machine, getattr(args, "keep", history.KEEP)), os.path.join(tmp, arg)
            )
            for arg in base_args
        ]
        return folders, series.load(db, machine)
    finally:
        db.close()


def cmd_compare(args):
    if not args.interleave:
        if len(args.dirs) < 2:
            raise UsageError(
                "dlbench compare: give BASE [BASE ...] CUR (results directories or baseline names), or --interleave"
            )
        return _compare_stored(args.dirs[:-1], args.dirs[-1], args)
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

    cells = _cells(args)
    out = args.out or _default_out("compare")
    try:
        compare_sides(
            cells,
            out,
            _options(args, args.pairs),
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
    return _compare_stored([os.path.join(out, "base")], os.path.join(out, "cur"), args)


def cmd_bisect(args):
    from harness import bisect
    from reports.compare import compare_records

    cells = _cells(args)
    return bisect.run(
        args, cells, lambda pairs: _options(args, pairs), compare_records, args.out or _default_out("bisect")
    )


def _print_report(dirs, fmt):
    """Print the results of dirs (warnings to stderr); the loaded (frame, sources)."""
    from reports import formats, load_sources

    df, sources = load_sources(dirs)
    for source in sources:
        for warning in source.warnings:
            print(warning, file=sys.stderr)
    show = {"table": formats.text, "markdown": formats.markdown, "json": formats.to_json}[fmt]
    print(show(df, sources))
    return df, sources


def cmd_report(args):
    import time

    from reports import formats

    t0 = time.perf_counter()
    df, sources = _print_report(args.dirs, args.format)
    notes = []
    if args.csv:
        _write(args.csv, lambda path: formats.write_csv(df, path))
        notes.append(f"csv: {args.csv}")
    if args.html:
        from reports.html import render_html

        page = render_html(df, sources)
        _write(args.html, lambda path: _write_text(path, page))
        notes.append(
            f"html report: {os.path.abspath(args.html)} ({len(page.encode()) / 1024:.0f} KiB, "
            f"built in {time.perf_counter() - t0:.2f} s)"
        )
    for note in notes:  # stderr with --format json keeps stdout parseable
        print(note, file=sys.stderr if args.format == "json" else sys.stdout)
    return 0


def _write_text(path, content):
    with open(path, "w", encoding="utf-8") as f:
        f.write(content)


def _write(path, write):
    try:
        write(path)
    except OSError as exc:
        raise DlbenchError(f"cannot write {path}: {exc.strerror or exc}") from None


def cmd_export(args):
    import json

    from reports.compare_runs import load_records
    from reports.pytest_benchmark import export

    records, machine, warnings = load_records(args.dir)
    for w in warnings:
        print(w, file=sys.stderr)
    doc, left_out = export(records, machine)
    _write(args.out, lambda path: _write_text(path, json.dumps(doc, indent=1)))
    note = f"; {left_out} cells not ok, left out (pytest-benchmark has no status)" if left_out else ""
    print(f"wrote {len(doc['benchmarks'])} benchmarks to {args.out}{note}")
    return 0


def cmd_import(args):
    from harness.results import import_records
    from reports.pytest_benchmark import import_files

    records, machine = import_files(args.files)
    import_records(args.out, records, machine, "dlbench import")
    print(f"imported {len(records)} cells from {len(args.files)} files into {args.out}")
    return 0


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


def cmd_db(args):
    from harness.db import baselines, engine, export, ingest, listing

    if args.db_command == "ingest":
        found, tags = _ingest_sources(args)
        db = engine.open_db(args.db, create=True)
        try:
            for run in found:
                added = ingest.ingest(db, run, args.machine)
                if run.run_id in tags:
                    name = tags[run.run_id]
                    baselines.tag(db, name, [run.run_id], ingest.machine_name(run.machine, args.machine))
                if added == len(run.records):
                    print(f"ingested run {run.run_id} from {run.source} ({added} cells)")
                elif added:
                    print(f"run {run.run_id} from {run.source}: added the {added} cells the database lacked")
                else:
                    print(f"run {run.run_id} from {run.source} is in the database already; skipped")
        finally:
            db.close()
        print(f"database: {db.where}")
        return 0
    db = engine.open_db(args.db, create=False)
    try:
        if args.db_command == "runs":
            rows = listing.list_runs(db)
            print(listing.format_runs(rows) if rows else f"no runs in {db.where}")
        else:
            n = export.export_run(db, args.run_id, args.out)
            print(f"exported run {args.run_id} ({n} cells) to {args.out}")
    finally:
        db.close()
    return 0


def cmd_publish(args):
    from harness.db import engine
    from reports.dashboard.site import publish

    db = engine.open_db(args.db, create=False)
    try:
        site = publish(db, args.out, args.machine)
    finally:
        db.close()
    print(
        f"published {site.machines} machine(s), {site.cells} cells, {site.changes} change point(s): "
        f"{site.files} files, {site.bytes / 1e6:.1f} MB in {site.seconds:.1f} s"
    )
    print(os.path.join(site.out, "index.html"))
    return 0


COMMANDS = {
    "db": cmd_db,
    "publish": cmd_publish,
    "machine": cmd_machine,
    "export": cmd_export,
    "import": cmd_import,
    "list": cmd_list,
    "run": cmd_run,
    "report": cmd_report,
    "compare": cmd_compare,
    "bisect": cmd_bisect,
}


def main(argv=None):
    args = None
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except DlbenchError as exc:  # every module's one-line error, the command named once here
        command = " ".join(filter(None, (getattr(args, "command", None), getattr(args, "db_command", None))))
        print(f"dlbench {command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
