"""The TensorFlow adapter through the real harness: every cell at size tiny, in worker processes.

TensorFlow is never imported in the pytest process: each cell (and the extra qgemm
check) runs in its own interpreter, as the harness runs it.
"""
import importlib.util
import json
import subprocess
import sys

import pytest

import impls
import scenarios
from harness import environments
from harness.runner import probe_all, worker_env
from tests.harness_runs import run_impl

# find_spec, not importorskip: importing TensorFlow here would load it into the pytest process
if importlib.util.find_spec("tensorflow") is None:
    pytest.skip("tensorflow is not installed in this environment (make venv)", allow_module_level=True)

MODES = ("eager", "graph", "xla")
THREADS = 1


def records(mode, device="cpu"):
    """Every TensorFlow cell of one mode at size tiny: the run the conformance tests share."""
    _, by_cell = run_impl("tensorflow", mode, device)
    return by_cell


def test_manifest():
    manifest = impls.manifest("tensorflow")
    assert manifest.NAME == "tensorflow"
    assert manifest.MODES == MODES
    assert manifest.DEVICES == ("cpu", "cuda")
    assert manifest.ENVIRONMENT is None
    assert manifest.WORKER_ENV["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_probe_records_version_threads_and_build():
    probe = probe_all(["tensorflow"], threads=THREADS)["tensorflow"]
    assert probe["installed"], probe.get("reason")
    info = probe["info"]
    assert info["version"].startswith("2.")
    assert info["threads"] == THREADS and info["interop_threads"] == THREADS
    assert isinstance(info["onednn"], bool)
    assert "is_cuda_build" in info["build_info"]
    assert probe["devices"]["cpu"] is None


@pytest.mark.parametrize("mode", ("eager", "graph"))
def test_qgemm_accumulator_exact_past_int16(mode):
    params = scenarios.get("qgemm").params("tiny")
    # the tiny size's accumulators leave the int16 range (and stay inside int32) ...
    max_acc = params["k"] * 255 * 255
    assert 32767 < max_acc < 2 ** 31
    rec = records(mode)[("qgemm", "gemm")]
    assert rec["status"] == "ok", rec["reason"]
    # ... and match bit for bit; the uint8 output within 1
    assert rec["errors"]["acc"]["max_abs"] == 0.0
    assert rec["errors"]["out"]["max_abs"] <= 1.0


def test_qgemm_xla_is_unsupported_with_reason():
    rec = records("xla")[("qgemm", "gemm")]
    assert rec["status"] == "unsupported"
    assert "XLA" in rec["reason"] and "QuantizedMatMul" in rec["reason"]


@pytest.mark.parametrize("mode", MODES)
def test_cuda_unsupported_on_cpu_build(mode):
    rec = records(mode, "cuda")[("conv", "forward")]
    assert rec["status"] == "unsupported"
    assert rec["reason"] == "TensorFlow build has no GPU support"


# A qgemm problem at the edges: zero points 0 and 255 and accumulators just inside int32.
EDGE_SCRIPT = r"""
import json, sys
import numpy as np
import impls, scenarios
from impls.reference import quant
from scenarios import qgemm as qgemm_scenario
from scenarios.base import Problem

adapter = impls.adapter("tensorflow")
adapter.configure(1)
scenario = scenarios.get("qgemm")
k = 33025  # 33025 * 255 * 255 = 2147450625 < 2^31
cases = {
    "extreme": dict(m=2, k=k, n=3, za=0, zb=255, zc=128,
                    a=np.full((2, k), 255, np.uint8), b=np.zeros((k, 3), np.uint8)),
    "random": dict(m=3, k=k, n=2, za=255, zb=0, zc=7,
                   a=np.random.default_rng(1).integers(0, 256, (3, k), dtype=np.uint8),
                   b=np.random.default_rng(2).integers(0, 256, (k, 2), dtype=np.uint8)),
}
report = {}
for name, c in cases.items():
    a, b = c.pop("a"), c.pop("b")
    problem = Problem(scenario, "edge", c, 0, {"a": a, "b": b})
    want = quant.accumulate(a, b, c["za"], c["zb"])
    stage = qgemm_scenario.output_stage(c)
    want_out = quant.output_stage(want, stage["multiplier"], stage["shift"], c["zc"])
    for mode in sys.argv[1:]:
        step = adapter.qgemm(problem, "gemm", "cpu", mode)
        step.run()
        got = step.outputs()
        report[f"{name}/{mode}"] = {
            "acc_equal": bool(np.array_equal(got["acc"], want)),
            "acc_dtype": str(got["acc"].dtype),
            "max_abs_acc": int(np.abs(want.astype(np.int64)).max()),
            "out_diff": int(np.abs(got["out"].astype(int) - want_out.astype(int)).max()),
        }
print(json.dumps(report))
"""


def test_qgemm_edge_zero_points_and_int32_range():
    env = worker_env(1, impls.manifest("tensorflow"))
    proc = subprocess.run([sys.executable, "-c", EDGE_SCRIPT, "eager", "graph"], cwd=environments.REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report) == 4
    for case, r in report.items():
        assert r["acc_equal"] and r["acc_dtype"] == "int32", (case, r)
        assert r["max_abs_acc"] > 2 ** 28, (case, r)  # far past int16
        if case.startswith("extreme"):
            assert r["max_abs_acc"] > 2 ** 31 - 2 ** 16, (case, r)  # just inside int32
        assert r["out_diff"] <= 1, (case, r)
