"""Every (scenario, phase) x (implementation, mode), generated, run through the real
harness at the tiny size and validated against the reference (ONNX's backend-test idea:
a new adapter gets every case for free)."""
import pytest

import impls
import scenarios
from tests import qgemm_edges
from tests.harness_runs import run_impl

CASES = [(impl, mode, s.name, phase)
         for impl in impls.names()
         for mode in impls.manifest(impl).modes
         for s in scenarios.all_scenarios()
         for phase in s.phases]


@pytest.mark.parametrize("impl, mode, scenario, phase", CASES, ids=["-".join(c) for c in CASES])
def test_cell_validates_against_reference(impl, mode, scenario, phase):
    probe, records = run_impl(impl, mode)
    if not probe.get("installed"):
        pytest.skip(f"{impl} not installed here: {probe.get('reason')}")
    rec = records[(scenario, phase)]
    if rec["status"] == "unsupported":
        # allowed only with a reason a user can act on
        assert len(rec["reason"]) > 10
        pytest.skip(f"unsupported: {rec['reason']}")
    assert rec["status"] == "ok", f"{rec['status']}: {rec['reason']}"
    assert rec["samples"] and rec["median"] > 0
    for name, err in rec["errors"].items():
        assert err["worst_ratio"] is not None and err["worst_ratio"] <= 1.0, name


def test_qgemm_accumulator_exceeds_int16_and_matches_exactly():
    problem = scenarios.get("qgemm").problem("tiny")
    ref = impls.adapter("reference").qgemm(problem, "gemm", "cpu", "eager")
    ref.run()
    acc = ref.outputs()["acc"]
    assert abs(int(acc.max())) > 32767 or abs(int(acc.min())) > 32768
    _, records = run_impl("torch", "eager")
    rec = records[("qgemm", "gemm")]
    assert rec["status"] == "ok" and rec["errors"]["acc"]["max_abs"] == 0.0


@pytest.mark.parametrize("mode", impls.manifest("torch").modes)
def test_qgemm_phases_exact_at_gemmlowp_edges_in_torch(mode):
    """Zero points 0 and 255, accumulators just inside int32, the output stage at the int32
    extremes (tests/qgemm_edges.py; TensorFlow and MXNet run the same cases in their tests)."""
    report = qgemm_edges.check("torch", [mode])
    assert len(report) == 8
    qgemm_edges.assert_exact(report)
