"""reports.reproducibility: ratio changes, coverage of stated intervals and drift flags over
runs (benchmarks/evaluate_reproducibility.py's figures), on edited copies of a real run."""

import math

import pytest

from reports.reproducibility import evaluate
from tests.conftest import copy_results


def _scaled(factor_of, drift=False):
    """A record with every sample (and so median and paired turns) times factor_of(rec), and
    an interval of +-5% around its median, stated at 75%."""

    def edit(rec):
        if rec["status"] != "ok":
            return rec
        f = factor_of(rec)
        samples = [s * f for s in rec["samples"]]
        median = rec["median"] * f
        return {
            **rec,
            "samples": samples,
            "median": median,
            "ci_low": median * 0.95,
            "ci_high": median * 1.05,
            "ci_level": 0.75,
            "drift": drift and rec["impl"] == "torch",
            "drift_reason": "",
        }

    return edit


def test_identical_runs_reproduce_and_a_moved_implementation_does_not(tiny_run, tmp_path):
    same = [copy_results(tiny_run, tmp_path / f"r{i}", _scaled(lambda r: 1.0, drift=i == 0)) for i in range(2)]
    result = evaluate(same)
    assert result["ratio_pairs"] > 0 and result["ratio_change_median_pct"] == pytest.approx(0.0, abs=1e-9)
    assert result["coverage"] == 1.0 and result["stated_level"] == 0.75
    assert result["interval_width_median_pct"] == pytest.approx(10.0)
    # the flagged torch cells' times lie inside the next run's intervals: every flag contradicted
    assert result["drift_flagged"] > 0 and result["drift_contradicted"] == result["drift_flagged"]

    moved = copy_results(tiny_run, tmp_path / "moved", _scaled(lambda r: 1.2 if r["impl"] == "torch" else 1.0))
    result = evaluate([same[0], moved])
    assert result["ratio_change_median_pct"] == pytest.approx(100 * math.log(1.2), rel=1e-6)
    torch_cells = result["coverage_cells"] / 2  # as many torch cells as reference ones in the tiny run
    assert result["coverage"] == pytest.approx(1 - torch_cells / result["coverage_cells"])
