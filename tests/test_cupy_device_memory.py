"""CuPy's peak device memory, counted by a memory hook between a reset and a read: the
counting and the hook driven here the way CuPy's pool calls it, without CuPy or a GPU."""

from impls.cupy.device_memory import InUse


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


class _FakeHookBase:
    """cupy.cuda.MemoryHook's registration: entering adds the hook to the thread's hooks, leaving removes it."""

    hooks = {}

    def __enter__(self):
        assert self.name not in _FakeHookBase.hooks, "CuPy refuses a second hook of the same name"
        _FakeHookBase.hooks[self.name] = self
        return self

    def __exit__(self, *_):
        del _FakeHookBase.hooks[self.name]


def test_the_tracker_counts_only_between_start_and_stop():
    from impls.cupy.device_memory import Tracker

    _FakeHookBase.hooks.clear()
    tracker = Tracker(_FakeHookBase)
    assert _FakeHookBase.hooks == {}  # made at configure: not counting, nothing called on allocations
    assert tracker.start(in_use=1000) == 1000
    (hook,) = _FakeHookBase.hooks.values()
    hook.malloc_postprocess(device_id=0, size=4000, mem_size=4096, mem_ptr=0x10, pmem_id=1)
    hook.free_postprocess(device_id=0, mem_size=4096, mem_ptr=0x10, pmem_id=1)
    assert tracker.stop() == 5096 and _FakeHookBase.hooks == {}
    assert tracker.stop() == 5096  # a second read: still off, the same mark
    assert tracker.start(in_use=0) == 0 and len(_FakeHookBase.hooks) == 1  # on again, from the pool's count
    tracker.stop()


def test_the_hook_counts_the_pools_blocks_as_cupy_reports_them():
    from impls.cupy.device_memory import Tracker

    _FakeHookBase.hooks.clear()
    tracker = Tracker(_FakeHookBase)
    tracker.start(in_use=0)
    (hook,) = _FakeHookBase.hooks.values()
    assert hook.name.startswith("dlbench")
    # CuPy calls with keywords; mem_size is the block's rounded size, on malloc and on free alike
    hook.malloc_postprocess(device_id=0, size=100, mem_size=512, mem_ptr=0x1000, pmem_id=1)
    hook.malloc_postprocess(device_id=0, size=3000, mem_size=3072, mem_ptr=0x2000, pmem_id=2)
    hook.free_postprocess(device_id=0, mem_size=512, mem_ptr=0x1000, pmem_id=1)
    hook.malloc_postprocess(device_id=0, size=10, mem_size=512, mem_ptr=0, pmem_id=0)  # a failed malloc
    assert (tracker.counter.in_use, tracker.stop()) == (3072, 3584)
