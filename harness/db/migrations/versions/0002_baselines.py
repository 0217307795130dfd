"""Saved baselines as rows: a name tags runs of a machine (`run --save NAME --db`), and a
comparison against NAME takes the newest of them (harness.db.baselines).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "baselines",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("run_id", sa.String(), sa.ForeignKey("runs.run_id"), primary_key=True),
        sa.Column("machine", sa.String(), sa.ForeignKey("machines.name"), nullable=False),
        sa.Column("saved_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_baselines_machine_name", "baselines", ["machine", "name"])


def downgrade():
    op.drop_index("ix_baselines_machine_name", "baselines")
    op.drop_table("baselines")
