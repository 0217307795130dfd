"""The first schema: machines, runs, cells (harness.db.schema, version 1).

Revision ID: 0001
Revises: none
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "machines",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("first_seen", sa.DateTime()),
        sa.Column("last_seen", sa.DateTime()),
        sa.Column("machine_id", sa.String()),
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(), primary_key=True),
        sa.Column("machine", sa.String(), sa.ForeignKey("machines.name"), nullable=False),
        sa.Column("machine_id", sa.String()),
        sa.Column("git_commit", sa.String()),
        sa.Column("branch", sa.String()),
        sa.Column("started", sa.DateTime()),
        sa.Column("command", sa.String()),
        sa.Column("dlbench_version", sa.String()),
        sa.Column("machine_json", sa.Text()),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_runs_machine", "runs", ["machine"])
    op.create_table(
        "cells",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(), sa.ForeignKey("runs.run_id"), nullable=False),
        sa.Column("scenario", sa.String(), nullable=False),
        sa.Column("phase", sa.String(), nullable=False),
        sa.Column("size", sa.String(), nullable=False),
        sa.Column("impl", sa.String(), nullable=False),
        sa.Column("device", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("median", sa.Float()),
        sa.Column("ci_low", sa.Float()),
        sa.Column("ci_high", sa.Float()),
        sa.Column("record", sa.Text(), nullable=False),
        # a migration is history: these columns are frozen as 0001 made them, not derived
        # from records.KEY_FIELDS as harness/db/schema.py's are
        sa.UniqueConstraint(
            "run_id", "scenario", "phase", "size", "impl", "device", "mode", "threads", "seed", "side", name="uq_cell"
        ),
    )


def downgrade():
    op.drop_table("cells")
    op.drop_index("ix_runs_machine", "runs")
    op.drop_table("runs")
    op.drop_table("machines")
