"""Named baselines, kept per machine under the project's .dlbench/history/.

`dlbench run --save NAME` copies a finished run there; `--compare NAME` and
`dlbench compare NAME DIR` find it again. Keyed by the machine fingerprint, so a CI
job compares against the last good run on the same machine.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timezone

from harness.environments import REPO_ROOT
from harness.results import MACHINE, RESULTS, read_machine

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class HistoryError(ValueError):
    pass


def root():
    return os.environ.get("DLBENCH_HISTORY") or os.path.join(REPO_ROOT, ".dlbench", "history")


def check_name(name):
    if not NAME_RE.match(name):
        raise HistoryError(f"baseline name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    return name


def save(out_dir, name):
    """Copy a results directory in as baseline NAME for its machine; returns the path."""
    check_name(name)
    machine = read_machine(out_dir) or {}
    machine_id = machine.get("machine_id") or "unknown-machine"
    dest = os.path.join(root(), machine_id, name)
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for f in (RESULTS, MACHINE):
        if os.path.exists(os.path.join(out_dir, f)):
            shutil.copy2(os.path.join(out_dir, f), tmp)
    meta = {"name": name, "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "source": os.path.abspath(out_dir), "git_commit": machine.get("git_commit"),
            "versions": {k: (v or {}).get("version") for k, v in (machine.get("frameworks") or {}).items()}}
    with open(os.path.join(tmp, "baseline.json"), "w") as f:
        json.dump(meta, f, indent=1)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def find(name, machine_id):
    """(path, warning): this machine's baseline NAME, else another machine's, loudly."""
    check_name(name)
    base = root()
    own = os.path.join(base, machine_id or "unknown-machine", name)
    if os.path.isdir(own):
        return own, None
    others = sorted(d for d in (os.listdir(base) if os.path.isdir(base) else [])
                    if os.path.isdir(os.path.join(base, d, name)))
    if others:
        path = os.path.join(base, others[0], name)
        return path, (f"WARNING: no baseline {name!r} for this machine ({machine_id}); using the one saved on "
                      f"machine {others[0]}: differences may be the hardware, not the code")
    raise HistoryError(f"no saved baseline {name!r} (looked in {base}); save one with dlbench run --save {name}")


def resolve(arg, machine_id=None):
    """A compare argument: a results directory, or the name of a saved baseline."""
    if os.path.isdir(arg):
        return arg, None
    if NAME_RE.match(arg) and os.sep not in arg:
        return find(arg, machine_id)
    raise HistoryError(f"{arg}: neither a results directory nor a saved baseline name")
