"""Where the compiled bridge lives and how it is loaded (the adapter's only way in).

The build writes the extension and a digest of the source it came from; a bridge
compiled from another bridge.cpp is refused rather than run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))  # from impls/dlib/: impls stays below harness
MODULE = "_dlib_bridge"
SOURCE = os.path.join(HERE, "bridge.cpp")
# The default build, and the one dlib compiled from source without any BLAS (for comparison).
BUILD_DIRS = {
    "debian": os.path.join(REPO_ROOT, "build", "dlib"),
    "builtin": os.path.join(REPO_ROOT, "build", "dlib-builtin"),
}
MAKE_TARGETS = {"debian": "make dlib", "builtin": "make dlib-builtin"}


def module_file(build_dir):
    return os.path.join(build_dir, MODULE + sysconfig.get_config_var("EXT_SUFFIX"))


def digest_file(build_dir):
    return os.path.join(build_dir, MODULE + ".source-sha256")


def source_digest():
    with open(SOURCE, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def build_info(build_dir):
    """What the build recorded: variant, flags, install and compile seconds."""
    try:
        with open(os.path.join(build_dir, "build-info.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def import_bridge(variant, build_dir=None):
    build_dir = build_dir or BUILD_DIRS[variant]
    path = module_file(build_dir)
    if not os.path.exists(path):
        raise ImportError(
            f"the dlib bridge is not built ({os.path.relpath(path, REPO_ROOT)} is missing; "
            f"{MAKE_TARGETS[variant]} builds it)"
        )
    try:
        with open(digest_file(build_dir)) as f:
            built_from = f.read().strip()
    except OSError:
        built_from = None
    if built_from != source_digest():
        raise ImportError(
            f"{os.path.relpath(path, REPO_ROOT)} was compiled from another bridge.cpp; "
            f"{MAKE_TARGETS[variant]} rebuilds it"
        )
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
