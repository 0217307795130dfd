"""`dlbench list`: the scenarios, and each implementation: installed or why not, modes, devices."""

from __future__ import annotations

import argparse
import os

import impls
import scenarios
from cli.options import positive_int
from harness import environments

NAME = "list"


def add_parser(sub):
    p = sub.add_parser(NAME, help="scenarios, sizes and phases; implementations and whether they are installed")
    p.add_argument("--threads", type=positive_int, default=os.cpu_count() or 1, help=argparse.SUPPRESS)
    return p


def run(args):
    from harness.machine_record import framework_facts

    print("Scenarios:")
    for s in scenarios.all_scenarios():
        print(f"  {s.name:<11} phases: {', '.join(s.phases):<24} sizes: {', '.join(s.sizes)}")
        print(f"  {'':<11} {s.description}")
        if s.parallel_phases:
            split = f", its {s.split} split weak or strong (--scaling)" if s.split else ""
            print(f"  {'':<11} over several ranks (--ranks): {', '.join(s.parallel_phases)}{split}")
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
            if manifest.distributed:
                print(f"  {'':<11} over several ranks: {manifest.distributed}")
        else:
            print(f"  {name:<11} NOT AVAILABLE{where}: {known.get('reason')}")
    for name, problem in impls.malformed().items():  # found, but not answering the contract: never run
        print(f"  {name:<11} MALFORMED: {problem}")
    return 0
