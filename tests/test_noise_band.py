"""reports.noise_band: a change is real only beyond its series' own noise. On series of pure
noise the rule colours about 1 - LEVEL of the time, at the fewest runs it judges and at
many; below MIN_RUNS it judges nothing; a constant series still has the 2% floor."""

import math

import numpy as np
import pytest

from reports.changepoints import MIN_CHANGE
from reports.noise_band import GRID, LEVEL, MIN_RUNS, critical, judge


@pytest.mark.parametrize("runs", [MIN_RUNS, 30])
def test_pure_noise_is_coloured_about_one_time_in_200(runs):
    rng = np.random.default_rng(runs)
    x = rng.normal(0.0, 0.1, (4000, runs + 1))
    coloured = [judge(math.expm1(row[-1] - row[-2]), np.exp(row[:-1]), math.sqrt(2)).real for row in x]
    assert np.mean(coloured) < 2 * (1 - LEVEL)


def test_the_band_narrows_as_the_noise_becomes_known():
    assert critical(MIN_RUNS) > 7 and critical(10) < 5.5 and critical(500) == critical(GRID[-1]) < 3.2
    assert critical(11) == critical(10)  # between grid points: the wider band below


def test_too_few_runs_judge_nothing():
    j = judge(0.5, [1.0, None, 1.1, float("nan"), 0.9, -1.0, 1.0])  # four usable values
    assert j.too_few and j.runs == MIN_RUNS - 1 and j.band is None and not j.real


def test_a_quiet_series_is_held_to_the_floor():
    flat = [1.0] * 8  # no noise at all: the band is 0
    assert not judge(MIN_CHANGE / 2, flat).real and judge(2 * MIN_CHANGE, flat).real
    assert judge(-2 * MIN_CHANGE, flat).real and not judge(None, flat).real
    low, high = judge(0.0, flat).bounds
    assert high == pytest.approx(MIN_CHANGE) and (1 + low) * (1 + high) == pytest.approx(1.0)
