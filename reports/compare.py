"""Compare two sets of results: did a cell get slower, faster, or stay the same?

Measured on a shared 2-core machine, the noise is not where a naive test looks: one
process's samples look tight, the median moves 2-5% from one fresh process to the next,
and the machine's own speed drifts by 10-25% over seconds to minutes. Tests that take
samples, or a stored baseline, as taken under today's conditions cry wolf. So:

- interleaved (`compare --interleave`): the two sides run as pairs of fresh processes in
  lockstep (one sample each in turn), so drift hits both alike; the unit is the pair: an
  exact one-sided Wilcoxon signed-rank test on the per-pair log ratios (in lockstep, the
  median of the pair's turn-by-turn ratios).
  n pairs reach p = 1/2^n at best, so at least 7 for alpha 0.01;
- stored (runs at different times): the unit is the run, whose median carries that run's
  drift; a pooled t-test on the logs of run medians, the baseline holding several runs
  of the same code (`run --save NAME` keeps the last few). With fewer than 3 baseline runs
  the drift between runs is unknown and the verdict is `inconclusive`, never a guess.
  The drift's variance is pooled over the baseline's cells (it is mostly the machine's).
  As that drift is as large as a threshold, the stored test asks whether the change is
  significantly beyond the threshold (H0: change <= threshold), a stricter claim.

A cell is `slower` only when the test is significant at alpha AND the estimated change
exceeds the threshold; `same` when the confidence interval of the change lies within
+-threshold, or the change is significant but smaller than the threshold; otherwise
`inconclusive` (the noise is too large to say). Cells that became invalid, errored,
timed out or disappeared fail the comparison.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import median
from typing import List, Optional

import numpy as np
from scipy import stats as sps

CELL_KEY = ("scenario", "phase", "size", "impl", "device", "mode", "threads")
FAILING = {"slower", "invalid", "error", "timeout", "missing", "unsupported-now"}
BOOTSTRAP = 4000
MIN_BASELINE_RUNS = 3  # a stored verdict needs the drift between runs, so at least 3 baseline runs


@dataclass
class CellComparison:
    key: dict
    verdict: str
    method: str
    change: Optional[float] = None  # cur / base - 1, from the medians of process medians
    ci_low: Optional[float] = None
    ci_high: Optional[float] = None
    p_value: Optional[float] = None
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
class Comparison:
    cells: List[CellComparison]
    threshold: float
    alpha: float
    warnings: List[str] = field(default_factory=list)

    @property
    def failed(self):
        return any(c.fails for c in self.cells)


def process_samples(record):
    """The samples of each worker process, in the order they were taken."""
    by_proc = {}
    for value, proc in zip(record.get("samples") or [], record.get("sample_process") or []):
        by_proc.setdefault(proc, []).append(value)
    return [v for _, v in sorted(by_proc.items())]


def process_medians(record):
    """One median per worker process: the level where the variance is."""
    return [median(v) for v in process_samples(record)]


def min_p_wilcoxon(n):
    return 0.5 ** n if n else 1.0


def _bootstrap_ratio_ci(logs, alpha, seed=0):
    """Percentile bootstrap interval of the median per-pair ratio, resampling pairs."""
    rng = np.random.default_rng(seed)
    logs = np.asarray(logs)
    idx = rng.integers(0, len(logs), size=(BOOTSTRAP, len(logs)))
    ratios = np.exp(np.median(logs[idx], axis=1))
    lo, hi = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(lo) - 1, float(hi) - 1


def _status_verdict(base, cur):
    """Verdicts decided by status alone, before any statistics."""
    if cur is None:
        return "missing", "cell is in the baseline but not in the current results"
    if base is None:
        return "new", "cell is not in the baseline"
    if cur["status"] != "ok":
        if base["status"] == "ok":
            verdict = cur["status"] if cur["status"] in ("invalid", "error", "timeout") else "unsupported-now"
            return verdict, f"was ok, now {cur['status']}: {cur['reason']}"
        return "not-comparable", f"{cur['status']} on both sides: {cur['reason']}"
    if base["status"] != "ok":
        return "fixed", f"baseline was {base['status']}: {base['reason']}"
    work = [(r.get("flops"), r.get("bytes")) for r in (base, cur)]
    if work[0] != work[1]:  # the scenario itself changed (qgemm's gemm lost its output stage, say)
        return "not-comparable", (f"different work: baseline {work[0][0]} ops / {work[0][1]} bytes, now "
                                  f"{work[1][0]} / {work[1][1]}; the scenario changed, rerun the baseline")
    return None, ""


def compare_cell(base, cur, threshold, alpha, paired=False, drift=None):
    """base, cur: a record each; for a stored comparison, each may be a list of records,
    one per run (a baseline keeps several runs so that drift between runs can be measured).
    drift: (sum of squares, degrees of freedom) of log run medians around their cell's mean,
    pooled over the baseline's cells (run_drift); default: this cell's runs alone."""
    base_runs, cur_runs = _as_runs(base), _as_runs(cur)
    newest_base, newest_cur = (base_runs or [None])[-1], (cur_runs or [None])[-1]
    key = {k: (newest_cur or newest_base)[k] for k in CELL_KEY}
    method = "interleaved" if paired else "stored"
    verdict, note = _status_verdict(newest_base, newest_cur)
    if verdict:
        out = CellComparison(key, verdict, method, note=note)
    elif paired:
        out = _paired(key, newest_base, newest_cur, threshold, alpha)
    else:
        out = _stored(key, _measured(base_runs), _measured(cur_runs), threshold, alpha, drift)
    used = ([newest_base], [newest_cur]) if paired else (base_runs, cur_runs)
    out.contended_sides = [side for side, runs in zip(("base", "cur"), used)
                           if any(r and r.get("contended") is True for r in runs)]
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


def _paired(key, base, cur, threshold, alpha):
    """Interleaved: per-pair log ratios, exact one-sided Wilcoxon signed-rank."""
    a, b = process_medians(base), process_medians(cur)
    logs = pair_log_ratios(base, cur)
    n = len(logs)
    a, b = a[:n], b[:n]
    out = CellComparison(key, "inconclusive", "interleaved", n_base=len(a), n_cur=len(b),
                         base_median=median(a), cur_median=median(b))
    out.change = math.exp(median(logs)) - 1
    reachable = min_p_wilcoxon(n)
    if reachable > alpha:
        out.note = f"{n} pairs cannot reach alpha={alpha:g} (best p={reachable:.3g}); use more pairs"
        return out
    out.ci_low, out.ci_high = _bootstrap_ratio_ci(logs, alpha)
    p_slower = sps.wilcoxon(logs, alternative="greater", method="exact").pvalue if any(logs) else 1.0
    p_faster = sps.wilcoxon(logs, alternative="less", method="exact").pvalue if any(logs) else 1.0
    return _decide(out, p_slower, p_faster, threshold, alpha)


def run_level(runs):
    """Log of each run's median of process medians."""
    return np.log([median(process_medians(r)) for r in runs])


