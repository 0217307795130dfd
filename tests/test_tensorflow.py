"""The TensorFlow adapter through the real harness: every cell at size tiny, in worker processes.

TensorFlow is never imported in the pytest process: each cell (and the extra qgemm
check) runs in its own interpreter, as the harness runs it.
"""

import pytest

import scenarios
from harness.machine_record import framework_facts
from tests import qgemm_edges
from tests.harness_runs import run_impl
from tests.requirements import manifest

# real harness runs of TensorFlow (the slow lane); absent, every test fails with the fix
pytestmark = [pytest.mark.slow, pytest.mark.requires("tensorflow")]

MODES = ("eager", "graph", "xla")
THREADS = 1


def records(mode, device="cpu"):
    """Every TensorFlow cell of one mode at size tiny: the run the conformance tests share."""
    _, by_cell = run_impl("tensorflow", mode, device)
    return by_cell


def test_manifest():
    tf = manifest("tensorflow")
    assert tf.name == "tensorflow"
    assert tf.modes == MODES
    assert tf.devices == ("cpu", "cuda")
    assert tf.environment is None
    assert tf.worker_env["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_probe_records_version_threads_and_build():
    probe = framework_facts(["tensorflow"], threads=THREADS)["tensorflow"]
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
    assert 32767 < max_acc < 2**31
    # ... and every phase's outputs match bit for bit
    for phase, outputs in (("gemm", {"acc"}), ("requantize", {"out"}), ("full", {"acc", "out"})):
        rec = records(mode)[("qgemm", phase)]
        assert rec["status"] == "ok", rec["reason"]
        assert set(rec["errors"]) == outputs
        assert all(err["max_abs"] == 0.0 for err in rec["errors"].values()), (phase, rec["errors"])


def test_qgemm_xla_runs_requantize_only():
    """QuantizedMatMul has no XLA kernel: the phases that multiply are unsupported with the
    reason; the output stage is plain integer ops, which XLA compiles, exactly."""
    for phase in ("gemm", "full"):
        rec = records("xla")[("qgemm", phase)]
        assert rec["status"] == "unsupported"
        assert "XLA" in rec["reason"] and "QuantizedMatMul" in rec["reason"]
    rec = records("xla")[("qgemm", "requantize")]
    assert rec["status"] == "ok", rec["reason"]
    assert rec["errors"]["out"]["max_abs"] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_cuda_unsupported_on_cpu_build(mode):
    rec = records(mode, "cuda")[("conv", "forward")]
    assert rec["status"] == "unsupported"
    assert rec["reason"] == "TensorFlow build has no GPU support"


def test_qgemm_edge_zero_points_and_int32_range():
    """Zero points 0 and 255, accumulators just inside int32, the output stage at the int32
    extremes (tests/qgemm_edges.py): every phase bit for bit in every mode that runs it."""
    report = qgemm_edges.check("tensorflow", MODES)
    assert len(report) == 8 * len(MODES)
    qgemm_edges.assert_exact(report, unsupported={("gemm", "xla"), ("full", "xla")})
