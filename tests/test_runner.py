"""Planning, processes, devices and the measurement loop."""

import os
import time

import pytest

import impls
from harness import stats
from harness.plan import PlanError, plan
from harness.worker import calibrate, sample
from impls.base import Step
from tests.conftest import FAST, dlbench, in_fresh_worker, read_results


def test_plan_defaults_cover_every_mode_of_each_impl():
    cells = plan(impl_names=["reference", "torch"], sizes=["tiny"])
    modes = {(c.impl, c.mode) for c in cells}
    assert modes == {("reference", "eager"), ("torch", "eager"), ("torch", "graph")}
    assert {c.scenario for c in cells} == {"allreduce", "conv", "sigmoid", "qgemm", "classifier", "gan"}
    assert {c.ranks for c in cells} == {1}  # one rank unless --ranks says more
    assert all(c.device == "cpu" and c.size == "tiny" for c in cells)


def test_plan_scenario_specific_size_and_alias():
    cells = plan(scenario_names=["qgemm", "conv"], impl_names=["reference"], sizes=["skinny"], devices=["gpu"])
    assert {(c.scenario, c.device) for c in cells} == {("qgemm", "cuda")}
    with pytest.raises(PlanError, match="unknown size .skinny."):
        plan(scenario_names=["conv"], sizes=["skinny"])


def test_processes_are_recorded_per_sample(tmp_path):
    out = str(tmp_path / "out")
    assert dlbench(f"run --scenario sigmoid --impl reference --size tiny --processes 3 --out {out} --quiet", *FAST) == 0
    for rec in read_results(out):
        assert rec["status"] == "ok"
        assert rec["sample_process"] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
        assert len(rec["samples"]) == 9 and rec["processes"] == 3
        assert len(rec["first_call_s_per_process"]) == 3


