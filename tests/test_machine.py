"""`dlbench machine` and the peaks `dlbench run` records: measured in workers, per device."""

import json
import types

import pytest

from cli.main import main
from harness import caches, fingerprint, machine_peaks, worker
from tests.conftest import FAST, dlbench, in_fresh_worker

KIB, MIB = 1 << 10, 1 << 20
LEVELS = ("memory_gbs_l2", "memory_gbs_l3", "memory_gbs")
# small caches, so the probes' copies stay small: L2 256 KiB per core, one 8 MiB L3
SMALL_CACHES = {
    "L1d": 32 * KIB,
    "L2": 256 * KIB,
    "L2_per_core": True,
    "L3": 8 * MIB,
    "L3_instances": 1,
    "source": "test",
}


@pytest.mark.slow  # measures peaks in framework workers
@pytest.mark.usefixtures("full_probes")
def test_machine_measures_peaks_per_device_and_implementation(capsys, fake_impls, tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprint.caches, "collect", lambda cpu, cores: dict(SMALL_CACHES))
    out = tmp_path / "m"
    code = dlbench(f"machine --out {out} --impl reference,torch,faulty --device cpu,cuda --probe-time 0.05 --threads 2")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "fp32 GEMM" in captured.out and "DRAM bandwidth" in captured.out and "machine.json" in captured.out
    machine = json.loads((out / "machine.json").read_text())
    assert machine["caches"] == SMALL_CACHES
    cpu = machine["peaks"]["cpu"]
    assert cpu["threads"] == 2
    # the parent chose the working sets from the caches: half of 2 x L2, four times 2 x L2 (within half
    # of L3), DRAM at its floor
    sets = {"L2": 256 * KIB, "L3": 2 * MIB, "DRAM": machine_peaks.DRAM_MIN}
    assert cpu["working_sets"] == sets
    for level, metric in (("L2", "memory_gbs_l2"), ("L3", "memory_gbs_l3"), ("DRAM", "memory_gbs")):
        line = next(
            x for x in captured.out.splitlines() if x.strip().startswith(machine_peaks.metric_name(metric, True))
        )
        assert f"({sets[level] / MIB:.4g} MiB working set)" in line and "GB/s" in line
    by_impl = cpu["by_impl"]
    # NumPy's int8 ceiling is qgemm's exact route through a float64 product
    assert set(by_impl["reference"]) == {"fp32_gemm_gflops", "int8_gemm_gops", *LEVELS}
    assert {"fp32_gemm_gflops", "int8_gemm_gops", *LEVELS} <= set(by_impl["torch"])
    for name in ("reference", "torch"):
        assert {by_impl[name][m]["working_set_bytes"] for m in LEVELS} == set(sets.values())
    assert by_impl["faulty"] == {"unsupported": "the faulty adapter has no peaks() probe"}
    for metric in ("fp32_gemm_gflops", "int8_gemm_gops", *LEVELS):
        best = cpu["best"].get(metric) or cpu["merged"][metric]  # a level contradicting the next is merged
        reached = {name: e[metric]["value"] for name, e in by_impl.items() if metric in e}
        assert best["value"] == max(reached.values()) > 0 and best["impl"] == max(reached, key=reached.get)
        assert best["how"]
    # no GPU here: cuda is recorded with each implementation's reason, and no number
    cuda = machine["peaks"]["cuda"]
    assert cuda["best"] == {} and "no CUDA device" in cuda["by_impl"]["torch"]["unsupported"]
    assert "working_sets" not in cuda  # a GPU has one level: its memory
    # the drift sentinel's spread, read 40 times: the machine's noise floor
    floor = machine["noise_floor"]
    assert len(floor["points"]) == 40 and floor["p5"] <= floor["median"] <= floor["p95"] and floor["noise"] >= 0
    assert "noise floor (drift sentinel, 40 readings" in captured.out and "resolve changes of about" in captured.out


