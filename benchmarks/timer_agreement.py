"""Does dlbench's timing agree with torch.utils.benchmark? Same call, same process.

For each cell: prepare the torch step as the worker does, then take dlbench's median
(warm-up, calibration, samples; harness.worker.measure) and the median of
torch.utils.benchmark.Timer(...).blocked_autorange() for the same call, and print
their ratio. Run:  .venv/bin/python benchmarks/timer_agreement.py [scenario/phase/size ...]
"""

from __future__ import annotations

import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
import torch.utils.benchmark as tb  # noqa: E402

import impls  # noqa: E402
import scenarios  # noqa: E402
from harness.worker import measure  # noqa: E402

# one short (microseconds), one near 1 ms, one long (tens of ms)
DEFAULT_CELLS = ["sigmoid/forward/tiny", "sigmoid/forward/small", "conv/forward/medium"]
ROUNDS = 5
SPEC = {"warmup_time": 0.2, "min_time": 0.05, "samples": 10, "min_samples": 3, "max_time": 20.0}


def agreement(cell, threads):
    name, phase, size = cell.split("/")
    adapter = impls.adapter("torch")
    adapter.configure(threads)
    problem = scenarios.get(name).problem(size)
    step = getattr(adapter, name)(problem, phase, "cpu", "eager")
    step.run()
    step.sync()
    timer = tb.Timer(stmt="run(); sync()", globals={"run": step.run, "sync": step.sync}, num_threads=threads)
    ours, theirs = [], []
    # alternate the two timers, so drift on a shared machine hits both alike
    for _ in range(ROUNDS):
        _, values = measure(step, SPEC, lambda _: None)
        ours.append(statistics.median(values))
        theirs.append(timer.blocked_autorange(min_run_time=max(0.5, 10 * ours[-1])).median)
    return statistics.median(ours), statistics.median(theirs)


def main(argv):
    cells = argv[1:] or DEFAULT_CELLS
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    print(f"{'cell':<26} {'dlbench median':>15} {'blocked_autorange':>18} {'ratio':>7}")
    for cell in cells:
        ours, theirs = agreement(cell, threads)
        print(f"{cell:<26} {ours * 1e3:>12.4f} ms {theirs * 1e3:>15.4f} ms {ours / theirs:>7.3f}")


if __name__ == "__main__":
    main(sys.argv)
