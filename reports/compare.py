"""Compare two sets of stored results: did a cell get slower, faster, or stay the same?

The noise on this kind of machine lives between processes, not between the samples of
one process: the median of the same cell moves by 2-2.5% (CV), sometimes 10%, from one
fresh process to the next, while one process's samples look tight. Testing raw samples
as if independent cries wolf. So the unit of evidence here is the *process*: each side
contributes one median per worker process (`--processes N`), and

- stored comparison (two independent runs): a one-sided Mann-Whitney U test on the
  per-process medians, with an exact null distribution; n processes per side can only
  reach p = 1 / C(2n, n), so fewer than 5 per side cannot reach alpha = 0.01 and give
  `inconclusive`, never a verdict;
- interleaved comparison (A B B A ... in one job): pairs of processes run back to back,
  so drift and slow modes hit both sides alike; a one-sided Wilcoxon signed-rank test
  on the per-pair log ratios; n pairs reach p = 1 / 2^n, so at least 7 for 0.01.

A cell is `slower` only when the test is significant at alpha AND the estimated
change exceeds the threshold; `same` when the confidence interval of the change lies
within +-threshold, or the change is significant but smaller than the threshold;
otherwise `inconclusive` (the noise is too large to say). Cells that became invalid,
errored, timed out or disappeared fail the comparison.
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

    @property
    def fails(self):
        return self.verdict in FAILING

    def as_dict(self):
        return {**asdict(self), "fails": self.fails}


@dataclass
class Comparison:
    cells: List[CellComparison]
    threshold: float
    alpha: float
    warnings: List[str] = field(default_factory=list)

    @property
    def failed(self):
        return any(c.fails for c in self.cells)


def process_medians(record):
    """One median per worker process: the level where the variance is."""
    by_proc = {}
    for value, proc in zip(record.get("samples") or [], record.get("sample_process") or []):
        by_proc.setdefault(proc, []).append(value)
    return [median(v) for _, v in sorted(by_proc.items())]


def min_p_mannwhitney(n1, n2):
    """Smallest one-sided p-value an exact Mann-Whitney U test can give."""
    return 1.0 / math.comb(n1 + n2, n1) if n1 and n2 else 1.0


def min_p_wilcoxon(n):
    return 0.5 ** n if n else 1.0


def _bootstrap_ratio_ci(base, cur, alpha, paired, seed=0):
    """Percentile bootstrap interval of median(cur)/median(base), resampling processes."""
    rng = np.random.default_rng(seed)
    base, cur = np.asarray(base), np.asarray(cur)
    if paired:
        logs = np.log(cur / base)
        idx = rng.integers(0, len(logs), size=(BOOTSTRAP, len(logs)))
        ratios = np.exp(np.median(logs[idx], axis=1))
    else:
        b = np.median(base[rng.integers(0, len(base), size=(BOOTSTRAP, len(base)))], axis=1)
        c = np.median(cur[rng.integers(0, len(cur), size=(BOOTSTRAP, len(cur)))], axis=1)
        ratios = c / b
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
    return None, ""


def compare_cell(base, cur, threshold, alpha, paired=False):
    key = {k: (cur or base)[k] for k in CELL_KEY}
    method = "interleaved" if paired else "stored"
    verdict, note = _status_verdict(base, cur)
    if verdict:
        return CellComparison(key, verdict, method, note=note)
    a, b = process_medians(base), process_medians(cur)
    out = CellComparison(key, "inconclusive", method, n_base=len(a), n_cur=len(b),
                         base_median=median(a), cur_median=median(b))
    if paired:
        n = min(len(a), len(b))
        a, b = a[:n], b[:n]
        reachable = min_p_wilcoxon(n)
        out.change = math.exp(median(math.log(y / x) for x, y in zip(a, b))) - 1
    else:
        reachable = min_p_mannwhitney(len(a), len(b))
        out.change = median(b) / median(a) - 1
    if reachable > alpha:
        need = "pairs" if paired else "processes per side"
        out.note = (f"{len(a)} vs {len(b)} processes cannot reach alpha={alpha:g} (best p={reachable:.3g}); "
                    f"use more {need}")
        return out
    out.ci_low, out.ci_high = _bootstrap_ratio_ci(a, b, alpha, paired)
    if paired:
        logs = [math.log(y / x) for x, y in zip(a, b)]
        p_slower = sps.wilcoxon(logs, alternative="greater", method="exact").pvalue if any(logs) else 1.0
        p_faster = sps.wilcoxon(logs, alternative="less", method="exact").pvalue if any(logs) else 1.0
    else:
        p_slower = sps.mannwhitneyu(b, a, alternative="greater", method="exact").pvalue
        p_faster = sps.mannwhitneyu(b, a, alternative="less", method="exact").pvalue
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
    return {tuple(r[k] for k in CELL_KEY): r for r in records}


def compare_records(base_records, cur_records, threshold=0.05, alpha=0.01, paired=False, machines=None):
    base, cur = _index(base_records), _index(cur_records)
    keys = list(base) + [k for k in cur if k not in base]
    cells = [compare_cell(base.get(k), cur.get(k), threshold, alpha, paired) for k in keys]
    result = Comparison(cells, threshold, alpha)
    if machines:
        ids = {m.get("machine_id") for m in machines if m}
        if len(ids) > 1:
            names = " vs ".join(f"{m.get('machine_id')} ({(m.get('cpu') or {}).get('model')}, {m.get('hostname')})"
                                for m in machines)
            result.warnings.append(f"WARNING: comparing results from different machines: {names}; "
                                   f"a difference may be the hardware, not the code")
    return result
