"""An implementation that allocates without bound, for testing memory containment."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="hog",
    description="test-only: every scenario allocates memory until the harness stops it",
    modes=("eager",),
    devices=("cpu",),
    install_hint="nothing to install (test-only)",
)
