"""An implementation that allocates without bound, for testing memory containment."""

from impls.test_only import manifest

MANIFEST = manifest("hog", "every scenario allocates memory until the harness stops it")
