"""The peak of device memory CuPy's arrays hold, for `peak_device_memory`.

CuPy's memory pool tells what is in use now and what it holds, not a high-water mark,
so a memory hook counts every block the pool hands out and takes back. A hook is a
Python call on every allocation, so it is on only between a reset and the next read:
the worker resets and reads around one untimed call after sampling (harness.worker
device_peak), never around the timed ones. The counting is plain Python (InUse) and
the hook a thin wrapper over it, so the tests drive both without CuPy or a GPU.
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


class Tracker:
    """An InUse fed by a memory hook (a subclass of `hook_class`, cupy.cuda.MemoryHook)
    while started. CuPy keeps hooks per thread: start and read from the thread that
    runs the cells."""

    def __init__(self, hook_class):
        counter = self.counter = InUse()

        class Hook(hook_class):
            name = "dlbench_peak_device_memory"

            # mem_size: the block's rounded size, the same on its malloc and its free
            def malloc_postprocess(self, mem_size=0, mem_ptr=0, **_):
                if mem_ptr:  # 0: the allocation failed
                    counter.allocated(mem_size)

            def free_postprocess(self, mem_size=0, **_):
                counter.freed(mem_size)

        self.hook, self.counting = Hook(), False

    def start(self, in_use: int) -> int:
        """Count from now on, the mark at `in_use` (the pool's bytes in use now)."""
        self.counter.reset(in_use)
        if not self.counting:
            self.hook.__enter__()
            self.counting = True
        return self.counter.peak

    def stop(self) -> int:
        """Stop counting; the most bytes in use since start()."""
        if self.counting:
            self.hook.__exit__(None, None, None)
            self.counting = False
        return self.counter.peak
