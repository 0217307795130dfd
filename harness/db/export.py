"""A run back out as a results directory (results.jsonl + machine.json) that `dlbench
report` and `dlbench compare` read: the records as they were ingested, in their order,
an older one upgraded to the current format (records.read)."""

from __future__ import annotations

import json

import sqlalchemy as sa

import records
from harness.db.errors import DatabaseError, UnknownRun
from harness.db.schema import cells, runs
from harness.results import import_records


def load_run(db, run_id):
    """(records, machine.json or None) of one run; an unknown run id is one line."""
    with db.read() as conn:
        run = conn.execute(sa.select(runs.c.machine_json).where(runs.c.run_id == run_id)).first()
        if run is None:
            raise UnknownRun(f"no run {run_id!r} in {db.where}; dlbench db runs lists them")
        rows = conn.execute(sa.select(cells.c.id, cells.c.record).where(cells.c.run_id == run_id).order_by(cells.c.id))
        try:
            found = [records.read(json.loads(r.record), f"{db.where}: run {run_id} cell {r.id}") for r in rows]
        except records.RecordError as exc:
            raise DatabaseError(str(exc)) from None
    return found, (json.loads(run.machine_json) if run.machine_json is not None else None)


def export_run(db, run_id, out_dir):
    """Write run_id into a new results directory; the number of records written."""
    found, machine = load_run(db, run_id)
    import_records(out_dir, found, machine, "dlbench db export")
    return len(found)
