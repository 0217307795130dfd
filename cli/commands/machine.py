"""`dlbench machine`: this machine's practical peaks (GEMM, int8 GEMM, memory bandwidth per
level) and its noise floor, into machine.json: the ceilings reports compare against."""

from __future__ import annotations

import os

from cli.common import options
from cli.options import csv, probe_time, threads
from harness import environments
from harness.plan import pick_impls

NAME = "machine"


def add_parser(sub):
    m = sub.add_parser(
        NAME,
        help="measure this machine's practical peaks (GEMM, int8 GEMM, memory "
        "bandwidth) into machine.json: the ceilings reports compare against",
    )
    m.add_argument(
        "--out",
        default=None,
        help="directory for machine.json (default out/machine); a results "
        "directory of this machine gets its peaks added",
    )
    m.add_argument("--impl", type=csv, default=None, help="comma list (default: all installed)")
    m.add_argument("--device", type=csv, default=None, help="default: cpu and every device an implementation can use")
    threads(m)
    probe_time(m)
    return m


def run(args):
    from harness import machine_peaks, sentinel
    from harness.plan import normalize_devices
    from harness.runner import open_runner

    names = pick_impls(args.impl)
    devices = normalize_devices(args.device) if args.device else None
    out = args.out or os.path.join(environments.REPO_ROOT, "out", "machine")
    # resume=True: adding peaks to a results directory of this machine is fine
    runner = open_runner("machine", out, options(args, 1), resume=True)
    try:
        peaks = runner.prepare(names, probe_with=names, probe_seconds=args.probe_time, devices=devices)
        floor = runner.machine_record.measure_noise_floor()
    finally:
        runner.close()
    print("\n".join(machine_peaks.ceiling_lines(peaks)))
    print(sentinel.floor_line(floor))
    print(f"machine: {os.path.join(out, 'machine.json')}")
    return 0
