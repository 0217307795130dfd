"""The ranks join a cell's key (records schema 3): a `ranks` column, 1 for every row
written before, and the cell's unique constraint over it.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# frozen as this migration made them (a migration is history, not derived from KEY_FIELDS)
OLD_KEY = ("run_id", "scenario", "phase", "size", "impl", "device", "mode", "threads", "seed", "side")
NEW_KEY = ("run_id", "scenario", "phase", "size", "impl", "device", "mode", "threads", "ranks", "seed", "side")


def upgrade():
    # batch mode: SQLite rebuilds the table (it cannot alter a constraint); PostgreSQL alters it
    with op.batch_alter_table("cells") as batch:
        batch.add_column(sa.Column("ranks", sa.Integer(), nullable=False, server_default="1"))
        batch.drop_constraint("uq_cell", type_="unique")
        batch.create_unique_constraint("uq_cell", list(NEW_KEY))


def downgrade():
    with op.batch_alter_table("cells") as batch:
        batch.drop_constraint("uq_cell", type_="unique")
        batch.create_unique_constraint("uq_cell", list(OLD_KEY))
        batch.drop_column("ranks")
