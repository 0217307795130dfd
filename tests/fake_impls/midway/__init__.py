"""An implementation that validates, then fails while its samples are being timed."""

from impls.test_only import manifest

MANIFEST = manifest("midway", "validates, then hangs (sigmoid forward) or crashes (sigmoid backward) mid-sampling")
