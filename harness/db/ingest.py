"""Results directories into the database, one run per run_id, idempotent by run id.

A directory is read whole and checked before anything is written (harness.results reads
each record through records.read: a corrupt line stops with its one-line error, an older
record comes in upgraded; a torn last line is skipped with its warning, as `dlbench
report` does). A resumed directory holds several run_ids: each is a run, all
with the directory's machine.json.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Optional

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

import records
from harness.db.errors import DatabaseError
from harness.db.schema import CELL_COLUMNS, cells, machines, runs
from harness.results import RESULTS, ResultsError, read_machine, read_results


@dataclass
class Run:
    """One run_id of a results directory: its records in file order, and the directory's machine.json."""

    run_id: str
    source: str
    machine: Optional[dict]
    records: list = field(default_factory=list)


def read_runs(out_dir):
    """([Run], warnings) of one results directory, checked: a ResultsError names the file and line."""
    if not os.path.isdir(out_dir):
        raise ResultsError(f"{out_dir}: no such results directory")
    path = os.path.join(out_dir, RESULTS)
    if not os.path.exists(path):
        raise ResultsError(f"{out_dir}: no {RESULTS} here")
    try:
        contents = read_results(out_dir)
        machine = read_machine(out_dir)
    except OSError as exc:
        raise ResultsError(f"{out_dir}: cannot read ({exc.strerror or exc})") from None
    if not contents.numbered:
        raise ResultsError(f"{path}: empty, no results to ingest")
    found, seen = {}, set()
    for number, rec in contents.numbered:
        key = (rec["run_id"],) + cell_key(rec)
        if key in seen:
            raise ResultsError(f"{path} line {number}: a second record of the same cell in run {rec['run_id']}")
        seen.add(key)
        found.setdefault(rec["run_id"], Run(rec["run_id"], out_dir, machine)).records.append(rec)
    warnings = [contents.torn.warning] if contents.torn else []
    return list(found.values()), warnings


def cell_key(rec):
    """The columns that tell a run's cells apart (schema.CELL_COLUMNS), from a current record."""
    return records.key(rec, CELL_COLUMNS)


def machine_name(run_machine, chosen=None):
    """The name a run is kept under: the one given (--machine), else the one the run recorded
    (machine.json's machine_name, from `dlbench run --machine`), else its hostname."""
    machine = run_machine or {}
    return chosen or machine.get("machine_name") or machine.get("hostname") or machine.get("machine_id") or "unknown"


def ingest(db, run, chosen_name=None, now=None):
    """Write one run: the number of its cells that were not in the database yet (0: it was
    all there already, nothing written). A run recorded in part (`run --db` whose database
    went away mid-run) gets its missing cells.

    Safe beside other writers on either backend: rows go in with ON CONFLICT DO NOTHING, so
    of two processes ingesting the same run one writes it and the other, once the first
    commits, finds it there; a machine two runs share is added once the same way."""
    with db.write() as conn:
        add_run(conn, run, chosen_name, now)
        return add_cells(conn, run.run_id, run.records)


def add_run(conn, run, chosen_name=None, now=None):
    """The run's row (and its machine's), unless it is there already."""
    now = now or utcnow()
    machine = run.machine or {}
    name = machine_name(run.machine, chosen_name)
    started = min((t for t in (_time(r.get("timestamp")) for r in run.records) if t), default=None)
    first = run.records[0]
    if conn.execute(sa.select(runs.c.run_id).where(runs.c.run_id == run.run_id)).first():
        return
    _add_machine(conn, name, first.get("machine_id") or machine.get("machine_id"), started or now)
    conn.execute(
        dialect_insert(conn, runs)
        .values(
            run_id=run.run_id,
            machine=name,
            machine_id=first.get("machine_id") or machine.get("machine_id"),
            git_commit=first.get("git_commit") or machine.get("git_commit"),
            branch=machine.get("branch"),
            started=started,
            command=_command(run, machine),
            dlbench_version=first.get("dlbench_version") or machine.get("dlbench_version"),
            machine_json=json.dumps(run.machine) if run.machine is not None else None,
            ingested_at=now,
        )
        .on_conflict_do_nothing(index_elements=["run_id"])
    )


def add_cells(conn, run_id, records):
    """The records' cells that the run lacks; how many were added."""
    count = sa.select(sa.func.count()).select_from(cells).where(cells.c.run_id == run_id)
    before = conn.execute(count).scalar()
    conn.execute(
        dialect_insert(conn, cells).on_conflict_do_nothing(index_elements=["run_id", *CELL_COLUMNS]),
        [_cell_row(run_id, rec) for rec in records],
    )
    return conn.execute(count).scalar() - before


def dialect_insert(conn, table):
    """INSERT in the connection's dialect: both SQLite's and PostgreSQL's have ON CONFLICT."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(conn.dialect.name)
    if dialect is None:
        raise DatabaseError(f"{conn.dialect.name}: not a supported database (SQLite or PostgreSQL)")
    return dialect.insert(table)


def _add_machine(conn, name, machine_id, seen):
    """The machine's row, added if new, its first and last runs' times widened to `seen`; its id
    is its latest run's. One UPDATE computes all from the row as it is then (no read-then-write
    race between two writers)."""
    conn.execute(
        dialect_insert(conn, machines)
        .values(name=name, first_seen=seen, last_seen=seen, machine_id=machine_id)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    later = machines.c.last_seen <= seen
    conn.execute(
        machines.update()
        .where(machines.c.name == name)
        .values(
            first_seen=sa.case((machines.c.first_seen > seen, seen), else_=machines.c.first_seen),
            machine_id=sa.case((later, machine_id), else_=machines.c.machine_id),
            last_seen=sa.case((later, seen), else_=machines.c.last_seen),
        )
    )


def _cell_row(run_id, rec):
    row = dict(zip(CELL_COLUMNS, cell_key(rec)))
    row.update(
        run_id=run_id,
        status=rec["status"],
        reason=rec.get("reason") if isinstance(rec.get("reason"), str) else None,
        median=_number(rec.get("median")),
        ci_low=_number(rec.get("ci_low")),
        ci_high=_number(rec.get("ci_high")),
        record=json.dumps(rec, separators=(",", ":")),
    )
    return row


def _command(run, machine):
    """What made the run: machine.json's `command` where a run recorded it, else what its records show."""
    if machine.get("command"):
        return machine["command"]
    if any(r.get("interleaved") for r in run.records):
        return "dlbench compare --interleave"
    if any(r.get("imported_from") for r in run.records):  # reports.pytest_benchmark marks what it imports
        return "dlbench import"
    return "dlbench run"


def _number(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _time(text):
    """An ISO timestamp as naive UTC (how the tables keep times); None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo else t


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
