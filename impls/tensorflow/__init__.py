"""TensorFlow: eager, graph mode through tf.function, and XLA through tf.function(jit_compile=True)."""
NAME = "tensorflow"
DESCRIPTION = "TensorFlow (eager; tf.function graphs; XLA via jit_compile)"
MODES = ("eager", "graph", "xla")
DEVICES = ("cpu", "cuda")
ENVIRONMENT = None
INSTALL_HINT = "make venv  (installs tensorflow-cpu into .venv after torch)"
# TF's C++ logging reads this once, at import: keep INFO/WARNING chatter (XLA
# compilation notices, oneDNN banners) out of the worker's log.
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2"}
