"""Comparing stored results: read the runs each argument names (a results directory or a
saved baseline, harness.history), pool the baseline's runs, decide whether the comparison
is paired (every record interleaved), and compare (reports.compare). Knows nothing of
running; the CLI prints what it returns.
"""

from __future__ import annotations

import os

from harness import history
from harness.results import read_machine, read_results
from harness.sentinel import resolvable_change
from reports import compare_noise
from reports.compare import compare_records
from reports.load import LoadError


def load_records(path):
    """(records, machine.json, warnings) of one results directory; LoadError when it has no results.
    warnings: a torn last line a crash left (every line before it is whole)."""
    if not os.path.isdir(path):
        raise LoadError(f"{path}: no such results directory")
    contents = read_results(path)
    machine = read_machine(path)
    if not contents.records:
        raise LoadError(f"{path}: no results")
    return contents.records, machine, [contents.torn.warning] if contents.torn else []


def load_runs(arg, machine_id):
    """(records of every run, their machines, torn-line warnings, the baseline's warning or None)
    for one compare argument."""
    dirs, warning = history.resolve(arg, machine_id)
    records, machines, torn = [], [], []
    for d in dirs:
        recs, machine, cut = load_records(d)
        records += recs
        machines.append(machine)
        torn += cut
    return records, machines, torn, warning


def compare_stored(base_args, cur_arg, threshold, alpha, machine_id=None, strict=False, history=None):
    """base_args: one or more results directories or saved baseline names, pooled as runs;
    cur_arg: the candidate. A Comparison whose warnings list every note for the user, in order.
    history: the candidate machine's MachineHistory from the database (compare --db), whose
    noise each slower or faster verdict must also exceed (reports.compare_noise); without
    it the statistical test alone decides."""
    cur_records, cur_machines, torn, cur_warning = load_runs(cur_arg, machine_id)
    own = (cur_machines[-1] or {}).get("machine_id") or machine_id
    base_records, base_machines, warnings = [], [], [cur_warning]
    for arg in base_args:
        recs, machines, cut, warning = load_runs(arg, own)
        base_records += recs
        base_machines += machines
        torn += cut
        warnings.append(warning)
    paired = all(r.get("interleaved") for r in base_records + cur_records)
    comparison = compare_records(
        base_records, cur_records, threshold, alpha, paired, base_machines + cur_machines, strict=strict
    )
    comparison.warnings[:0] = torn + [w for w in warnings if w]
    comparison.noise = noise_line(base_machines, cur_machines, paired)
    if history is not None:
        compare_noise.hold(comparison, history, {r.get("run_id") for r in cur_records})
    return comparison


def noise_line(base_machines, cur_machines, paired):
    """What size of change this machine can resolve, from the runs' drift sentinels
    (harness.sentinel): '' when no run has one."""
    noises = [
        m["sentinel"]["noise"]
        for m in base_machines + cur_machines
        if isinstance((m or {}).get("sentinel"), dict) and isinstance(m["sentinel"].get("noise"), (int, float))
    ]
    if not noises:
        return ""
    noise = max(noises)
    text = (
        f"machine noise (drift sentinel): up to {noise:.1%} over a run; two separate runs resolve changes "
        f"of about {resolvable_change(noise):.0%} in a cell's absolute time"
    )
    if paired:
        return text + "; these runs were interleaved, so their pairs cancel most of it"
    return text + "; `compare --interleave` cancels it"