def test_machine_refuses_another_machines_directory(capsys, tmp_path):
    (tmp_path / "machine.json").write_text(json.dumps({"machine_id": "feedfacecafe", "hostname": "elsewhere"}))
    code = dlbench(f"machine --out {tmp_path} --impl reference --probe-time 0.01")
    err = capsys.readouterr().err
    assert code == 2 and "feedfacecafe" in err and len(err.strip().splitlines()) == 1


def test_machine_bad_input(capsys):
    for argv, needle in (
        (["machine", "--impl", "nope"], "unknown implementation 'nope'"),
        (["machine", "--device", "tpu"], "unknown device 'tpu'"),
        (["machine", "--probe-time", "0"], "must be greater than 0"),
    ):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_run_without_machine_probe_records_no_peaks(tmp_path):
    out = tmp_path / "r"
    assert (
        dlbench(f"run --scenario sigmoid --impl reference --size tiny --no-machine-probe --out {out} --quiet", *FAST)
        == 0
    )
    assert "peaks" not in json.loads((out / "machine.json").read_text())


@pytest.mark.slow  # measures peaks in framework workers
def test_run_records_peaks_and_a_resumed_run_keeps_them(tmp_path):
    out = tmp_path / "r"
    args = [
        "run",
        "--impl",
        "reference",
        "--size",
        "tiny",
        "--machine-probe",
        "--probe-time",
        "0.01",
        "--out",
        str(out),
        "--quiet",
        *FAST,
    ]
    assert main(args[:1] + ["--scenario", "sigmoid"] + args[1:]) == 0
    first = json.loads((out / "machine.json").read_text())["peaks"]
    assert first["cpu"]["best"]["memory_gbs"]["value"] > 0
    assert main(args[:1] + ["--scenario", "sigmoid,conv"] + args[1:] + ["--resume"]) == 0
    again = json.loads((out / "machine.json").read_text())["peaks"]["cpu"]
    # one run, one first probe: the resumed part keeps it and adds its own probe after its cells
    assert again["by_impl"] == first["cpu"]["by_impl"] and again["measured"] == first["cpu"]["measured"]
    assert len(again["reprobes"]) == len(first["cpu"]["reprobes"]) + 1
    for metric, best in first["cpu"]["best"].items():  # the best of every probe: never lower
        assert again["best"].get(metric, again.get("merged", {}).get(metric))["value"] >= best["value"]


def test_ceiling_timing_in_the_worker_imports_no_parent_libraries():
    """Peaks are measured on the worker side, which must work with NumPy alone."""
    res, mods = in_fresh_worker("worker.peaks(dict(impl='reference', device='cpu', threads=1, seconds=0.01))")
    assert res["status"] == "ok" and mods == []
    assert sorted(res["peaks"]) == ["fp32_gemm_gflops", "int8_gemm_gops", "memory_gbs"]


def test_ceiling_timing_measures_each_working_set_in_the_worker():
    """Given working sets, an adapter's probe copies at each: L2 repeated within a call."""
    res, mods = in_fresh_worker(
        "worker.peaks(dict(impl='reference', device='cpu', threads=1, seconds=0.01, "
        "working_sets={'L2': 256 << 10, 'DRAM': 8 << 20}))"
    )
    assert res["status"] == "ok" and mods == []
    peaks = res["peaks"]
    assert sorted(peaks) == ["fp32_gemm_gflops", "int8_gemm_gops", "memory_gbs", "memory_gbs_l2"]  # no L3 asked for
    assert peaks["memory_gbs_l2"]["working_set_bytes"] == 256 << 10 and peaks["memory_gbs_l2"]["value"] > 0
    assert "copies per call" in peaks["memory_gbs_l2"]["how"]  # a small copy is repeated inside one timing
    assert peaks["memory_gbs"]["working_set_bytes"] == 8 << 20


