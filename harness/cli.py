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
from harness.plan import PlanError, plan
from harness.results import ResultsError

EXIT_USAGE = 2


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


def build_parser():
    parser = Parser(prog="dlbench", description="Benchmark deep-learning frameworks on one shared scenario set.")
    parser.add_argument("--version", action="version", version=f"dlbench {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="scenarios, sizes and phases; implementations and whether they are installed")
    p.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1, help=argparse.SUPPRESS)

    r = sub.add_parser("run", help="run cells, validate each against the reference, time it")
    r.add_argument("--scenario", type=_csv, default=None, help="comma list (default: all)")
    r.add_argument("--impl", type=_csv, default=None, help="comma list (default: all installed)")
    r.add_argument("--device", type=_csv, default=["cpu"], help="cpu, cuda (alias gpu); default cpu")
    r.add_argument("--mode", type=_csv, default=None, help="eager, graph, ... (default: each implementation's own)")
    r.add_argument("--size", type=_csv, default=["medium"], help="tiny, small, medium, large (default medium)")
    r.add_argument("--threads", type=_positive_int, default=os.cpu_count() or 1,
                   help="threads for every framework (default: the machine's cores)")
    r.add_argument("--out", default=None, help="results directory (default out/run-TIMESTAMP)")
    r.add_argument("--processes", type=_positive_int, default=1, help="fresh worker processes per cell")
    r.add_argument("--samples", type=_positive_int, default=10, help="timed samples per process")
    r.add_argument("--min-time", type=_positive_float, default=0.05, help="seconds one sample lasts at least")
    r.add_argument("--warmup", type=_positive_float, default=0.2, help="seconds of warm-up calls")
    r.add_argument("--max-time", type=_positive_float, default=20.0, help="sampling budget per cell, seconds")
    r.add_argument("--timeout", type=_positive_float, default=900.0, help="seconds before a worker is killed")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--resume", action="store_true", help="run only the cells --out does not have yet")
    r.add_argument("--quiet", action="store_true", help="no results table at the end")

    rep = sub.add_parser("report", help="print the results table of one or more results directories")
    rep.add_argument("dirs", nargs="+")
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
        env = getattr(manifest, "ENVIRONMENT", None)
        where = f" (environment .venv-{env})" if env else ""
        if probe.get("installed"):
            info = probe.get("info") or {}
            devices = ", ".join(d if not why else f"{d} [no: {why}]" for d, why in probe["devices"].items())
            print(f"  {name:<11} installed {info.get('version', '?')}{where}; modes: {', '.join(manifest.MODES)}; "
                  f"devices: {devices}")
        else:
            print(f"  {name:<11} NOT AVAILABLE{where}: {probe.get('reason')}")
    return 0


def cmd_run(args):
    from harness.progress import ProgressDisplay
    from harness.runner import Options, RunError, Runner
    try:
        cells = plan(args.scenario, args.impl, args.device, args.mode, args.size, args.threads, args.seed)
    except PlanError as exc:
        raise UsageError(f"dlbench run: {exc}") from None
    out = args.out or os.path.join(environments.REPO_ROOT, "out", datetime.now().strftime("run-%Y%m%d-%H%M%S"))
    options = Options(threads=args.threads, processes=args.processes, timeout=args.timeout, samples=args.samples,
                      min_time=args.min_time, warmup_time=args.warmup, max_time=args.max_time)
    try:
        runner = Runner(out, options, progress=ProgressDisplay(), resume=args.resume)
    except (RunError, ResultsError) as exc:
        raise UsageError(f"dlbench run: {exc}") from None
    try:
        runner.probe(sorted({c.impl for c in cells}))
        runner.write_machine()
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
    return 0


def _print_table(dirs):
    from reports import LoadError, load
    from reports.table import render
    try:
        df = load(dirs)
    except LoadError as exc:
        raise UsageError(f"dlbench report: {exc}") from None
    print(render(df))


def cmd_report(args):
    _print_table(args.dirs)
    return 0


COMMANDS = {"list": cmd_list, "run": cmd_run, "report": cmd_report}


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