def run_drift(base_index):
    """(sum of squares, df) of log run medians around each cell's mean, over every cell
    with two runs or more. The drift between runs is mostly the machine's, shared by the
    cells, and three runs of one cell can look tight by chance: one cell's runs alone
    once gave a spread of 1% where the machine drifts by 8%, and a false alarm."""
    ss, df = 0.0, 0
    for runs in base_index.values():
        logs = run_level(_measured(runs))
        if len(logs) >= 2:
            ss += float(((logs - logs.mean()) ** 2).sum())
            df += len(logs) - 1
    return ss, df


def _stored(key, base_runs, cur_runs, threshold, alpha, drift=None):
    """Stored: runs are the unit. Each run's median of process medians; a two-sample t-test
    on their logarithms, whose variance is the drift between runs of the same code."""
    lb, lc = run_level(base_runs), run_level(cur_runs)
    out = CellComparison(key, "inconclusive", "stored", n_base=len(lb), n_cur=len(lc),
                         base_median=float(np.exp(lb.mean())), cur_median=float(np.exp(lc.mean())))
    diff = float(lc.mean() - lb.mean())
    out.change = math.exp(diff) - 1
    if len(lb) < MIN_BASELINE_RUNS:
        out.note = (f"{len(lb)} baseline run(s): the drift between runs is unknown, so no verdict; keep "
                    f"{MIN_BASELINE_RUNS} or more (each dlbench run --save NAME adds one) or use --interleave")
        return out
    ss, df = drift if drift and drift[1] else (float(((lb - lb.mean()) ** 2).sum()), len(lb) - 1)
    ss += float(((lc - lc.mean()) ** 2).sum())
    df += len(lc) - 1
    pooled = ss / df
    se = max(math.sqrt(pooled * (1 / len(lb) + 1 / len(lc))), 1e-12)
    # Runs drift by about as much as the threshold, so `slower` here needs the change to be
    # significantly beyond the threshold, not merely significant and beyond it on average.
    p_slower = float(sps.t.sf((diff - math.log1p(threshold)) / se, df))
    p_faster = float(sps.t.cdf((diff - math.log1p(-threshold)) / se, df))
    half = float(sps.t.ppf(1 - alpha / 2, df)) * se
    out.ci_low, out.ci_high = math.exp(diff - half) - 1, math.exp(diff + half) - 1
    return _decide(out, p_slower, p_faster, threshold, alpha)


def _decide(out, p_slower, p_faster, threshold, alpha):
    if out.change > threshold and p_slower < alpha:
        out.verdict, out.p_value = "slower", float(p_slower)
    elif out.change < -threshold and p_faster < alpha:
        out.verdict, out.p_value = "faster", float(p_faster)
    else:
        out.p_value = float(min(p_slower, p_faster))
        within = -threshold <= out.ci_low and out.ci_high <= threshold
        small_but_real = out.p_value < alpha and abs(out.change) <= threshold
        if within or small_but_real:
            out.verdict = "same"
        else:
            out.note = f"interval {out.ci_low:+.1%}..{out.ci_high:+.1%} reaches past +-{threshold:.0%}"
    return out


def _index(records):
    """Cell key -> its records, one per run, oldest first."""
    index = {}
    for r in records:
        index.setdefault(tuple(r[k] for k in CELL_KEY), []).append(r)
    return index


def compare_records(base_records, cur_records, threshold=0.05, alpha=0.01, paired=False, machines=None):
    """base_records may hold several runs of each cell (a saved baseline keeps the last few)."""
    base, cur = _index(base_records), _index(cur_records)
    keys = list(base) + [k for k in cur if k not in base]
    if paired:  # one interleaved run per side: its newest record per cell
        cells = [compare_cell((base.get(k) or [None])[-1], (cur.get(k) or [None])[-1], threshold, alpha, True)
                 for k in keys]
    else:
        drift = run_drift(base)
        cells = [compare_cell(base.get(k), cur.get(k), threshold, alpha, drift=drift) for k in keys]
    result = Comparison(cells, threshold, alpha)
    if machines:
        ids = {m.get("machine_id") for m in machines if m}
        if len(ids) > 1:
            names = " vs ".join(f"{m.get('machine_id')} ({(m.get('cpu') or {}).get('model')}, {m.get('hostname')})"
                                for m in machines)
            result.warnings.append(f"WARNING: comparing results from different machines: {names}; "
                                   f"a difference may be the hardware, not the code")
    return result
