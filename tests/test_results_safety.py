"""A results directory survives a crash mid-write (a torn last line) and a double start
(a lock on --out names its holder; a lock left by a dead process is taken over)."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from cli.main import main
from harness.outlock import LOCK
from tests.conftest import FAST, dlbench, read_results

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGMOID = ["--scenario", "sigmoid", "--impl", "reference", "--size", "tiny", "--threads", "1", *FAST]


@pytest.fixture(scope="module")
def sigmoid_run(tmp_path_factory):
    """Two whole cells (sigmoid forward and backward, reference, tiny)."""
    out = str(tmp_path_factory.mktemp("safety") / "run")
    assert main(["run", *SIGMOID, "--quiet", "--out", out]) == 0
    return out


def torn_copy(src, dest, keep=1):
    """src's first `keep` records whole, then the next one cut mid-line, as a crash leaves it."""
    shutil.copytree(src, dest)
    with open(os.path.join(src, "results.jsonl")) as f:
        lines = f.read().splitlines()
    torn = lines[keep][: len(lines[keep]) // 2]
    with open(os.path.join(dest, "results.jsonl"), "w") as f:
        f.write("".join(line + "\n" for line in lines[:keep]) + torn)
    return str(dest)


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_report_skips_a_torn_last_line_with_a_warning(sigmoid_run, tmp_path, capsys):
    out = torn_copy(sigmoid_run, tmp_path / "torn")
    assert main(["report", out]) == 0
    captured = capsys.readouterr()
    warning = one_line(captured.err)
    assert warning == f"WARNING: {out}/results.jsonl line 2: torn last line (cut mid-write), skipped"
    assert "forward" in captured.out and "backward" not in captured.out  # the good cell, and only it


def test_compare_skips_a_torn_last_line_with_a_warning(sigmoid_run, tmp_path, capsys):
    out = torn_copy(sigmoid_run, tmp_path / "torn")
    code = main(["compare", sigmoid_run, out])
    captured = capsys.readouterr()
    assert code in (0, 1)  # compared, not refused
    assert f"{out}/results.jsonl line 2: torn last line (cut mid-write), skipped" in captured.err
    assert "Traceback" not in captured.err and "sigmoid" in captured.out


def test_resume_cuts_the_torn_line_and_runs_that_cell_again(sigmoid_run, tmp_path, capsys):
    whole = read_results(sigmoid_run)
    out = torn_copy(sigmoid_run, tmp_path / "torn")
    code = main(["run", *SIGMOID, "--quiet", "--out", out, "--resume"])
    captured = capsys.readouterr()
    assert code == 0
    assert (
        f"{out}/results.jsonl line 2: torn last line (cut mid-write) removed; its cell runs again"
        in captured.err.splitlines()
    )
    after = read_results(out)  # every line parses: the torn one is gone, not left mid-file
    assert len(after) == 2 and after[0] == whole[0]
    rerun = after[1]
    assert (rerun["scenario"], rerun["phase"]) == (whole[1]["scenario"], whole[1]["phase"])
    assert rerun["run_id"] != whole[1]["run_id"] and rerun["status"] == "ok"


def test_whole_last_line_without_newline_is_kept_and_ended_on_resume(sigmoid_run, tmp_path, capsys):
    out = tmp_path / "nonl"
    shutil.copytree(sigmoid_run, out)
    results = out / "results.jsonl"
    first = results.read_text().splitlines()[0]
    results.write_text(first)  # a whole record that only lacks its newline
    code = main(["run", *SIGMOID, "--quiet", "--out", str(out), "--resume"])
    assert code == 0 and "torn" not in capsys.readouterr().err
    lines = results.read_text().splitlines()
    assert lines[0] == first and len(lines) == 2 and all(json.loads(line) for line in lines)


@pytest.mark.parametrize("command", ["report", "resume"])
def test_a_corrupt_line_that_is_not_a_torn_last_one_still_stops(sigmoid_run, tmp_path, capsys, command):
    lines = open(os.path.join(sigmoid_run, "results.jsonl")).read().splitlines()
    for name, content, needle in (
        ("middle", lines[0] + "\n" + lines[1][:40] + "\n" + lines[1] + "\n", "line 2: not valid JSON"),
        ("complete", lines[0] + "\n" + lines[1][:40] + "\n", "line 2: not valid JSON"),
        ("not-a-record", lines[0] + "\n[1, 2]", "line 2: not a dlbench record"),
    ):
        out = tmp_path / name
        out.mkdir()
        (out / "results.jsonl").write_text(content)
        argv = ["report", str(out)] if command == "report" else ["run", *SIGMOID, "--out", str(out), "--resume"]
        assert main(argv) == 2, name
        assert needle in one_line(capsys.readouterr().err), name
        assert (out / "results.jsonl").read_text() == content  # untouched


HOLD = """
import sys, time
from harness.outlock import OutLock
OutLock(sys.argv[1], "dlbench run").acquire()
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def held_lock(tmp_path):
    """A live process holding the lock on a results directory: (directory, its pid)."""
    out = tmp_path / "busy"
    out.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=REPO),
    )
    assert proc.stdout.readline().strip() == "locked"
    yield str(out), proc.pid
    proc.kill()
    proc.wait()


def test_a_second_run_into_a_locked_directory_is_refused(held_lock, capsys):
    out, pid = held_lock
    assert main(["run", *SIGMOID, "--out", out]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"dlbench run: {out} is in use by dlbench run (pid {pid}, since ")
    assert line.endswith("); wait for it or choose another --out")
    assert not os.path.exists(os.path.join(out, "results.jsonl"))  # nothing written


def test_machine_and_interleaved_compare_are_refused_too(held_lock, tmp_path, capsys):
    out, pid = held_lock
    assert dlbench(f"machine --out {out} --impl reference") == 2
    assert f"dlbench machine: {out} is in use by dlbench run (pid {pid}" in one_line(capsys.readouterr().err)
    base = tmp_path / "cmp"
    base.mkdir()
    os.symlink(out, base / "base")  # the base side's directory is the busy one
    code = dlbench(f"compare --interleave --base-python {sys.executable} --out {base}", *SIGMOID)
    assert code == 2
    assert f"is in use by dlbench run (pid {pid}" in one_line(capsys.readouterr().err)


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys):
    out = tmp_path / "stale"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK).write_text(
        json.dumps({"pid": dead.pid, "command": "dlbench run", "started": "2026-01-02T03:04:05"}) + "\n"
    )
    assert main(["run", *SIGMOID, "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert (
        f"WARNING: {out} was locked by dlbench run (pid {dead.pid}, since 2026-01-02 03:04:05), which has "
        f"exited; taking the lock over"
    ) in err.splitlines()
    assert len(read_results(str(out))) == 2
    assert not (out / LOCK).exists()  # released at the end of the run
