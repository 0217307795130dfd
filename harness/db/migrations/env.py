"""Alembic's entry point: harness.db.migrate hands over an open connection (inside its
transaction, which holds the write lock), so this only runs the scripts on it."""

from alembic import context

from harness.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
