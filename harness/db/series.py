"""A machine's history, read from the database for the dashboard: its runs in order, and per
cell one point per run (None where the run did not have the cell).

Runs are ordered by their start (then run id): on one machine that is the order the
commits were benchmarked in. Only the `current` side of a record counts (an interleaved
comparison's base side is another commit's measurement).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import sqlalchemy as sa

from harness.db.schema import cells, machines, runs
from records import key_fields

SERIES_KEY = key_fields()  # a cell's series runs across runs: the record's key, as compare's


@dataclass
class RunInfo:
    run_id: str
    git_commit: Optional[str]
    branch: Optional[str]
    started: object  # datetime or None
    machine: dict  # the run's machine.json ({} if it had none)


@dataclass
class Point:
    status: str
    median: Optional[float]
    ci_low: Optional[float]
    ci_high: Optional[float]
    reason: Optional[str]


@dataclass
class MachineHistory:
    name: str
    runs: list = field(default_factory=list)  # [RunInfo], oldest first
    series: dict = field(default_factory=dict)  # SERIES_KEY tuple -> [Point or None], one per run


def machine_names(db):
    with db.read() as conn:
        return [r.name for r in conn.execute(sa.select(machines.c.name).order_by(machines.c.name))]


def load(db, name):
    """The MachineHistory of machine `name`."""
    history = MachineHistory(name)
    with db.read() as conn:
        run_rows = conn.execute(
            sa.select(runs.c.run_id, runs.c.git_commit, runs.c.branch, runs.c.started, runs.c.machine_json)
            .where(runs.c.machine == name)
            .order_by(runs.c.started, runs.c.run_id)
        ).all()
        position = {}
        for i, r in enumerate(run_rows):
            position[r.run_id] = i
            history.runs.append(
                RunInfo(r.run_id, r.git_commit, r.branch, r.started, json.loads(r.machine_json or "{}"))
            )
        cell_rows = conn.execute(
            sa.select(cells.c.run_id, *(cells.c[k] for k in SERIES_KEY), cells.c.status, cells.c.median)
            .add_columns(cells.c.ci_low, cells.c.ci_high, cells.c.reason)
            .join(runs, runs.c.run_id == cells.c.run_id)
            .where(runs.c.machine == name, cells.c.side == "current")
        ).all()
    n = len(history.runs)
    for r in cell_rows:
        key = tuple(getattr(r, k) for k in SERIES_KEY)
        points = history.series.setdefault(key, [None] * n)
        points[position[r.run_id]] = Point(r.status, r.median, r.ci_low, r.ci_high, r.reason)
    history.series = dict(sorted(history.series.items(), key=lambda kv: tuple(str(v) for v in kv[0])))
    return history
