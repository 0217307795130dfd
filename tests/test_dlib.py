"""dlib: the bridge builds through the project's own command, records its BLAS, and
every cell it cannot run says why. (Its supported cells are validated against the
reference by test_conformance, like every implementation's.)"""

import json
import os
import subprocess
import sys

import pytest

import scenarios
from harness.plan import plan
from harness.runner import Options
from impls.dlib import bridge_path
from tests.harness_runs import run_cells, run_impl
from tests.requirements import skip_if_without

pytestmark = pytest.mark.bridge  # builds or runs the compiled bridge (make dlib)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_dlib(tmp_path, monkeypatch, env=None, **selection):
    """Run dlib's tiny cells through the real harness; returns (probe, records by (scenario, phase))."""
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    facts, records = run_cells(
        tmp_path / "out",
        Options(threads=1, samples=2, min_time=0.001, warmup_time=0.001),
        ["dlib"],
        plan(impl_names=["dlib"], sizes=["tiny"], threads=1, **selection),
    )
    return facts["dlib"], {(r["scenario"], r["phase"]): r for r in records}


@pytest.mark.rebuild  # compiles the bridge from nothing: make test-rebuild, which CI runs
def test_bridge_builds_from_the_source_with_the_project_command(tmp_path, monkeypatch):
    skip_if_without("dlib")  # builds its own bridge: skipped only when told to
    out = tmp_path / "bridge"
    proc = subprocess.run(
        [sys.executable, "-m", "impls.dlib.build", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads((out / "build-info.json").read_text())
    assert info["variant"] == "debian" and info["flags"][:2] == ["-O3", "-march=native"]
    assert os.path.exists(bridge_path.module_file(str(out)))
    # a second run finds it up to date and compiles nothing
    again = subprocess.run(
        [sys.executable, "-m", "impls.dlib.build", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "up to date" in again.stdout
    # and the harness runs on it: conv validated against the reference
    probe, records = run_dlib(tmp_path, monkeypatch, env={"DLBENCH_DLIB_BRIDGE_DIR": str(out)}, scenario_names=["conv"])
    assert probe["installed"] and probe["info"]["bridge"].startswith(str(out))
    assert records[("conv", "forward")]["status"] == "ok", records[("conv", "forward")]["reason"]


@pytest.mark.requires("dlib")
def test_fingerprint_records_openblas_and_its_threads():
    probe, _ = run_impl("dlib", "eager")  # the conformance run; its probe is machine.json's entry
    assert probe["installed"], probe.get("reason")
    blas = probe["info"]["blas"]
    assert blas["dlib_uses_blas"] and blas["kind"] == "OpenBLAS", blas
    assert "openblas" in blas["library"] and blas["threads"] == 2  # the run's --threads
    assert probe["info"]["build"]["flags"][:2] == ["-O3", "-march=native"]


@pytest.mark.requires("dlib")
def test_blas_thread_count_follows_threads():
    code = "import impls.dlib.adapter as a; a.configure(3); print(a.probe()['blas']['threads'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, OPENBLAS_NUM_THREADS="1"),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


@pytest.mark.requires("dlib")
def test_reference_blas_runs_and_is_recorded(tmp_path, monkeypatch):
    probe, records = run_dlib(tmp_path, monkeypatch, env={"DLBENCH_DLIB_BLAS": "reference"}, scenario_names=["conv"])
    assert probe["info"]["blas"]["kind"] == "netlib reference BLAS", probe["info"]["blas"]
    assert records[("conv", "forward")]["status"] == "ok", records[("conv", "forward")]["reason"]


@pytest.mark.requires("dlib")
def test_unknown_blas_choice_is_one_clear_line(tmp_path, monkeypatch):
    _, records = run_dlib(tmp_path, monkeypatch, env={"DLBENCH_DLIB_BLAS": "mkl"}, scenario_names=["conv"])
    rec = records[("conv", "forward")]
    assert rec["status"] == "unsupported"
    assert "DLBENCH_DLIB_BLAS='mkl' is not one of system, openblas, reference, builtin" in rec["reason"]


def test_unbuilt_bridge_is_unsupported_with_the_fix(tmp_path, monkeypatch):
    empty = tmp_path / "nothing-built-here"
    empty.mkdir()
    _, records = run_dlib(
        tmp_path, monkeypatch, env={"DLBENCH_DLIB_BRIDGE_DIR": str(empty)}, scenario_names=["conv", "gan"]
    )
    for rec in records.values():
        assert rec["status"] == "unsupported"
        assert "the dlib bridge is not built" in rec["reason"] and "fix: make dlib" in rec["reason"]


@pytest.mark.requires("dlib")
def test_qgemm_is_unsupported_with_the_reason():
    for phase in ("gemm", "requantize", "full"):
        rec = run_impl("dlib", "eager")[1][("qgemm", phase)]
        assert rec["status"] == "unsupported" and "no integer GEMM" in rec["reason"]


@pytest.mark.requires("dlib")
@pytest.mark.parametrize(
    "mode, device, needle",
    [
        ("graph", "cpu", "dlib has no graph mode"),
        ("eager", "cuda", "dlib was built without CUDA"),
    ],
)
def test_modes_and_devices_dlib_lacks_say_why(mode, device, needle):
    _, records = run_impl("dlib", mode, device)
    assert len(records) == sum(len(s.phases) for s in scenarios.all_scenarios())  # every (scenario, phase)
    for rec in records.values():
        assert rec["status"] == "unsupported" and needle in rec["reason"], rec["reason"]


def test_missing_packages_without_root_name_the_command(monkeypatch):
    from impls.dlib import build

    monkeypatch.setattr(build.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(build.os, "geteuid", lambda: 1000)
    with pytest.raises(build.BuildError) as err:
        build.install_packages(["libdlib-dev", "pybind11-dev"])
    assert str(err.value) == (
        "missing libdlib-dev, pybind11-dev; as root run: apt-get update && "
        "apt-get install -y --no-install-recommends libdlib-dev pybind11-dev"
    )
