"""Contention, detected per cell: a cell timed beside busy processes says so; on a quiet
machine it does not; the harness's own CPU (its progress display) is not counted."""

import os
import subprocess
import sys
import threading
import time

import pytest

from cli.main import main
from harness import contention
from tests.conftest import dlbench, read_results

# Long enough windows (10 samples of >= 50 ms per process) that 10 ms ticks do not decide.
CELL = [
    "run",
    "--scenario",
    "sigmoid",
    "--impl",
    "reference",
    "--size",
    "small",
    "--threads",
    "1",
    "--samples",
    "10",
    "--min-time",
    "0.05",
    "--warmup",
    "0.05",
    "--quiet",
]


def busy_processes(n):
    """n processes spinning on the CPU, one per core: another job on the machine."""
    code = "import time\nend = time.time() + 120\nwhile time.time() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


def stop(procs):
    for p in procs:
        p.kill()
        p.wait()


def run_cell(out, *extra):
    assert main(CELL + ["--out", str(out), *extra]) == 0
    return read_results(out)


@pytest.mark.slow  # real runs beside or waiting out other processes
def test_a_cell_beside_busy_processes_is_flagged(tmp_path):
    hogs = busy_processes(os.cpu_count() or 1)
    try:
        time.sleep(0.3)
        records = run_cell(tmp_path / "busy")
    finally:
        stop(hogs)
    for rec in records:
        assert rec["status"] == "ok"
        assert rec["contended"] is True, rec["contention"]
        assert rec["contention"]["other_cpu"] > 0.5  # most of a core at least, measured
        assert rec["contention"]["threshold"] == contention.OTHER_CPU_THRESHOLD


@pytest.mark.slow  # real runs beside or waiting out other processes
def test_the_same_cell_on_a_quiet_machine_is_not_flagged(tmp_path):
    # --quiet-wait: a test machine between tests may still be finishing something
    records = run_cell(tmp_path / "quiet", "--quiet-wait", "30")
    for rec in records:
        assert rec["status"] == "ok"
        assert rec["quiet_wait"]["gave_up"] is False
        assert rec["contended"] is False, rec["contention"]
        assert rec["contention"]["window_s"] >= 0.4
        assert rec["contention"]["other_cpu"] < contention.OTHER_CPU_THRESHOLD


@pytest.mark.slow  # real runs beside or waiting out other processes
def test_the_harness_own_cpu_is_not_contention(tmp_path):
    """The parent (here pytest, running dlbench in-process) spins while the cell is timed,
    as a progress display redrawing would: that is ours, not another process's."""
    stop_flag = threading.Event()

    def spin():
        while not stop_flag.is_set():
            pass

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        records = run_cell(tmp_path / "self", "--quiet-wait", "30")
    finally:
        stop_flag.set()
        spinner.join()
    assert all(r["contended"] is False for r in records), [r["contention"] for r in records]


@pytest.mark.slow  # real runs beside or waiting out other processes
def test_quiet_wait_gives_up_and_says_so(tmp_path, capsys):
    hogs = busy_processes(os.cpu_count() or 1)
    try:
        time.sleep(0.3)
        out = tmp_path / "gave-up"
        assert (
            dlbench(
                "run --scenario sigmoid --impl reference --size tiny --threads 1 --samples 3 "
                f"--min-time 0.001 --warmup 0.001 --quiet --quiet-wait 1 --out {out}"
            )
            == 0
        )
    finally:
        stop(hogs)
    err = capsys.readouterr().err
    assert "still busy after --quiet-wait 1s" in err
    rec = read_results(out)[0]
    assert rec["quiet_wait"]["gave_up"] is True and rec["quiet_wait"]["waited_s"] >= 1


