"""Real harness runs shared by several test modules, each made once per session."""

import functools
import tempfile

from harness.plan import plan
from harness.runner import Options, open_runner


def run_cells(out, options, impl_names, cells):
    """CELLS through a real runner into OUT, after the facts of impl_names and machine.json:
    (facts, records)."""
    runner = open_runner("run", str(out), options)
    try:
        runner.prepare(impl_names)
        records = runner.run(cells)
    finally:
        runner.close()
    return runner.facts, records


@functools.lru_cache(maxsize=None)
def _run_impl(impl, mode):
    """Every tiny cell of one implementation and mode on the CPU and on CUDA, in one run (a
    CUDA cell this machine cannot run is unsupported at once, without a worker of its own)."""
    out = tempfile.mkdtemp(prefix=f"dlbench-tiny-{impl}-{mode}-")
    facts, records = run_cells(
        out,
        Options(threads=2, samples=2, min_time=0.001, warmup_time=0.001, timeout=600, task_runs=1),
        [impl],
        # "all": the task layer's trials too (one each), which a run without --scenario leaves out
        plan(["all"], impl_names=[impl], modes=[mode], devices=["cpu", "cuda"], sizes=["tiny"], threads=2),
    )
    return facts[impl], records


def run_impl(impl, mode, device="cpu"):
    """Every tiny cell of one implementation, mode and device: (probe, {(scenario, phase): record})."""
    probe, records = _run_impl(impl, mode)
    return probe, {(r["scenario"], r["phase"]): r for r in records if r["device"] == device}
