"""Interleaved A/B runs: baseline and candidate alternate, fresh processes, in one job.

Pairs run A B, then B A, and so on (ABBA order), so slow modes, thermal or neighbour
drift hit both sides alike and the comparison can test per-pair ratios. By default the
two processes of a pair run in lockstep (harness.lockstep): both alive, one sample each
in turn, so the pair's two medians come from the same seconds. Each side is
its own interpreter (another venv, other framework versions) or its own checkout
(another git revision); both sides run from fresh directories alike (harness.sides).
compare_sides is the whole of one comparison's running: make the sides, open a runner
on each, run, and clean up whatever happens.
"""

from __future__ import annotations

import os

from harness import task_runs
from harness.lockstep import run_pair
from harness.ranks import run_ranked
from harness.runner import open_runner
from harness.sides import drop_side, make_sides


def compare_sides(
    cells,
    out,
    options,
    pairs,
    command,
    progress=None,
    lockstep=True,
    base_rev=None,
    cur_rev=None,
    base_python=None,
    cur_python=None,
):
    """Run CELLS on both sides (fresh directories of equal path length, each with its own
    builds), their results in OUT/base and OUT/cur; returns (base_records, cur_records).
    The sides' locks, worktrees and temporary folders go whatever happens (Ctrl-C too)."""
    impl_names = sorted({c.impl for c in cells})
    sides, runners = [], []
    try:
        sides = list(make_sides(base_rev, cur_rev, base_python, cur_python, impl_names))
        for side in sides:
            runners.append(open_runner(command, os.path.join(out, side.label), options, side=side))
        for runner in runners:
            runner.prepare(impl_names)
        return run_interleaved(cells, runners[0], runners[1], pairs, progress, lockstep=lockstep)
    finally:
        for runner in runners:
            runner.close()
        for side in sides:
            drop_side(side)


def run_interleaved(cells, base, cur, pairs, progress=None, lockstep=True):
    """base, cur: Runners (one per side, each with its own results directory).

    Returns (base_records, cur_records); a record's sample_process is the pair index,
    so the comparison can pair process medians.
    """
    for runner in (base, cur):
        runner.read_side_work(cells)
    if progress:
        progress.start(len(cells), 0)
    base_records, cur_records = [], []
    try:
        for cell in cells:
            if progress:
                progress.cell_started(cell)
            results = {id(base): [], id(cur): []}
            reasons = {id(base): base.precheck(cell), id(cur): cur.precheck(cell)}
            if any(reasons.values()):
                first = reasons[id(base)] or reasons[id(cur)]
                for r in (base, cur):
                    res = {"status": "unsupported", "reason": reasons[id(r)], "process": 0}
                    if not reasons[id(r)]:  # this side could run it: the cell is not compared, not unsupported
                        res.update(reason=f"not run: the other side cannot run it ({first})", blocked=True)
                    results[id(r)].append(res)
            else:
                calibrated = {}  # runner -> calls per sample: the first pair calibrates, the others reuse it
                for i in range(pairs):
                    order = (base, cur) if i % 2 == 0 else (cur, base)
                    if cell.ranks > 1 or task_runs.trial_count(cell, base.options):
                        # N processes per side, or a task's whole trial, cannot take turns: the sides alternate
                        outcomes = [run_ranked(r, cell, i) if cell.ranks > 1 else r.run_process(cell, i) for r in order]
                        for res in outcomes:
                            res["process"] = i
                    elif lockstep:
                        outcomes = run_pair(order, cell, i, [calibrated.get(id(r)) for r in order])
                    else:
                        outcomes = [r.run_process(cell, i) for r in order]
                    for r, res in zip(order, outcomes):
                        results[id(r)].append(res)
                        if res.get("loops"):
                            calibrated.setdefault(id(r), res["loops"])
                    if any(o["status"] != "ok" for o in outcomes):
                        break
            for runner, sink in ((base, base_records), (cur, cur_records)):
                stepped = lockstep and cell.ranks == 1 and not task_runs.trial_count(cell, runner.options)
                record = runner.make_record(cell, results[id(runner)], interleaved=True, lockstep=stepped)
                runner.results_dir.writer.append(record)
                sink.append(record)
            if progress:
                progress.cell_done(cell, cur_records[-1])
    finally:
        if progress:
            progress.stop()
    return base_records, cur_records
