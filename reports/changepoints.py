"""Change points of a cell's history: where its median stepped, from one commit to the next.

The method was chosen by measurement (benchmarks/evaluate_changepoints.py, the table in
docs/change-points.md): ruptures' binary segmentation with the l2 cost, on log values
smoothed by a running median of 3 (a single run in the machine's slow mode is not a step),
with a BIC-like penalty scaled by the series' own noise (estimated from successive
differences, so a quiet cell's 3% step counts and a noisy cell's 3% wobble does not). A
detected change smaller than MIN_CHANGE between its segments' medians is not reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

MIN_CHANGE = 0.02  # below 2% a change is within what a benchmark can tell on this kind of machine
MIN_SIZE = 5  # runs on each side of a change: fewer cannot tell a step from a slow spell
PENALTY = 6.0  # x sigma^2 x log(n): no false change in 180 step-free synthetic histories


@dataclass(frozen=True)
class ChangePoint:
    index: int  # the first position (0-based) of the new level in `values`
    before: float  # the level (median) of the segment before it
    after: float  # the level (median) of the segment after it
    change: float  # after / before - 1 (for times: positive = slower)


def running_median3(x):
    """Each value replaced by the median of itself and its neighbours (the ends: of two)."""
    if len(x) < 3:
        return x.copy()
    middle = np.median(np.stack([x[:-2], x[1:-1], x[2:]]), axis=0)
    return np.concatenate([[(x[0] + x[1]) / 2], middle, [(x[-2] + x[-1]) / 2]])


def cumulative_l2_cost():
    """ruptures' l2 cost (a segment's squared deviation from its mean), from prefix sums.

    The same cost as ruptures' CostL2, which calls numpy's var once per candidate split:
    binary segmentation asks for thousands of them, and the dashboard runs it for every
    cell, so O(1) Python arithmetic per segment: 63 cells x 100 runs in 40 ms instead of 1.1 s."""
    from ruptures.base import BaseCost

    class CumulativeL2(BaseCost):
        model = "l2"
        min_size = 1

        def fit(self, signal):
            self.signal = np.asarray(signal, dtype=float).reshape(-1, 1)  # ruptures reads its length
            x = self.signal[:, 0] - self.signal.mean()  # centred: the prefix sums stay small, no cancellation
            self.sums = [0.0, *np.cumsum(x).tolist()]
            self.squares = [0.0, *np.cumsum(x * x).tolist()]
            return self

        def error(self, start, end):
            total = self.sums[end] - self.sums[start]
            return self.squares[end] - self.squares[start] - total * total / (end - start)

    return CumulativeL2()


def noise(logs):
    """The run-to-run noise of a series of log values: one run's standard deviation, from the
    median absolute successive difference (1.4826 MAD / sqrt 2). Differences, so a step is one
    outlier among them, not a spread; the median, so a lone slow run (two) is not either.
    0.0 with fewer than two values. A 2-D array is one series per row (reports.noise_band
    simulates many at once), an array of noises back."""
    x = np.asarray(logs, dtype=float)
    if x.shape[-1] < 2:
        return 0.0 if x.ndim == 1 else np.zeros(x.shape[0])
    sigma = 1.4826 * np.median(np.abs(np.diff(x, axis=-1)), axis=-1) / math.sqrt(2)
    return float(sigma) if x.ndim == 1 else sigma


def change_indices(logs):
    """Change positions in a series of log values (no gaps), after the MIN_CHANGE filter."""
    import ruptures  # imported here: only the dashboard and the evaluation need it

    x = np.asarray(logs, dtype=float)
    n = len(x)
    if n < 2 * MIN_SIZE:
        return []
    smooth = running_median3(x)
    sigma = noise(x)
    if sigma == 0.0:  # a constant series (or nearly): any penalty above 0 keeps it whole
        sigma = 1e-9
    algo = ruptures.Binseg(custom_cost=cumulative_l2_cost(), min_size=MIN_SIZE, jump=1).fit(smooth)
    found = [int(b) for b in algo.predict(pen=PENALTY * sigma**2 * math.log(n)) if b < n]
    bounds = [0, *found, n]
    return [
        i
        for k, i in enumerate(found)
        if abs(math.expm1(np.median(x[i : bounds[k + 2]]) - np.median(x[bounds[k] : i]))) >= MIN_CHANGE
    ]


def detect(values: Sequence[float]) -> list[ChangePoint]:
    """Change points of one series (a cell's medians over commits, oldest first), in order.
    None, NaN and non-positive values are skipped (a run where the cell was not ok); the
    indices still refer to positions in `values`."""
    where = [i for i, v in enumerate(values) if v is not None and math.isfinite(v) and v > 0]
    logs = np.log([values[i] for i in where])
    found = change_indices(logs)
    bounds = [0, *found, len(where)]
    points = []
    for k, i in enumerate(found):
        before = math.exp(float(np.median(logs[bounds[k] : i])))
        after = math.exp(float(np.median(logs[i : bounds[k + 2]])))
        points.append(ChangePoint(index=where[i], before=before, after=after, change=after / before - 1))
    return points
