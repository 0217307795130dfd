"""The NumPy reference: every other implementation is validated against it."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="reference",
    description="NumPy reference (im2col + BLAS GEMM, explicit backward)",
    modes=("eager",),
    devices=("cpu",),
    install_hint="make venv",
    single_process="the NumPy reference has no collective: it computes what every rank is checked "
    "against (the sum, the one-process step on the whole batch), and is timed at --ranks 1",
)
