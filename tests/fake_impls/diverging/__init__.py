"""A training implementation that validates, then diverges while it is timed."""

from impls.test_only import manifest

MANIFEST = manifest("diverging", "the first (validated) training step is right, every later one leaves a NaN weight")
