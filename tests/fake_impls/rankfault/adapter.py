"""torch's allreduce, with DLBENCH_TEST_RANK_FAULT planted on rank 1: `crash` (SIGSEGV in
its first collective), `hang` (sleeps there for ever), `double` (adds its own row twice:
a wrong sum), `summed` (its classifier step sums the gradients over the ranks
instead of averaging them, on every rank); unset: correct."""

import os
import signal
import time

from impls.base import Step
from impls.torch import adapter as torch_adapter

probe = torch_adapter.probe
configure = torch_adapter.configure
device_unavailable = torch_adapter.device_unavailable
sync = torch_adapter.sync
peak_device_memory = torch_adapter.peak_device_memory


def allreduce(problem, phase, device, mode):
    step = torch_adapter.allreduce(problem, phase, device, mode)
    fault = os.environ.get("DLBENCH_TEST_RANK_FAULT", "") if problem.rank == 1 else ""
    if fault == "double":
        right = step.outputs
        mine = problem.inputs["x"][problem.rank]
        return Step(step.run, lambda: {"sum": right()["sum"] + mine}, step.sync, agree=step.agree)

    def run():
        if fault == "crash":
            print("rank 1 about to crash", flush=True)
            os.kill(os.getpid(), signal.SIGSEGV)
        while fault == "hang":
            time.sleep(1)
        step.run()

    return Step(run, step.outputs, step.sync, agree=step.agree)


def _summed(state, bucket):
    """A comm hook that forgets to divide by the ranks: gradients summed, not averaged."""
    import torch.distributed as dist

    return dist.all_reduce(bucket.buffer(), async_op=True).get_future().then(lambda f: f.value()[0])


def classifier(problem, phase, device, mode):
    """The data-parallel step; with DLBENCH_TEST_RANK_FAULT=summed, every rank's DDP sums
    the gradients instead of averaging them (the update is ranks times too large)."""
    if os.environ.get("DLBENCH_TEST_RANK_FAULT") == "summed" and "ranks" in problem.params:
        return torch_adapter.classifier_data_parallel(problem, device, mode, comm_hook=_summed)
    return torch_adapter.classifier(problem, phase, device, mode)
