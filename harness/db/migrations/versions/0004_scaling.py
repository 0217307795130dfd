"""The scaling joins a cell's key (records schema 4): a `scaling` column, '' (no batch
split over ranks) for every row written before, and the cell's unique constraint over it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# frozen as this migration made them (a migration is history, not derived from KEY_FIELDS)
OLD_KEY = ("run_id", "scenario", "phase", "size", "impl", "device", "mode", "threads", "ranks", "seed", "side")
NEW_KEY = (
    "run_id",
    "scenario",
    "phase",
    "size",
    "impl",
    "device",
    "mode",
    "threads",
    "ranks",
    "scaling",
    "seed",
    "side",
)


def upgrade():
    # batch mode: SQLite rebuilds the table (it cannot alter a constraint); PostgreSQL alters it
    with op.batch_alter_table("cells") as batch:
        batch.add_column(sa.Column("scaling", sa.String(), nullable=False, server_default=""))
        batch.drop_constraint("uq_cell", type_="unique")
        batch.create_unique_constraint("uq_cell", list(NEW_KEY))


def downgrade():
    with op.batch_alter_table("cells") as batch:
        batch.drop_constraint("uq_cell", type_="unique")
        batch.create_unique_constraint("uq_cell", list(OLD_KEY))
        batch.drop_column("scaling")
