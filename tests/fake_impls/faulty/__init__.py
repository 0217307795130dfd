"""A deliberately broken implementation, for testing how the harness contains failures."""

from impls.base import Manifest

MANIFEST = Manifest(
    name="faulty",
    description="test-only: crashes, hangs, raises and computes wrong answers",
    modes=("eager",),
    devices=("cpu",),
    install_hint="nothing to install (test-only)",
)
