"""The statistics behind `dlbench compare`: the verdict logic lives in reports/compare.py.

- interleaved pairs: the Hodges-Lehmann estimate of the per-pair log ratios, the exact
  Wilcoxon signed-rank test, and the interval that inverts that same test (order
  statistics of the Walsh averages), so the interval excludes 0 exactly when the test
  rejects;
- Holm's step-down correction over the cells of a suite;
- stored runs: a two-way model of the baseline's log run levels, L[r,c] = mu_c + d_r + e[r,c],
  separating the drift d_r that every cell of a run shares from each cell's own noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
from scipy import stats as sps

from harness.stats import hodges_lehmann, signed_rank_null, walsh_averages, wilcoxon_interval  # noqa: F401

BOOTSTRAP = 2000


def wilcoxon_p(x):
    """(p slower, p faster): exact one-sided signed-rank p-values that the median log ratio
    is above / below 0. Exact zeros carry no sign and are dropped (Wilcoxon's rule)."""
    x = [v for v in x if v != 0]
    if not x:
        return 1.0, 1.0
    return (
        float(sps.wilcoxon(x, alternative="greater", method="exact").pvalue),
        float(sps.wilcoxon(x, alternative="less", method="exact").pvalue),
    )


def min_p_wilcoxon(n):
    return 0.5**n if n else 1.0


def holm(pvalues):
    """Holm's step-down adjusted p-values, in the given order: the k-th smallest p times
    (m - k + 1), made monotone, capped at 1. Reject where adjusted p < alpha: the family-wise
    error rate stays at alpha whatever the dependence between cells."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    if not m:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]


def stratified_bootstrap(logs_by_cell, alpha, seed=0, n_boot=BOOTSTRAP):
    """Interval of the mean over cells of each cell's Hodges-Lehmann log ratio, resampling
    pairs within each cell (cells are the strata; their number stays fixed)."""
    rng = np.random.default_rng(seed)
    total = np.zeros(n_boot)
    for logs in logs_by_cell:
        logs = np.asarray(logs, dtype=float)
        sample = logs[rng.integers(0, len(logs), size=(n_boot, len(logs)))]
        i, j = np.triu_indices(len(logs))
        total += np.median((sample[:, i] + sample[:, j]) / 2, axis=1)
    means = total / len(logs_by_cell)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass
class TwoWay:
    """The baseline's log run levels L[r,c] = mu_c + d_r + e[r,c] (R runs, C cells, every cell
    measured in every run), and the candidate placed against it.

    The drift d_r is shared by every cell of run r, so it has R-1 degrees of freedom however
    many cells there are; what is left, e, is each cell's own noise, with (R-1)(C-1)."""

    runs: int
    cells: int
    mu: Dict[tuple, float]  # each cell's baseline mean log level
    d_base: np.ndarray  # each baseline run's drift (mean over cells of L - mu; they sum to 0)
    residual_var: float  # two-way ANOVA residual variance
    cur_dev: Dict[tuple, Tuple[float, int]]  # cell -> (candidate mean log level - mu_c, candidate runs)
    d_cur: float  # the candidate's drift: the median over cells of its deviation
    n_cur: int  # candidate runs (the fewest over cells)

    @property
    def df_suite(self):
        return self.runs - 1

    @property
    def df_cells(self):
        return (self.runs - 1) * (self.cells - 1)

    def suite(self):
        """(log change, se, df): the candidate's drift relative to the baseline runs' mean
        drift (0 by construction), against the spread of the baseline runs' drifts."""
        sd = float(np.std(self.d_base, ddof=1))
        return self.d_cur, max(sd * math.sqrt(1 / self.runs + 1 / self.n_cur), 1e-12), self.df_suite

    def cell(self, key):
        """(log change relative to the suite, raw log change, se, df) of one cell."""
        dev, n = self.cur_dev[key]
        # d_cur is itself a median over C cells of the same noise: its variance, about
        # pi/2 that of a mean, adds to the cell's (conservatively, ignoring their covariance)
        se = math.sqrt(self.residual_var * (1 / self.runs + 1 / n) * (1 + math.pi / (2 * self.cells)))
        return dev - self.d_cur, dev, max(se, 1e-12), self.df_cells


def two_way(levels, cur_levels):
    """levels: cell -> its baseline log run levels (same runs, same order, for every cell);
    cur_levels: cell -> its candidate log run levels. None without two runs and a cell."""
    keys = list(levels)
    if not keys:
        return None
    L = np.array([levels[k] for k in keys], dtype=float).T  # runs x cells
    if L.shape[0] < 2:
        return None
    mu = L.mean(axis=0)
    d = (L - mu).mean(axis=1)
    resid = L - mu - d[:, None]
    R, C = L.shape
    df = (R - 1) * (C - 1)
    cur_dev = {k: (float(np.mean(cur_levels[k]) - m), len(cur_levels[k])) for k, m in zip(keys, mu)}
    # the median, so that the few cells a change touched do not move the suite's drift
    d_cur = float(np.median([v for v, _ in cur_dev.values()]))
    return TwoWay(
        R,
        C,
        dict(zip(keys, map(float, mu))),
        d,
        float((resid**2).sum() / df) if df else 0.0,
        cur_dev,
        d_cur,
        min(n for _, n in cur_dev.values()),
    )
