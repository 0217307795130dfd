"""Comparing stored results: read what each argument names (a results directory or a
saved baseline, through harness.store), pool the baseline's runs, decide whether the
comparison is paired (every record interleaved), and compare (reports.compare). Knows
nothing of running; the CLI prints what it returns.
"""

from __future__ import annotations

from harness.sentinel import resolvable_change
from harness.store import Store, StoreError, load_dir
from reports import compare_noise
from reports.compare import compare_records
from reports.load import LoadError


def load_records(path):
    """(records, machine.json, warnings) of one results directory; LoadError when it has no results.
    warnings: a torn last line a crash left (every line before it is whole)."""
    try:
        side = load_dir(path)
    except StoreError as exc:
        raise LoadError(str(exc)) from None
    return side.records, side.machines[0], side.warnings


def compare_stored(base_args, cur_arg, threshold, alpha, store=None, machine=None, keep=None, strict=False):
    """base_args: one or more results directories or saved baseline names, pooled as runs;
    cur_arg: the candidate (a results directory). A Comparison whose warnings list every
    note for the user, in order. store: where baseline names are looked up (harness.store;
    default: the default database); machine: the machine whose baseline a name means
    (default: the candidate's). When a name was looked up, the machine's history in the
    database holds each slower or faster verdict to the series' own noise as well
    (reports.compare_noise)."""
    from harness import history as folders
    from harness.store import machine_of

    store = store or Store()
    machine = machine or machine_of(cur_arg)
    keep = keep or folders.KEEP
    cur = store.side(cur_arg, machine, keep)
    bases = [store.side(arg, machine, keep) for arg in base_args]
    base_records = [r for b in bases for r in b.records]
    base_machines = [m for b in bases for m in b.machines]
    paired = all(r.get("interleaved") for r in base_records + cur.records)
    comparison = compare_records(
        base_records, cur.records, threshold, alpha, paired, base_machines + cur.machines, strict=strict
    )
    comparison.warnings[:0] = cur.warnings + [w for b in bases for w in b.warnings]
    comparison.noise = noise_line(base_machines, cur.machines, paired)
    if store.opened:  # a name was looked up: the database holds this machine's history
        compare_noise.hold(comparison, store.history(machine), {r.get("run_id") for r in cur.records})
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
