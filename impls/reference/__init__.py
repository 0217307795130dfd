"""The NumPy reference: every other implementation is validated against it."""
NAME = "reference"
DESCRIPTION = "NumPy reference (im2col + BLAS GEMM, explicit backward)"
MODES = ("eager",)
DEVICES = ("cpu",)
ENVIRONMENT = None
INSTALL_HINT = "make venv"
