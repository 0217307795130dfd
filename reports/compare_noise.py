"""`compare --db`: a stored comparison's slower and faster verdicts held to the rule the
dashboard colours by (reports.noise_band), over the cell's history in the database.

The statistical test (reports.compare) sees the baseline's few runs; the database holds the
cell's whole history on the machine, whose successive differences say how far one run
strays from the next. A verdict stands only where its change is also beyond that noise;
where the history has fewer than MIN_RUNS runs of the cell, nobody knows the noise yet and
the verdict is `inconclusive`, its note starting "too few runs". Either way the note says
what the test alone said, and the comparison no longer fails on that cell.

The change held to the noise is the one the verdict stands on (`change`: relative to the
suite's drift where the two-way model separated it); the history's noise still holds that
drift, so the band is, if anything, wide. The candidate's own runs are left out of the
history (`run --compare NAME --db` has recorded them already). The suite-wide shift is no
cell's series: it keeps its own test alone.
"""

from __future__ import annotations

import math

from records import key as record_key
from reports.compare import MEASURED
from reports.noise_band import MIN_RUNS, judge

JUDGED = ("slower", "faster")


def earlier_values(history, candidate_run_ids):
    """{cell key: its ok medians over the machine's runs, oldest first, None where not ok},
    the candidate's runs left out. history: a harness.db.series.MachineHistory."""
    keep = [i for i, run in enumerate(history.runs) if run.run_id not in candidate_run_ids]
    return {
        key: [p.median if p is not None and p.status == "ok" else None for p in (points[i] for i in keep)]
        for key, points in history.series.items()
    }


def hold(comparison, history, candidate_run_ids):
    """Demote, in place, each slower or faster verdict that the cell's history cannot tell
    from its noise."""
    values = earlier_values(history, set(candidate_run_ids))
    for c in comparison.cells:
        if c.verdict not in JUDGED:
            continue
        # the change is a mean of n_cur runs against a mean of n_base: its spread in runs' noise
        spread = math.sqrt(1 / max(c.n_base, 1) + 1 / max(c.n_cur, 1))
        judged = judge(c.change, values.get(record_key(c.key), []), spread)
        if judged.too_few:
            why = (
                f"too few runs: {judged.runs} of this cell in the database's history, and knowing its "
                f"run-to-run noise takes {MIN_RUNS}; the test alone said {c.verdict}"
            )
        elif not judged.real:
            low, high = judged.bounds
            why = (
                f"within this cell's run-to-run noise ({low:+.0%} to {high:+.0%} over {judged.runs} runs "
                f"in the database); the test alone said {c.verdict}"
            )
        else:
            continue
        c.verdict = "inconclusive"
        c.note = f"{why}; {c.note}" if c.note else why
    if comparison.suite is not None:
        comparison.suite.counts = {v: sum(c.verdict == v for c in comparison.cells) for v in MEASURED}
