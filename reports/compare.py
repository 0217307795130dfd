"""Compare two sets of results: did a cell get slower, faster, or stay the same?

Measured on a shared 2-core machine, the noise is not where a naive test looks: one
process's samples look tight, the median moves 2-5% from one fresh process to the next,
and the machine's own speed drifts by 10-25% over seconds to minutes. Tests that take
samples, or a stored baseline, as taken under today's conditions cry wolf. So:

- interleaved (`compare --interleave`): the two sides run as pairs of fresh processes in
  lockstep (one sample each in turn), so drift hits both alike; the unit is the pair, its
  log ratio (in lockstep, the median of the pair's turn-by-turn ratios). The estimate is
  the Hodges-Lehmann estimator of those log ratios, the test the exact one-sided Wilcoxon
  signed-rank test, the interval the one that inverts that test (its achieved level is
  recorded as ci_level). n pairs reach p = 1/2^n at best, so at least 5 for alpha 0.05.
- stored (runs at different times): the unit is the run, whose median carries that run's
  drift, and that drift is shared by every cell of the run. A two-way model of the
  baseline's log run levels, L[r,c] = mu_c + d_r + e[r,c] (compare_stats.TwoWay), splits it:
  the suite's drift, the candidate run's d against the baseline runs' d (t, R-1 degrees of
  freedom), is the suite-level change; as the machine drifts by as much as a threshold,
  a suite `slower` needs the shift to be significantly beyond the threshold (H0: change
  <= threshold). Each cell is then tested on what remains, its change relative to the
  suite (`change`; the plain ratio is `raw_change`), against the model's residual variance
  with (R-1)(C-1) degrees of freedom. With fewer than 3 cells in the model, a cell is tested
  against its own runs (R-1 degrees of freedom, H0: change <= threshold, as the drift is
  still in it). With fewer than 3 baseline runs the drift between runs is unknown and the
  verdict is `inconclusive`, never a guess.

The tested cells are one family: Holm's step-down correction keeps the chance of any false
`slower` in the suite at alpha (and of any false `faster`, separately). A cell is `slower`
only when significant after Holm AND its estimated change exceeds the threshold (`faster`
alike); `same` when its whole interval lies within +-threshold; otherwise `inconclusive`.
A cell unsupported on either side is `not-compared`. Cells that became invalid, errored,
timed out or disappeared fail the comparison; with --strict, so does anything not compared.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import List, Optional

import numpy as np
from scipy import stats as sps

from records import KEY_FIELDS
from records import key as record_key
from reports.compare_stats import (
    hodges_lehmann,
    holm,
    min_p_wilcoxon,
    stratified_bootstrap,
    two_way,
    wilcoxon_interval,
    wilcoxon_p,
)

FAILING = {"slower", "invalid", "error", "timeout", "missing"}
NOT_COMPARED = {"not-compared", "not-comparable", "missing", "new"}  # fail too under --strict
MEASURED = ("slower", "faster", "same", "inconclusive")
MIN_BASELINE_RUNS = 3  # a stored verdict needs the drift between runs, so at least 3 baseline runs
MIN_MODEL_CELLS = 3  # fewer cells cannot tell the runs' drift from a cell's own change


@dataclass
class CellComparison:
    key: dict
    verdict: str
    method: str
    change: Optional[float] = None  # cur / base - 1; stored: relative to the suite's drift
    raw_change: Optional[float] = None  # cur / base - 1 as measured
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    ci_level: Optional[float] = None  # the interval's confidence (interleaved: as achieved)
    p_value: Optional[float] = None  # raw one-sided p in the estimate's direction
    p_holm: Optional[float] = None  # the same, Holm-adjusted over the tested cells
    df: Optional[int] = None  # stored: the t test's degrees of freedom
    p_slower: Optional[float] = None  # raw one-sided p-values; None: not tested
    p_faster: Optional[float] = None
    n_base: int = 0
    n_cur: int = 0
    base_median: Optional[float] = None
    cur_median: Optional[float] = None
    note: str = ""
    contended_sides: List[str] = field(default_factory=list)  # "base", "cur": a record there was contended

    @property
    def fails(self):
        return self.verdict in FAILING

    @property
    def contended(self):
        """Other processes used the CPU while a record of either side was timed: the
        verdict stands as computed, but the reader should know."""
        return bool(self.contended_sides)

    def as_dict(self):
        return {**asdict(self), "fails": self.fails, "contended": self.contended}


@dataclass
class SuiteSummary:
    """The whole suite in one line. change: the geometric mean change (interleaved: of the
    cells' Hodges-Lehmann ratios; stored: the suite's drift), with its interval."""

    method: str
    counts: dict
    not_compared: int
    change: Optional[float] = None
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    ci_level: Optional[float] = None
    verdict: Optional[str] = None  # stored: the suite-wide shift's own verdict
    p_value: Optional[float] = None  # stored: Holm-adjusted, with the cells
    df: Optional[int] = None
    note: str = ""
    p_slower: Optional[float] = None  # stored: the shift test's raw one-sided p-values
    p_faster: Optional[float] = None

    @property
    def compared(self):
        return sum(self.counts.values())

    @property
    def fails(self):
        return self.verdict == "slower"

    def line(self):
        est = "no estimate"
        if self.change is not None:
            est = f"geometric mean change {self.change:+.1%}"
            if self.ci_low is not None:
                est += f" [{self.ci_low:+.1%}, {self.ci_high:+.1%}] ({self.ci_level:.0%})"
        counts = ", ".join(f"{self.counts[v]} {v}" for v in MEASURED)
        text = f"suite: {self.compared} cells compared, {est}, {counts}, {self.not_compared} not compared"
        if self.verdict:
            text += f"; suite-wide shift: {self.verdict.upper() if self.fails else self.verdict}"
            if self.df is not None:
                text += f" (df {self.df})"
        return text + (f"; {self.note}" if self.note else "")

    def as_dict(self):
        return {**asdict(self), "compared": self.compared, "fails": self.fails, "line": self.line()}


@dataclass
class Comparison:
    cells: List[CellComparison]
    threshold: float
    alpha: float
    warnings: List[str] = field(default_factory=list)
    suite: Optional[SuiteSummary] = None
    strict: bool = False  # anything not compared fails too
    noise: str = ""  # what the runs' drift sentinels say this machine can resolve (reports.compare_runs)

    @property
    def failed(self):
        return (
            any(c.fails for c in self.cells)
            or bool(self.suite and self.suite.fails)
            or (self.strict and any(c.verdict in NOT_COMPARED for c in self.cells))
        )


def process_samples(record):
    """The samples of each worker process, in the order they were taken."""
    by_proc = {}
    for value, proc in zip(record.get("samples") or [], record.get("sample_process") or []):
        by_proc.setdefault(proc, []).append(value)
    return [v for _, v in sorted(by_proc.items())]


def process_medians(record):
    """One median per worker process: the level where the variance is."""
    return [median(v) for v in process_samples(record)]


def _side(rec):
    return "missing" if rec is None else rec["status"] + (f" ({rec['reason']})" if rec.get("reason") else "")


def _status_verdict(base, cur):
    """Verdicts decided by status alone, before any statistics."""
    if cur is None:
        return "missing", "cell is in the baseline but not in the current results"
    if base is None:
        return "new", "cell is not in the baseline"
    if (
        base["status"] == cur["status"] == "unsupported"
        and base["reason"] == cur["reason"]
        and not (base.get("blocked") or cur.get("blocked"))
    ):
        # the implementation cannot express it at either revision: nothing was lost, even under --strict
        return "unsupported", f"on both sides: {cur['reason']}"
    if "unsupported" in (base["status"], cur["status"]):  # one side cannot run it: nothing to compare
        return "not-compared", f"base: {_side(base)}; cur: {_side(cur)}"
    if cur["status"] != "ok":
        if base["status"] == "ok":
            return cur["status"], f"was ok, now {cur['status']}: {cur['reason']}"
        return "not-comparable", f"{cur['status']} on both sides: {cur['reason']}"
    if base["status"] != "ok":
        return "fixed", f"baseline was {base['status']}: {base['reason']}"
    bare = [side for side, r in (("baseline", base), ("current", cur)) if not r.get("samples")]
    if bare:  # pytest-benchmark saved without its raw data: a median alone, no spread to test
        return "not-comparable", (
            f"no samples in the {' and '.join(bare)} (statistics imported alone); "
            "rerun pytest with --benchmark-save-data"
        )
    work = [(r.get("flops"), r.get("bytes")) for r in (base, cur)]
    if work[0] != work[1]:  # the scenario itself changed (qgemm's gemm lost its output stage, say)
        return "not-comparable", (
            f"different work: baseline {work[0][0]} ops / {work[0][1]} bytes, now "
            f"{work[1][0]} / {work[1][1]}; the scenario changed, rerun the baseline"
        )
    return None, ""


def compare_cell(base, cur, threshold, alpha, paired=False, model=None):
    """One cell decided alone (a family of one); compare_records decides a suite's tested
    cells together."""
    out = _compare_cell(base, cur, threshold, alpha, paired, model)
    decide([out], threshold, alpha)
    return out


def _compare_cell(base, cur, threshold, alpha, paired=False, model=None):
    """The statistics of one cell, undecided. base, cur: a record each; for a stored
    comparison, each may be a list of records, one per run (a baseline keeps several runs so
    that drift between runs can be measured).
    model: the suite's two-way model of stored runs (stored_model); without it, or for a
    cell outside it, the cell's own runs."""
    base_runs, cur_runs = _as_runs(base), _as_runs(cur)
    newest_base, newest_cur = (base_runs or [None])[-1], (cur_runs or [None])[-1]
    # the cell as records.key has it: the seed too (another seed draws other inputs)
    key = dict(zip(KEY_FIELDS, record_key(newest_cur or newest_base)))
    method = "interleaved" if paired else "stored"
    verdict, note = _status_verdict(newest_base, newest_cur)
    if verdict:
        out = CellComparison(key, verdict, method, note=note)
    elif paired:
        out = _paired(key, newest_base, newest_cur, alpha)
    else:
        out = _stored(key, _measured(base_runs), _measured(cur_runs), threshold, alpha, model)
    used = ([newest_base], [newest_cur]) if paired else (base_runs, cur_runs)
    out.contended_sides = [
        side for side, runs in zip(("base", "cur"), used) if any(r and r.get("contended") is True for r in runs)
    ]
    return out


