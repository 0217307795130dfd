"""Every scenario touches 64 MiB chunks in a loop until the parent's memory guard kills it.

A safety stop at 4 GiB keeps a broken guard from taking the machine down: the cell then
fails with its own error, which the test tells apart from the guard's.
"""

import numpy as np

from impls.reference import adapter as reference

probe = reference.probe
configure = reference.configure
device_unavailable = reference.device_unavailable
sync = reference.sync
peak_device_memory = reference.peak_device_memory

CHUNK = 64 << 20
SAFETY_STOP = 4 << 30


def hog(problem, phase, device, mode):
    print("allocating without bound", flush=True)
    chunks = []
    while len(chunks) * CHUNK < SAFETY_STOP:
        chunks.append(np.ones(CHUNK, dtype=np.uint8))  # written, so resident, not just reserved
    raise RuntimeError(f"hog reached its safety stop at {SAFETY_STOP >> 30} GiB: nothing stopped it")


conv = sigmoid = qgemm = classifier = gan = hog
