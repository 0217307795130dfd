"""MXNet in its own environment (.venv-mxnet): made from nothing by the project's own
command, its integer path exact, its threads and build facts recorded; a missing or
broken environment turns its cells `unsupported` with that command, and the rest of
the run goes on. (Every cell's validation is in test_conformance.)"""

import os
import subprocess
import sys

import pytest
from conftest import FAST, by_cell, read_results

from cli import main as cli
from harness import environments
from harness.plan import plan
from harness.processes import worker_env
from harness.runner import Options
from tests import qgemm_edges
from tests.harness_runs import run_cells, run_impl
from tests.requirements import manifest, skip_if_without

pytestmark = pytest.mark.env  # builds or runs .venv-mxnet (make envs)

SETUP = "make env-mxnet"


def env_python(root=None):
    return os.path.join(root or environments.env_dir("mxnet"), "bin", "python")


def run_tiny(out, **selection):
    return run_cells(
        out,
        Options(threads=1, samples=2, min_time=0.001, warmup_time=0.001, timeout=600),
        selection.get("impl_names", ["mxnet"]),
        plan(sizes=["tiny"], threads=1, **selection),
    )


@pytest.mark.rebuild  # builds a whole environment from nothing: make test-rebuild, which CI runs
def test_environment_is_created_from_nothing_by_the_project_command(tmp_path, monkeypatch, capsys):
    skip_if_without("mxnet")  # builds its own environment: skipped only when told to
    root = environments.REPO_ROOT
    result = subprocess.run(
        ["make", "-C", root, "--no-print-directory", "env-mxnet", f"DLBENCH_ENVS={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    python = env_python(str(tmp_path / ".venv-mxnet"))
    versions = subprocess.run(
        [python, "-c", "import mxnet, numpy; print(mxnet.__version__, numpy.__version__)"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    mxnet_version, numpy_version = versions.stdout.split()
    assert mxnet_version == "1.9.1"
    assert tuple(int(p) for p in numpy_version.split(".")[:2]) < (1, 24)
    # Nothing of the parent's side is there: the worker that runs in it imports NumPy,
    # the scenario, the reference and the adapter, and nothing else.
    for parent_only in ("pandas", "psutil", "rich", "torch"):
        probe = subprocess.run([python, "-c", f"import {parent_only}"], capture_output=True, timeout=120)
        assert probe.returncode != 0, f"{parent_only} is importable in the MXNet environment"
    monkeypatch.setenv("DLBENCH_ENVS", str(tmp_path))
    assert cli.main(["list", "--threads", "1"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("mxnet"))
    assert "installed 1.9.1" in line and SETUP in line and str(tmp_path) in line


def test_missing_environment_makes_cells_unsupported_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DLBENCH_ENVS", str(tmp_path / "nowhere"))
    assert cli.main(["list", "--threads", "1"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("mxnet"))
    assert "NOT AVAILABLE" in line and SETUP in line

    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "run",
                "--impl",
                "reference,mxnet",
                "--scenario",
                "sigmoid,qgemm",
                "--size",
                "tiny",
                "--threads",
                "1",
                "--out",
                str(out),
                "--quiet",
                *FAST,
            ]
        )
        == 0
    )
    cells = by_cell(read_results(str(out)))
    mx_cells = {k: r for k, r in cells.items() if k[2] == "mxnet"}
    assert len(mx_cells) == 10  # sigmoid forward, backward; qgemm gemm, requantize, full; eager and graph
    for rec in mx_cells.values():
        assert rec["status"] == "unsupported" and SETUP in rec["reason"], rec["reason"]
    for key, rec in cells.items():
        if key[2] == "reference":
            assert rec["status"] == "ok" and rec["median"] > 0


def test_broken_environment_names_the_setup_command(tmp_path, monkeypatch):
    # an interpreter that runs but has nothing installed: not even NumPy for the worker
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv-mxnet")], check=True, timeout=300
    )
    monkeypatch.setenv("DLBENCH_ENVS", str(tmp_path))
    probes, records = run_tiny(tmp_path / "out", impl_names=["mxnet"], scenario_names=["conv"], modes=["eager"])
    assert not probes["mxnet"]["installed"]
    assert [r["status"] for r in records] == ["unsupported"]
    assert SETUP in records[0]["reason"] and "numpy" in records[0]["reason"].lower()


def test_threads_reach_mxnet_engine_before_import():
    env = worker_env(3, manifest("mxnet"))
    assert env["OMP_NUM_THREADS"] == env["MXNET_OMP_MAX_THREADS"] == "3"
    assert env["MXNET_CPU_WORKER_NTHREADS"] == "1"  # one operator at a time, each on the OpenMP pool


@pytest.mark.requires("mxnet")
def test_fingerprint_records_version_and_build_features_and_gpu_is_unsupported():
    probe, _ = run_impl("mxnet", "eager")  # the conformance run's probe: what machine.json records
    facts = probe["info"]
    assert facts["version"] == "1.9.1" and "MKLDNN" in facts["features"] and facts["mkldnn"]
    assert facts["onednn"] and facts["onednn_isa"]  # the instruction set oneDNN picked on this CPU
    assert facts["omp_max_threads"] == "2"  # run_impl's --threads, set before MXNet was imported
    if not facts["cuda_build"]:
        assert "CPU-only build" in probe["devices"]["cuda"]


QGEMM_OUTPUTS = {"gemm": {"acc"}, "requantize": {"out"}, "full": {"acc", "out"}}


@pytest.mark.requires("mxnet")
@pytest.mark.parametrize("mode", manifest("mxnet").modes)
def test_qgemm_accumulator_and_output_are_exact(mode):
    _, records = run_impl("mxnet", mode)
    for phase, outputs in QGEMM_OUTPUTS.items():
        rec = records[("qgemm", phase)]
        assert rec["status"] == "ok", rec["reason"]
        assert set(rec["errors"]) == outputs
        assert all(err["max_abs"] == 0.0 for err in rec["errors"].values()), (phase, rec["errors"])


@pytest.mark.requires("mxnet")
def test_qgemm_edge_zero_points_and_int32_range():
    """Zero points 0 and 255, accumulators just inside int32, the output stage at the int32
    extremes (tests/qgemm_edges.py), in MXNet's own interpreter: every phase bit for bit."""
    report = qgemm_edges.check("mxnet", manifest("mxnet").modes)
    assert len(report) == 8 * 2
    qgemm_edges.assert_exact(report)


@pytest.mark.requires("mxnet")
def test_qgemm_is_exact_without_vnni(tmp_path, monkeypatch):
    """Without VNNI oneDNN's int8 GEMM saturates int16 pair sums; the adapter then splits
    A into 7-bit halves. oneDNN's ISA cap forces that path on any CPU."""
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX512_CORE")
    probes, records = run_tiny(tmp_path, impl_names=["mxnet"], scenario_names=["qgemm"])
    assert probes["mxnet"]["info"]["int8_gemm_exact_in_one_pass"] is False
    assert len(records) == 6  # three phases, eager and graph
    for rec in records:
        assert rec["status"] == "ok", rec["reason"]
        assert set(rec["errors"]) == QGEMM_OUTPUTS[rec["phase"]]
        assert all(err["max_abs"] == 0.0 for err in rec["errors"].values()), (rec["phase"], rec["errors"])


REQUANTIZE_CHECK = """
import numpy as np, mxnet as mx
from impls.base import Unsupported
from impls.mxnet import quantized
from impls.reference import quant
rng = np.random.default_rng(0)
bound = 2**30  # |acc| of k = 16512 at the worst zero points; the scenarios stay below 2^26
# ties of both roundings, the bounds, zero, and random values of every magnitude
specials = [0, 1, -1, bound, -bound, 2**29, -2**29, 3 * 2**28, -3 * 2**28]
acc = np.concatenate([np.array(specials, dtype=np.int64), rng.integers(-bound, bound + 1, 20000),
                      rng.integers(-2**20, 2**20, 20000)]).astype(np.int32)
for multiplier, shift in [(1 << 30, 0), (1 << 30, 1), ((1 << 31) - 1, 5), (1518500250, 12), (1073741825, 20)]:
    divisor, offset = quantized.requantize_constants(bound, multiplier, shift)
    for values in (acc, np.arange(-4096, 4096, dtype=np.int32) << shift):  # every rounding case near ties
        got = quantized.requantize(mx.nd, mx.nd.array(values, dtype="int32"), multiplier, shift, 128,
                                   divisor, offset).asnumpy()
        want = quant.output_stage(values, multiplier, shift, 128)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (multiplier, shift, values[bad[:5]], got[bad[:5]], want[bad[:5]])
try:  # past int64's reach the adapter says so instead of wrapping
    quantized.requantize_constants(2**31, (1 << 31) - 1, 20)
    raise AssertionError("no Unsupported for an int64 overflow")
except Unsupported:
    pass
print("exact")
"""


@pytest.mark.requires("mxnet")
def test_requantization_equals_gemmlowp_bit_for_bit():
    env = dict(os.environ, PYTHONPATH=environments.REPO_ROOT, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [env_python(), "-c", REQUANTIZE_CHECK],
        capture_output=True,
        text=True,
        env=env,
        cwd=environments.REPO_ROOT,
        timeout=300,
    )
    assert result.stdout.strip().endswith("exact"), result.stderr[-3000:]
