"""Precision shown as it is: an interval of the median over processes, `noisy` cells,
calls per sample calibrated once per cell and reused by every process."""

import math

import pytest

from cli.main import main
from cli.options import DEFAULT_PROCESSES
from harness import records, stats
from tests.conftest import FAST, dlbench, read_results


def coverage(n, j):
    """P(j-th smallest <= median <= j-th largest) for n draws: the textbook binomial sum."""
    return 1 - 2 * sum(math.comb(n, i) for i in range(j)) / 2**n


@pytest.mark.parametrize("n, j", [(3, 1), (5, 1), (6, 1), (8, 1), (9, 2), (12, 3), (20, 6)])
def test_order_statistic_interval_is_the_widest_at_95(n, j):
    values = [float(v) for v in range(n, 0, -1)]  # unsorted on purpose
    low, high, level = stats.median_interval(values)
    assert (low, high) == (float(j), float(n - j + 1))
    assert level == pytest.approx(coverage(n, j))
    # the interval is the narrowest that still reaches 95% (or the whole range when none does)
    assert level >= 0.95 or j == 1
    if j < n // 2:
        assert coverage(n, j + 1) < 0.95


def test_three_processes_say_75_percent_not_95():
    low, high, level = stats.median_interval([1.0, 1.2, 1.1])
    assert (low, high, level) == (1.0, 1.2, 0.75)
    assert stats.median_interval([1.0]) is None


def fake_results(process_samples):
    return [{"status": "ok", "samples": s, "process": i} for i, s in enumerate(process_samples)]


def test_noisy_when_processes_disagree():
    steady = [1.00, 1.01, 0.99, 1.00]
    results = fake_results([steady, [v * 1.3 for v in steady], steady])
    prec = records.precision(results, stats.summarize(sum((r["samples"] for r in results), [])))
    assert prec["noisy"] is True and "processes spread" in prec["noisy_reason"]
    assert prec["process_medians"] == pytest.approx([1.0, 1.3, 1.0])
    # where the next run's figure lands, at the level 3 processes support: wider than their range
    assert prec["ci_low"] < 1.0 and prec["ci_high"] >= 1.3 and prec["ci_level"] == 0.75


def test_noisy_when_samples_spread_within_a_process():
    wide = [1.0, 1.5, 0.7, 1.3, 0.9]
    results = fake_results([wide, wide, wide])
    prec = records.precision(results, stats.summarize(wide * 3))
    assert prec["noisy"] is True and "IQR" in prec["noisy_reason"]


def test_steady_cell_is_not_noisy():
    steady = [1.00, 1.01, 0.99, 1.00]
    results = fake_results([steady, [v * 1.02 for v in steady], steady])
    prec = records.precision(results, stats.summarize(sum((r["samples"] for r in results), [])))
    assert prec["noisy"] is False and prec["noisy_reason"] == ""


def test_prediction_interval_covers_the_next_run_at_its_level():
    """Simulated runs of 3 processes, each process's level log-normal around the truth: the
    next run's figure falls in this run's interval as often as its level says."""
    import numpy as np

    rng = np.random.default_rng(0)
    hits, trials = 0, 4000
    for _ in range(trials):
        this, nxt = np.exp(rng.normal(0, 0.05, 3)), np.exp(rng.normal(0, 0.05, 3))
        center = float(np.exp(np.log(this).mean()))
        low, high = stats.prediction_interval(list(this), center, 0.75)
        hits += low <= float(np.exp(np.log(nxt).mean())) <= high
    assert abs(hits / trials - 0.75) < 0.03
    assert stats.prediction_interval([1.0], 1.0, 0.75) is None


@pytest.mark.parametrize("lockstep", [False, True])
def test_calls_per_sample_per_process(tmp_path, lockstep):
    """--no-lockstep: the first process calibrates and every later one reuses it (pyperf's
    --loops); in lockstep rounds every round calibrates anew, so that count's own noise is
    in the process-to-process interval rather than fixed for the whole run."""
    out = str(tmp_path / "out")
    assert (
        dlbench(
            f"run --scenario sigmoid --impl reference --size tiny --processes 3 --out {out} "
            f"--quiet --samples 3 --min-time 0.005 --warmup 0.001 {'--lockstep' if lockstep else '--no-lockstep'}"
        )
        == 0
    )
    for rec in read_results(out):
        assert rec["status"] == "ok" and rec["processes"] == 3
        assert len(rec["loops"]) == 3 and min(rec["loops"]) > 1
        if not lockstep:
            assert len(set(rec["loops"])) == 1
        assert len(rec["process_medians"]) == 3
        assert rec["ci_low"] <= rec["median"] <= rec["ci_high"] and rec["ci_level"] == 0.75
        assert isinstance(rec["noisy"], bool) and isinstance(rec["contended"], bool)


def test_one_process_has_no_interval(tmp_path):
    out = str(tmp_path / "out")
    assert dlbench(f"run --scenario sigmoid --impl reference --size tiny --processes 1 --out {out} --quiet", *FAST) == 0
    for rec in read_results(out):
        assert rec["ci_low"] is None and rec["ci_level"] is None and len(rec["process_medians"]) == 1


def test_default_processes_come_from_the_environment(monkeypatch, tmp_path, capsys):
    from cli.main import build_parser

    monkeypatch.delenv("DLBENCH_PROCESSES")
    assert build_parser().parse_args(["run"]).processes == DEFAULT_PROCESSES > 1
    monkeypatch.setenv("DLBENCH_PROCESSES", "zero")
    assert main(["run", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "DLBENCH_PROCESSES" in err
