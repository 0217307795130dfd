"""Data-parallel training steps (--ranks N --scaling weak,strong): the batch split over
ranks, gradients averaged by the framework's own engine, each rank's step validated
against the reference's one-process step on the whole batch; a planted bug (gradients
summed, not averaged) caught; the scaling table and chart in the reports."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from conftest import FAST, dlbench, read_results

import records
import scenarios
from harness.plan import plan
from reports.charts import bandwidth as bandwidth_chart
from reports.charts import scaling as scaling_chart
from reports.load import load
from reports.metrics import add_metrics
from reports.scaling import scaling_rows, scaling_table

TINY = ["--size", "tiny", "--processes", "1", "--no-machine-probe", "--threads", "1", *FAST]


def test_a_training_step_runs_over_ranks_at_each_scaling_and_inference_stays_at_one():
    cells = plan(["classifier", "allreduce"], ["reference"], sizes=["tiny"], ranks=(1, 2))
    forms = {(c.scenario, c.phase, c.ranks, c.scaling) for c in cells}
    assert forms == {
        ("classifier", "train_step", 1, ""),
        ("classifier", "train_step", 2, "weak"),
        ("classifier", "train_step", 2, "strong"),
        ("classifier", "inference", 1, ""),
        ("allreduce", "sum", 1, ""),
        ("allreduce", "sum", 2, ""),  # a collective splits nothing: each rank holds the message
    }
    weak = plan(["gan"], ["reference"], sizes=["tiny"], ranks=(2,), scalings=["weak"])
    assert [(c.ranks, c.scaling) for c in weak] == [(2, "weak")]
    assert "x2 ranks (weak)" in weak[0].label()
    assert records.KEY_FIELDS.index("scaling") == records.KEY_FIELDS.index("ranks") + 1


def test_the_inputs_are_the_whole_batch_and_each_rank_takes_its_part():
    s = scenarios.get("classifier")
    assert s.params("small", 2, "weak")["batch"] == 32  # each rank the size's 16
    assert s.params("small", 2, "strong")["batch"] == 16  # the size's 16 shared
    assert "scaling" not in s.params("small")  # one rank: as before, the same reference cache
    problem = s.problem("tiny", 0, 2, "strong")
    problem.rank = 1
    assert np.array_equal(problem.shard("x"), problem.inputs["x"][1:2])
    assert s.unsplittable(s.params("tiny", 3, "strong")) == (
        "a batch of 2 does not split evenly over 3 ranks: use another size or --scaling weak"
    )
    assert s.unsplittable(s.params("tiny", 3, "weak")) is None


def test_a_record_before_scaling_upgrades_to_no_split():
    rec = records.upgrade({"schema": 3, "ranks": 1})
    assert rec["scaling"] == "" and rec["schema"] == records.SCHEMA_VERSION == 4


def _frame(rows):
    base = dict(source="run", scenario="classifier", phase="train_step", size="small", impl="torch", mode="eager")
    base.update(device="cpu", threads=1, seed=0, status="ok")
    return pd.DataFrame([{**base, **r} for r in rows])


def test_efficiency_is_weak_t1_over_tn_and_strong_t1_over_n_tn():
    m = _frame(
        [
            dict(ranks=1, scaling="", median=0.010, params={"batch": 16}),
            dict(ranks=2, scaling="weak", median=0.0125, params={"batch": 32, "ranks": 2}),
            dict(ranks=2, scaling="strong", median=0.008, params={"batch": 16, "ranks": 2}),
            dict(ranks=2, scaling="weak", median=0.02, impl="tensorflow", params={"batch": 32}),  # no 1-rank cell
        ]
    )
    rows = {(r["impl"], r["scaling"]): r for r in scaling_rows(m)}
    assert rows[("torch", "weak")]["efficiency"] == pytest.approx(0.8)
    assert rows[("torch", "strong")]["efficiency"] == pytest.approx(0.625)
    assert rows[("torch", "weak")]["samples_per_s"] == pytest.approx(32 / 0.0125)
    assert rows[("tensorflow", "weak")]["efficiency"] is None
    table, notes = scaling_table(m)
    assert list(table["efficiency"]) == ["no 1-rank cell", "80%", "62%"]
    assert "T1/(N x TN)" in notes[0]
    chart = scaling_chart([r for r in rows.values() if r["scaling"] == "weak"], {"torch": "#0072B2"}, "weak")
    assert 'data-chart="scaling"' in chart and chart.count('class="point"') == 2  # 1 rank (100%) and 2 ranks


@pytest.mark.slow  # torch over 1 and 2 ranks, both scalings, classifier and GAN (about 40 s)
def test_training_steps_over_two_ranks_equal_the_one_process_step(tmp_path, capsys):
    out = tmp_path / "run"
    cmd = "run --scenario classifier,gan --impl torch --mode eager --ranks 1,2 --quiet --out"
    assert dlbench(cmd, out, *TINY) == 0
    for scenario in ("classifier", "gan"):
        for scaling in ("weak", "strong"):
            two = next(r for r in read_results(out) if r["scenario"] == scenario and r["scaling"] == scaling)
            assert two["status"] == "ok", (scenario, scaling, two["reason"])
            assert two["ranks"] == 2 and len(two["rank_samples"]) == 2
            batch = scenarios.get(scenario).sizes["tiny"]["batch"]
            assert two["params"]["batch"] == (2 * batch if scaling == "weak" else batch)
            # validated against the one-process step on the whole batch: the loss and every update
            assert set(two["errors"]) == set(scenarios.get(scenario).tolerances(two["params"], two["phase"]))
    assert all(r["status"] == "ok" for r in read_results(out))  # one rank too, inference included
    capsys.readouterr()
    html = tmp_path / "r.html"
    assert dlbench("report", out, "--html", html) == 0
    shown = capsys.readouterr().out
    assert "data-parallel scaling against one rank (weak and strong)" in shown
    page = html.read_text()
    assert "Data-parallel scaling" in page and page.count('data-chart="scaling"') == 4  # 2 scenarios x 2 scalings


@pytest.mark.slow  # two runs of torch over 2 ranks
def test_gradients_summed_instead_of_averaged_are_caught(tmp_path, monkeypatch, fake_impls):
    cmd = "run --scenario classifier --impl rankfault --ranks 2 --scaling strong --out"
    right = tmp_path / "right"
    assert dlbench(cmd, right, *TINY) == 0
    (good,) = read_results(right)
    assert good["status"] == "ok", good["reason"]  # the same step without the bug: the check is not vacuous
    monkeypatch.setenv("DLBENCH_TEST_RANK_FAULT", "summed")
    wrong = tmp_path / "wrong"
    dlbench(cmd, wrong, *TINY)
    (bad,) = read_results(wrong)
    assert bad["status"] == "invalid"
    # every weight's update is twice the whole batch's; the loss (before the update) is right
    assert "conv1_w: update off by 1 of its norm" in bad["reason"] and "loss:" not in bad["reason"]


@pytest.mark.slow  # two ranks of each framework's own engine (about 20 s each)
@pytest.mark.parametrize(
    "impl, engine",
    [
        pytest.param("tensorflow", "MultiWorkerMirroredStrategy", marks=pytest.mark.requires("tensorflow")),
        pytest.param("mxnet", "kvstore", marks=[pytest.mark.requires("mxnet"), pytest.mark.env]),
    ],
)
def test_tensorflow_and_mxnet_over_two_ranks_equal_the_one_process_step(tmp_path, impl, engine):
    out = tmp_path / "run"
    cmd = f"run --scenario allreduce,classifier --impl {impl} --mode eager --ranks 2 --scaling strong --quiet --out"
    assert dlbench(cmd, out, *TINY) == 0
    cells = {(r["scenario"], r["phase"]): r for r in read_results(out)}
    assert set(cells) == {("allreduce", "sum"), ("classifier", "train_step")}
    for cell in cells.values():
        assert cell["status"] == "ok", (engine, cell["reason"])
        assert cell["ranks"] == 2 and len(cell["rank_samples"]) == 2
    assert cells[("allreduce", "sum")]["errors"]["sum"]["max_abs"] == 0.0  # whole numbers: exact


@pytest.mark.slow
@pytest.mark.requires("mxnet")
@pytest.mark.env
def test_mxnet_all_reduces_several_sizes_in_one_worker(tmp_path):
    """One worker serves a round's cells of an implementation: MXNet's one `local` kvstore
    then sees a second message size, whose key must not be initialised twice."""
    out = tmp_path / "run"
    assert (
        dlbench("run --scenario allreduce --impl mxnet --mode eager --quiet --out", out, *TINY, "--size", "tiny,small")
        == 0
    )
    cells = {r["size"]: r for r in read_results(out)}
    assert {size: r["status"] for size, r in cells.items()} == {"tiny": "ok", "small": "ok"}, cells["small"]["reason"]


def test_ranks_without_one_and_no_parallel_scenario_is_one_line(tmp_path, capsys):
    assert dlbench("run --scenario sigmoid --ranks 2 --out", tmp_path / "x") == 2
    err = capsys.readouterr().err
    assert "no scenario among sigmoid runs over several ranks (--ranks 2)" in err and "allreduce" in err


def test_bandwidth_chart_draws_a_line_per_implementation_mode_and_ranks():
    def cell(impl, ranks, elements, gbs):
        return dict(impl=impl, mode="eager", ranks=ranks, params={"elements": elements}, gbs=gbs)

    rows = [cell("torch", 2, 100_000, 0.2), cell("torch", 2, 3_097_600, 1.0), cell("torch", 1, 100_000, 12.0)]
    chart = bandwidth_chart(rows, {"torch": "#0072B2"}, "all-reduce")
    assert chart.count("<polyline") == 2 and chart.count('class="point"') == 3
    assert 'stroke-dasharray="5 3"' in chart  # the one-rank line: nothing crosses
    assert bandwidth_chart([cell("torch", 2, 100_000, None)], {}, "none") == ""


def test_a_one_rank_collective_is_held_to_no_ceiling_and_the_report_charts_bandwidth(tmp_path, capsys):
    """The committed runs: TensorFlow's one-rank all-reduce hands its input back (hundreds of
    GB/s, no copy); it has no bus bandwidth, so no % of the copy ceiling; two ranks do."""
    run = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results/cpu-vm-2core/data-parallel/run-1")
    m = add_metrics(load([run]))
    ar = m[(m["scenario"] == "allreduce") & (m["status"] == "ok")]
    assert ar[ar["ranks"] == 1]["pct_of_peak"].isna().all()
    # (medium's level, DRAM, is the ceiling this run marked invalid under the old rule: no %)
    assert (ar[(ar["ranks"] == 2) & (ar["size"] != "medium")]["pct_of_peak"] > 0).all()
    html = tmp_path / "r.html"
    assert dlbench(f"report {run} --html {html}") == 0
    assert 'data-chart="bandwidth"' in html.read_text() and "all-reduce bandwidth" in capsys.readouterr().out
