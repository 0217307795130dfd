"""A deliberately broken implementation, for testing how the harness contains failures."""

from impls.test_only import manifest

MANIFEST = manifest("faulty", "crashes, hangs, raises and computes wrong answers")
