"""Bring a database to the schema this code knows, through Alembic's API.

The scripts ship inside the package (migrations/), so this works from any working
directory and from an installed dlbench; no alembic.ini. The caller's connection is
already in a write transaction: two processes opening a new database migrate it once.
"""

from __future__ import annotations

import io
import os

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from harness.db.errors import DatabaseError, SchemaNewer
from harness.db.schema import SCHEMA_VERSION

MIGRATION_LOCK = 0x646C62656E6368  # "dlbench": the advisory lock a PostgreSQL migration holds
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def alembic_config(connection, stdout=None):
    """Alembic's configuration for our scripts, over an open connection (stdout: where its
    commands, e.g. `current`, print)."""
    cfg = Config(stdout=stdout or io.StringIO())
    cfg.set_main_option("script_location", SCRIPTS)
    cfg.attributes["connection"] = connection
    return cfg


def current_revision(connection):
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection, where):
    """Migrate to head; a database of a newer schema is refused, one line naming it."""
    cfg = alembic_config(connection)
    script = ScriptDirectory.from_config(cfg)
    if connection.dialect.name == "postgresql":
        # SQLite's BEGIN IMMEDIATE already serializes writers; PostgreSQL's two first opens
        # would both create the tables: one waits here until the other has committed.
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    current = current_revision(connection)
    if current == script.get_current_head():
        return
    if current is not None and current not in {s.revision for s in script.walk_revisions()}:
        if not current.isdigit():
            raise DatabaseError(f"{where}: not a dlbench database (schema revision {current!r})")
        raise SchemaNewer(
            f"{where}: schema version {int(current)} is newer than this dlbench's {SCHEMA_VERSION}: upgrade dlbench"
        )
    command.upgrade(cfg, "head")
