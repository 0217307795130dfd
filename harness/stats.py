"""Summaries of raw samples. The worker never aggregates; records keep every sample."""
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
