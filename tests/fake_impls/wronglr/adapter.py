"""torch's task, its learning rates (SGD's, Adam's) planted 10% high (everything else torch's own)."""

from dataclasses import replace

from impls.torch import adapter as torch_adapter

probe = torch_adapter.probe
configure = torch_adapter.configure
device_unavailable = torch_adapter.device_unavailable
sync = torch_adapter.sync
peak_device_memory = torch_adapter.peak_device_memory

LR_FACTOR = 1.1


def task(problem, phase, device, mode):
    p = problem.params
    wrong = replace(problem, params=dict(p, lr=p["lr"] * LR_FACTOR, gan_lr=p["gan_lr"] * LR_FACTOR))
    return torch_adapter.task(wrong, phase, device, mode)
