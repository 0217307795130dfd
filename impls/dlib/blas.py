"""Which BLAS serves dlib, chosen before the bridge loads, and what the fingerprint records.

Debian's libdlib is compiled with DLIB_USE_BLAS and linked against libblas.so.3, which
Debian's alternatives point at OpenBLAS once libopenblas-dev is installed (`make dlib`
does). DLBENCH_DLIB_BLAS picks another for a comparison:
  system     libblas.so.3 as the alternatives system has it (the default)
  openblas   OpenBLAS, whatever the alternatives say
  reference  the netlib reference BLAS (Debian's libblas3): unoptimized loops
  builtin    no BLAS at all: dlib compiled from source without DLIB_USE_BLAS, its own
             matrix multiply (`make dlib-builtin` builds it)
A library with the same soname loaded first is the one the dynamic linker gives dlib.
"""

from __future__ import annotations

import ctypes
import os
import sysconfig

VARIABLE = "DLBENCH_DLIB_BLAS"
_LIBDIR = os.path.join("/usr/lib", sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu")
PRELOAD = {
    "openblas": os.path.join(_LIBDIR, "openblas-pthread", "libblas.so.3"),
    "reference": os.path.join(_LIBDIR, "blas", "libblas.so.3"),
}
CHOICES = ("system", "openblas", "reference", "builtin")

# Set when this module chose OpenBLAS's kernels (see _pick_openblas_core).
_core_chosen = None


def choice():
    value = os.environ.get(VARIABLE, "system") or "system"
    if value not in CHOICES:
        raise ValueError(f"{VARIABLE}={value!r} is not one of {', '.join(CHOICES)}")
    return value


def build_name():
    """Which build of the bridge this choice loads (see bridge_path.BUILD_DIRS)."""
    return "builtin" if choice() == "builtin" else "debian"


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _pick_openblas_core():
    """OpenBLAS picks its kernels by CPU model; a model newer than the library (0.3.21 on
    Debian 12 does not know Sapphire/Emerald Rapids) falls back to SSE3 'Prescott' kernels,
    several times slower. Unless the user set OPENBLAS_CORETYPE, choose by the CPU's
    features, as newer OpenBLAS releases do."""
    global _core_chosen
    if os.environ.get("OPENBLAS_CORETYPE"):
        return
    flags = _cpu_flags()
    if {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= flags:
        core = "SkylakeX"
    elif {"avx2", "fma"} <= flags:
        core = "Haswell"
    else:
        return
    os.environ["OPENBLAS_CORETYPE"] = core  # read once, when libopenblas loads
    _core_chosen = core


def select_before_load():
    """Make the chosen BLAS the one dlib will get; returns the bridge build to load."""
    which = choice()
    if which in ("system", "openblas"):
        _pick_openblas_core()
    path = PRELOAD.get(which)
    if path:
        if not os.path.exists(path):
            raise ImportError(f"{VARIABLE}={which} needs {path}, which is not installed")
        ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
    return build_name()


def blas_facts(bridge):
    """The BLAS facts for the fingerprint: which library, which kernels, how chosen."""
    info = {"choice": choice(), "dlib_uses_blas": bridge.uses_blas}
    if not bridge.uses_blas:
        info["library"] = "none: dlib's own matrix multiply (compiled without DLIB_USE_BLAS)"
        return info
    info.update(bridge.blas_info())
    lib = info.get("library") or ""
    if "openblas_config" in info:
        info["kind"] = "OpenBLAS"
        if _core_chosen and "openblas_core" in info:
            info["openblas_core_source"] = f"OPENBLAS_CORETYPE={_core_chosen} set by the dlib adapter from CPU flags"
    elif os.path.dirname(lib).endswith("/blas"):
        info["kind"] = "netlib reference BLAS"
    else:
        info["kind"] = f"unknown ({lib})"
    return info
