"""A worker that allocates without bound is stopped at --memory-limit and recorded as an
error; the run goes on. Sizes are parsed strictly; a bad one is one line and exit 2."""

import os
import signal
import subprocess
import sys

import pytest

from cli.main import main
from harness import memory_guard
from harness.memory_guard import MemoryGuard, bytes_text, parse_limit
from tests.conftest import FAST, by_cell, dlbench, read_results

MiB, GiB = 1 << 20, 1 << 30
HOG = ["--impl", "hog", "--scenario", "sigmoid", "--size", "tiny", "--threads", "1", "--memory-limit", "300M", *FAST]


def test_a_hog_becomes_an_out_of_memory_error_and_the_run_goes_on(fake_impls, tmp_path, capsys):
    out = str(tmp_path / "out")
    code = main(["run", *HOG, "--impl", "hog,reference", "--out", out])
    assert code == 0
    cells = by_cell(read_results(out))
    assert len(cells) == 4
    for phase in ("forward", "backward"):
        hog = cells[("sigmoid", phase, "hog", "eager")]
        assert hog["status"] == "error"
        assert hog["reason"].startswith("out of memory, limit 300 MiB: the worker reached ")
        assert hog["reason"].endswith(" during prepare and was stopped")
        assert "safety stop" not in hog.get("log_tail", "")
        assert hog["options"]["memory_limit"] == 300 * MiB
        ref = cells[("sigmoid", phase, "reference", "eager")]
        assert ref["status"] == "ok" and ref["options"]["memory_limit"] == 300 * MiB
    assert "out of memory, limit 300 MiB" in capsys.readouterr().out


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_both_workers_of_a_lockstep_pair_are_watched(fake_impls, tmp_path, capsys):
    out = tmp_path / "cmp"
    dlbench(f"compare --interleave --base-python {sys.executable} --pairs 1 --out {out}", *HOG)
    for side in ("base", "cur"):
        records = read_results(str(out / side))
        assert len(records) == 2
        for rec in records:
            assert rec["status"] == "error" and rec["reason"].startswith("out of memory, limit 300 MiB"), rec


GROWING_CHILD = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", '''
import time
chunks = []
while len(chunks) < 32:  # safety stop at 2 GiB
    chunks.append(bytearray(b"x" * (64 << 20)))
    time.sleep(0.01)
'''])
child.wait()
"""


def test_the_whole_process_group_counts(tmp_path):
    """The worker itself stays small; its child grows. The guard sees and kills both."""
    proc = subprocess.Popen([sys.executable, "-c", GROWING_CHILD], start_new_session=True)
    guard = MemoryGuard(proc.pid, 200 * MiB)
    code = memory_guard.wait(proc, guard, timeout=60)
    assert code == -signal.SIGKILL
    assert guard.killed_at > 200 * MiB
    assert guard.reason(code, "prepare").startswith("out of memory, limit 200 MiB: the worker reached ")


def test_a_kernel_kill_near_the_limit_is_called_out_of_memory():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    guard = MemoryGuard(proc.pid, 300 * MiB)
    guard.last_rss = 290 * MiB  # last seen just under the limit, then SIGKILL from elsewhere
    assert guard.reason(-signal.SIGKILL, "first call") == (
        "out of memory (killed by the kernel) during first call; last seen at 290 MiB resident, limit 300 MiB"
    )
    guard._oom_kills = float("inf")  # no kernel OOM kill counted meanwhile, whatever the machine did
    guard.last_rss = 20 * MiB
    assert guard.reason(-signal.SIGKILL, "prepare") is None  # a plain SIGKILL, far from the limit
    guard.last_rss = 290 * MiB
    assert guard.reason(-signal.SIGSEGV, "prepare") is None  # a crash is a crash
    assert guard.reason(0, "prepare") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("512M", 512 * MiB),
        ("4G", 4 * GiB),
        ("1.5GiB", 3 * GiB // 2),
        ("300 MiB", 300 * MiB),
        ("2g", 2 * GiB),
        ("1GB", 10**9),
        ("100000000", 10**8),
        ("none", None),
        ("NONE", None),
        ("50%", 8 * GiB),
        ("100%", 16 * GiB),
    ],
)
def test_parse_limit(text, expected):
    assert parse_limit(text, total=16 * GiB) == expected


@pytest.mark.parametrize("text", ["", "lots", "12X", "-1G", "0", "0%", "150%", "10M", "1.2.3G", "G"])
def test_parse_limit_refuses(text):
    with pytest.raises(ValueError):
        parse_limit(text, total=16 * GiB)


def test_default_is_three_quarters_of_the_machine():
    assert parse_limit(memory_guard.DEFAULT_LIMIT) == int(0.75 * memory_guard.total_memory())
    assert 0 < memory_guard.total_memory() <= os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


@pytest.mark.parametrize(
    "nbytes, text", [(300 * MiB, "300 MiB"), (3 * GiB // 2, "1.5 GiB"), (12 * GiB, "12 GiB"), (512, "512 B")]
)
def test_bytes_text(nbytes, text):
    assert bytes_text(nbytes) == text


@pytest.mark.parametrize(
    "value, needle", [("lots", "is not a memory size like 512M"), ("10M", "below 64 MiB"), ("150%", "at most 100")]
)
def test_bad_memory_limit_is_one_line_and_exit_2(capsys, value, needle):
    for command in ("run", "compare"):
        code = main([command, "--memory-limit", value])
        err = capsys.readouterr().err
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
