"""Does dlbench's timing agree with torch.utils.benchmark on the same call? Fresh processes.

For every torch eager cell of a size (default small), alternated over ROUNDS rounds, each
in its own fresh process:
- `dlbench`: the real worker (python -m harness.worker, dlbench's worker environment:
  threads, layout pads, the allocator settings of harness.processes.ALLOCATOR), its median;
- `tb default`: torch.utils.benchmark.Timer(step.run + sync).blocked_autorange() in a
  fresh process with the same thread settings and glibc malloc left at its defaults;
- `tb allocator`: the same, with dlbench's allocator settings.
Prints each kind's median over rounds and the ratios dlbench / tb. The raw figures go
to stdout as a table; commit it under results/.

Run:  .venv/bin/python benchmarks/timer_agreement.py [--size small] [--rounds 3] [scenario/phase ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import scenarios  # noqa: E402
from harness.plan import Cell  # noqa: E402
from harness.processes import ALLOCATOR, THREAD_VARIABLES, run_worker, worker_env  # noqa: E402
from impls import manifest  # noqa: E402

KINDS = ("dlbench", "tb default", "tb allocator")


def tb_child(cell_name, size, threads):
    """In a fresh process: torch.utils.benchmark's median for the torch eager step."""
    import torch.utils.benchmark as tb

    import impls

    name, phase = cell_name.split("/")
    adapter = impls.adapter("torch")
    adapter.configure(threads)
    problem = scenarios.get(name).problem(size, 0)
    step = getattr(adapter, name)(problem, phase, "cpu", "eager")
    step.run()
    step.sync()
    timer = tb.Timer(stmt="run(); sync()", globals={"run": step.run, "sync": step.sync}, num_threads=threads)
    print(json.dumps({"median": timer.blocked_autorange(min_run_time=1.0).median}))


def plain_env(threads, allocator):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update({var: str(threads) for var in THREAD_VARIABLES})
    env["PYTHONPATH"] = ROOT
    if allocator:
        env.update(ALLOCATOR)
    return env


def one(kind, cell_name, size, threads, workdir):
    """Seconds per call from one fresh process of this kind."""
    if kind == "dlbench":
        name, phase = cell_name.split("/")
        cell = Cell(name, phase, size, "torch", "cpu", "eager", threads)
        spec = dict(
            cell.as_dict(),
            process=0,
            samples=10,
            min_samples=3,
            min_time=0.05,
            warmup_time=0.2,
            max_time=20.0,
            ref_cache=os.path.join(workdir, "ref"),
        )
        res = run_worker(sys.executable, spec, worker_env(threads, manifest("torch")), 600, workdir)
        if res.get("status") != "ok":
            raise RuntimeError(f"{cell_name}: {res.get('status')}: {res.get('reason')}")
        return statistics.median(res["samples"])
    env = plain_env(threads, allocator=kind == "tb allocator")
    out = subprocess.run(
        [sys.executable, __file__, "--child", cell_name, "--size", size, "--threads", str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["median"]


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("cells", nargs="*")
    p.add_argument("--size", default="small")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--child", default=None)
    args = p.parse_args(argv[1:])
    if args.child:
        return tb_child(args.child, args.size, args.threads)
    cells = args.cells or [f"{s}/{ph}" for s in scenarios.names() for ph in scenarios.get(s).phases]
    print(f"# torch eager, size {args.size}, {args.threads} threads, {args.rounds} rounds, fresh processes alternated")
    print(f"# allocator settings of dlbench's workers: {ALLOCATOR}")
    header = f"{'cell':<22}" + "".join(f"{k + ' ms':>16}" for k in KINDS) + f"{'dl/tb def':>11}{'dl/tb alloc':>13}"
    print(header)
    with tempfile.TemporaryDirectory() as workdir:
        for cell_name in cells:
            times = {k: [] for k in KINDS}
            for r in range(args.rounds):
                order = KINDS if r % 2 == 0 else KINDS[::-1]
                for kind in order:
                    times[kind].append(one(kind, cell_name, args.size, args.threads, workdir))
            med = {k: statistics.median(v) for k, v in times.items()}
            print(
                f"{cell_name:<22}"
                + "".join(f"{med[k] * 1e3:>16.4f}" for k in KINDS)
                + f"{med['dlbench'] / med['tb default']:>11.3f}{med['dlbench'] / med['tb allocator']:>13.3f}",
                flush=True,
            )
            print("#   raw ms: " + json.dumps({k: [round(v * 1e3, 4) for v in vs] for k, vs in times.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv) or 0)
