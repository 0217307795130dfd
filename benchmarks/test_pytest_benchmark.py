"""The scenario set as pytest-benchmark tests, for users of that ecosystem.

    .venv/bin/python -m pytest benchmarks/test_pytest_benchmark.py --benchmark-json=out.json
    DLBENCH_BENCH_IMPLS=reference,torch DLBENCH_BENCH_SIZE=small  (the defaults)

Each test validates its cell against the reference first (a wrong answer fails the
test, it is never timed), then lets pytest-benchmark time the call, the device
synchronized inside each timed round. One pytest process holds every selected
implementation, so select frameworks that can share a process (not TensorFlow with
PyTorch); `dlbench run` isolates each cell in its own process instead.
`dlbench import out.json --out DIR` turns the JSON into dlbench results.
"""

import os

import pytest

import impls
import scenarios
from harness.validate import compare
from harness.worker import reference_outputs
from impls.base import Unsupported

SIZE = os.environ.get("DLBENCH_BENCH_SIZE", "small")
IMPLS = [i for i in os.environ.get("DLBENCH_BENCH_IMPLS", "reference,torch").split(",") if i]
THREADS = int(os.environ.get("DLBENCH_BENCH_THREADS", os.cpu_count() or 1))
CASES = [
    (s.name, phase, impl) for s in scenarios.all_scenarios() if SIZE in s.sizes for phase in s.phases for impl in IMPLS
]


@pytest.mark.parametrize("scenario, phase, impl", CASES, ids=["-".join(c) for c in CASES])
def test_cell(benchmark, scenario, phase, impl):
    if "cpu" not in impls.manifest(impl).devices:  # the runner's precheck: adapters do not check it again
        pytest.skip(f"unsupported: {impl} does not run on the CPU")
    try:
        adapter = impls.adapter(impl)
    except ImportError as exc:
        pytest.skip(f"{impl} not installed: {exc}")
    adapter.configure(THREADS)
    why = adapter.device_unavailable("cpu")  # asked first, as the worker does
    if why:
        pytest.skip(f"unsupported: {why}")
    s = scenarios.get(scenario)
    problem = s.problem(SIZE)
    expected = reference_outputs(problem, phase, None)
    try:
        step = getattr(adapter, scenario)(problem, phase, "cpu", "eager")
    except Unsupported as exc:
        pytest.skip(f"unsupported: {exc}")
    step.run()
    step.sync()
    ok, _, message = compare(step.outputs(), expected, s.tolerances(problem.params, phase), problem.inputs)
    assert ok, message
    benchmark.group = f"{scenario}/{phase}/{SIZE}"
    benchmark.extra_info["dlbench"] = {
        "scenario": scenario,
        "phase": phase,
        "size": SIZE,
        "impl": impl,
        "device": "cpu",
        "mode": "eager",
        "threads": THREADS,
        "seed": 0,
    }

    def call():
        step.run()
        step.sync()

    benchmark(call)