def test_an_adapter_without_working_sets_still_gets_its_one_copy(monkeypatch):
    calls = []

    def old_peaks(device, threads, seconds):  # the signature before cache levels
        calls.append((device, threads, seconds))
        return {"memory_gbs": {"value": 1.0, "how": "one copy"}}

    adapter = types.SimpleNamespace(
        peaks=old_peaks, configure=lambda threads: None, device_unavailable=lambda device: None
    )
    monkeypatch.setattr(worker.impls, "adapter", lambda name: adapter)
    res = worker.peaks(dict(impl="old", device="cpu", threads=2, seconds=0.01, working_sets={"L2": 1 << 20}))
    assert res == {"status": "ok", "peaks": {"memory_gbs": {"value": 1.0, "how": "one copy"}}}
    assert calls == [("cpu", 2, 0.01)]


def _sysfs(root, cpus, l2_shared, l3_shared, siblings="0"):
    """A fake /sys/devices/system/cpu: cpuN/cache/index0..3 and cpu0's thread siblings."""
    for cpu in range(cpus):
        for index, (level, kind, size, shared) in enumerate(
            (
                (1, "Data", "48K", str(cpu)),
                (1, "Instruction", "32K", str(cpu)),
                (2, "Unified", "2048K", l2_shared(cpu)),
                (3, "Unified", "491520K", l3_shared(cpu)),
            )
        ):
            d = root / f"cpu{cpu}" / "cache" / f"index{index}"
            d.mkdir(parents=True)
            for name, value in (("level", level), ("type", kind), ("size", size), ("shared_cpu_list", shared)):
                (d / name).write_text(f"{value}\n")
    (root / "cpu0" / "topology").mkdir()
    (root / "cpu0" / "topology" / "thread_siblings_list").write_text(f"{siblings}\n")
    return str(root)


def test_cache_sizes_from_sysfs(tmp_path):
    # this machine's shape: L2 per core, one L3 shared by both cores
    root = _sysfs(tmp_path / "a", 2, str, lambda cpu: "0-1")
    assert caches.read_sysfs(root, cpus={0, 1}) == {
        "L1d": 48 * KIB,
        "L2": 2 * MIB,
        "L2_per_core": True,
        "L3": 480 * MIB,
        "L3_instances": 1,
        "source": "sysfs",
    }
    # an L2 shared by two cores, and an L3 per pair of cores (two instances over four CPUs)
    root = _sysfs(tmp_path / "b", 4, lambda cpu: "0-1" if cpu < 2 else "2-3", lambda cpu: "0-1" if cpu < 2 else "2-3")
    found = caches.read_sysfs(root, cpus={0, 1, 2, 3})
    assert found["L2_per_core"] is False and found["L3_instances"] == 2
    assert caches.capacities(found, 4) == {"L2": 2 * MIB, "L3": 960 * MIB}
    assert caches.capacities(found, 1) == {"L2": 2 * MIB, "L3": 480 * MIB}
    # hyperthreads share their core's L2: still per core
    root = _sysfs(tmp_path / "c", 2, lambda cpu: "0-1", lambda cpu: "0-1", siblings="0-1")
    assert caches.read_sysfs(root, cpus={0, 1})["L2_per_core"] is True
    assert caches.read_sysfs(str(tmp_path / "none")) is None


def test_cache_sizes_fall_back_to_py_cpuinfo(tmp_path, monkeypatch):
    cpu = {"l2_cache": 4 * MIB, "l3_cache": "480 MiB"}  # py-cpuinfo's totals over all instances
    assert caches.from_cpuinfo(cpu, 2) == {
        "L2": 2 * MIB,
        "L2_per_core": True,
        "L3": 480 * MIB,
        "L3_instances": 1,
        "source": "py-cpuinfo",
    }
    monkeypatch.setattr(caches, "read_sysfs", lambda root=None: None)
    assert caches.collect(cpu, 2)["source"] == "py-cpuinfo"
    assert caches.collect({}, 2) == {}
    assert [caches.parse_size(t) for t in ("48K", "2048 KB", "1M", "4 MiB", 4096, "", "big", 0)] == [
        48 * KIB,
        2 * MIB,
        MIB,
        4 * MIB,
        4096,
        None,
        None,
        None,
    ]


