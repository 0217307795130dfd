"""examples/ci-compare.yml: its saved baselines survive the checkout's clean, proven by
benchmarks/simulate_ci.py (three jobs on one simulated runner, the workflow's own steps)."""

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # the CI example end to end: three jobs of real runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKFLOW = os.path.join(ROOT, "examples", "ci-compare.yml")
SIMULATE = os.path.join(ROOT, "benchmarks", "simulate_ci.py")


def _workflow_steps():
    spec = importlib.util.spec_from_file_location(
        "workflow_steps", os.path.join(ROOT, "benchmarks", "workflow_steps.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ws = _workflow_steps()


def _steps():
    with open(WORKFLOW) as f:
        return ws.parse(f.read())[1]


def _step(steps, prefix):
    return next(s for s in steps if (s.get("name") or "").startswith(prefix))


def test_the_database_is_set_outside_the_work_tree_for_the_whole_job():
    steps = _steps()
    setters = [i for i, s in enumerate(steps) if "DLBENCH_DB=" in s.get("run", "")]
    assert len(setters) == 1
    run = steps[setters[0]]["run"]
    value = run.split("DLBENCH_DB=", 1)[1].split('"')[0]
    assert value.startswith(("$RUNNER_TOOL_CACHE/", "$HOME/", "${{ runner.tool_cache }}/")), value
    assert "GITHUB_WORKSPACE" not in value
    assert '>> "$GITHUB_ENV"' in run  # every later step of the job sees it
    dlbench = [i for i, s in enumerate(steps) if "dlbench " in s.get("run", "")]
    assert dlbench and setters[0] < min(dlbench)


def test_gate_is_strict_and_the_stored_comparison_follows_a_failed_gate():
    steps = _steps()
    gate = _step(steps, "gate")["run"]
    assert "dlbench compare --interleave --base-rev origin/${{ github.base_ref }}" in gate
    assert "--strict" in gate.split()
    stored = _step(steps, "stored comparison")
    assert "dlbench compare main out/pr/cur" in stored["run"]
    pr = {"github.event_name": "pull_request", "github.ref": "refs/pull/1/merge", "github.base_ref": "main"}
    assert ws.condition(stored["if"], pr, job_ok=False)  # the gate failed: still runs
    assert not ws.condition(stored["if"], {**pr, "github.event_name": "push"}, job_ok=True)
    assert not ws.condition(_step(steps, "gate")["if"], pr, job_ok=False)  # implied success()


def test_workflow_reader_refuses_what_it_would_misread():
    with pytest.raises(ws.WorkflowError):
        ws.condition("github.actor == 'x' || always()", {"github.actor": "x"}, True)
    with pytest.raises(ws.WorkflowError):
        ws.substitute("echo ${{ secrets.TOKEN }}", {"github.ref": "refs/heads/main"})
    with pytest.raises(ws.WorkflowError):
        ws.parse("on: push\njobs:\n  a:\n    runs-on: x\n")


def test_simulation_three_jobs_baselines_survive_the_clean(tmp_path):
    sim = tmp_path / "sim"
    res = subprocess.run(
        [sys.executable, SIMULATE, "--dir", str(sim)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DLBENCH_SIM_SUITE": "tiny"},
    )
    out = res.stdout
    assert res.returncode == 0, out[-4000:] + res.stderr[-2000:]
    assert out.rstrip().splitlines()[-1].startswith("simulation: OK")
    assert "FAILED" not in out
    # each job a fresh clone, cleaned as actions/checkout does
    assert out.count("$ git clean -ffdx") == 3
    assert out.count("===== job ") == 6 and out.count("succeeded =====") == 3
    # main's two runs saved in the database outside the clones, with the commits of jobs 1 and 2
    db = sim / "runner" / "tool-cache" / "dlbench" / "results.sqlite"
    assert f"DLBENCH_DB: {db}" in out and db.is_file()
    assert out.count("saved run of main: machine") == 2
    assert not any((sim / "work" / f"job{n}" / ".dlbench").exists() for n in (1, 2, 3))
    # job 3: the gate against origin/main, then the stored comparison against those 2 runs
    assert "dlbench compare --interleave --base-rev origin/main" in out
    assert "baseline runs per cell: [2]" in out
    assert "without DLBENCH_DB: exit 2" in out
    comparison = (sim / "work" / "job3" / "comparison.md").read_text()
    assert "| interleaved |" in comparison and "| stored |" in comparison  # the gate's, then the record's


def test_simulation_refuses_an_unknown_suite_in_one_line():
    res = subprocess.run(
        [sys.executable, SIMULATE],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "DLBENCH_SIM_SUITE": "huge"},
    )
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "DLBENCH_SIM_SUITE=huge" in res.stderr
