"""The tables, in SQLAlchemy Core: machines, runs, cells, and baselines (names tagging runs).

A run is one run_id of a results directory (a resumed directory holds several); a cell
is one record of it, its key and headline numbers in columns for queries, the whole
record beside them as JSON text (samples included), so an export gives it back as it
was. Times are UTC, stored without a zone.

SCHEMA_VERSION is the newest migration this code knows (migrations/versions/NNNN_*.py,
revision "NNNN"): a database at a higher one was written by a newer dlbench.
"""

from __future__ import annotations

import sqlalchemy as sa

from records import KEY_FIELDS, WHOLE

SCHEMA_VERSION = 4
# A cell row's identity within its run: the record's key (records.key), and its side
# (an interleaved comparison records each cell twice). uq_cell is run_id plus these.
CELL_COLUMNS = (*KEY_FIELDS, "side")

metadata = sa.MetaData()

machines = sa.Table(
    "machines",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),  # the user's name for it (--machine), else its hostname
    sa.Column("first_seen", sa.DateTime()),  # the earliest run's start
    sa.Column("last_seen", sa.DateTime()),  # the latest run's start: machine_id is that run's
    sa.Column("machine_id", sa.String()),  # the fingerprint's hash (hostname, CPU, cores, memory, GPUs)
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.String(), primary_key=True),
    sa.Column("machine", sa.String(), sa.ForeignKey("machines.name"), nullable=False, index=True),
    sa.Column("machine_id", sa.String()),
    sa.Column("git_commit", sa.String()),
    sa.Column("branch", sa.String()),
    sa.Column("started", sa.DateTime()),  # the earliest record's timestamp
    sa.Column("command", sa.String()),
    sa.Column("dlbench_version", sa.String()),
    sa.Column("machine_json", sa.Text()),  # the whole machine.json (fingerprint, peaks)
    sa.Column("ingested_at", sa.DateTime(), nullable=False),
)

cells = sa.Table(
    "cells",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),  # keeps the file's order
    sa.Column("run_id", sa.String(), sa.ForeignKey("runs.run_id"), nullable=False),
    *(sa.Column(c, sa.Integer() if c in WHOLE else sa.String(), nullable=False) for c in CELL_COLUMNS),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("reason", sa.Text()),
    sa.Column("median", sa.Float()),
    sa.Column("ci_low", sa.Float()),
    sa.Column("ci_high", sa.Float()),
    sa.Column("record", sa.Text(), nullable=False),  # the whole record, as results.jsonl held it
    sa.UniqueConstraint("run_id", *CELL_COLUMNS, name="uq_cell"),
)

baselines = sa.Table(
    "baselines",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),  # run --save NAME
    sa.Column("run_id", sa.String(), sa.ForeignKey("runs.run_id"), primary_key=True),
    sa.Column("machine", sa.String(), sa.ForeignKey("machines.name"), nullable=False),
    sa.Column("saved_at", sa.DateTime(), nullable=False),
    sa.Index("ix_baselines_machine_name", "machine", "name"),
)
