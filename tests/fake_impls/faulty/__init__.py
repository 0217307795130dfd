"""A deliberately broken implementation, for testing how the harness contains failures."""
NAME = "faulty"
DESCRIPTION = "test-only: crashes, hangs, raises and computes wrong answers"
MODES = ("eager",)
DEVICES = ("cpu",)
ENVIRONMENT = None
INSTALL_HINT = "nothing to install (test-only)"