@pytest.mark.usefixtures("full_probes")
def test_working_sets_follow_the_caches_and_the_memory():
    here = {"L2": 2 * MIB, "L2_per_core": True, "L3": 480 * MIB, "L3_instances": 1}
    # half of what the two cores' L2s hold; L3 near its small end (4x those L2s); DRAM four times past L3
    assert machine_peaks.working_sets(here, 2, 24 << 30) == {"L2": 2 * MIB, "L3": 16 * MIB, "DRAM": 1920 * MIB}
    assert machine_peaks.working_sets({"L2": MIB, "L2_per_core": True, "L3": 6 * MIB}, 2)["L3"] == 3 * MIB
    assert machine_peaks.working_sets(here, 1, 24 << 30)["L2"] == MIB  # one core's L2
    assert machine_peaks.working_sets(here, 2, 8 << 30)["DRAM"] == 1 << 30  # an eighth of the memory at most
    # an L3 no bigger than the threads' L2s is not a level of its own
    assert "L3" not in machine_peaks.working_sets({"L2": 2 * MIB, "L2_per_core": True, "L3": 4 * MIB}, 2)
    assert machine_peaks.working_sets({}, 2) == {"DRAM": machine_peaks.DRAM_MIN}  # sizes unknown: one copy


def test_cache_levels_that_contradict_the_next_are_merged_and_said_once():
    def best(**values):
        return {m: {"value": v} for m, v in values.items()}

    kept, merged, note = machine_peaks.merge_levels(best(memory_gbs_l2=150.0, memory_gbs_l3=40.0, memory_gbs=12.0))
    assert set(kept) == set(LEVELS) and merged == {} and note is None
    assert machine_peaks.merge_levels(best(memory_gbs=12.0))[2] is None  # one figure: nothing to compare
    kept, merged, note = machine_peaks.merge_levels(best(memory_gbs_l2=150.0, memory_gbs_l3=9.0, memory_gbs=12.0))
    # L3's cells fall to the DRAM figure (the higher one); L2 stays
    assert set(kept) == {"memory_gbs_l2", "memory_gbs"} and merged == {"memory_gbs_l3": {"value": 9.0}}
    assert "L3 9.0 <= DRAM 12.0 GB/s" in note and "smaller than reported" in note and note.count("<=") == 1
    kept, merged, note = machine_peaks.merge_levels(best(memory_gbs_l2=80.0, memory_gbs_l3=90.0, memory_gbs=30.0))
    assert set(kept) == {"memory_gbs_l3", "memory_gbs"} and "L2 80.0 <= L3 90.0 GB/s" in note


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_peaks_measured_beside_busy_processes_say_so(tmp_path):
    """The warning follows what other processes did while the probes ran (the probes'
    own workers are ours), not a load average that lags a minute behind."""
    import os
    import subprocess
    import sys

    from harness.machine_record import framework_facts

    probes = framework_facts(["reference"], 1, str(tmp_path))
    quiet = machine_peaks.measure_device("cpu", ["reference"], probes, 1, 0.05, str(tmp_path))
    assert quiet["contention"]["window_s"] > 0
    spin = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"
    hogs = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(os.cpu_count() or 1)]
    try:
        busy = machine_peaks.measure_device("cpu", ["reference"], probes, 1, 0.05, str(tmp_path), quiet_wait=1)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert busy["quiet_wait"]["gave_up"] is True and busy["quiet_wait"]["waited_s"] >= 1  # waited, then probed
    assert busy["contention"]["contended"] is True
    assert "machine busy while measuring (other processes used" in busy["warning"]
    assert busy["contention"]["other_cpu"] > quiet["contention"]["other_cpu"]
