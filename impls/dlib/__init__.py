"""dlib's DNN toolkit, through a small C++ extension over its headers and library."""
NAME = "dlib"
DESCRIPTION = "dlib DNN (C++ templates via a pybind11 bridge; Debian's libdlib, BLAS through libblas.so.3)"
MODES = ("eager",)
# cuda only where the bridge was compiled against a CUDA build of dlib (the adapter says why not)
DEVICES = ("cpu", "cuda")
ENVIRONMENT = None
INSTALL_HINT = "make dlib  (apt-get installs libdlib-dev, libopenblas-dev, pybind11-dev; then compiles the bridge)"
