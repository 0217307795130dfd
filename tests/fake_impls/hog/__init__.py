"""An implementation that allocates without bound, for testing memory containment."""
NAME = "hog"
DESCRIPTION = "test-only: every scenario allocates memory until the harness stops it"
MODES = ("eager",)
DEVICES = ("cpu",)
ENVIRONMENT = None
INSTALL_HINT = "nothing to install (test-only)"
