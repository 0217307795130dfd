"""Test-only: the reference's work plus a configurable fraction more of the same work.

DLBENCH_SLOWDOWN=0.1 (or 0.1 in fraction.txt) makes each call do 10% more of the same computation (not a
sleep, which would not compete for the cores). Used to measure what `dlbench compare`
detects.
"""

from impls.test_only import manifest

MANIFEST = manifest("slowdown", "reference work plus DLBENCH_SLOWDOWN more of the same")
