"""Saved baselines in the database: a name tags runs of a machine, and a comparison against
the name takes the machine's newest KEEP tagged runs (their spread is the drift between runs
that a stored comparison needs), read through harness.store.

.dlbench/history folders (harness.history's layout) import here with their names.
"""

from __future__ import annotations

import os

import sqlalchemy as sa

from harness import history
from harness.db import ingest
from harness.db.errors import DatabaseError
from harness.db.schema import baselines, runs


def tag(db, name, run_ids, machine):
    """Tag runs (already in the database) with baseline `name` on `machine`; how many were new."""
    now = ingest.utcnow()
    with db.write() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(baselines)).scalar()
        conn.execute(
            ingest.dialect_insert(conn, baselines).on_conflict_do_nothing(index_elements=["name", "run_id"]),
            [{"name": name, "run_id": r, "machine": machine, "saved_at": now} for r in run_ids],
        )
        return conn.execute(sa.select(sa.func.count()).select_from(baselines)).scalar() - before


def newest(db, name, machine, keep):
    """The run ids of baseline `name` on `machine`, the newest `keep`, oldest first."""
    with db.read() as conn:
        rows = conn.execute(
            sa.select(baselines.c.run_id)
            .join(runs, runs.c.run_id == baselines.c.run_id)
            .where(baselines.c.name == name, baselines.c.machine == machine)
            .order_by(runs.c.started.desc(), runs.c.run_id.desc())
            .limit(keep)
        ).all()
        if not rows:
            names = conn.execute(
                sa.select(baselines.c.machine).where(baselines.c.name == name).distinct().order_by(baselines.c.machine)
            ).all()
    if not rows:
        elsewhere = f" (it has one on: {', '.join(r.machine for r in names)})" if names else ""
        raise DatabaseError(
            f"no baseline {name!r} for machine {machine!r} in {db.where}{elsewhere}; "
            f"save one with dlbench run --save {name} --db ..."
        )
    return [r.run_id for r in reversed(rows)]


def history_runs(root):
    """[(baseline name, run folder)] of a .dlbench/history tree (machine/name/runs/stamp), the
    runs of each baseline as harness.history lists them."""
    found = []
    for machine_id in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if not os.path.isdir(os.path.join(root, machine_id)):
            continue  # harness.store's marker of the databases it went into
        for name in sorted(os.listdir(os.path.join(root, machine_id))):
            baseline = os.path.join(root, machine_id, name)
            if os.path.isdir(os.path.join(baseline, "runs")):
                found += [(name, run) for run in history.run_dirs(baseline)]
    return found
