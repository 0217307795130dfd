"""CuPy: a from-scratch GPU baseline, as NumPy is on the CPU (im2col + cuBLAS GEMM,
elementwise kernels, exact integer GEMM)."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="cupy",
    description="CuPy from-scratch GPU baseline (im2col + cuBLAS, elementwise kernels)",
    modes=("eager",),
    devices=("cuda",),
    install_hint="pip install cupy-cuda12x into .venv (needs an NVIDIA GPU and driver)",
)
