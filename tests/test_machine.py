"""`dlbench machine` and the peaks `dlbench run` records: measured in workers, per device."""
import json

from harness.cli import main
from tests.conftest import FAST, in_fresh_worker


def test_machine_measures_peaks_per_device_and_implementation(capsys, fake_impls, tmp_path):
    out = tmp_path / "m"
    code = main(["machine", "--out", str(out), "--impl", "reference,torch,faulty", "--device", "cpu,cuda",
                 "--probe-time", "0.05", "--threads", "2"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "fp32 GEMM" in captured.out and "memory bandwidth" in captured.out and "machine.json" in captured.out
    machine = json.loads((out / "machine.json").read_text())
    cpu = machine["peaks"]["cpu"]
    assert cpu["threads"] == 2
    by_impl = cpu["by_impl"]
    assert set(by_impl["reference"]) == {"fp32_gemm_gflops", "memory_gbs"}  # NumPy has no int8 GEMM kernel
    assert {"fp32_gemm_gflops", "int8_gemm_gops", "memory_gbs"} <= set(by_impl["torch"])
    assert by_impl["faulty"] == {"unsupported": "the faulty adapter has no peaks() probe"}
    for metric in ("fp32_gemm_gflops", "int8_gemm_gops", "memory_gbs"):
        best = cpu["best"][metric]
        reached = {name: e[metric]["value"] for name, e in by_impl.items() if metric in e}
        assert best["value"] == max(reached.values()) > 0 and best["impl"] == max(reached, key=reached.get)
        assert best["how"]
    # no GPU here: cuda is recorded with each implementation's reason, and no number
    cuda = machine["peaks"]["cuda"]
    assert cuda["best"] == {} and "no CUDA device" in cuda["by_impl"]["torch"]["unsupported"]


def test_machine_refuses_another_machines_directory(capsys, tmp_path):
    (tmp_path / "machine.json").write_text(json.dumps({"machine_id": "feedfacecafe", "hostname": "elsewhere"}))
    code = main(["machine", "--out", str(tmp_path), "--impl", "reference", "--probe-time", "0.01"])
    err = capsys.readouterr().err
    assert code == 2 and "feedfacecafe" in err and len(err.strip().splitlines()) == 1


def test_machine_bad_input(capsys):
    for argv, needle in ((["machine", "--impl", "nope"], "unknown implementation 'nope'"),
                         (["machine", "--device", "tpu"], "unknown device 'tpu'"),
                         (["machine", "--probe-time", "0"], "must be greater than 0")):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1


def test_run_without_machine_probe_records_no_peaks(tmp_path):
    out = tmp_path / "r"
    assert main(["run", "--scenario", "sigmoid", "--impl", "reference", "--size", "tiny", "--no-machine-probe",
                 "--out", str(out), "--quiet", *FAST]) == 0
    assert "peaks" not in json.loads((out / "machine.json").read_text())


def test_run_records_peaks_and_a_resumed_run_keeps_them(tmp_path):
    out = tmp_path / "r"
    args = ["run", "--impl", "reference", "--size", "tiny", "--machine-probe", "--probe-time", "0.01",
            "--out", str(out), "--quiet", *FAST]
    assert main(args[:1] + ["--scenario", "sigmoid"] + args[1:]) == 0
    first = json.loads((out / "machine.json").read_text())["peaks"]
    assert first["cpu"]["best"]["memory_gbs"]["value"] > 0
    assert main(args[:1] + ["--scenario", "sigmoid,conv"] + args[1:] + ["--resume"]) == 0
    assert json.loads((out / "machine.json").read_text())["peaks"] == first  # one run, one set of ceilings


def test_peak_probe_in_the_worker_imports_no_parent_libraries():
    """Peaks are measured on the worker side, which must work with NumPy alone."""
    res, mods = in_fresh_worker("worker.peaks(dict(impl='reference', device='cpu', threads=1, seconds=0.01))")
    assert res["status"] == "ok" and sorted(res["peaks"]) == ["fp32_gemm_gflops", "memory_gbs"] and mods == []
