"""What a comparison side needs beyond its Python files, built as `make` builds it, cached by content.

A side is a fresh directory (harness.sides): it has none of what the project builds
outside Python, the dlib bridge (build/dlib) and each implementation's own environment
(.venv-NAME). Each is built with the side's own recipe (`python -m impls.dlib.build
--out DIR`, `scripts/make_env.sh NAME DIR`) into ${DLBENCH_CACHE:-~/.cache/dlbench}/builds,
keyed by a sha256 of the files that determine it, so an unchanged revision builds
nothing twice and both sides of `--base-rev HEAD` share one build. This checkout's own
build/dlib or .venv-NAME seeds the cache (a link, no rebuild) when its key is the same.
A build goes to a temporary folder, renamed into place when done, under a per-key
flock, so two comparisons never build one key at once and none sees a half-made one.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from typing import Optional

from harness import environments
from harness.processes import side_paths

# The files whose content determines each build (relative to a side's root).
BRIDGE_FILES = ("impls/dlib/bridge.cpp", "impls/dlib/build.py")
ENV_FILES = ("requirements.txt", "debian-packages.txt")  # in the implementation's folder
ENV_SCRIPT = "scripts/make_env.sh"


class BuildFailed(Exception):
    """One line: what failed, and its last line of output."""


@dataclass
class BuildResult:
    what: str  # "dlib bridge", "mxnet environment"
    path: Optional[str]  # the cached build, None when it failed
    cached: bool
    seconds: float
    error: Optional[str] = None


def cache_dir():
    base = os.environ.get("DLBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "dlbench")
    return os.path.join(base, "builds")


def _digest(files, extra=""):
    """sha256 over the files, given as {name: path} (a missing one counts as missing, not
    as empty), and `extra`."""
    h = hashlib.sha256(extra.encode())
    for name, path in sorted(files.items()):
        h.update(f"\0{name}\0".encode())
        try:
            with open(path, "rb") as f:
                h.update(f.read())
        except FileNotFoundError:
            h.update(b"\0missing")
    return h.hexdigest()[:32]


def ext_suffix(python):
    """The interpreter's extension-module suffix: a bridge built for one Python is not another's."""
    if os.path.realpath(python) == os.path.realpath(sys.executable):
        return sysconfig.get_config_var("EXT_SUFFIX")
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.stdout.strip()


def bridge_key(root, python):
    return "dlib-" + _digest({f: os.path.join(root, f) for f in BRIDGE_FILES}, ext_suffix(python))


def env_key(root, name):
    folder = impl_dir(root, name) or os.path.join(root, "impls", name)
    files = {f: os.path.join(folder, f) for f in ENV_FILES}
    files[ENV_SCRIPT] = os.path.join(root, ENV_SCRIPT)
    return f"env-{name}-" + _digest(files)


def _last_line(proc):
    lines = (proc.stderr or proc.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


# --- the builders: each makes `out` from a side's root, or raises BuildFailed ---------


def build_bridge(root, python, out):
    proc = subprocess.run(
        [python, "-m", "impls.dlib.build", "--out", out],
        cwd=root,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=root),
    )
    if proc.returncode != 0:
        raise BuildFailed(f"`python -m impls.dlib.build` failed: {_last_line(proc)}")


def build_env(root, name, out, python=None):
    script = os.path.join(root, "scripts", "make_env.sh")
    if not os.path.exists(script):
        raise BuildFailed("this revision has no scripts/make_env.sh")
    env = dict(os.environ, PYTHON=python or os.environ.get("PYTHON", "python3"))
    proc = subprocess.run([script, name, out], cwd=root, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise BuildFailed(f"`scripts/make_env.sh {name}` failed: {_last_line(proc)}")


# --- the cache ---------------------------------------------------------------------


def cached_build(key, make, seed=None, cache=None, valid=None):
    """(path, cached): the build under `key`, made by make(tmp_dir) if not there yet.

    seed: an existing build of the same key (this checkout's), linked instead of built.
    valid(path): whether a linked seed still holds that build (the checkout may have
    rebuilt it from other sources since); a stale link is dropped and the key rebuilt.
    """
    cache = cache or cache_dir()
    os.makedirs(cache, exist_ok=True)
    final = os.path.join(cache, key)
    with open(final + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another comparison building this key: wait for it
        if os.path.islink(final) and not (os.path.exists(final) and (valid is None or valid(final))):
            os.remove(final)
        if os.path.exists(final):
            return final, True
        if seed and os.path.isdir(seed):
            tmp_link = f"{final}.link-{os.getpid()}"
            os.symlink(os.path.realpath(seed), tmp_link)
            os.replace(tmp_link, final)
            return final, True
        tmp = tempfile.mkdtemp(prefix=f"{key}.tmp-", dir=cache)
        try:
            make(tmp)
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 would keep the build from other users of the cache
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final, False


def _bridge_holds(build_dir, root):
    """Whether build_dir holds a bridge compiled from the side's bridge.cpp (the digest the build records)."""
    from impls.dlib import bridge_path

    try:
        with open(bridge_path.digest_file(build_dir)) as f:
            digest = f.read().strip()
        with open(os.path.join(root, BRIDGE_FILES[0]), "rb") as f:
            wanted = hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return False
    return digest == wanted and os.path.exists(bridge_path.module_file(build_dir))


def _bridge_seed(root, key, python):
    """This checkout's build/dlib, where it holds the same bridge (same source, same build script)."""
    built = os.path.join(environments.REPO_ROOT, "build", "dlib")
    if _bridge_holds(built, root) and bridge_key(environments.REPO_ROOT, python) == key:
        return built
    return None


def _env_holds(name, key):
    """Whether this checkout's .venv-NAME is still the environment of `key`: its recipe is the
    same (an environment is not stamped with what it was built from; make rebuilds it when
    the recipe changes) and its interpreter is there."""
    d = environments.env_dir(name)
    return env_key(environments.REPO_ROOT, name) == key and os.access(os.path.join(d, "bin", "python"), os.X_OK)


def _env_link_holds(path, name, key):
    """A cached link to an environment: its interpreter is there and, when it is this
    checkout's own environment, this checkout's recipe is still that key's."""
    if not os.access(os.path.join(path, "bin", "python"), os.X_OK):
        return False
    if os.path.realpath(path) == os.path.realpath(environments.env_dir(name)):
        return _env_holds(name, key)
    return True


def _env_seed(name, key):
    return environments.env_dir(name) if _env_holds(name, key) else None


# Builders, replaceable (tests pass fakes instead of compiling or pip-installing).
BUILDERS = {"bridge": build_bridge, "env": build_env}


def impl_dir(root, name):
    """The implementation's package folder in a side's root (impls/NAME, or an extra folder
    inside the checkout, moved to the side the way harness.processes.side_paths moves it)."""
    extra = side_paths(os.environ.get("DLBENCH_EXTRA_IMPLS", ""), root)
    for folder in [os.path.join(root, "impls")] + [p for p in extra.split(os.pathsep) if p]:
        if os.path.isdir(os.path.join(folder, name)):
            return os.path.join(folder, name)
    return None


def needed(root, impl_names):
    """[(kind, impl)] the selected implementations need built in this side."""
    todo = []
    for name in impl_names:
        folder = impl_dir(root, name)
        if folder is None:
            continue
        if name == "dlib" and os.path.exists(os.path.join(folder, "bridge.cpp")):
            todo.append(("bridge", name))
        if os.path.exists(os.path.join(folder, "requirements.txt")):
            todo.append(("env", name))
    return todo


def build_side(side, impl_names, log=None):
    """Build (or find cached) what the side's selected implementations need, and point the
    side at it: build/dlib a link into the cache, side.envs_dir holding .venv-NAME links.

    Returns the BuildResults; a failed one also lands in side.unbuilt[impl] as the reason
    its cells are unsupported on this side.
    """
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    python = side.python or sys.executable
    results = []
    for kind, name in needed(side.repo_root, impl_names):
        t0 = time.perf_counter()
        if kind == "bridge":
            what, key = "dlib bridge", bridge_key(side.repo_root, python)
            seed = _bridge_seed(side.repo_root, key, python)
            make = lambda out: BUILDERS["bridge"](side.repo_root, python, out)  # noqa: E731
            valid = lambda path: _bridge_holds(path, side.repo_root)  # noqa: E731
        else:
            what, key = f"{name} environment", env_key(side.repo_root, name)
            seed = _env_seed(name, key)
            make = lambda out, n=name: BUILDERS["env"](side.repo_root, n, out)  # noqa: E731
            valid = lambda path, n=name, k=key: _env_link_holds(path, n, k)  # noqa: E731
        try:
            path, cached = cached_build(key, make, seed, valid=valid)
        except (BuildFailed, OSError, subprocess.SubprocessError) as exc:
            seconds = time.perf_counter() - t0
            side.unbuilt[name] = (
                f"the {side.label} side's {what} did not build ({exc}); fix that, then run the "
                f"comparison again: it retries the build (cache: {cache_dir()})"
            )
            results.append(BuildResult(what, None, False, seconds, str(exc)))
            log(f"{side.label} side: {what}: FAILED after {seconds:.1f} s: {exc}")
            continue
        if kind == "bridge":
            _link(path, os.path.join(side.repo_root, "build", "dlib"))
        else:
            side.envs_dir = side.envs_dir or os.path.join(side.repo_root, ".dlbench-envs")
            _link(path, os.path.join(side.envs_dir, f".venv-{name}"))
        seconds = time.perf_counter() - t0
        results.append(BuildResult(what, path, cached, seconds))
        log(f"{side.label} side: {what}: {'cached' if cached else 'built'} ({seconds:.1f} s)")
    return results


def _link(target, where):
    os.makedirs(os.path.dirname(where), exist_ok=True)
    if os.path.islink(where) or os.path.isfile(where):
        os.remove(where)
    elif os.path.isdir(where):
        shutil.rmtree(where)
    os.symlink(target, where)
