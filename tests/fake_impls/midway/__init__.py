"""An implementation that validates, then fails while its samples are being timed."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="midway",
    description="test-only: validates, then hangs (sigmoid forward) or crashes (sigmoid backward) mid-sampling",
    modes=("eager",),
    devices=("cpu",),
    install_hint="nothing to install (test-only)",
)
