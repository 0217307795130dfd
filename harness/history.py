"""Baselines kept as folders, per machine fingerprint, under .dlbench/history/: the layout
older dlbench versions saved them in, and where `dlbench run --save NAME` keeps a run
when the database cannot be written. harness.store imports such folders into the
database on first use (`dlbench db ingest --history` does it by hand); the database,
keyed by the machine's name, is where baselines live.
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
