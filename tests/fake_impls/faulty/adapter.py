"""conv crashes the process, sigmoid hangs, qgemm raises, classifier is wrong; gan is right."""

import os
import signal
import time

from impls.base import Step
from impls.reference import adapter as reference

probe = reference.probe
configure = reference.configure
device_unavailable = reference.device_unavailable
sync = reference.sync
peak_device_memory = reference.peak_device_memory
gan = reference.gan


def conv(problem, phase, device, mode):
    print("about to crash", flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)


def sigmoid(problem, phase, device, mode):
    while True:  # a hang in prepare: only the parent's timeout ends it
        time.sleep(1)


def qgemm(problem, phase, device, mode):
    raise RuntimeError("qgemm kernel exploded\nsecond line of detail")


def classifier(problem, phase, device, mode):
    step = reference.classifier(problem, phase, device, mode)
    right = step.outputs

    def wrong():
        out = dict(right())
        name = "logits" if phase == "inference" else "fc2_b"
        out[name] = out[name] + 0.5
        return out

    return Step(step.run, wrong)