def _measured(runs):
    """The runs that have times (an older run of a baseline may have failed)."""
    return [r for r in runs if r["status"] == "ok" and r.get("samples")]


def _as_runs(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def pair_log_ratios(base, cur):
    """One log ratio cur/base per pair of processes. In lockstep, the j-th samples of the two
    sides were taken one right after the other, so the pair's ratio is the median of its
    turn-by-turn ratios (drift within the pair cancels too); otherwise, of process medians."""
    a, b = process_samples(base), process_samples(cur)
    if base.get("lockstep") and cur.get("lockstep"):
        return [median(math.log(v / u) for u, v in zip(x, y)) for x, y in zip(a, b)]
    return [math.log(median(y) / median(x)) for x, y in zip(a, b)]


def _paired(key, base, cur, alpha):
    """Interleaved: per-pair log ratios; Hodges-Lehmann, exact Wilcoxon and its own interval."""
    a, b = process_medians(base), process_medians(cur)
    logs = pair_log_ratios(base, cur)
    n = len(logs)
    a, b = a[:n], b[:n]
    out = CellComparison(
        key, "inconclusive", "interleaved", n_base=len(a), n_cur=len(b), base_median=median(a), cur_median=median(b)
    )
    if not n:
        out.note = "no pairs"
        return out
    out.change = out.raw_change = math.exp(hodges_lehmann(logs)) - 1
    lo, hi, out.ci_level, reached = wilcoxon_interval(logs, alpha)
    out.ci_low, out.ci_high = math.exp(lo) - 1, math.exp(hi) - 1
    if not reached:
        out.note = f"widest interval (min..max of {n} pairs) reaches only {out.ci_level:.1%}"
    reachable = min_p_wilcoxon(n)
    if reachable > alpha:  # untested: it cannot be significant, and an interval this wide says nothing
        out.note = f"{n} pairs cannot reach alpha={alpha:g} (best p={reachable:.3g}); use more pairs"
        return out
    out.p_slower, out.p_faster = wilcoxon_p(logs)
    return out


def run_level(runs):
    """Log of each run's median of process medians."""
    return np.log([median(process_medians(r)) for r in runs])


def _run_labels(runs):
    """A label per run that lines the runs up across cells: the run id (records without one:
    their position), numbered when the same run is given twice."""
    seen, labels = {}, []
    for i, r in enumerate(runs):
        rid = r.get("run_id") or f"#{i}"
        labels.append(f"{rid}/{seen.get(rid, 0)}")
        seen[rid] = seen.get(rid, 0) + 1
    return labels


def stored_model(base_index, cur_index):
    """The two-way model over the cells measured in every baseline run and in the candidate
    (a cell missing from one run is left to its own runs); None without such cells."""
    runs = {k: _measured(v) for k, v in base_index.items()}
    labelled = {k: dict(zip(_run_labels(v), run_level(v))) for k, v in runs.items() if v}
    every = list(dict.fromkeys(label for levels in labelled.values() for label in levels))
    cur = {k: run_level(_measured(cur_index.get(k) or [])) for k in labelled}
    keys = [k for k, levels in labelled.items() if len(cur[k]) and all(lab in levels for lab in every)]
    return two_way({k: [labelled[k][lab] for lab in every] for k in keys}, {k: cur[k] for k in keys})


def _stored(key, base_runs, cur_runs, threshold, alpha, model=None):
    """Stored: runs are the unit, each run's median of process medians, in logs."""
    lb, lc = run_level(base_runs), run_level(cur_runs)
    out = CellComparison(
        key,
        "inconclusive",
        "stored",
        n_base=len(lb),
        n_cur=len(lc),
        base_median=float(np.exp(lb.mean())),
        cur_median=float(np.exp(lc.mean())),
    )
    raw = float(lc.mean() - lb.mean())
    out.change = out.raw_change = math.exp(raw) - 1
    if len(lb) < MIN_BASELINE_RUNS:
        out.note = (
            f"{len(lb)} baseline run(s): the drift between runs is unknown, so no verdict; keep "
            f"{MIN_BASELINE_RUNS} or more (each dlbench run --save NAME adds one) or use --interleave"
        )
        return out
    tkey = record_key(key)
    if model is not None and model.cells >= MIN_MODEL_CELLS and tkey in model.cur_dev:
        est, raw, se, df = model.cell(tkey)
        up = down = 0.0  # the drift is out: what is left is the cell's own change
        out.note = f"relative to the suite's drift {math.exp(model.d_cur) - 1:+.1%}"
    else:
        # the drift is still in the change and as large as a threshold: `slower` needs the
        # change significantly beyond the threshold, not merely significant
        est, df = raw, len(lb) - 1
        se = max(math.sqrt(float(np.var(lb, ddof=1)) * (1 / len(lb) + 1 / len(lc))), 1e-12)
        up, down = math.log1p(threshold), math.log1p(-threshold)
        out.note = "own runs only (too few cells to separate the drift)"
    out.change, out.raw_change, out.df = math.exp(est) - 1, math.exp(raw) - 1, df
    out.p_slower = float(sps.t.sf((est - up) / se, df))
    out.p_faster = float(sps.t.cdf((est - down) / se, df))
    half = float(sps.t.ppf(1 - alpha / 2, df)) * se
    out.ci_low, out.ci_high, out.ci_level = math.exp(est - half) - 1, math.exp(est + half) - 1, 1 - alpha
    return out


def decide(cells, threshold, alpha, suite=None):
    """Verdicts of the tested cells (those with p-values), as one family: Holm over the
    `slower` p-values, and separately over the `faster` ones. A stored comparison has a second
    gate, the suite-wide shift: alpha is split between the two (Bonferroni: half to the shift,
    half to Holm over the cells), so the run fails falsely at most alpha of the time through
    either. The shift is one test with few degrees of freedom: as one member of Holm's family
    it would need p < alpha/(cells+1) and could never be caught."""
    tested = [c for c in cells if c.p_slower is not None]
    m = len(tested)
    if suite is not None and suite.p_slower is not None:
        _suite_verdict(suite, min(1.0, 2 * suite.p_slower), min(1.0, 2 * suite.p_faster), threshold, alpha)
        tested_cells = holm([2 * c.p_slower for c in tested]), holm([2 * c.p_faster for c in tested])
    else:
        tested_cells = holm([c.p_slower for c in tested]), holm([c.p_faster for c in tested])
    for c, hs, hf in zip(tested, *tested_cells):
        up = c.p_slower <= c.p_faster
        c.p_value, c.p_holm = (c.p_slower, hs) if up else (c.p_faster, hf)
        if c.change > threshold and hs < alpha:
            c.verdict = "slower"
        elif c.change < -threshold and hf < alpha:
            c.verdict = "faster"
        elif -threshold <= c.ci_low and c.ci_high <= threshold:
            c.verdict = "same"
        else:
            c.verdict = "inconclusive"
            if c.p_value < alpha and abs(c.change) > threshold:
                why = f"p={c.p_value:.3g}, not significant over {m} cells (Holm)"
            else:
                why = f"interval {c.ci_low:+.1%}..{c.ci_high:+.1%} reaches past +-{threshold:.0%}"
            c.note = f"{c.note}; {why}" if c.note else why


def _index(records):
    """Cell key -> its records, one per run, oldest first."""
    index = {}
    for r in records:
        index.setdefault(record_key(r), []).append(r)
    return index


def _suite(cells, threshold, alpha, paired, sides, model):
    """sides: (base runs, cur runs) of each cell, in the cells' order."""
    counts = {v: sum(c.verdict == v for c in cells) for v in MEASURED}
    out = SuiteSummary("interleaved" if paired else "stored", counts, len(cells) - sum(counts.values()))
    if paired:
        logs = [
            pair_log_ratios(b[-1], c[-1])
            for (b, c), cell in zip(sides, cells)
            if cell.verdict in MEASURED and cell.change is not None
        ]
        logs = [x for x in logs if x]
        if logs:
            out.change = math.exp(float(np.mean([hodges_lehmann(x) for x in logs]))) - 1
            lo, hi = stratified_bootstrap(logs, alpha)
            out.ci_low, out.ci_high, out.ci_level = math.exp(lo) - 1, math.exp(hi) - 1, 1 - alpha
        return out
    if model is None or model.runs < MIN_BASELINE_RUNS:
        out.note = f"the suite's drift needs {MIN_BASELINE_RUNS} baseline runs with common cells"
        return out
    est, se, out.df = model.suite()
    t = float(sps.t.ppf(1 - alpha / 2, out.df))
    out.change = math.exp(est) - 1
    out.ci_low, out.ci_high, out.ci_level = math.exp(est - t * se) - 1, math.exp(est + t * se) - 1, 1 - alpha
    # the machine drifts by about a threshold: a suite-wide shift must be significantly beyond it
    out.p_slower = float(sps.t.sf((est - math.log1p(threshold)) / se, out.df))
    out.p_faster = float(sps.t.cdf((est - math.log1p(-threshold)) / se, out.df))
    return out


def _suite_verdict(out, p_slower, p_faster, threshold, alpha):
    """The stored suite-wide shift's verdict, from its Holm-adjusted p-values."""
    if out.change > threshold and p_slower < alpha:
        out.verdict, out.p_value = "slower", p_slower
    elif out.change < -threshold and p_faster < alpha:
        out.verdict, out.p_value = "faster", p_faster
    else:
        out.p_value = min(p_slower, p_faster)
        within = -threshold <= out.ci_low and out.ci_high <= threshold
        out.verdict = "same" if within else "inconclusive"


def compare_records(base_records, cur_records, threshold=0.05, alpha=0.05, paired=False, machines=None, strict=False):
    """base_records may hold several runs of each cell (a saved baseline keeps the last few)."""
    base, cur = _index(base_records), _index(cur_records)
    keys = list(base) + [k for k in cur if k not in base]
    model = None
    if paired:  # one interleaved run per side: its newest record per cell
        cells = [
            _compare_cell((base.get(k) or [None])[-1], (cur.get(k) or [None])[-1], threshold, alpha, True) for k in keys
        ]
    else:
        model = stored_model(base, cur)
        cells = [_compare_cell(base.get(k), cur.get(k), threshold, alpha, model=model) for k in keys]
    suite = _suite(cells, threshold, alpha, paired, [(base.get(k), cur.get(k)) for k in keys], model)
    decide(cells, threshold, alpha, suite)
    suite.counts = {v: sum(c.verdict == v for c in cells) for v in MEASURED}
    result = Comparison(cells, threshold, alpha, strict=strict, suite=suite)
    if machines:
        ids = {m.get("machine_id") for m in machines if m}
        if len(ids) > 1:
            names = " vs ".join(
                f"{m.get('machine_id')} ({(m.get('cpu') or {}).get('model')}, {m.get('hostname')})" for m in machines
            )
            result.warnings.append(
                f"WARNING: comparing results from different machines: {names}; "
                f"a difference may be the hardware, not the code"
            )
    return result
