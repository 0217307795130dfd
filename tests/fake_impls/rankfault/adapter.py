"""torch's allreduce, with DLBENCH_TEST_RANK_FAULT planted on rank 1: `crash` (SIGSEGV in
its first collective), `hang` (sleeps there for ever), `double` (adds its own row twice:
a wrong sum, as summed-not-averaged gradients are a wrong update); unset: correct."""

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
