"""Real harness runs shared by several test modules, each made once per session."""

import functools
import tempfile

from harness.plan import plan
from harness.runner import Options, Runner


@functools.lru_cache(maxsize=None)
def run_impl(impl, mode, device="cpu"):
    """Every tiny cell of one implementation and mode: (probe, {(scenario, phase): record})."""
    out = tempfile.mkdtemp(prefix=f"dlbench-tiny-{impl}-{mode}-")
    runner = Runner(out, Options(threads=2, samples=2, min_time=0.001, warmup_time=0.001, timeout=600))
    try:
        runner.framework_facts([impl])
        runner.write_machine()
        records = runner.run(plan(impl_names=[impl], modes=[mode], devices=[device], sizes=["tiny"], threads=2))
    finally:
        runner.close()
    return runner.facts[impl], {(r["scenario"], r["phase"]): r for r in records}
