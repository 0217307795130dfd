"""Summaries of raw samples. The worker never aggregates; records keep every sample."""

import math
import statistics


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
