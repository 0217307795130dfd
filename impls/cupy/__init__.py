"""CuPy: a from-scratch GPU baseline, as NumPy is on the CPU (im2col + cuBLAS GEMM,
elementwise kernels, exact integer GEMM)."""
NAME = "cupy"
DESCRIPTION = "CuPy from-scratch GPU baseline (im2col + cuBLAS, elementwise kernels)"
MODES = ("eager",)
DEVICES = ("cuda",)
ENVIRONMENT = None
INSTALL_HINT = "pip install cupy-cuda12x into .venv (needs an NVIDIA GPU and driver)"
