"""Ceilings that hold (issue 23): the GEMM sweep's sizes, waiting for quiet, the best of
probes over the run, and a ceiling that cells still beat marked invalid, not printed as
thousands of per cent."""

import json
import time

import pytest

from harness import machine_peaks
from reports.load import load
from reports.machines import peak_lines
from reports.metrics import add_metrics
from tests.conftest import FAST, dlbench
from timing import ceiling


def _fake_gemm(seconds_at_256, calls):
    """make_call for gemm_peak: a 'product' that sleeps as long as an n^3 kernel would."""

    def make_call(n):
        calls.append(n)
        return lambda: time.sleep(seconds_at_256 * (n / 256) ** 3)

    return make_call


def test_the_gemm_sweep_reaches_2048_whatever_the_budget(monkeypatch):
    monkeypatch.delenv(ceiling.QUICK_ENV, raising=False)  # the tests' quick probes stop sooner
    calls = []
    peak = ceiling.gemm_peak(_fake_gemm(1e-5, calls), 0.0, "fake")
    assert sorted(set(calls))[-1] >= ceiling.MIN_N == 2048  # a zero budget still sweeps that far
    assert "swept n=256-" in peak["how"] and peak["value"] > 0
    monkeypatch.setenv(ceiling.QUICK_ENV, "1")  # a quick look stops sooner
    calls.clear()
    ceiling.gemm_peak(_fake_gemm(1e-5, calls), 0.0, "fake")
    assert sorted(set(calls))[-1] == ceiling.QUICK_MIN_N == 256


@pytest.mark.usefixtures("full_probes")
def test_a_kernel_too_slow_for_the_next_size_stops_and_says_so(monkeypatch):
    monkeypatch.setattr(ceiling, "MAX_CALL_S", 0.02)
    calls = []
    peak = ceiling.gemm_peak(_fake_gemm(5e-4, calls), 0.0, "slow")  # 4 ms at 512: 1024 would take ~32 ms
    assert max(calls) == 512 and "stopped before n=1024: a call would take" in peak["how"]


def _probe_with(values, contended=False):
    """A probe's record as machine_peaks._probe returns it: {impl: {metric: value}}."""
    return {
        "measured": "2026-12-07T00:00:00+00:00",
        "by_impl": {n: {m: {"value": v, "how": f"{n} {m}"} for m, v in e.items()} for n, e in values.items()},
        "contention": {"contended": contended, "other_cpu": 0.8 if contended else 0.0, "steal": 0.0},
        "quiet_wait": {"waited_s": 30.0, "gave_up": True, "other_cpu": 0.8} if contended else None,
    }


def test_a_busy_probe_is_superseded_by_a_quiet_one_later(monkeypatch):
    probes = iter(
        [
            _probe_with({"reference": {"fp32_gemm_gflops": 3.0}, "torch": {"fp32_gemm_gflops": 2.8}}, contended=True),
            _probe_with({"torch": {"fp32_gemm_gflops": 185.0}}),
        ]
    )
    monkeypatch.setattr(machine_peaks, "_probe", lambda *a, **k: next(probes))
    entry = machine_peaks.measure_device("cpu", ["reference", "torch"], {}, 2, 0.25, "/tmp")
    assert entry["best"]["fp32_gemm_gflops"]["value"] == 3.0 and "machine busy" in entry["warning"]
    machine_peaks.reprobe(entry, "second probe, after the cells", "cpu", ["torch"], {}, "/tmp")
    assert entry["best"]["fp32_gemm_gflops"] == {"value": 185.0, "impl": "torch", "how": "torch fp32_gemm_gflops"}
    assert "warning" not in entry  # one quiet probe: the best is that one's
    assert entry["by_impl"]["reference"]["fp32_gemm_gflops"]["value"] == 3.0  # every probe is kept
    assert entry["reprobes"][0]["why"] == "second probe, after the cells"
    lines = {what: (value, how) for _, what, value, how in peak_lines({"peaks": {"cpu": entry}})}
    assert lines["fp32 GEMM"][0] == "185.0 GFLOP/s" and "second probe" in lines["probed again"][1]


def test_a_ceiling_cells_still_beat_after_the_second_probe_is_invalid(tmp_path, monkeypatch):
    """A run whose int8 probe reads absurdly low, twice: the qgemm cells beat it beyond
    their noise, so after probing again the run marks it invalid; the report shows no %
    of it and says why once, in the machine's header."""
    seen = []

    def probe(device, impl_names, *args, **kwargs):
        seen.append(list(impl_names))
        return _probe_with({"reference": {"fp32_gemm_gflops": 1e6, "int8_gemm_gops": 1e-3, "memory_gbs": 1e6}})

    monkeypatch.setattr(machine_peaks, "_probe", probe)
    out = tmp_path / "r"
    command = f"run --scenario qgemm --size tiny --impl reference --machine-probe --out {out} --quiet"
    assert dlbench(command, *FAST, "--processes", "2") == 0
    assert seen == [["reference"], ["reference"]]  # the first probe, and again by the one that set the ceilings
    entry = json.loads((out / "machine.json").read_text())["peaks"]["cpu"]
    assert "cells beat int8_gemm_gops beyond their noise" in entry["reprobes"][0]["why"]
    assert set(entry["invalid"]) == {"int8_gemm_gops"}
    assert "qgemm/gemm/tiny reference eager" in entry["invalid"]["int8_gemm_gops"]
    m = add_metrics(load([str(out)]))
    int8 = m[m["peak_of"] == "int8 GEMM"]
    # at 1e-3 GOP/s even requantize counts as compute-bound: all three are held to it
    assert len(int8) == 3 and int8["pct_of_peak"].isna().all() and not m["ceiling_low"].any()
    assert (int8["peak_note"] == "int8 GEMM ceiling invalid for this run (machine header)").all()
    lines = [(what, value) for _, what, value, _ in peak_lines(json.loads((out / "machine.json").read_text()))]
    assert ("int8 GEMM", "invalid for this run") in lines
