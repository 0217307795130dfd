"""What every test-only implementation declares: the eager mode on the CPU, nothing to
install. Importable as impls.test_only wherever this folder is on impls' path (the tests
put it there: tests/conftest.py, DLBENCH_EXTRA_IMPLS); a module, so not an implementation."""

from impls.base import Manifest


def manifest(name, description):
    return Manifest(
        name=name,
        description=f"test-only: {description}",
        modes=("eager",),
        devices=("cpu",),
        install_hint="nothing to install (test-only)",
    )
