"""torch's task adapter with a planted bug: a learning rate 10% off the scenario's, for
testing that the task layer's first-epoch validation catches it before any trial is timed."""

from impls.test_only import manifest

MANIFEST = manifest("wronglr", "torch's digits training with its learning rate 10% too high")