@pytest.mark.slow  # probes every framework
def test_cuda_without_gpu_is_unsupported_not_an_error(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert dlbench(f"run --scenario conv,qgemm --device cuda --size tiny --out {out}", *FAST) == 0
    records = read_results(out)
    assert records and all(r["status"] == "unsupported" for r in records)
    torch_reasons = {r["reason"] for r in records if r["impl"] == "torch"}
    assert torch_reasons and all("no CUDA device" in r for r in torch_reasons)
    # by default only implementations that have a CUDA path get cells; the reference has none
    assert "reference" not in {r["impl"] for r in records}
    cupy = [r for r in records if r["impl"] == "cupy"]
    assert cupy and all("cupy" in r["reason"] or "CUDA" in r["reason"] for r in cupy)


def test_unsupported_mode_has_reason(tmp_path):
    out = str(tmp_path / "out")
    assert dlbench(f"run --scenario conv --impl reference --mode graph --size tiny --out {out} --quiet", *FAST) == 0
    (rec,) = read_results(out)
    assert rec["status"] == "unsupported" and "reference has no graph mode" in rec["reason"]


class _Sleeper:
    def __init__(self, seconds):
        self.calls = 0
        self.seconds = seconds

    def run(self):
        self.calls += 1
        time.sleep(self.seconds)


def test_calibrate_reaches_min_time_and_sync_is_inside_the_timed_region():
    sleeper = _Sleeper(0.001)
    synced = []
    step = Step(sleeper.run, lambda: {}, sync=lambda: (synced.append(1), time.sleep(0.02)))
    loops, elapsed = calibrate(step, min_time=0.03)
    assert elapsed >= 0.03
    # a slow sync is part of every sample: calibration counts it, so few loops suffice
    assert loops <= 16 and synced
    assert sample(step, 1) >= 0.02


def test_stats_summary():
    s = stats.summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert s["median"] == 3.0 and s["q1"] == 2.0 and s["q3"] == 4.0
    assert s["iqr"] == 2.0 and s["rel_iqr"] == pytest.approx(2 / 3) and s["min"] == 1.0 and s["n_samples"] == 5


def test_worker_side_imports_no_parent_libraries(tmp_path):
    """The worker must run in environments that have NumPy alone (MXNet's, NumPy 1.23)."""
    res, mods = in_fresh_worker(
        "worker.run_cell(dict(impl='reference', scenario='conv', phase='forward', size='tiny', device='cpu', "
        "mode='eager', threads=1, seed=0, samples=2, min_samples=1, min_time=0.001, warmup_time=0.001, max_time=1, "
        "ref_cache=None), lambda s: None)"
    )
    assert res["status"] == "ok" and mods == []


def test_worker_env_moves_extra_impls_of_this_checkout_to_the_side(monkeypatch, tmp_path):
    from harness import environments
    from harness.processes import worker_env

    inside = os.path.join(environments.REPO_ROOT, "tests", "fake_impls")
    monkeypatch.setenv("DLBENCH_EXTRA_IMPLS", os.pathsep.join([inside, "/elsewhere/impls"]))
    env = worker_env(1, impls.manifest("reference"), str(tmp_path))
    assert env["DLBENCH_EXTRA_IMPLS"].split(os.pathsep) == [str(tmp_path / "tests" / "fake_impls"), "/elsewhere/impls"]
    assert worker_env(1, impls.manifest("reference"))["DLBENCH_EXTRA_IMPLS"].split(os.pathsep)[0] == inside


def test_interleaved_records_are_built_whole_by_build_record():
    """compare --interleave's fields come from the one record builder, not edits afterwards:
    the side that could run a cell the other could not says so (blocked); a plain run has none."""
    from harness.plan import Cell
    from harness.records import build_record
    from harness.runner import Options

    cell = Cell("sigmoid", "forward", "tiny", "reference", "cpu", "eager", 1)
    context = dict(
        run_id="r",
        machine={"machine_id": "m", "git_commit": "c"},
        facts={"info": {"version": "1"}},
        side="base",
        options=Options(threads=1),
    )
    ok = [{"status": "ok", "samples": [1e-3, 1.2e-3, 1.1e-3], "process": 0, "loops": 4}]
    blocked = [{"status": "unsupported", "reason": "not run: the other side cannot run it (x)", "blocked": True}]
    plain = build_record(cell, ok, **context)
    assert not {"interleaved", "blocked", "lockstep"} & set(plain)
    assert plain["median"] == 1.1e-3 and plain["loops"] == [4] and plain["impl_version"] == "1"
    paired = build_record(cell, ok, interleaved=True, lockstep=True, **context)
    assert (paired["interleaved"], paired["lockstep"], "blocked" in paired) == (True, True, False)
    assert {k: v for k, v in paired.items() if k not in ("interleaved", "lockstep", "timestamp")} == {
        k: v for k, v in plain.items() if k != "timestamp"
    }
    held = build_record(cell, blocked, interleaved=True, lockstep=False, **context)
    assert (held["status"], held["blocked"], held["lockstep"], held["samples"]) == ("unsupported", True, False, [])
    assert list(held)[-3:] == ["interleaved", "blocked", "lockstep"]  # where the edits used to put them


def test_device_memory_is_counted_over_one_untimed_call_after_sampling():
    """An adapter may count device memory in Python (CuPy's hook): the worker resets and reads
    it around one extra call after the timed samples, and makes none where nothing is counted."""
    from harness.worker import device_peak

    calls, stages = [], []

    class Counting:
        def peak_device_memory(self, device, reset=False):
            calls.append(("reset" if reset else "read", device))
            return 0 if reset else 4096

    step = Step(run=lambda: calls.append("run"), outputs=dict)
    assert device_peak(Counting(), step, "cuda", stages.append) == 4096
    assert calls == [("reset", "cuda"), "run", ("read", "cuda")] and stages == ["device memory"]

    class NotCounting:
        def peak_device_memory(self, device, reset=False):
            calls.append(("reset" if reset else "read", device))
            return None

    calls.clear()
    assert device_peak(NotCounting(), step, "cpu", stages.append) is None
    assert calls == [("reset", "cpu")]  # no extra call on a device nothing counts
