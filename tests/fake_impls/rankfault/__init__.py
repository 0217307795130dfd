"""A data-parallel implementation that fails on one rank, for testing how the harness
contains a crashed, hung or wrong rank (DLBENCH_TEST_RANK_FAULT says which)."""

from dataclasses import replace

from impls.test_only import manifest

MANIFEST = replace(
    manifest("rankfault", "torch's gloo all-reduce, rank 1 crashes, hangs or sums wrong"),
    distributed="torch.distributed (gloo), with a fault planted on rank 1",
)
