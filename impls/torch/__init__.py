"""PyTorch: eager, and graph mode through torch.compile (Inductor)."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="torch",
    description="PyTorch (ATen/oneDNN eager; torch.compile for graph mode)",
    modes=("eager", "graph"),
    devices=("cpu", "cuda"),
    install_hint="make venv  (installs torch==2.13.0, the CPU build)",
    distributed="torch.distributed (gloo on the CPU, NCCL on CUDA), DistributedDataParallel",
)
