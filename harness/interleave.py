"""Interleaved A/B runs: baseline and candidate alternate, fresh processes, in one job.

Pairs run A B, then B A, and so on (ABBA order), so slow modes, thermal or neighbour
drift hit both sides alike and the comparison can test per-pair ratios. By default the
two processes of a pair run in lockstep (harness.lockstep): both alive, one sample each
in turn, so the pair's two medians come from the same seconds. Each side is
its own interpreter (another venv, other framework versions) or its own checkout
(another git revision); both sides run from fresh directories alike (harness.sides).
"""
from __future__ import annotations

from harness.lockstep import run_pair
# Sides are made in harness.sides; these names stay here for older callers.
from harness.sides import SideError, drop_side, make_side, make_sides  # noqa: F401


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
                    if lockstep:
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
                record = runner.make_record(cell, results[id(runner)])
                record["interleaved"] = True
                if any(x.get("blocked") for x in results[id(runner)]):
                    record["blocked"] = True  # this side could have run it; the other could not
                record["lockstep"] = lockstep
                runner.writer.append(record)
                sink.append(record)
            if progress:
                progress.cell_done(cell, cur_records[-1])
    finally:
        if progress:
            progress.stop()
    return base_records, cur_records
