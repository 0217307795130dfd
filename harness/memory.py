"""Peak resident memory of this process during the timed part of a cell (Linux).

Writing "5" to /proc/self/clear_refs resets the kernel's high-water mark (VmHWM), so
the peak covers only what follows: the timed calls, not the imports or the reference.
Elsewhere it falls back to getrusage's lifetime peak.
"""

import resource
import sys


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Reset the high-water mark where the kernel allows it; returns current RSS in bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    kib = _status_kib("VmRSS")
    return kib * 1024 if kib is not None else None


def peak_rss():
    kib = _status_kib("VmHWM")
    if kib is not None:
        return kib * 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024
