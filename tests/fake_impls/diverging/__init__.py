"""A training implementation that validates, then diverges while it is timed."""
NAME = "diverging"
DESCRIPTION = "test-only: the first (validated) training step is right, every later one leaves a NaN weight"
MODES = ("eager",)
DEVICES = ("cpu",)
ENVIRONMENT = None
INSTALL_HINT = "nothing to install (test-only)"
