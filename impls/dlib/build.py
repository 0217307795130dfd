"""Build the dlib bridge: `python -m impls.dlib.build [--variant debian|builtin] [--out DIR]`.

`make dlib` runs it. It installs what is missing through apt-get (Debian's libdlib-dev,
OpenBLAS, pybind11, a compiler; `apt-get update` only when something is missing, so a
repeated run costs nothing), then compiles bridge.cpp with -O3 -march=native into
build/dlib. Up to date (same source, same flags) means nothing is done.

The `builtin` variant compiles dlib itself from its source (the PyPI sdist of the same
version as Debian's) without DLIB_USE_BLAS, into build/dlib-builtin: dlib's own matrix
multiply, for the comparison against a BLAS (see benchmarks/dlib_blas.py).
Exit status 0 when built or up to date; 1 with one line saying what is missing and
the command that fixes it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time

from . import bridge_path
from .bridge_path import REPO_ROOT

FLAGS = ["-O3", "-march=native", "-std=c++14", "-shared", "-fPIC"]
APT_PACKAGES = ["g++", "pkg-config", "libdlib-dev", "libopenblas-dev", "libblas3", "pybind11-dev"]
# The sdist of the same dlib as Debian's libdlib-dev (19.24.0), for the builtin variant.
DLIB_SDIST = "dlib==19.24.0"
# The builtin variant: no BLAS, no image codecs, no GUI; asserts off as in Debian's build.
BUILTIN_DEFINES = ["-DDLIB_NO_GUI_SUPPORT", "-DDLIB_DISABLE_ASSERTS"]


class BuildError(Exception):
    """What is missing, and the command that fixes it: one line."""


def _log(msg):
    print(f"dlib build: {msg}", flush=True)


def _run(cmd, what, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise BuildError(f"{what} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return proc.stdout


def missing_packages():
    """Debian packages among APT_PACKAGES that are not installed (all of them without dpkg)."""
    if not shutil.which("dpkg-query"):
        return list(APT_PACKAGES)
    missing = []
    for pkg in APT_PACKAGES:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", pkg], capture_output=True, text=True)
        if proc.stdout.strip() != "installed":
            missing.append(pkg)
    return missing


def install_packages(missing):
    fix = f"apt-get update && apt-get install -y --no-install-recommends {' '.join(missing)}"
    if not shutil.which("apt-get"):
        raise BuildError(f"missing {', '.join(missing)} and no apt-get here; install them (on Debian: {fix})")
    if os.geteuid() != 0:
        raise BuildError(f"missing {', '.join(missing)}; as root run: {fix}")
    _log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt-get on the machine: wait, don't fail
    _run(["apt-get", *wait, "update", "-q"], "apt-get update", env=env)
    _run(["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", *missing], "apt-get install", env=env)


def python_includes():
    include = sysconfig.get_paths()["include"]
    if not os.path.exists(os.path.join(include, "Python.h")):
        raise BuildError(f"no Python.h in {include}: install the development headers of {sys.executable}")
    return [f"-I{include}"]


def dlib_flags():
    return _run(["pkg-config", "--cflags", "--libs", "dlib-1"], "pkg-config dlib-1").split()


def fetch_dlib_source(work):
    """dlib's C++ source from the PyPI sdist of Debian's version; returns its root folder."""
    _run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", DLIB_SDIST, "-d", work],
        f"pip download {DLIB_SDIST}",
    )
    archive = next(os.path.join(work, f) for f in os.listdir(work) if f.endswith(".tar.gz"))
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if "/dlib/" in m.name and (m.isfile() or m.isdir())]
        extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(work, members=members, **extra)  # only dlib's own C++ tree
    root = os.path.join(work, os.path.basename(archive)[: -len(".tar.gz")])
    if not os.path.exists(os.path.join(root, "dlib", "all", "source.cpp")):
        raise BuildError(f"{DLIB_SDIST} sdist has no dlib/all/source.cpp")
    return root


def compile_commands(variant, out_file, work):
    """The compiler invocations for one variant, to run in order (objects first)."""
    cxx = shutil.which("c++") or shutil.which("g++")
    if not cxx:
        raise BuildError("no C++ compiler; as root run: apt-get install -y g++")
    base = [cxx, *FLAGS, f'-DDLBENCH_BUILD_FLAGS="{" ".join(FLAGS[:2])}"', *python_includes()]
    if variant == "debian":
        return [base + [bridge_path.SOURCE, "-o", out_file, *dlib_flags()]]
    src = fetch_dlib_source(work)
    obj = os.path.join(work, "dlib_source.o")
    source_cmd = [
        cxx,
        *FLAGS[:3],
        "-fPIC",
        "-c",
        *BUILTIN_DEFINES,
        f"-I{src}",
        os.path.join(src, "dlib", "all", "source.cpp"),
        "-o",
        obj,
    ]
    bridge_cmd = base + BUILTIN_DEFINES + [f"-I{src}", bridge_path.SOURCE, obj, "-o", out_file, "-lpthread"]
    return [source_cmd, bridge_cmd]


def up_to_date(build_dir, variant):
    """Same source, same flags, same variant, and the module still there."""
    try:
        with open(bridge_path.digest_file(build_dir)) as f:
            digest = f.read().strip()
        with open(os.path.join(build_dir, "build-info.json")) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return False
    return (
        digest == bridge_path.source_digest()
        and info.get("flags") == FLAGS
        and info.get("variant") == variant
        and os.path.exists(bridge_path.module_file(build_dir))
    )


def build(variant="debian", build_dir=None, force=False):
    build_dir = build_dir or bridge_path.BUILD_DIRS[variant]
    if not force and up_to_date(build_dir, variant):
        _log(f"{os.path.relpath(bridge_path.module_file(build_dir), REPO_ROOT)} is up to date")
        return build_dir
    t0 = time.perf_counter()
    missing = missing_packages()
    if missing:
        install_packages(missing)
    install_s = time.perf_counter() - t0
    os.makedirs(build_dir, exist_ok=True)
    target = bridge_path.module_file(build_dir)
    with tempfile.TemporaryDirectory(prefix="dlib-build-", dir=build_dir) as work:
        tmp_out = os.path.join(work, os.path.basename(target))
        t1 = time.perf_counter()
        for cmd in compile_commands(variant, tmp_out, work):
            sources = [os.path.basename(a) for a in cmd if a.endswith(".cpp")]
            _log(f"compiling {' and '.join(sources)} ({variant})")
            _run(cmd, f"compiling {' and '.join(sources)}")
        compile_s = time.perf_counter() - t1
        os.replace(tmp_out, target)
    with open(bridge_path.digest_file(build_dir), "w") as f:
        f.write(bridge_path.source_digest() + "\n")
    info = {
        "variant": variant,
        "flags": FLAGS,
        "install_s": round(install_s, 1),
        "compile_s": round(compile_s, 1),
        "installed_packages": missing,
        "dlib_source": DLIB_SDIST if variant == "builtin" else "libdlib-dev",
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with open(os.path.join(build_dir, "build-info.json"), "w") as f:
        json.dump(info, f, indent=1)
    _log(
        f"built {os.path.relpath(target, REPO_ROOT)} in {compile_s:.0f} s"
        + (f" (+{install_s:.0f} s installing packages)" if missing else "")
    )
    return build_dir


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m impls.dlib.build", description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=sorted(bridge_path.BUILD_DIRS), default="debian")
    parser.add_argument("--out", default=None, help="build folder (default build/dlib or build/dlib-builtin)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    try:
        build(args.variant, args.out and os.path.abspath(args.out), args.force)
    except BuildError as exc:
        print(f"dlib build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
