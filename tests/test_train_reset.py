"""Training cells time the validated workload: every sample starts from the initial
weights (each implementation's Step.reset, in every mode), the state after sampling is
checked finite, and the last loss is recorded (issue 13, item 4)."""

import json
import re
import subprocess

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import impls
import scenarios
from harness import environments, worker
from harness.plan import plan
from harness.processes import worker_env
from harness.runner import Options
from tests import requirements
from tests.conftest import FAST, by_cell, dlbench, read_results
from tests.harness_runs import run_cells
from tests.requirements import CHECKS, absent, lane_marks, require

# (implementation, its modes that run on this machine's CPU): one worker process each
FRAMEWORKS = [
    ("reference", ["eager"]),
    ("torch", ["eager", "graph"]),
    ("tensorflow", ["eager", "graph", "xla"]),
    ("mxnet", ["eager", "graph"]),
    ("dlib", ["eager"]),
]

# every test here runs frameworks (the slow lane); MXNet's and dlib's also need `make envs` / `make dlib`
pytestmark = pytest.mark.slow


def reset_check(impl, modes):
    """tests/reset_check.py in the implementation's own interpreter, one thread."""
    if impl in CHECKS:
        require(impl)
    manifest = requirements.manifest(impl)
    python, reason = environments.interpreter(manifest)
    if python is None:
        absent(impl, reason.split("; fix:")[0], manifest.install_hint)
    proc = subprocess.run(
        [python, "-m", "tests.reset_check", impl, *modes],
        cwd=environments.REPO_ROOT,
        env=worker_env(1, manifest),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    if "not_installed" in results:
        absent(impl, f"{impl} is not installed for {python}: {results['not_installed']}", manifest.install_hint)
    return results


@pytest.mark.parametrize(
    "impl, modes", [pytest.param(impl, modes, id=impl, marks=lane_marks(impl)) for impl, modes in FRAMEWORKS]
)
def test_reset_restores_the_initial_weights_in_the_storage_the_step_uses(impl, modes):
    results = reset_check(impl, modes)
    assert set(results) == {f"{m}/{s}" for m in modes for s in ("classifier", "gan")}
    for cell, res in results.items():
        assert res["reset"], f"{impl} {cell}: a training step without reset"
        assert res["moved"] > 1e-3, f"{impl} {cell}: the steps did not move the weights, nothing was tested"
        # exactly the initial inputs, and the next step exactly the first (validated) one:
        # a compiled graph that kept its own copy of the weights would step from elsewhere
        assert res["reset_vs_initial"] == 0.0, f"{impl} {cell}: {res}"
        assert res["step_vs_first"] == 0.0, f"{impl} {cell}: {res}"


def first_losses(name, phase, size="tiny"):
    """The losses of the first (validated) step, and the step itself, stepped once more."""
    problem = scenarios.get(name).problem(size)
    step = getattr(impls.adapter("reference"), name)(problem, phase, "cpu", "eager")
    step.run()
    return {k: float(v) for k, v in step.outputs().items() if k.startswith("loss")}, step


def test_timed_steps_keep_the_validated_loss_and_without_reset_they_would_not(tmp_path):
    # 100 timed steps per cell through the real worker: one call per sample, although a tiny
    # step is far shorter than min_time (a second call would step from the first's weights)
    _, records = run_cells(
        tmp_path / "out",
        # one worker sampling alone (no lockstep turns, whose parent round trip per sample
        # would make these samples take most of a minute): the reset is the point here
        Options(
            threads=1,
            samples=100,
            min_samples=100,
            min_time=0.05,
            warmup_time=0.001,
            max_time=600,
            timeout=600,
            lockstep=False,
        ),
        ["reference"],
        plan(impl_names=["reference"], scenario_names=["classifier", "gan"], sizes=["tiny"], threads=1),
    )
    cells = {(r["scenario"], r["phase"]): r for r in records}
    assert cells[("classifier", "inference")]["last_loss"] is None  # not a training cell
    for name, phase in (("classifier", "train_step"), ("gan", "step")):
        rec = cells[(name, phase)]
        assert rec["status"] == "ok", rec["reason"]
        assert rec["loops"] == [1] and len(rec["samples"]) == 100
        with threadpool_limits(1):  # as the worker (threads=1): not oversubscribed beside it
            first, step = first_losses(name, phase)
            # the old behaviour: the same 100 steps without a reset run into a zero or saturated
            # loss (the reference's classifier loss is 0.0 and the GAN's loss_d under 1e-12 by step 50)
            for _ in range(99):
                step.run()
        assert set(rec["last_loss"]) == set(first)
        for k, v in first.items():
            assert rec["last_loss"][k] == pytest.approx(v, rel=1e-6), (name, k)
        drifted = {k: float(v) for k, v in step.outputs().items() if k.startswith("loss")}
        if name == "classifier":
            assert first["loss"] > 1.0 and drifted["loss"] == 0.0
        else:
            assert first["loss_d"] > 1.0 and drifted["loss_d"] < 1e-3
            # the generator's loss ran away (22.6 -> 256 here after 100 steps; BLAS kernels round
            # differently from machine to machine, and unreset steps amplify it)
            assert drifted["loss_g"] > 2 * first["loss_g"]


def test_samples_of_several_calls_each_start_from_the_initial_weights():
    problem = scenarios.get("gan").problem("tiny")
    step = impls.adapter("reference").gan(problem, "step", "cpu", "eager")
    with threadpool_limits(1):
        for _ in range(100):  # 300 steps, three to a sample
            worker.sample(step, 3)
        _, fresh = first_losses("gan", "step")  # one step taken: two more make three from the start
        fresh.run()
        fresh.run()
    last_loss, diverged = worker.check_training(step)
    want = fresh.outputs()
    assert diverged is None
    assert last_loss == {k: float(want[k]) for k in ("loss_d", "loss_g")}
    assert last_loss["loss_d"] > 1e-2 and last_loss["loss_g"] < 30
    got = step.outputs()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_a_step_whose_weights_go_nan_during_sampling_is_invalid(fake_impls, tmp_path):
    out = str(tmp_path / "out")
    assert dlbench(f"run --impl diverging --scenario classifier,gan --size tiny --out {out} --quiet", *FAST) == 0
    cells = by_cell(read_results(out))
    gan = cells[("gan", "step", "diverging", "eager")]
    # the poisoned weight, or (a sample of several calls) the loss computed from it
    assert gan["status"] == "invalid"
    assert re.fullmatch("training diverged during sampling: (d_fc_b|loss_d) is nan", gan["reason"]), gan["reason"]
    assert gan["samples"] == [] and gan["median"] is None
    assert gan["last_loss"] and all(v is None or np.isfinite(v) for v in gan["last_loss"].values())
    train = cells[("classifier", "train_step", "diverging", "eager")]
    assert train["status"] == "invalid", train["reason"]
    assert train["reason"].startswith("training diverged during sampling: ")
    assert cells[("classifier", "inference", "diverging", "eager")]["status"] == "ok"
