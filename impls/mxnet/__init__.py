"""MXNet 1.9.1: imperative mx.nd (eager) and hybridized Gluon blocks (graph).

It needs NumPy < 1.24, so its worker runs in its own environment, .venv-mxnet,
made from this package's requirements.txt by `make env-mxnet`.
"""

from impls.base import Manifest

MANIFEST = Manifest(
    name="mxnet",
    description="MXNet 1.9.1 (mx.nd imperative; Gluon hybridize() for graph mode)",
    modes=("eager", "graph"),
    devices=("cpu", "cuda"),
    environment="mxnet",
    install_hint="make env-mxnet",
    # Set to --threads before the worker imports MXNet (the harness sets OMP_NUM_THREADS too).
    thread_variables=("MXNET_OMP_MAX_THREADS",),
    # One operator at a time, each parallel over OpenMP: --threads then means what it
    # means for the other frameworks, with no second pool competing for the cores.
    worker_env={"MXNET_CPU_WORKER_NTHREADS": "1"},
    distributed="the distributed kvstore, dist_sync (a scheduler and a server, as its launcher starts them)",
)
