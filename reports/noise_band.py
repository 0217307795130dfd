"""Is a change beyond its series' own run-to-run noise? The rule by which the dashboard's
"vs previous runs" and `compare --db` colour a change as slower or faster.

The noise is reports.changepoints.noise over the series' earlier runs (log medians, one per
run): the same estimate that scales the change-point penalty. A change is real when its log
exceeds CRITICAL(n) x sigma x spread, where spread is the change's own standard deviation in
units of one run's noise (a latest run against the median of 5 earlier ones: about 1.15)
and CRITICAL(n) the LEVEL quantile of |Z| / sigma_n, Z standard normal and sigma_n the noise
estimated from n runs of pure noise: a Student t for this estimator, which has no table, so
it is simulated once per n with a fixed seed. It is wide when n is small (7.6 at 5 runs,
5.0 at 10, 3.0 at 100): with few runs the noise estimate itself is unsure, and a bare
3 sigma coloured a noise-only run 5% of the time at 5 runs. Below MIN_CHANGE (the change
points' floor) nothing is coloured, however quiet the series.

The estimate is robust: a lone run in the machine's slow mode does not widen it, so such a
run, if it is the latest, can be coloured (the change points ignore it; they see steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np

from reports.changepoints import MIN_CHANGE, noise

# Earlier runs needed before a change is judged: 5 runs give 4 successive differences. With
# 3 differences the noise estimate is so unsure that the band a noise-only run stays inside
# 99.5% of the time is 12 sigma wide, which tells nothing; at 4 it is 7 sigma.
MIN_RUNS = 5
LEVEL = 0.995  # a noise-only change is coloured 1 time in 200: under one cell per 63-cell dashboard
SIMULATIONS = 20000
# n is taken down to the nearest of these (a wider band, never a narrower one), so a
# dashboard whose cells have many different run counts simulates a few n, not each
GRID = (5, 6, 7, 8, 9, 10, 12, 14, 16, 20, 26, 30, 40, 50, 70, 100)


@lru_cache(maxsize=None)
def _critical(n):
    rng = np.random.default_rng(23)  # fixed: the same band in every build
    sigma = noise(rng.standard_normal((SIMULATIONS, n)))
    z = np.abs(rng.standard_normal(SIMULATIONS))
    return float(np.quantile(z / np.maximum(sigma, 1e-12), LEVEL))


def critical(n):
    """How many estimated sigmas a noise-only change stays within, LEVEL of the time, when
    the noise was estimated from n runs (n >= MIN_RUNS)."""
    return _critical(max(g for g in GRID if g <= n))


@dataclass(frozen=True)
class Judged:
    change: Optional[float]  # new / old - 1 (for times: positive = slower); None: nothing to compare
    runs: int  # the earlier runs the noise was estimated from
    band: Optional[float]  # the log change noise explains; None: too few runs to know the noise

    @property
    def too_few(self):
        return self.band is None

    @property
    def limit(self):
        """The log change below which nothing is coloured: the band, or the floor."""
        return None if self.band is None else max(self.band, math.log1p(MIN_CHANGE))

    @property
    def real(self):
        """Beyond the noise (and the floor): the only change to colour."""
        if self.change is None or self.band is None or self.change <= -1:
            return False
        return abs(math.log1p(self.change)) > self.limit

    @property
    def bounds(self):
        """(faster, slower): the relative changes the noise explains, for the reader."""
        return None if self.band is None else (math.expm1(-self.limit), math.expm1(self.limit))


def judge(change, history: Sequence, spread=1.0):
    """A change against the noise of `history`, the series' earlier values (None, NaN and
    non-positive ones skipped: runs where the cell was not ok). spread: the change's
    standard deviation in units of one run's noise."""
    logs = [math.log(v) for v in history if v is not None and math.isfinite(v) and v > 0]
    if len(logs) < MIN_RUNS:
        return Judged(change, len(logs), None)
    return Judged(change, len(logs), critical(len(logs)) * noise(logs) * spread)
