"""A training implementation that validates, then diverges while it is timed."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="diverging",
    description="test-only: the first (validated) training step is right, every later one leaves a NaN weight",
    modes=("eager",),
    devices=("cpu",),
    install_hint="nothing to install (test-only)",
)
