"""Summaries of raw samples. The worker never aggregates; records keep every sample."""

import math
import statistics
from functools import lru_cache

import numpy as np


def quartiles(values):
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


FIELDS = ("median", "q1", "q3", "iqr", "rel_iqr", "min", "mean", "stdev", "n_samples")


def summarize(values):
    """median, IQR, relative IQR, min, mean, stdev of per-call seconds."""
    if not values:  # a failed cell: the same fields, empty
        return dict.fromkeys(FIELDS, None) | {"n_samples": 0}
    q1, med, q3 = quartiles(sorted(values))
    return {
        "median": med,
        "q1": q1,
        "q3": q3,
        "iqr": q3 - q1,
        "rel_iqr": (q3 - q1) / med if med > 0 else None,
        "min": min(values),
        "mean": statistics.fmean(values),
        "stdev": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n_samples": len(values),
    }


def median_interval(values, level=0.95):
    """Order-statistic confidence interval of the median: (low, high, confidence).

    The interval from the j-th smallest to the j-th largest of n values covers the true
    median with probability 1 - 2 P(Binomial(n, 1/2) < j), whatever the distribution
    (asv's and the textbook's interval). The widest j that still reaches `level` is
    used; with too few values to reach it (n < 6 for 95%), the interval is the whole
    range and its confidence the lower one it really has (75% for 3 values), said
    rather than rounded up. None for fewer than 2 values.
    """
    n = len(values)
    if n < 2:
        return None
    xs = sorted(values)

    def coverage(j):
        below = sum(math.comb(n, i) for i in range(j)) / 2**n
        return 1 - 2 * below

    j = 1
    while j + 1 <= n // 2 and coverage(j + 1) >= level:
        j += 1
    return xs[j - 1], xs[n - j], coverage(j)


def prediction_interval(values, center, level):
    """(low, high) that the next run's figure, a median over as many processes, falls in with
    probability `level`, from this run's process medians `values` and its figure `center`:
    in logs, center +- t(df = n-1) x sd x sqrt(2/n), since the difference of two such
    figures has sd x sqrt(2/n) (each the level of n processes). It states where a rerun
    lands, which is what a reader of one run's interval takes it to mean; the interval of
    the median alone (median_interval) is narrower and missed the next run's figure 44% of
    the time at a stated 75% here. None for fewer than 2 values or a non-positive one."""
    n = len(values)
    if n < 2 or center <= 0 or any(v <= 0 for v in values):
        return None
    from scipy.stats import t

    logs = [math.log(v) for v in values]
    half = float(t.ppf((1 + level) / 2, n - 1)) * statistics.stdev(logs) * math.sqrt(2 / n)
    return center * math.exp(-half), center * math.exp(half)


# The signed-rank machinery (paired comparisons: compare --interleave, and the lockstep
# turns of a run, harness.paired); reports.compare_stats builds its verdicts on it.


def walsh_averages(x):
    """Sorted (x_i + x_j) / 2 over i <= j."""
    x = np.asarray(x, dtype=float)
    i, j = np.triu_indices(len(x))
    return np.sort((x[i] + x[j]) / 2)


def hodges_lehmann(x):
    """The estimate that goes with the signed-rank test: the median of the Walsh averages."""
    return float(np.median(walsh_averages(x)))


@lru_cache(maxsize=None)
def signed_rank_null(n):
    """P(T+ = t), t = 0..n(n+1)/2, under H0 (no ties): each rank's sign a fair coin."""
    counts = np.zeros(n * (n + 1) // 2 + 1, dtype=object)  # exact integers: 2^n overflows floats' precision late
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    out = np.array([c / 2**n for c in counts], dtype=float)
    out.flags.writeable = False  # cached: shared by every caller
    return out


def wilcoxon_interval(x, alpha):
    """(low, high, level, reached): the exact Wilcoxon-inverted interval of the pseudo-median,
    [W_(k), W_(M+1-k)] of the M sorted Walsh averages, k the largest rank with
    P(T+ <= k-1) <= alpha/2; level = 1 - 2 P(T+ <= k-1), the confidence achieved. Too few
    values to reach 1-alpha: the widest interval (min..max) and reached=False."""
    w = walsh_averages(x)
    cdf = np.cumsum(signed_rank_null(len(x)))
    k = int(np.searchsorted(cdf, alpha / 2 * (1 + 1e-12), side="right"))  # cdf[k-1] <= alpha/2 < cdf[k]
    reached = k >= 1
    k = max(k, 1)
    return float(w[k - 1]), float(w[len(w) - k]), float(1 - 2 * cdf[k - 1]), reached
