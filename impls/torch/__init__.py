"""PyTorch: eager, and graph mode through torch.compile (Inductor)."""
NAME = "torch"
DESCRIPTION = "PyTorch (ATen/oneDNN eager; torch.compile for graph mode)"
MODES = ("eager", "graph")
DEVICES = ("cpu", "cuda")
ENVIRONMENT = None
INSTALL_HINT = "make venv  (installs torch==2.13.0, the CPU build)"
