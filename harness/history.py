"""Named baselines, kept per machine under the project's .dlbench/history/.

`dlbench run --save NAME` adds a finished run there and keeps the newest few (a stored
comparison needs several runs of the same code to measure the drift between runs);
`--compare NAME` and `dlbench compare NAME DIR` find them again. Keyed by the machine
fingerprint, so a CI job compares against the last good runs on the same machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timezone

from harness.environments import REPO_ROOT
from harness.errors import DlbenchError
from harness.results import MACHINE, RESULTS, read_machine, repair_torn

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class HistoryError(DlbenchError, ValueError):
    pass


def root():
    return os.environ.get("DLBENCH_HISTORY") or os.path.join(REPO_ROOT, ".dlbench", "history")


def check_name(name):
    if not NAME_RE.match(name):
        raise HistoryError(f"baseline name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    return name


KEEP = 5


def save(out_dir, name, keep=KEEP):
    """Add a results directory to baseline NAME for its machine, keeping the newest `keep`
    runs; returns the baseline's path."""
    check_name(name)
    machine = read_machine(out_dir) or {}
    machine_id = machine.get("machine_id") or "unknown-machine"
    dest = os.path.join(root(), machine_id, name)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    run_dir = os.path.join(dest, "runs", stamp)
    tmp = run_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    for f in (RESULTS, MACHINE):
        if os.path.exists(os.path.join(out_dir, f)):
            shutil.copy2(os.path.join(out_dir, f), tmp)
    repair_torn(tmp)  # a baseline keeps whole records only: no torn line to warn about at every compare
    meta = {
        "name": name,
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": os.path.abspath(out_dir),
        "git_commit": machine.get("git_commit"),
        "versions": {k: (v or {}).get("version") for k, v in (machine.get("frameworks") or {}).items()},
    }
    with open(os.path.join(tmp, "baseline.json"), "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, run_dir)
    for old in run_dirs(dest)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return dest


def run_dirs(path):
    """The runs of a saved baseline, oldest first; a plain results directory is one run."""
    runs = os.path.join(path, "runs")
    if os.path.isdir(runs):
        return [
            os.path.join(runs, d)
            for d in sorted(os.listdir(runs))
            if not d.endswith(".tmp") and os.path.isdir(os.path.join(runs, d))
        ]
    return [path]


def find(name, machine_id):
    """(path, warning): this machine's baseline NAME, else another machine's, loudly."""
    check_name(name)
    base = root()
    own = os.path.join(base, machine_id or "unknown-machine", name)
    if os.path.isdir(own):
        return own, None
    others = sorted(
        d for d in (os.listdir(base) if os.path.isdir(base) else []) if os.path.isdir(os.path.join(base, d, name))
    )
    if others:
        path = os.path.join(base, others[0], name)
        return path, (
            f"WARNING: no baseline {name!r} for this machine ({machine_id}); using the one saved on "
            f"machine {others[0]}: differences may be the hardware, not the code"
        )
    raise HistoryError(f"no saved baseline {name!r} (looked in {base}); save one with dlbench run --save {name}")


def resolve(arg, machine_id=None):
    """A compare argument, a results directory or the name of a saved baseline: (its run
    directories, a warning or None)."""
    if os.path.isdir(arg):
        return run_dirs(arg), None
    if NAME_RE.match(arg) and os.sep not in arg:
        path, warning = find(arg, machine_id)
        return run_dirs(path), warning
    raise HistoryError(f"{arg}: neither a results directory nor a saved baseline name")
