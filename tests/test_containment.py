"""A crashing, hanging, raising or wrong implementation is contained: its cells are
marked, every other cell completes, and nothing written is lost."""

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import FAST, by_cell, dlbench, read_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow  # waits out crashes and hangs
def test_faulty_implementation_is_contained(fake_impls, tmp_path, capsys):
    out = str(tmp_path / "out")
    code = dlbench(f"run --impl reference,faulty --size tiny --timeout 4 --out {out}", *FAST)
    assert code == 0
    cells = by_cell(read_results(out))
    # 10 phases x 2 implementations, every one recorded
    assert len(cells) == 20
    assert "has no allreduce scenario" in cells[("allreduce", "sum", "faulty", "eager")]["reason"]
    crash = cells[("conv", "forward", "faulty", "eager")]
    assert crash["status"] == "error" and "SIGSEGV" in crash["reason"] and "prepare" in crash["reason"]
    assert "about to crash" in crash["log_tail"]
    for phase in ("forward", "backward"):
        hang = cells[("sigmoid", phase, "faulty", "eager")]
        assert hang["status"] == "timeout" and "--timeout 4s during prepare" in hang["reason"]
    raised = cells[("qgemm", "gemm", "faulty", "eager")]
    assert raised["status"] == "error" and raised["reason"] == "RuntimeError: qgemm kernel exploded"
    assert "Traceback" in raised["traceback"]
    for phase, output in (("train_step", "fc2_b"), ("inference", "logits")):
        wrong = cells[("classifier", phase, "faulty", "eager")]
        assert wrong["status"] == "invalid" and output in wrong["reason"]
        assert wrong["samples"] == [] and wrong["median"] is None  # never reported as a time
    assert cells[("gan", "step", "faulty", "eager")]["status"] == "ok"
    for key, rec in cells.items():
        if key[2] == "reference":
            assert rec["status"] == "ok", rec["reason"]
            assert len(rec["samples"]) == 3
    table = capsys.readouterr().out
    assert "timeout" in table and "invalid" in table and "SIGSEGV" in table


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
# SIGTERM (a `timeout`, a CI cancel, `kill`) takes Ctrl-C's path (cli.main raises KeyboardInterrupt
# for it), so one run covers both: the signal's mapping and the interrupted run's cleanup.
@pytest.mark.parametrize("sig", [signal.SIGTERM], ids=["sigterm"])
def test_interrupted_run_keeps_results_and_resumes(fake_impls, tmp_path, sig):
    out = str(tmp_path / "out")
    cmd = [
        sys.executable,
        "-m",
        "cli",
        "run",
        "--impl",
        "reference,faulty",
        "--scenario",
        "gan,sigmoid",
        "--size",
        "tiny",
        "--timeout",
        "5",  # in lockstep the reference's sigmoid waits on faulty's hung prepare until then
        "--out",
        out,
        *FAST,
    ]
    env = dict(os.environ, PYTHONPATH=REPO)
    # a shell runs background jobs with SIGINT ignored, and children inherit that: give the
    # run the default disposition, so Python turns our signal into KeyboardInterrupt
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    results = os.path.join(out, "results.jsonl")
    deadline = time.time() + 120
    # gan runs first (2 cells), then faulty's sigmoid hangs until we interrupt
    while time.time() < deadline:
        if os.path.exists(results) and len(open(results).read().splitlines()) >= 3:
            break
        time.sleep(0.2)
    from harness.contention import descendants

    workers = descendants(proc.pid)
    assert workers  # the hung cell's workers, some of them stopped between lockstep turns
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    time.sleep(0.5)
    left = [pid for pid in workers if os.path.exists(f"/proc/{pid}") and _state(pid) != "Z"]
    assert not left, f"workers outlived the run: {left}"
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    saved = read_results(out)
    assert len(saved) >= 3

    code = dlbench(f"run --impl reference --scenario gan,sigmoid --size tiny --out {out} --resume", *FAST)
    assert code == 0
    after = read_results(out)
    assert after[: len(saved)] == saved  # nothing already written was touched
    keys = [(r["scenario"], r["phase"], r["impl"]) for r in after]
    assert len(keys) == len(set(keys))  # nothing ran twice
    assert {("sigmoid", "forward", "reference"), ("sigmoid", "backward", "reference")} <= set(keys)


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
