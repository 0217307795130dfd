"""sigmoid (NumPy) and conv (PyTorch) doing (1 + DLBENCH_SLOWDOWN) times the work.

sigmoid: the same kernel over n * (1 + f) elements (exact fraction); conv: the same
convolution over round(batch * (1 + f)) images. Outputs are the first n elements /
batch images, so the cell still validates against the reference.
"""

import os

import numpy as np

from impls.base import Step
from impls.reference import adapter as reference
from impls.reference import ops

probe = reference.probe
configure = reference.configure
device_unavailable = reference.device_unavailable
sync = reference.sync
peak_device_memory = reference.peak_device_memory


FRACTION_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fraction.txt")


def fraction():
    """DLBENCH_SLOWDOWN, else the committed fraction.txt: a revision of the repository can
    carry a slowdown (bisect and the --base-rev evaluation build such histories)."""
    if os.environ.get("DLBENCH_SLOWDOWN"):
        return float(os.environ["DLBENCH_SLOWDOWN"])
    with open(FRACTION_FILE) as f:
        return float(f.read().strip() or 0)


def sigmoid(problem, phase, device, mode):
    n = problem.params["elements"]
    total = n + int(round(n * fraction()))
    idx = np.arange(total) % n  # repeat the same data: the same work per element
    z, y, dy = (problem.inputs[k][idx] for k in ("z", "y", "dy"))
    out, tmp = np.empty(total, np.float32), np.empty(total, np.float32)
    if phase == "forward":
        return Step(lambda: ops.sigmoid(z, out=out), lambda: {"y": out[:n]})
    return Step(lambda: ops.sigmoid_backward(dy, y, out=out, tmp=tmp), lambda: {"dz": out[:n]})


def conv(problem, phase, device, mode):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    p = problem.params
    batch = p["batch"]
    idx = np.arange(int(round(batch * (1 + fraction())))) % batch
    x = torch.from_numpy(problem.inputs["x"][idx].copy())
    w, b = (torch.from_numpy(problem.inputs[k].copy()) for k in ("w", "b"))
    out = {}

    @torch.inference_mode()
    def run():
        out["y"] = F.conv2d(x, w, b, stride=p["stride"], padding=p["pad"])

    return Step(run, lambda: {"y": out["y"][:batch].numpy()})
