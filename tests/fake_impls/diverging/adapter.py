"""The reference's training steps, except that every call after the first (validated)
one ends by writing NaN into one weight: a run that diverges during sampling."""

import numpy as np

from impls.base import Step
from impls.reference import adapter as reference

probe = reference.probe
configure = reference.configure
device_unavailable = reference.device_unavailable
sync = reference.sync
peak_device_memory = reference.peak_device_memory


def _diverging(step, weight):
    calls = []

    def run():
        step.run()
        calls.append(1)
        if len(calls) > 1:
            step.outputs()[weight][...] = np.nan  # the reference's outputs are its live weights

    return Step(run, step.outputs, reset=step.reset)


def classifier(problem, phase, device, mode):
    step = reference.classifier(problem, phase, device, mode)
    return step if phase == "inference" else _diverging(step, "fc2_b")


def gan(problem, phase, device, mode):
    return _diverging(reference.gan(problem, phase, device, mode), "d_fc_b")
