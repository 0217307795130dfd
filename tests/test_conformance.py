"""Every (scenario, phase) x (implementation, mode), generated, run through the real
harness at the tiny size and validated against the reference (ONNX's backend-test idea:
a new adapter gets every case for free), each held to what tests/expected_cells.toml
says it must be on a machine set up by the README: `ok`, or `unsupported` with its
reason. Nothing is skipped for being absent: a framework that stops importing, or a
cell that regresses to unsupported, fails (DLBENCH_TEST_WITHOUT is the one way out)."""

import os

import pytest
import tomllib

import impls
import scenarios
from tests import qgemm_edges
from tests.harness_runs import run_impl
from tests.requirements import absent, lane_marks, manifest, skip_if_without

EXPECTED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "expected_cells.toml")
SHOWN = os.path.relpath(EXPECTED_FILE, os.path.dirname(os.path.dirname(EXPECTED_FILE)))


def expected_cells(path=EXPECTED_FILE):
    """{(impl, mode, scenario, phase): None for `ok`, or the text an `unsupported` reason must contain}."""
    with open(path, "rb") as f:
        listed = tomllib.load(f)
    cells = {}
    for impl, modes in listed.items():
        for mode, entry in modes.items():
            for cell in entry.get("ok", []):
                cells[(impl, mode, *cell.split())] = None
            for cell, reason in entry.get("unsupported", {}).items():
                cells[(impl, mode, *cell.split())] = reason
    return cells


CASES = [
    (impl, mode, s.name, phase)
    for impl in impls.names()
    for mode in manifest(impl).modes
    for s in scenarios.all_scenarios()
    for phase in s.phases
]
EXPECTED = expected_cells()
# the union: a cell of the code not listed, and a listed cell the code no longer has, each fail by name
ALL = CASES + sorted(set(EXPECTED) - set(CASES))


def test_the_expected_list_names_exactly_the_cells_there_are():
    """The fast lane's share: the list and the code agree, without running a cell."""
    unlisted = [" ".join(c) for c in CASES if c not in EXPECTED]
    gone = [" ".join(c) for c in EXPECTED if c not in CASES]
    assert not unlisted, f"add to {SHOWN} (ok, or unsupported with its reason): {', '.join(unlisted)}"
    assert not gone, f"remove from {SHOWN} (no such cell any more): {', '.join(gone)}"


@pytest.mark.slow  # every cell a real harness run; MXNet's and dlib's in the env and bridge lanes too
@pytest.mark.parametrize(
    "impl, mode, scenario, phase", [pytest.param(*c, id="-".join(c), marks=lane_marks(c[0])) for c in ALL]
)
def test_cell_is_what_the_expected_list_says(impl, mode, scenario, phase):
    cell = (impl, mode, scenario, phase)
    where = f'[{impl}.{mode}] "{scenario} {phase}"'
    if cell not in EXPECTED:
        pytest.fail(f"{where} is not in {SHOWN}: add it there, as ok or unsupported with its reason", pytrace=False)
    if cell not in CASES:
        pytest.fail(f"{where} is listed in {SHOWN} but no such cell exists any more: remove it", pytrace=False)
    skip_if_without(impl)
    probe, records = run_impl(impl, mode)
    rec = records[(scenario, phase)]
    reason = EXPECTED[cell]
    if reason is not None and rec["status"] == "unsupported" and reason in rec["reason"]:
        return  # as documented (cupy's cpu cells are, installed or not)
    if not probe.get("installed"):
        absent(impl, probe.get("reason", f"{impl} is not installed").split("; fix:")[0], manifest(impl).install_hint)
    assert reason is None, (
        f"{where} must be unsupported saying {reason!r} ({SHOWN}); it is {rec['status']}: {rec['reason']}"
    )
    assert rec["status"] == "ok", f"{where} must be ok ({SHOWN}); it is {rec['status']}: {rec['reason']}"
    assert rec["samples"] and rec["median"] > 0
    assert rec["errors"], f"{where}: ok without a comparison against the reference"
    for name, err in rec["errors"].items():
        assert err["worst_ratio"] is not None and err["worst_ratio"] <= 1.0, name


@pytest.mark.slow
def test_qgemm_accumulator_exceeds_int16_and_matches_exactly():
    problem = scenarios.get("qgemm").problem("tiny")
    ref = impls.adapter("reference").qgemm(problem, "gemm", "cpu", "eager")
    ref.run()
    acc = ref.outputs()["acc"]
    assert abs(int(acc.max())) > 32767 or abs(int(acc.min())) > 32768
    _, records = run_impl("torch", "eager")
    rec = records[("qgemm", "gemm")]
    assert rec["status"] == "ok" and rec["errors"]["acc"]["max_abs"] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("mode", manifest("torch").modes)
def test_qgemm_phases_exact_at_gemmlowp_edges_in_torch(mode):
    """Zero points 0 and 255, accumulators just inside int32, the output stage at the int32
    extremes (tests/qgemm_edges.py; TensorFlow and MXNet run the same cases in their tests)."""
    report = qgemm_edges.check("torch", [mode])
    assert len(report) == 8
    qgemm_edges.assert_exact(report)
