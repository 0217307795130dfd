"""CuPy's peak device memory, counted by a memory hook: the counting and the hook driven
here the way CuPy's pool calls it, without CuPy or a GPU."""
from types import SimpleNamespace

from impls.cupy.device_memory import InUse, install


def test_in_use_counts_a_high_water_mark_and_resets_to_what_is_in_use():
    m = InUse()
    m.allocated(1024)
    m.allocated(512)
    m.freed(1024)
    assert (m.in_use, m.peak) == (512, 1536)
    m.allocated(256)
    assert (m.in_use, m.peak) == (768, 1536)  # below the mark: the mark stays
    m.reset()
    assert (m.in_use, m.peak) == (768, 768)  # from what is in use now, not from zero
    m.freed(768)
    m.allocated(512)
    assert (m.in_use, m.peak) == (512, 768)
    m.reset(in_use=4096)  # the pool's own count, when it says otherwise
    assert (m.in_use, m.peak) == (4096, 4096)


class _FakeMemoryHook:
    """cupy.cuda.MemoryHook's registration: __enter__ adds the hook to the thread's hooks."""

    entered = []

    def __enter__(self):
        _FakeMemoryHook.entered.append(self)
        return self


def test_hook_counts_the_pools_blocks_as_cupy_reports_them():
    _FakeMemoryHook.entered.clear()
    in_use = install(SimpleNamespace(cuda=SimpleNamespace(MemoryHook=_FakeMemoryHook)))
    (hook,) = _FakeMemoryHook.entered
    assert isinstance(hook, _FakeMemoryHook) and hook.name.startswith("dlbench")
    # CuPy calls with keywords; mem_size is the block's rounded size, on malloc and on free alike
    hook.malloc_postprocess(device_id=0, size=100, mem_size=512, mem_ptr=0x1000, pmem_id=1)
    hook.malloc_postprocess(device_id=0, size=3000, mem_size=3072, mem_ptr=0x2000, pmem_id=2)
    hook.free_postprocess(device_id=0, mem_size=512, mem_ptr=0x1000, pmem_id=1)
    hook.malloc_postprocess(device_id=0, size=10, mem_size=512, mem_ptr=0, pmem_id=0)  # a failed malloc
    assert (in_use.in_use, in_use.peak) == (3072, 3584)
    in_use.reset()  # the mark drops to what is in use: 3072, not the earlier 3584
    hook.free_postprocess(device_id=0, mem_size=3072, mem_ptr=0x2000, pmem_id=2)
    hook.malloc_postprocess(device_id=0, size=1000, mem_size=1024, mem_ptr=0x3000, pmem_id=3)
    assert (in_use.in_use, in_use.peak) == (1024, 3072)
