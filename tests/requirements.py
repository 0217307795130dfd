"""The one way a test needs something optional: a framework, MXNet's environment, the
compiled dlib bridge, a browser.

Absent, the test FAILS, saying what is missing and the command that fixes it: a
framework that stops importing must not leave `make test` green. The only way to skip
is to say so: DLBENCH_TEST_WITHOUT=mxnet,chromium (a developer's machine without them)
skips the tests that need those, each skip giving that setting as its reason (-rs).

Use `@pytest.mark.requires("mxnet")` on a test (or `pytestmark = ...` on a module;
tests/conftest.py applies it before any fixture runs), or call require() directly.
"""

import importlib.util
import os

import pytest

import impls
from tests import postgres

WITHOUT = "DLBENCH_TEST_WITHOUT"


def manifest(impl):
    """An implementation's manifest: the one place the tests read it (modes, install hint)."""
    return impls.manifest(impl)


def _module(name):
    # find_spec, not import: importing TensorFlow would load it into the pytest process
    return None if importlib.util.find_spec(name) else f"{name} is not installed in .venv"


def _mxnet():
    from harness import environments

    return environments.interpreter(manifest("mxnet"))[1]


def bridge_module(build_dir=None):
    """The compiled bridge the adapter loads (DLBENCH_DLIB_BRIDGE_DIR moves it, as for the adapter)."""
    from impls.dlib import bridge_path

    return bridge_path.module_file(
        build_dir or os.environ.get("DLBENCH_DLIB_BRIDGE_DIR") or bridge_path.BUILD_DIRS["debian"]
    )


def _dlib():
    path = bridge_module()
    return None if os.path.exists(path) else f"the dlib bridge is not built ({path} is missing)"


def _chromium():
    from tests.browser import NAMES, find_chromium

    return None if find_chromium() else f"no browser on PATH (looked for {', '.join(NAMES)})"


def _postgres():
    return postgres.missing()


# name -> (what is missing, or None; the command that fixes it)
CHECKS = {
    "torch": (lambda: _module("torch"), lambda: manifest("torch").install_hint),
    "tensorflow": (lambda: _module("tensorflow"), lambda: manifest("tensorflow").install_hint),
    "mxnet": (_mxnet, lambda: manifest("mxnet").install_hint),
    "dlib": (_dlib, lambda: manifest("dlib").install_hint),
    "chromium": (_chromium, lambda: "make browser  (apt-get install chromium)"),
    "postgres": (_postgres, lambda: postgres.FIX),
}


# the lanes (pyproject.toml's markers) a test that runs an implementation is in besides `slow`
IMPL_LANES = {"mxnet": ("env",), "dlib": ("bridge",)}


def lane_marks(impl):
    return [getattr(pytest.mark, lane) for lane in IMPL_LANES.get(impl, ())]


def without():
    """The names DLBENCH_TEST_WITHOUT lists: tests needing them are skipped, whether present or not."""
    return {n.strip() for n in os.environ.get(WITHOUT, "").split(",") if n.strip()}


def skip_if_without(name):
    """Skip the test if DLBENCH_TEST_WITHOUT names `name`: the one way a test skips for something absent."""
    if name in without():
        pytest.skip(f"{WITHOUT}={os.environ[WITHOUT]}")


def absent(name, problem, fix):
    """`name` is missing (`problem`): skip if DLBENCH_TEST_WITHOUT lists it, else fail with the fix."""
    skip_if_without(name)
    pytest.fail(
        f"{problem}; fix: {fix}  (on a machine without {name}: {WITHOUT}={name} skips these tests)", pytrace=False
    )


def require(*names):
    """Every one of `names` present, or the test fails with the fix (or skips, if listed in DLBENCH_TEST_WITHOUT)."""
    for name in names:
        if name not in CHECKS:
            raise ValueError(f"requires({name!r}): not one of {', '.join(CHECKS)}")
        skip_if_without(name)
        check, fix = CHECKS[name]
        problem = check()
        if problem:
            absent(name, problem, fix())
