"""Cells over several data-parallel ranks (--ranks): the allreduce collective through
torch's gloo on loopback, the ranks in the key, and a crashed, hung or wrong rank
contained: its cell says which rank and where, and the rest of the run completes."""

from __future__ import annotations

import os

import pytest
from conftest import FAST, dlbench, read_results

import records
from harness.ranks import combine, rank_cpus

pytestmark = pytest.mark.requires("torch")

TINY = ["--size", "tiny", "--processes", "1", "--no-machine-probe", "--threads", "1", *FAST]


def _by_key(out):
    return {(r["impl"], r["mode"], r["ranks"]): r for r in read_results(out)}


@pytest.mark.slow  # real runs of torch over 2 ranks (7 s): make test, not the edit loop
def test_allreduce_over_one_and_two_ranks(tmp_path, capsys):
    out = tmp_path / "run"
    assert dlbench("run --scenario allreduce --impl reference,torch --ranks 1,2 --quiet --out", out, *TINY) == 0
    cells = _by_key(out)
    two = cells[("torch", "eager", 2)]
    assert two["status"] == "ok", two["reason"]
    assert two["ranks"] == 2 and records.key(two)[records.KEY_FIELDS.index("ranks")] == 2
    # every rank's samples kept; a sample's time is the slowest rank's
    assert len(two["rank_samples"]) == 2
    assert two["samples"] == [max(a, b) for a, b in zip(*two["rank_samples"])]
    assert two["params"]["ranks"] == 2 and two["bytes"] == 4 * two["params"]["elements"]
    assert two["bus_gbs"] == pytest.approx(two["gbs"] * 2 * (2 - 1) / 2)
    assert two["errors"]["sum"]["max_abs"] == 0.0  # whole numbers: the sum is exact
    # the other rank is the cell, not contention: only what runs beside the ranks counts
    assert two["contention"]["other_cpu"] < 0.5
    one = cells[("torch", "eager", 1)]
    # one rank: nothing crosses between ranks, no bus bandwidth (nccl-tests' 2(n-1)/n is 0)
    assert one["status"] == "ok" and "ranks" not in one["params"] and one["bus_gbs"] is None and one["gbs"] > 0
    assert cells[("reference", "eager", 1)]["status"] == "ok"
    ref_two = cells[("reference", "eager", 2)]
    assert ref_two["status"] == "unsupported" and "no collective" in ref_two["reason"]
    graph = cells[("torch", "graph", 2)]
    assert graph["status"] == "unsupported" and "torch.compile" in graph["reason"]
    # the reports: the ranks in the tables, the bandwidth table in the terminal and the HTML
    capsys.readouterr()
    html = tmp_path / "r.html"
    assert dlbench("report", out, "--html", html) == 0
    shown = capsys.readouterr().out
    table = shown[shown.index("all-reduce bandwidth against message size and ranks") :]
    row = next(line for line in table.splitlines() if line.split()[:2] == ["torch", "eager"] and " 2 " in line)
    assert f"{two['gbs']:.2f} / {two['bus_gbs']:.2f}" in row
    assert "All-reduce bandwidth" in html.read_text()


def test_ranks_leave_single_process_scenarios_at_one_rank(tmp_path, capsys):
    out = tmp_path / "run"
    assert dlbench("run --scenario sigmoid --impl reference --ranks 1,2 --out", out, *TINY) == 0
    assert {r["ranks"] for r in read_results(out)} == {1}
    assert "at 1 rank only (no data-parallel form): sigmoid/forward, sigmoid/backward" in capsys.readouterr().err


@pytest.mark.slow  # three runs, one of them waiting out --timeout
@pytest.mark.parametrize(
    "fault, status, says",
    [
        ("crash", "error", ["rank 1: worker crashed (killed by SIGSEGV)"]),
        ("hang", "timeout", ["rank 1: worker exceeded --timeout", "rank 0: worker exceeded --timeout"]),
        ("double", "invalid", []),
    ],
)
def test_a_failing_rank_is_contained(tmp_path, monkeypatch, fake_impls, fault, status, says):
    monkeypatch.setenv("DLBENCH_TEST_RANK_FAULT", fault)
    out = tmp_path / "run"
    cmd = "run --scenario allreduce --impl rankfault,reference --ranks 2,1 --timeout 10 --out"
    dlbench(cmd, out, *TINY)
    cells = _by_key(out)
    bad = cells[("rankfault", "eager", 2)]
    assert bad["status"] == status, bad["reason"]
    for text in says:
        assert text in bad["reason"]
    if fault == "double":  # the planted bug is caught on the rank that has it, and said on the other
        assert "sum" in bad["reason"] or "another rank" in bad["reason"]
    # the rest of the run completes: one rank's cells and the reference
    assert cells[("rankfault", "eager", 1)]["status"] == "ok"
    assert cells[("reference", "eager", 1)]["status"] == "ok"


def test_combine_takes_the_slowest_rank_and_names_the_failed_one():
    ok = {"status": "ok", "reason": "", "loops": 4, "samples": [1.0, 3.0, 2.0]}
    other = {"status": "ok", "reason": "", "loops": 4, "samples": [2.0, 1.0]}
    both = combine([ok, other])
    assert both["samples"] == [2.0, 3.0] and both["rank_samples"] == [[1.0, 3.0], [2.0, 1.0]]
    failed = combine(
        [
            {"status": "error", "reason": "killed: rank 1 failed first", "killed": True},
            {"status": "error", "reason": "rank 1: boom"},
        ]
    )
    assert failed["reason"] == "rank 1: boom"
    hung = combine([{"status": "timeout", "reason": "rank 0: stuck"}, {"status": "timeout", "reason": "rank 1: stuck"}])
    assert hung["status"] == "timeout" and hung["reason"] == "rank 0: stuck; rank 1: stuck"
    assert combine([dict(ok, loops=2), other])["status"] == "error"


def test_children_are_the_processes_a_process_started():
    import subprocess
    import sys

    from harness.contention import children

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in children(os.getpid())


def test_rank_cpus_are_disjoint_where_they_fit():
    allowed = sorted(os.sched_getaffinity(0))
    cpus, why = rank_cpus(len(allowed), 1)
    assert why == "" and [sorted(c) for c in cpus] == [[c] for c in allowed]
    cpus, why = rank_cpus(len(allowed) + 1, 1)
    assert cpus is None and "ranks share cores" in why


def test_descendants_reach_what_a_child_started():
    """A rank's own helpers (MXNet's rank 0 starts the kvstore's scheduler and server) are
    the cell's work, not contention: the meter counts every process below the runner."""
    import subprocess
    import sys

    from harness.contention import descendants

    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
        "print(p.pid, flush=True); time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        grandchild = int(child.stdout.readline())
        assert {child.pid, grandchild} <= descendants(os.getpid())
    finally:
        child.kill()
        child.wait()
        os.kill(grandchild, 9)
