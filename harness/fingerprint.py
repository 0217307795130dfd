"""The machine a run happened on, gathered once per run (pyperf's collect_metadata idea).

Framework versions and build facts come from each implementation's own worker
(`probe`), since some run under another interpreter; this module adds the machine.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import socket
import subprocess

import psutil

from harness import __version__, caches
from harness.environments import REPO_ROOT
from harness.processes import ALLOCATOR


def _cpu():
    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
    except Exception as exc:  # py-cpuinfo shells out; never fail a run over it
        return {"model": platform.processor() or "unknown", "error": str(exc)}
    return {
        "model": info.get("brand_raw") or "unknown",
        "arch": info.get("arch"),
        "hz_advertised": info.get("hz_advertised_friendly"),
        "l2_cache": info.get("l2_cache_size"),
        "l3_cache": info.get("l3_cache_size"),
        "flags": sorted(info.get("flags", [])),
    }


def _gpus():
    """NVIDIA GPUs through nvidia-smi, where there is one."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    query = "name,memory.total,driver_version,clocks.max.sm"
    try:
        out = subprocess.run(
            [smi, f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        name, mem, driver, clock = [p.strip() for p in line.split(",")]
        gpus.append({"name": name, "memory": mem, "driver": driver, "max_sm_clock": clock})
    return gpus


def git_commit(repo_root=REPO_ROOT):
    try:
        rev = subprocess.run(["git", "-C", repo_root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "-C", repo_root, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if rev.returncode != 0:
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def machine_id(cpu, cores, memory_bytes, gpus, hostname):
    """Same hardware and host -> same id: results keyed by it are comparable."""
    key = "|".join(
        [hostname, cpu.get("model", ""), str(cores), str(memory_bytes // (1 << 30)), ",".join(g["name"] for g in gpus)]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def collect(frameworks=None, repo_root=REPO_ROOT):
    cpu = _cpu()
    gpus = _gpus()
    hostname = socket.gethostname()
    mem = psutil.virtual_memory().total
    logical = os.cpu_count()
    physical = psutil.cpu_count(logical=False)
    return {
        "machine_id": machine_id(cpu, logical, mem, gpus, hostname),
        "hostname": hostname,
        "cpu": cpu,
        "cores_logical": logical,
        "cores_physical": physical,
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else logical,
        "memory_bytes": mem,
        "caches": caches.collect(cpu, physical),  # sizes the bandwidth probes and the report's levels follow
        "gpus": gpus,
        "os": platform.platform(),
        "python": platform.python_version(),
        "dlbench_version": __version__,
        "git_commit": git_commit(repo_root),
        "frameworks": frameworks or {},
        "env": {
            k: os.environ[k]
            for k in sorted(os.environ)
            if k.startswith(("OMP_", "MKL_", "OPENBLAS_", "KMP_", "TF_", "MXNET_", "CUDA_VISIBLE"))
        },
        # what every worker's glibc malloc is set to (harness.processes.ALLOCATOR)
        "allocator": dict(ALLOCATOR, library="glibc malloc"),
    }
