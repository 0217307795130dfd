"""Comparison sides without layout bias (harness.sides), their cached builds
(harness.side_build), and the per-worker layout pads (harness.runner, harness.worker)."""

import os
import subprocess
import sys

import pytest

from cli.main import main
from harness import fingerprint, side_build, sides
from harness.environments import REPO_ROOT
from tests.conftest import FAST, dlbench, read_results

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]

ENVY_MANIFEST = """from impls.base import Manifest

MANIFEST = Manifest(name="envy", description="test-only: the reference, run in its own environment",
                    modes=("eager",), devices=("cpu",), environment="envy", install_hint="make env-envy")
"""
ENVY_ADAPTER = (
    "from impls.reference.adapter import configure, device_unavailable, peak_device_memory, probe, "
    "sigmoid, sync  # noqa: F401\n"
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("DLBENCH_CACHE", str(d))
    return d / "builds"


@pytest.fixture
def envy(tmp_path, monkeypatch):
    """A test implementation outside the checkout that needs its own environment."""
    import impls

    folder = tmp_path / "extra"
    (folder / "envy").mkdir(parents=True)
    (folder / "envy" / "__init__.py").write_text(ENVY_MANIFEST)
    (folder / "envy" / "adapter.py").write_text(ENVY_ADAPTER)
    (folder / "envy" / "requirements.txt").write_text("numpy\n")
    monkeypatch.setenv("DLBENCH_EXTRA_IMPLS", str(folder))
    impls.__path__.append(str(folder))
    yield folder / "envy"
    impls.__path__.remove(str(folder))


class Builders:
    """Fake builders: count calls, fail on demand; an environment is a bin/python that runs ours."""

    def __init__(self, fail=()):
        self.calls, self.fail = [], set(fail)

    def bridge(self, root, python, out):
        self.calls.append(("bridge", root))
        if "bridge" in self.fail:
            raise side_build.BuildFailed("`python -m impls.dlib.build` failed: no libdlib-dev here")

    def env(self, root, name, out):
        self.calls.append(("env", name))
        if "env" in self.fail:
            raise side_build.BuildFailed(f"`scripts/make_env.sh {name}` failed: pip could not resolve")
        os.makedirs(os.path.join(out, "bin"))
        python = os.path.join(out, "bin", "python")
        with open(python, "w") as f:
            f.write(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        os.chmod(python, 0o755)


def use(monkeypatch, builders):
    monkeypatch.setattr(side_build, "BUILDERS", {"bridge": builders.bridge, "env": builders.env})


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_sides_have_equal_length_paths_outside_the_checkout(cache):
    base, cur = sides.make_sides(base_python=sys.executable)
    try:
        assert len(base.repo_root) == len(cur.repo_root) and base.repo_root != cur.repo_root
        for s in (base, cur):
            assert os.path.realpath(s.repo_root) != os.path.realpath(REPO_ROOT)
            assert os.path.exists(os.path.join(s.repo_root, "harness", "worker.py"))
        assert fingerprint.git_commit(base.repo_root).split("-")[0] == fingerprint.git_commit(REPO_ROOT).split("-")[0]
    finally:
        for s in (base, cur):
            sides.drop_side(s)
    assert not os.path.exists(base.repo_root) and not os.path.exists(base.parent)
    # the older single-side entry point gives the same length too
    one = sides.make_side("cur")
    try:
        assert len(one.repo_root) == len(base.repo_root)
    finally:
        sides.drop_side(one)


def test_snapshot_has_uncommitted_and_untracked_files_but_not_ignored(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run([*GIT, "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "kept.py").write_text("old\n")
    (repo / "gone.py").write_text("x\n")
    (repo / ".gitignore").write_text("ignored.txt\n")
    run("add", ".")
    run("commit", "-qm", "first")
    (repo / "kept.py").write_text("edited\n")
    (repo / "gone.py").unlink()
    (repo / "new.py").write_text("untracked\n")
    (repo / "ignored.txt").write_text("secret\n")
    monkeypatch.setattr(sides, "REPO_ROOT", str(repo))
    side = sides.make_side("cur")
    try:
        root = side.repo_root
        assert open(os.path.join(root, "kept.py")).read() == "edited\n"
        assert open(os.path.join(root, "new.py")).read() == "untracked\n"
        assert not os.path.exists(os.path.join(root, "ignored.txt"))
        assert not os.path.exists(os.path.join(root, "gone.py"))
        assert fingerprint.git_commit(root).endswith("-dirty")
    finally:
        sides.drop_side(side)
    assert (
        subprocess.run([*GIT, "-C", str(repo), "worktree", "list"], capture_output=True, text=True).stdout.count("\n")
        == 1
    )  # the side's worktree is unregistered again


def test_a_rev_outside_git_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sides, "REPO_ROOT", str(tmp_path))
    with pytest.raises(sides.SideError, match="not a git checkout"):
        sides.make_side("base", rev="HEAD")


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_each_worker_gets_its_own_layout_pads(tmp_path):
    out = str(tmp_path / "run")
    assert dlbench(f"run --scenario sigmoid --impl reference --size tiny --processes 3 --out {out} --quiet", *FAST) == 0
    recs = read_results(out)
    pads = [p for r in recs for p in r["layout"]]
    assert len(pads) == 6 and all(r["status"] == "ok" and len(r["layout"]) == 3 for r in recs)
    assert all(0 <= p["env_pad"] <= 4095 and 0 <= p["heap_pad"] <= 65536 and p["heap_pad"] % 16 == 0 for p in pads)
    # the three processes of a cell are different workers with different pads
    assert len({p["env_pad"] for p in recs[0]["layout"]}) > 1
    assert len({p["heap_pad"] for p in recs[0]["layout"]}) > 1


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_the_cache_builds_each_content_once(cache, envy, monkeypatch):
    builders = Builders()
    use(monkeypatch, builders)
    base, cur = sides.make_sides(base_python=sys.executable, impl_names=["reference", "envy"])
    try:
        assert builders.calls == [("env", "envy")]  # built for base, cached for cur
        for s in (base, cur):
            python, reason = s.interpreter(__import__("impls").manifest("envy"))
            assert reason is None and python.startswith(s.envs_dir) and not s.unbuilt
        again = sides.make_sides(base_python=sys.executable, impl_names=["envy"])
        for s in again:
            sides.drop_side(s)
        assert builders.calls == [("env", "envy")]  # a second comparison of the same content builds nothing
        (envy / "requirements.txt").write_text("numpy\nscipy\n")  # other content, another key
        other = sides.make_side("cur", impl_names=["envy"], log=lambda line: None)  # the single-side entry point
        try:
            assert builders.calls == [("env", "envy")] * 2 and not other.unbuilt
            assert os.path.exists(os.path.join(other.envs_dir, ".venv-envy", "bin", "python"))
        finally:
            sides.drop_side(other)
        assert sorted(p for p in os.listdir(cache) if not p.endswith(".lock"))[0].startswith("env-envy-")
    finally:
        for s in (base, cur):
            sides.drop_side(s)


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_a_comparison_of_reference_builds_nothing(cache, monkeypatch):
    builders = Builders()
    use(monkeypatch, builders)
    base, cur = sides.make_sides(base_rev="HEAD", impl_names=["reference", "torch"])
    for s in (base, cur):
        sides.drop_side(s)
    assert builders.calls == [] and not os.path.exists(cache)


def test_a_built_side_is_linked_from_the_seed(cache, monkeypatch, tmp_path):
    """This checkout's own build of the same key is linked, not rebuilt."""
    seed = tmp_path / "seed"
    seed.mkdir()
    calls = []
    path, cached = side_build.cached_build("k1", calls.append, str(seed))
    assert cached and os.path.realpath(path) == str(seed) and calls == []
    path, cached = side_build.cached_build("k2", lambda out: calls.append(out))
    assert not cached and os.path.isdir(path) and len(calls) == 1 and not calls[0].endswith("k2")


def compare_envy(tmp_path, *extra):
    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            "--interleave",
            *extra,
            "--scenario",
            "sigmoid",
            "--size",
            "tiny",
            "--pairs",
            "1",
            "--out",
            str(out),
            *FAST,
        ]
    )
    return code, {side: read_results(str(out / side)) for side in ("base", "cur")}


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
@pytest.mark.parametrize("fail", [False, True])
def test_compare_over_a_rev_is_unsupported_only_when_the_build_fails(cache, envy, monkeypatch, tmp_path, capsys, fail):
    use(monkeypatch, Builders(fail={"env"} if fail else ()))
    code, recs = compare_envy(tmp_path, "--base-rev", "HEAD", "--impl", "envy")
    assert code == 0
    err = capsys.readouterr().err
    for side in ("base", "cur"):
        rec = recs[side][0]
        assert len(recs[side]) == 2  # forward and backward
        if fail:
            assert rec["status"] == "unsupported"
            # each side carries its own build's reason (both builds failed)
            assert f"the {side} side's envy environment did not build" in rec["reason"]
            assert "pip could not resolve" in rec["reason"] and "run the comparison again" in rec["reason"]
            assert f"{side} side: envy environment: FAILED" in err
        else:
            assert rec["status"] == "ok" and len(rec["layout"]) == 1, rec["reason"]
    if not fail:
        assert "base side: envy environment: built" in err and "cur side: envy environment: cached" in err


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_compare_of_dlib_whose_bridge_fails_to_build(cache, monkeypatch, tmp_path):
    builders = Builders(fail={"bridge"})
    use(monkeypatch, builders)
    monkeypatch.setattr(side_build, "_bridge_seed", lambda *a: None)  # not this checkout's own build/dlib
    code, recs = compare_envy(tmp_path, "--base-rev", "HEAD", "--impl", "dlib")
    assert code == 0 and [c[0] for c in builders.calls] == ["bridge", "bridge"]  # a failure is not cached
    for side in ("base", "cur"):
        rec = recs[side][0]
        assert len(recs[side]) == 2  # forward and backward
        assert rec["status"] == "unsupported" and f"the {side} side's dlib bridge did not build" in rec["reason"]
        assert "no libdlib-dev here" in rec["reason"]


def test_a_stale_seed_link_is_rebuilt(cache, tmp_path):
    """A seed linked into the cache that no longer holds the key's build is dropped, and the key built."""
    seed = tmp_path / "seed"
    seed.mkdir()
    calls = []
    side_build.cached_build("k", calls.append, str(seed))
    path, cached = side_build.cached_build("k", lambda out: calls.append(out), valid=lambda p: False)
    assert not cached and not os.path.islink(path) and len(calls) == 1
