"""The two sides of an interleaved comparison, made alike: same kind of place, same path length.

Where a side's files live is part of what it measures (Mytkowicz et al., ASPLOS 2009):
`--base-rev HEAD` from a temporary worktree against the user's checkout moved NumPy's
sigmoid by 3% with identical code. So neither side runs from the user's checkout: both
are git worktrees under one temporary parent, at parent/0 (base) and parent/1 (cur),
paths of equal length. A side with a revision is `git worktree add --detach` of it
(a worktree rather than `git archive`: `git rev-parse HEAD` inside it is the side's
commit, so fingerprint.git_commit records it unchanged, and git shares the objects); a
side without one is a worktree of HEAD with the user's working tree laid over it
(modified, deleted, staged and untracked-not-ignored files), so uncommitted changes
are measured and its commit reads `-dirty` when tracked files differ. Outside a git
checkout a side without revision is a plain copy of the source tree.

Then each side gets what `make` builds outside Python (harness.side_build).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from harness import side_build
from harness.environments import REPO_ROOT
from harness.errors import DlbenchError
from harness.processes import Side

PARENT_PREFIX = "dlbench-sides-"
SLOTS = {"base": "0", "cur": "1"}  # one character each: equal path lengths
# Not copied into a snapshot outside git: what the project builds or writes, not its source.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv*",
    "build",
    "out",
    "__pycache__",
    ".pytest_cache",
    "*.pyc",
    ".dlbench",
    ".reference-cache",
    "*.egg-info",
)


class SideError(DlbenchError, ValueError):
    pass


def _git(*args, check_what=None):
    res = subprocess.run(["git", "-C", REPO_ROOT, *args], capture_output=True, text=True)
    if check_what and res.returncode != 0:
        msg = (res.stderr.strip().splitlines() or ["git failed"])[-1]
        raise SideError(f"{check_what}: {msg}")
    return res


def in_git_checkout():
    return os.path.exists(os.path.join(REPO_ROOT, ".git"))


def _worktree(root, rev, what):
    _git("worktree", "add", "--detach", root, rev, check_what=what)


def _lay_over(root):
    """The user's working tree over a fresh worktree of HEAD: what differs from HEAD
    (staged or not, deleted included) and untracked files that are not ignored."""
    changed = _git("diff", "--name-only", "-z", "--no-renames", "HEAD", check_what="git diff").stdout
    untracked = _git("ls-files", "-o", "--exclude-standard", "-z", check_what="git ls-files").stdout
    for rel in [p for p in (changed + untracked).split("\0") if p]:
        src, dest = os.path.join(REPO_ROOT, rel), os.path.join(root, rel)
        if os.path.lexists(dest) and not os.path.isdir(dest):
            os.remove(dest)
        if not os.path.lexists(src):
            continue  # deleted in the working tree
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dest)
        elif os.path.isfile(src):
            shutil.copy2(src, dest)


def _fill(root, label, rev):
    """Materialize one side's files at root (which does not exist yet)."""
    if rev:
        if not in_git_checkout():
            raise SideError(f"--{label}-rev {rev}: {REPO_ROOT} is not a git checkout")
        _worktree(root, rev, f"--{label}-rev {rev}")
    elif in_git_checkout():
        _worktree(root, "HEAD", f"{label} side: snapshot of {REPO_ROOT}")
        _lay_over(root)
    else:
        shutil.copytree(REPO_ROOT, root, symlinks=True, ignore=_NOT_SOURCE)


def make_side(label, python=None, rev=None, impl_names=(), *, parent=None, slot="0", log=None):
    """A Side from --X-python and/or --X-rev, in a fresh directory parent/slot (a new
    temporary parent when none is given: every such path has the same length), with
    the builds impl_names need (harness.side_build; none when impl_names is empty)."""
    if python and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        raise SideError(f"--{label}-python {python}: not an executable file")
    own_parent = parent is None
    parent = parent or tempfile.mkdtemp(prefix=PARENT_PREFIX)
    root = os.path.join(parent, slot)
    try:
        _fill(root, label, rev)
        side = Side(label=label, python=python, repo_root=root, parent=parent if own_parent else None)
        side_build.build_side(side, impl_names, log)
    except BaseException:
        _remove(root, parent if own_parent else None)
        raise
    return side


def make_sides(base_rev=None, cur_rev=None, base_python=None, cur_python=None, impl_names=(), log=None):
    """(base, cur): both under one temporary parent, at paths of equal length, each with
    the builds its selected implementations need (a failed build: side.unbuilt)."""
    parent = tempfile.mkdtemp(prefix=PARENT_PREFIX)
    sides = []
    try:
        for label, python, rev in (("base", base_python, base_rev), ("cur", cur_python, cur_rev)):
            sides.append(make_side(label, python, rev, impl_names, parent=parent, slot=SLOTS[label], log=log))
    except BaseException:
        for side in sides:
            drop_side(side)
        shutil.rmtree(parent, ignore_errors=True)
        raise
    for side in sides:
        side.parent = parent
    return sides[0], sides[1]


def drop_side(side):
    """Remove the side's directory (and its worktree registration); the parent too once empty."""
    if os.path.realpath(side.repo_root) == os.path.realpath(REPO_ROOT):
        return
    _remove(side.repo_root, side.parent)


def _remove(root, parent=None):
    if os.path.exists(os.path.join(root, ".git")):
        _git("worktree", "remove", "--force", root)
    shutil.rmtree(root, ignore_errors=True)
    if in_git_checkout():
        _git("worktree", "prune")
    if parent:
        try:
            os.rmdir(parent)  # only once both sides are gone
        except OSError:
            pass
