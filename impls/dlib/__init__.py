"""dlib's DNN toolkit, through a small C++ extension over its headers and library."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="dlib",
    description="dlib DNN (C++ templates via a pybind11 bridge; Debian's libdlib, BLAS through libblas.so.3)",
    modes=("eager",),
    # cuda only where the bridge was compiled against a CUDA build of dlib (the adapter says why not)
    devices=("cpu", "cuda"),
    install_hint="make dlib  (apt-get installs libdlib-dev, libopenblas-dev, pybind11-dev; then compiles the bridge)",
    single_process="dlib's DNN has no distributed training (no collective, no data-parallel trainer)",
)
