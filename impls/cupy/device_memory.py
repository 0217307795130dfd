"""The peak of device memory CuPy's arrays hold, for `peak_device_memory`.

CuPy's memory pool tells what is in use now and what it holds, not a high-water mark,
so a memory hook counts every block the pool hands out and takes back. The counting
is plain Python (InUse) and the hook a thin wrapper over it, so the tests drive the
counting without CuPy or a GPU.
"""
from __future__ import annotations


class InUse:
    """Bytes in use and their highest value since the last reset."""

    def __init__(self, in_use: int = 0):
        self.in_use = self.peak = in_use

    def allocated(self, nbytes: int) -> None:
        self.in_use += nbytes
        if self.in_use > self.peak:
            self.peak = self.in_use

    def freed(self, nbytes: int) -> None:
        self.in_use -= nbytes

    def reset(self, in_use: int | None = None) -> None:
        """The mark starts again from what is in use now (`in_use`, when the pool says so)."""
        if in_use is not None:
            self.in_use = in_use
        self.peak = self.in_use


def install(cp) -> InUse:
    """Count the memory pool's blocks from now on: an InUse fed by a cupy.cuda.MemoryHook
    entered for good. Install before the first array (it starts from zero, and asks
    nothing of the device, which may be absent), from the thread that runs the cells:
    CuPy keeps hooks per thread."""
    counter = InUse()

    class Hook(cp.cuda.MemoryHook):
        name = "dlbench_peak_device_memory"

        # mem_size: the block's rounded size, the same on its malloc and its free
        def malloc_postprocess(self, mem_size=0, mem_ptr=0, **_):
            if mem_ptr:  # 0: the allocation failed
                counter.allocated(mem_size)

        def free_postprocess(self, mem_size=0, **_):
            counter.freed(mem_size)

    Hook().__enter__()
    return counter
