"""TensorFlow: eager, graph mode through tf.function, and XLA through tf.function(jit_compile=True)."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="tensorflow",
    description="TensorFlow (eager; tf.function graphs; XLA via jit_compile)",
    modes=("eager", "graph", "xla"),
    devices=("cpu", "cuda"),
    install_hint="make venv  (installs tensorflow-cpu into .venv after torch)",
    # TF's C++ logging reads this once, at import: keep INFO/WARNING chatter (XLA
    # compilation notices, oneDNN banners) out of the worker's log.
    worker_env={"TF_CPP_MIN_LOG_LEVEL": "2"},
    distributed="MultiWorkerMirroredStrategy: collective all-reduce (ring on the CPU, NCCL on a GPU)",
)
