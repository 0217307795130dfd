"""MXNet 1.9.1: imperative mx.nd (eager) and hybridized Gluon blocks (graph).

It needs NumPy < 1.24, so its worker runs in its own environment, .venv-mxnet,
made from this package's requirements.txt by `make env-mxnet`.
"""
NAME = "mxnet"
DESCRIPTION = "MXNet 1.9.1 (mx.nd imperative; Gluon hybridize() for graph mode)"
MODES = ("eager", "graph")
DEVICES = ("cpu", "cuda")
ENVIRONMENT = "mxnet"
INSTALL_HINT = "make env-mxnet"
# Set to --threads before the worker imports MXNet (the harness sets OMP_NUM_THREADS too).
THREAD_VARIABLES = ("MXNET_OMP_MAX_THREADS",)
# One operator at a time, each parallel over OpenMP: --threads then means what it
# means for the other frameworks, with no second pool competing for the cores.
WORKER_ENV = {"MXNET_CPU_WORKER_NTHREADS": "1"}
