"""reports.changepoints: the steps a history holds are found where they are, with their size
and sign; a history without one gives none; gaps (runs where the cell was not ok) keep the
positions right. Noise like this machine's run-to-run noise (about 3%), fixed seeds."""

import math

import numpy as np
import pytest

from reports.changepoints import MIN_CHANGE, cumulative_l2_cost, detect, noise, running_median3


def noisy(levels, sigma=0.03, seed=0):
    rng = np.random.default_rng(seed)
    return list(np.asarray(levels) * np.exp(rng.normal(0.0, sigma, len(levels))))


@pytest.mark.parametrize("seed", range(5))
def test_a_20_percent_slowdown_is_found_at_its_commit(seed):
    values = noisy([1.0] * 60 + [1.2] * 40, seed=seed)
    (point,) = detect(values)
    assert abs(point.index - 60) <= 1
    assert point.change == pytest.approx(0.2, abs=0.04) and point.after / point.before - 1 == point.change


def test_an_improvement_is_a_negative_change_and_two_steps_are_two_points():
    values = noisy([2.0] * 50 + [1.6] * 50 + [2.0] * 50, seed=7)
    points = detect(values)
    assert [abs(p.index - i) <= 1 for p, i in zip(points, (50, 100))] == [True, True] and len(points) == 2
    assert points[0].change < -0.15 and points[1].change > 0.15


@pytest.mark.parametrize("seed", range(10))
def test_a_history_without_a_step_gives_none(seed):
    values = noisy([1.0] * 150, seed=100 + seed)
    values[40] *= 1.25  # one run in the machine's slow mode is not a step
    assert detect(values) == []


def test_gaps_are_skipped_and_positions_kept():
    values = noisy([1.0] * 40 + [1.3] * 40, seed=3)
    values[10] = None
    values[20] = math.nan
    values[39] = 0.0
    gapped = [v if i not in (45, 46) else None for i, v in enumerate(values)]
    (point,) = detect(gapped)
    assert abs(point.index - 40) <= 1


def test_short_or_flat_series_give_none():
    assert detect([]) == [] and detect([1.0, 2.0, 1.0]) == []
    assert detect([1.0] * 30) == []
    assert detect([None] * 20) == []


def test_a_change_smaller_than_the_floor_is_not_reported():
    step = MIN_CHANGE / 2
    values = [1.0] * 50 + [1.0 + step] * 50  # noiseless: found by the method, dropped by the floor
    assert detect(values) == []


def test_the_prefix_sum_cost_is_ruptures_l2_cost():
    from ruptures.costs import CostL2

    x = np.log(noisy([1.0] * 30 + [1.1] * 30, seed=11)) + 5.0  # offset: no cancellation either
    ours, theirs = cumulative_l2_cost().fit(x), CostL2().fit(x)
    for start, end in [(0, 60), (0, 1), (3, 31), (29, 60), (10, 12)]:
        assert ours.error(start, end) == pytest.approx(theirs.error(start, end), rel=1e-9, abs=1e-12)


def test_the_running_median_takes_out_a_lone_spike():
    assert running_median3(np.array([1.0, 1.0, 9.0, 1.0, 3.0])).tolist() == [1.0, 1.0, 1.0, 3.0, 2.0]


def test_the_noise_estimate_is_one_runs_spread_and_a_step_does_not_widen_it():
    flat = np.log(noisy([1.0] * 200, sigma=0.05, seed=21))
    stepped = np.log(noisy([1.0] * 100 + [1.5] * 100, sigma=0.05, seed=21))
    assert noise(flat) == pytest.approx(0.05, rel=0.15)
    assert noise(stepped) == pytest.approx(noise(flat), rel=0.05)  # a 50% step is one difference of 199
    assert noise([]) == noise([0.3]) == 0.0
