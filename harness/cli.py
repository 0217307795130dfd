"""`dlbench`: list what can run, run cells, print results.

Every user error ends in one line on stderr and exit status 2; an interrupted run
exits 130 and keeps every cell it finished.
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime

import impls
import scenarios
from harness import __version__, environments
from harness.memory_guard import DEFAULT_LIMIT as _MEMORY_DEFAULT, parse_limit
from harness.plan import PlanError, pick_impls, plan
from harness.results import ResultsError

EXIT_USAGE = 2
# Worker processes per cell by default. One process's samples agree with each other far
# better than processes do with each other on a shared machine, so an interval needs
# several; three keep the small suite within its time budget (README: precision).
# DLBENCH_PROCESSES changes the default (the tests run one).
DEFAULT_PROCESSES = 3
_PROBE_DEFAULT = 0.25  # harness.machine_peaks.DEFAULT_SECONDS, without importing the runner here


class UsageError(Exception):
    pass


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


def _positive_float(value):
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be greater than 0")
    return x


def _non_negative_float(value):
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
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
    p.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1,
                   help="threads for every framework (default: the machine's cores)")
    p.add_argument("--samples", type=_positive_int, default=10, help="timed samples per process")
    p.add_argument("--min-time", type=_positive_float, default=0.05, help="seconds one sample lasts at least")
    p.add_argument("--warmup", type=_positive_float, default=0.2, help="seconds of warm-up calls")
    p.add_argument("--max-time", type=_positive_float, default=20.0, help="sampling budget per cell, seconds")
    p.add_argument("--timeout", type=_positive_float, default=900.0, help="seconds before a worker is killed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memory-limit", type=_memory_limit, default=_MEMORY_DEFAULT, metavar="SIZE",
                   help="resident memory a worker (with its children) may use before it is stopped and its cell "
                        "recorded as an error: 512M, 4G, 1.5GiB, 75%% of the machine, or none (default "
                        f"{_MEMORY_DEFAULT.replace('%', '%%')}, leaving the rest to dlbench and the system)")


def add_verdict_options(p):
    p.add_argument("--threshold", type=_fraction, default=0.05, help="smallest change that counts (default 5%%)")
    p.add_argument("--alpha", type=_fraction, default=0.05,
                   help="family-wise error rate over the suite: the chance that any cell of an unchanged "
                        "suite is called slower (Holm's correction; default 0.05)")
    p.add_argument("--strict", action="store_true",
                   help="fail (exit 1) when any cell is not compared: unsupported on a side, missing or new")


def build_parser():
    parser = Parser(prog="dlbench", description="Benchmark deep-learning frameworks on one shared scenario set.")
    parser.add_argument("--version", action="version", version=f"dlbench {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="scenarios, sizes and phases; implementations and whether they are installed")
    p.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1, help=argparse.SUPPRESS)

    r = sub.add_parser("run", help="run cells, validate each against the reference, time it")
    add_selection(r)
    r.add_argument("--out", default=None, help="results directory (default out/run-TIMESTAMP)")
    r.add_argument("--processes", type=_positive_int,
                   default=_default_processes(),
                   help="fresh worker processes per cell; the interval of the median is over them "
                        f"(default {DEFAULT_PROCESSES}, or DLBENCH_PROCESSES)")
    r.add_argument("--quiet-wait", type=_non_negative_float, default=0.0, metavar="S",
                   help="before each cell, wait up to S seconds for other processes to go quiet "
                        "(says when it gives up; the cell is then timed and flagged if contended)")
    r.add_argument("--resume", action="store_true", help="run only the cells --out does not have yet")
    r.add_argument("--quiet", action="store_true", help="no results table at the end")
    r.add_argument("--machine-probe", action=argparse.BooleanOptionalAction,
                   default=os.environ.get("DLBENCH_MACHINE_PROBE", "1") != "0",
                   help="measure the machine's peaks (GEMM, int8 GEMM, bandwidth) into machine.json first "
                        "(default on; DLBENCH_MACHINE_PROBE=0 turns it off)")
    r.add_argument("--probe-time", type=_positive_float, default=None,
                   help="seconds per peak probe and implementation (default %s)" % _PROBE_DEFAULT)
    r.add_argument("--save", metavar="NAME", help="add these results to baseline NAME for this machine")
    r.add_argument("--keep", type=_positive_int, default=5, help="runs a saved baseline keeps (default 5)")
    r.add_argument("--compare", metavar="NAME", help="then compare against saved baseline NAME (exit 1 if slower; see --strict)")
    add_verdict_options(r)

    c = sub.add_parser("compare", help="compare two results (directories or saved baselines); exit 1 if slower")
    c.add_argument("dirs", nargs="*", metavar="BASE... CUR",
                   help="baseline runs (results directories or a saved baseline name, whose runs all count), "
                        "then the candidate")
    add_verdict_options(c)
    c.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    c.add_argument("--interleave", action="store_true",
                   help="run baseline and candidate alternately now (A B B A ...), fresh processes")
    c.add_argument("--base-python", help="interleave: interpreter of the baseline side")
    c.add_argument("--cur-python", help="interleave: interpreter of the candidate side")
    c.add_argument("--base-rev", help="interleave: git revision of the baseline side")
    c.add_argument("--cur-rev", help="interleave: git revision of the candidate side")
    c.add_argument("--pairs", type=_positive_int, default=8, help="interleave: A/B process pairs per cell")
    c.add_argument("--out", default=None, help="interleave: where both sides' results go")
    c.add_argument("--lockstep", action=argparse.BooleanOptionalAction, default=True,
                   help="interleave: the two processes of a pair alive together, one sample each in turn "
                        "(default); --no-lockstep runs them one after the other")
    add_selection(c)

    ex = sub.add_parser("export", help="write a results directory as pytest-benchmark JSON")
    ex.add_argument("dir")
    ex.add_argument("--out", required=True, help="the JSON file to write")
    im = sub.add_parser("import", help="read pytest-benchmark JSON files (one process each) into a results directory")
    im.add_argument("files", nargs="+")
    im.add_argument("--out", required=True, help="results directory to create")

    m = sub.add_parser("machine", help="measure this machine's practical peaks (GEMM, int8 GEMM, memory "
                                       "bandwidth) into machine.json: the ceilings reports compare against")
    m.add_argument("--out", default=None, help="directory for machine.json (default out/machine); a results "
                                              "directory of this machine gets its peaks added")
    m.add_argument("--impl", type=_csv, default=None, help="comma list (default: all installed)")
    m.add_argument("--device", type=_csv, default=None, help="default: cpu and every device an implementation can use")
    m.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1,
                   help="threads for every framework (default: the machine's cores)")
    m.add_argument("--probe-time", type=_positive_float, default=None,
                   help="seconds per probe and implementation (default %s)" % _PROBE_DEFAULT)

    from harness import bisect
    b = bisect.add_parser(sub)
    b.add_argument("--pairs", type=_positive_int, default=8, help="A/B process pairs per cell and step")
    add_verdict_options(b)
    add_selection(b)

    rep = sub.add_parser("report", help="tables of one or more results directories (several machines or "
                                        "versions side by side); --html for a self-contained report")
    rep.add_argument("dirs", nargs="+")
    rep.add_argument("--format", choices=("table", "markdown", "json"), default="table",
                     help="what to print (default table)")
    rep.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report (charts included)")
    rep.add_argument("--csv", metavar="FILE", help="also write one row per cell as CSV")
    return parser


def cmd_list(args):
    from harness.runner import probe_all
    print("Scenarios:")
    for s in scenarios.all_scenarios():
        print(f"  {s.name:<11} phases: {', '.join(s.phases):<24} sizes: {', '.join(s.sizes)}")
        print(f"  {'':<11} {s.description}")
    print("\nImplementations:")
    probes = probe_all(impls.names(), args.threads)
    for name in impls.names():
        manifest = impls.manifest(name)
        probe = probes[name]
        env = manifest.environment
        # an implementation in its own environment: say where, and the command that (re)makes it
        where = f" (environment {environments.env_dir(env)}, set up by: {manifest.install_hint})" if env else ""
        if probe.get("installed"):
            info = probe.get("info") or {}
            devices = ", ".join(d if not why else f"{d} [no: {why}]" for d, why in probe["devices"].items())
            print(f"  {name:<11} installed {info.get('version', '?')}{where}; modes: {', '.join(manifest.modes)}; "
                  f"devices: {devices}")
        else:
            print(f"  {name:<11} NOT AVAILABLE{where}: {probe.get('reason')}")
    for name, problem in impls.malformed().items():  # found, but not answering the contract: never run
        print(f"  {name:<11} MALFORMED: {problem}")
    return 0


def _cells(args, command):
    try:
        cells = plan(args.scenario, args.impl, args.device, args.mode, args.size, args.threads, args.seed)
    except PlanError as exc:
        raise UsageError(f"dlbench {command}: {exc}") from None
    if not args.impl:  # every implementation: say which ones could not be (`--impl NAME` is an error)
        for name, problem in impls.malformed().items():
            print(f"dlbench {command}: left out {name}: {problem}", file=sys.stderr)
    return cells


def _options(args, processes):
    from harness.runner import Options
    if not hasattr(args, "samples"):  # `dlbench machine`: no cells, only probes
        return Options(threads=args.threads, processes=processes)
    return Options(threads=args.threads, processes=processes, timeout=args.timeout, samples=args.samples,
                   min_time=args.min_time, warmup_time=args.warmup, max_time=args.max_time,
                   quiet_wait=getattr(args, "quiet_wait", 0.0), memory_limit=args.memory_limit)


def _default_out(prefix):
    return os.path.join(environments.REPO_ROOT, "out", datetime.now().strftime(f"{prefix}-%Y%m%d-%H%M%S"))


def _open_runner(command, out, options, **kwargs):
    """A Runner holding OUT's lock; what it had to say (a lock taken over, a torn line cut)
    goes to stderr, one line each."""
    from harness.runner import RunError, Runner
    try:
        runner = Runner(out, options, command=f"dlbench {command}", **kwargs)
    except (RunError, ResultsError) as exc:
        raise UsageError(f"dlbench {command}: {exc}") from None
    for note in runner.notes:
        print(note, file=sys.stderr)
    return runner


def cmd_run(args):
    from harness import history
    from harness.progress import ProgressDisplay
    from harness.runner import RunError
    cells = _cells(args, "run")
    for name in (args.save, args.compare):
        if name:
            try:
                history.check_name(name)
            except history.HistoryError as exc:
                raise UsageError(f"dlbench run: {exc}") from None
    out = args.out or _default_out("run")
    runner = _open_runner("run", out, _options(args, args.processes), progress=ProgressDisplay(),
                          resume=args.resume)
    try:
        runner.probe(sorted({c.impl for c in cells}))
        runner.write_machine()
        if args.machine_probe:
            _record_peaks(runner, sorted({c.impl for c in cells} | {"reference"}), args.probe_time,
                          devices=list(dict.fromkeys(c.device for c in cells)), keep_existing=True,
                          hint="; --no-machine-probe skips this")
        runner.run(cells)
    except RunError as exc:
        raise UsageError(f"dlbench run: {exc}") from None
    except KeyboardInterrupt:
        done = len(runner.done) + len(runner.records)
        print(f"\ninterrupted: {done} cells saved in {out}; finish with: dlbench run ... --out {out} --resume",
              file=sys.stderr)
        return 130
    finally:
        runner.close()
    if not args.quiet:
        _print_table([out])
    print(f"results: {os.path.join(out, 'results.jsonl')}")
    code = 0
    if args.compare:
        code = _compare_dirs([args.compare], out, args.threshold, args.alpha, "table", runner.machine["machine_id"],
                             strict=args.strict)
    if args.save:
        print(f"saved baseline {args.save!r}: {history.save(out, args.save, args.keep)}")
    return code


def _record_peaks(runner, impl_names, seconds, devices=None, keep_existing=False, hint=""):
    from harness import machine_peaks
    seconds = seconds or machine_peaks.DEFAULT_SECONDS
    runner.probe(impl_names)
    devices = devices or machine_peaks.usable_devices(impl_names, runner.probes)
    print(f"measuring this machine's peaks on {', '.join(devices)} ({', '.join(impl_names)}){hint}",
          file=sys.stderr)
    return runner.record_peaks(devices, seconds, impl_names, keep_existing)


def cmd_machine(args):
    from harness import machine_peaks
    from harness.plan import normalize_devices
    from harness.runner import RunError
    try:
        names = pick_impls(args.impl)
        devices = normalize_devices(args.device) if args.device else None
    except PlanError as exc:
        raise UsageError(f"dlbench machine: {exc}") from None
    out = args.out or os.path.join(environments.REPO_ROOT, "out", "machine")
    # resume=True: adding peaks to a results directory of this machine is fine
    runner = _open_runner("machine", out, _options(args, 1), resume=True)
    try:
        runner.probe(names)
        runner.write_machine()
        peaks = _record_peaks(runner, names, args.probe_time, devices)
    except RunError as exc:
        raise UsageError(f"dlbench machine: {exc}") from None
    finally:
        runner.close()
    print("\n".join(machine_peaks.describe(peaks)))
    print(f"machine: {os.path.join(out, 'machine.json')}")
    return 0


def _load_records(path, command="compare"):
    from harness.results import read_machine, read_results
    if not os.path.isdir(path):
        raise UsageError(f"dlbench {command}: {path}: no such results directory")
    try:
        contents = read_results(path)
        machine = read_machine(path)
    except ResultsError as exc:
        raise UsageError(f"dlbench {command}: {exc}") from None
    if contents.torn:  # a crash cut the last line: every line before it is whole
        print(contents.torn.warning, file=sys.stderr)
    records = contents.records
    if not records:
        raise UsageError(f"dlbench {command}: {path}: no results")
    return records, machine


def _load_runs(arg, machine_id):
    """(records of every run, machines, warning) for one compare argument."""
    from harness import history
    try:
        dirs, warning = history.resolve(arg, machine_id)
    except history.HistoryError as exc:
        raise UsageError(f"dlbench compare: {exc}") from None
    records, machines = [], []
    for d in dirs:
        recs, machine = _load_records(d)
        records += recs
        machines.append(machine)
    return records, machines, warning


def _compare_dirs(base_args, cur_arg, threshold, alpha, fmt, machine_id=None, strict=False):
    """base_args: one or more results directories or saved baseline names, pooled as runs."""
    from reports.compare import compare_records
    from reports.compare_format import render
    cur_records, cur_machines, cur_warning = _load_runs(cur_arg, machine_id)
    own = (cur_machines[-1] or {}).get("machine_id") or machine_id
    base_records, base_machines, warnings = [], [], [cur_warning]
    for arg in base_args:
        recs, machines, warning = _load_runs(arg, own)
        base_records += recs
        base_machines += machines
        warnings.append(warning)
    paired = all(r.get("interleaved") for r in base_records + cur_records)
    comparison = compare_records(base_records, cur_records, threshold, alpha, paired,
                                 base_machines + cur_machines, strict=strict)
    comparison.warnings[:0] = [w for w in warnings if w]
    for w in comparison.warnings:
        print(w, file=sys.stderr)
    print(render(comparison, fmt))
    return 1 if comparison.failed else 0


def cmd_compare(args):
    if not args.interleave:
        if len(args.dirs) < 2:
            raise UsageError("dlbench compare: give BASE [BASE ...] CUR (results directories or baseline "
                             "names), or --interleave")
        return _compare_dirs(args.dirs[:-1], args.dirs[-1], args.threshold, args.alpha, args.format,
                             strict=args.strict)
    return _compare_interleaved(args)


def _compare_interleaved(args):
    from harness.interleave import run_interleaved
    from harness.sides import SideError, drop_side, make_sides
    from harness.lockstep import LockstepUnsupported
    from harness.progress import ProgressDisplay
    from harness.runner import RunError
    if args.dirs:
        raise UsageError("dlbench compare: --interleave runs both sides itself; give --base-python/--base-rev "
                         "and --cur-python/--cur-rev instead of directories")
    if not (args.base_python or args.base_rev or args.cur_python or args.cur_rev):
        raise UsageError("dlbench compare --interleave: name the sides with --base-python/--base-rev "
                         "(and --cur-python/--cur-rev; the default candidate is this checkout)")
    cells = _cells(args, "compare")
    out = args.out or _default_out("compare")
    sides, runners = [], []
    try:
        # both sides from fresh directories of equal path length, with their own builds
        sides = list(make_sides(args.base_rev, args.cur_rev, args.base_python, args.cur_python,
                                sorted({c.impl for c in cells})))
        for s in sides:
            runners.append(_open_runner("compare", os.path.join(out, s.label), _options(args, args.pairs), side=s))
    except BaseException as exc:  # the first side's lock and worktree too
        for r in runners:
            r.close()
        for s in sides:
            drop_side(s)
        if isinstance(exc, SideError):
            raise UsageError(f"dlbench compare: {exc}") from None
        raise
    try:
        for r in runners:
            r.probe(sorted({c.impl for c in cells}))
            r.write_machine()
        run_interleaved(cells, runners[0], runners[1], args.pairs, ProgressDisplay(), lockstep=args.lockstep)
    except (LockstepUnsupported, RunError) as exc:
        raise UsageError(f"dlbench compare: {exc}") from None
    except KeyboardInterrupt:
        print(f"\ninterrupted: partial results in {out}", file=sys.stderr)
        return 130
    finally:
        for r in runners:
            r.close()
        for s in sides:
            drop_side(s)
    print(f"results: {out}/base and {out}/cur")
    return _compare_dirs([os.path.join(out, "base")], os.path.join(out, "cur"), args.threshold, args.alpha,
                         args.format, strict=args.strict)


def cmd_bisect(args):
    from harness import bisect
    cells = _cells(args, "bisect")
    try:
        return bisect.run(args, cells, lambda pairs: _options(args, pairs), _open_runner,
                          args.out or _default_out("bisect"))
    except bisect.BisectError as exc:
        raise UsageError(f"dlbench bisect: {exc}") from None


def _print_table(dirs):
    from reports import LoadError, load_sources
    from reports.formats import text
    try:
        df, sources = load_sources(dirs)
    except LoadError as exc:
        raise UsageError(f"dlbench report: {exc}") from None
    _print_warnings(sources)
    print(text(df, sources))


def _print_warnings(sources):
    for source in sources:
        for warning in source.warnings:
            print(warning, file=sys.stderr)


def cmd_report(args):
    import time

    from reports import LoadError, formats, load_sources
    t0 = time.perf_counter()
    try:
        df, sources = load_sources(args.dirs)
    except LoadError as exc:
        raise UsageError(f"dlbench report: {exc}") from None
    _print_warnings(sources)
    show = {"table": formats.text, "markdown": formats.markdown, "json": formats.to_json}[args.format]
    print(show(df, sources))
    notes = []
    if args.csv:
        _write(args.csv, lambda path: formats.write_csv(df, path))
        notes.append(f"csv: {args.csv}")
    if args.html:
        from reports.html import render_html
        page = render_html(df, sources)
        _write(args.html, lambda path: _write_text(path, page))
        notes.append(f"html report: {os.path.abspath(args.html)} ({len(page.encode()) / 1024:.0f} KiB, "
                     f"built in {time.perf_counter() - t0:.2f} s)")
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
        raise UsageError(f"dlbench report: cannot write {path}: {exc.strerror or exc}") from None


def cmd_export(args):
    import json

    from reports.pytest_benchmark import export
    records, machine = _load_records(args.dir, "export")
    doc, left_out = export(records, machine)
    try:
        with open(args.out, "w") as f:
            json.dump(doc, f, indent=1)
    except OSError as exc:
        raise UsageError(f"dlbench export: cannot write {args.out}: {exc.strerror}") from None
    note = f"; {left_out} cells not ok, left out (pytest-benchmark has no status)" if left_out else ""
    print(f"wrote {len(doc['benchmarks'])} benchmarks to {args.out}{note}")
    return 0


def cmd_import(args):
    from harness.outlock import DirectoryBusy, OutLock
    from harness.results import ResultsWriter, read_results, write_machine
    from reports.pytest_benchmark import ConvertError, import_files
    lock = OutLock(args.out, "dlbench import")
    try:
        records, machine = import_files(args.files)
        os.makedirs(args.out, exist_ok=True)
        taken_over = lock.acquire()
    except (ConvertError, DirectoryBusy) as exc:
        raise UsageError(f"dlbench import: {exc}") from None
    except OSError as exc:
        raise UsageError(f"dlbench import: {args.out}: {exc}") from None
    try:
        if taken_over:
            print(taken_over, file=sys.stderr)
        try:
            existing = read_results(args.out)
        except ResultsError as exc:
            raise UsageError(f"dlbench import: {args.out}: {exc}") from None
        if existing.numbered or existing.torn:
            raise UsageError(f"dlbench import: {args.out} already holds results; choose another --out")
        writer = ResultsWriter(args.out)
        for rec in records:
            writer.append(rec)
        write_machine(args.out, machine)
    finally:
        lock.release()
    print(f"imported {len(records)} cells from {len(args.files)} files into {args.out}")
    return 0


COMMANDS = {"machine": cmd_machine, "export": cmd_export, "import": cmd_import, "list": cmd_list, "run": cmd_run, "report": cmd_report, "compare": cmd_compare,
            "bisect": cmd_bisect}


def main(argv=None):
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
