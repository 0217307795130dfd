"""What `dlbench db ingest` can read besides a results directory: a .dlbench/history tree
(saved baselines, each run tagged with its name) and pytest-benchmark's saved runs (a
`.benchmarks` folder: one JSON file per run, nested per machine)."""

from __future__ import annotations

import glob
import hashlib
import os

from harness.db import baselines
from harness.db.ingest import Run, read_runs
from harness.results import MACHINE, RESULTS, ResultsError


def is_pytest_benchmark_folder(path):
    # machine.json alone marks a results directory too (one whose results.jsonl is missing:
    # read_runs says so, rather than "not a pytest-benchmark file")
    results_dir = any(os.path.exists(os.path.join(path, f)) for f in (RESULTS, MACHINE))
    return os.path.isdir(path) and not results_dir and bool(_json_files(path))


def _json_files(path):
    return sorted(glob.glob(os.path.join(path, "**", "*.json"), recursive=True))


def pytest_benchmark_runs(path, import_files):
    """[Run] of a folder of pytest-benchmark files, one per file, converted by `import_files`
    (reports.pytest_benchmark's, which the CLI passes: the harness does not import reports).
    A file's run id is a hash of its content, so ingesting the folder again adds nothing;
    its records keep the file's time and commit, and statistics alone where the file kept
    no raw data."""
    found = []
    for file in _json_files(path):
        with open(file, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        records, machine = import_files([file], summary_ok=True)
        run_id = f"pytest-benchmark-{digest}"
        commit = (machine or {}).get("git_commit")
        records = [dict(r, run_id=run_id, git_commit=r.get("git_commit") or commit) for r in records]
        if records:
            found.append(Run(run_id, file, machine, records))
    return found


def history_runs(root):
    """[(baseline name, Run)] of a .dlbench/history tree, every run read and checked."""
    if not os.path.isdir(root):
        raise ResultsError(f"{root}: no such history folder (dlbench run --save NAME makes one)")
    found = []
    for name, folder in baselines.history_runs(root):
        runs, _ = read_runs(folder)
        found += [(name, run) for run in runs]
    return found