@pytest.mark.parametrize("value", ["-1", "soon", "inf"])
def test_bad_quiet_wait_is_one_line(value, capsys, tmp_path):
    assert main(["run", "--quiet-wait", value, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--quiet-wait" in err


def test_meter_counts_only_what_it_wraps():
    """Between wrapped stretches (the other side's lockstep turn) nothing is counted."""
    meter = contention.Meter(own_pids=[os.getpid()])
    if not meter.available:
        pytest.skip("no /proc/stat on this system: contention is not measured here")
    quiet = contention.Meter(own_pids=[os.getpid()])  # what the rest of the machine does meanwhile
    with quiet:
        time.sleep(0.4)
    with meter:
        time.sleep(0.2)
    hogs = busy_processes(1)
    try:
        time.sleep(0.5)  # outside the meter: not counted
    finally:
        stop(hogs)
    with meter:
        time.sleep(0.2)
    res = meter.result()
    assert 0.35 < res["window_s"] < 0.6
    # counted, the hog's 0.5 s of a core would add 1.25 cores over the 0.4 s window; whatever
    # else the machine runs (another test run, a build) is in the quiet meter's figure too
    assert res["other_cpu"] < quiet.result()["other_cpu"] + 0.5


def test_an_own_process_that_ends_inside_a_stretch_is_not_counted_as_a_neighbour():
    """A data-parallel cell counts its other ranks as its own; one that exits first must
    not turn its whole lifetime's CPU into a neighbour's (read as 0 after it is gone)."""
    cores = os.cpu_count() or 1
    before = 0.6 * (cores + 2)  # CPU it spends before the ~0.6 s stretch: more than the machine could show in it
    spin = f"import time\nend = time.time() + {before + 0.3}\nwhile time.time() < end: pass\n"
    rank = subprocess.Popen([sys.executable, "-c", spin])
    time.sleep(before)
    meter = contention.Meter([os.getpid(), rank.pid])
    with meter:
        rank.wait()  # it ends inside the stretch
        time.sleep(0.3)
    assert contention.process_cpu(rank.pid) is None
    res = meter.result()
    # whatever else runs, no reading can exceed the machine's cores; counted as a neighbour,
    # the rank's lifetime alone would read (before + 0.3) / 0.6 = cores + 2.5
    assert res["other_cpu"] <= cores + 0.25, res


def test_combine_judges_the_pooled_window():
    quiet = contention.summary(0.0, 0.0, 0.1, 0.5)
    busy = contention.summary(1.0, 0.0, 1.5, 0.5)
    cell = contention.combine([quiet, quiet, busy])
    assert cell["other_cpu"] == pytest.approx(1 / 3, abs=1e-3)
    assert cell["contended"] is True and len(cell["processes"]) == 3
    assert contention.combine([quiet, quiet, contention.summary(0.3, 0.0, 0.1, 0.1)])["contended"] is False
    stolen = contention.summary(0.0, 0.2, 0.1, 0.5)
    assert stolen["contended"] is True
    assert contention.combine([None, None]) is None


def test_many_short_stretches_read_no_bias(monkeypatch):
    """A lockstep run wraps hundreds of 10 ms turns: each reads a tick high or low, and
    those errors must cancel, not add up to a neighbour that is not there."""
    meter = contention.Meter(own_pids=[])
    meter.available = True
    tick = 1 / contention._TICK
    clock = {"t": 0.0, "busy": 0.0, "own": 0.0}

    def read():  # we run alone; the system's counter lands a tick off either way per stretch
        return clock["t"], (clock["busy"], 0.0, clock["t"] * 2), {"us": clock["own"]}

    monkeypatch.setattr(meter, "_read", read)
    for i in range(400):
        with meter:
            clock["t"] += 0.01
            clock["own"] += 0.01
            clock["busy"] += 0.01 + (tick if i % 2 else -tick)
    res = meter.result()
    assert res["stretches"] == 400 and res["other_cpu"] < 0.01
    assert res["contended"] is False
    # the same 4 s with a neighbour on a whole core is flagged
    busy = contention.summary(1.0, 0.0, 1.0, 4.0, stretches=400)
    assert busy["contended"] is True and busy["margin_cores"] < 0.25
