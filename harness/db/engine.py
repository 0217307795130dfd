"""Open the results database: a file path (SQLite) or a URL (sqlite:///..., postgresql://...),
migrated to this code's schema.

SQLite gets WAL (readers never wait for a writer) and a busy timeout: a second writer
waits for the first instead of failing, up to DLBENCH_DB_TIMEOUT seconds (default 60).
Every write transaction starts with BEGIN IMMEDIATE, taking the write lock first, so two
writers queue rather than both reading and then one failing on its write.
PostgreSQL (psycopg 3) gets the same wait as its lock_timeout; its writers use ON CONFLICT
(harness.db.ingest) where SQLite's take the write lock first.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from urllib.parse import unquote

import sqlalchemy as sa
from sqlalchemy import event, exc

from harness.db import migrate
from harness.db.errors import DatabaseError, DatabaseLocked, DatabaseMissing
from harness.db.settings import DEFAULT_TIMEOUT, TIMEOUT_ENV, default_db


def resolve_url(db):
    """(SQLAlchemy URL, its SQLite file or None): a plain path is an SQLite file."""
    db = db or default_db()
    if "://" not in db:
        path = os.path.abspath(os.path.expanduser(db))
        return sa.engine.make_url("sqlite://").set(database=path), path
    try:
        url = sa.engine.make_url(db)
    except (exc.ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        raise DatabaseError(f"{db}: not a database path or URL") from None
    backend = url.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(f"{url.render_as_string(hide_password=True)}: not SQLite or PostgreSQL")
    if backend == "postgresql" and url.get_driver_name() in ("", "psycopg2"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, the one dlbench installs
    path = url.database if backend == "sqlite" and url.database not in (None, "", ":memory:") else None
    return url, path


def _timeout():
    value = os.environ.get(TIMEOUT_ENV)
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1
    if not seconds >= 0:
        raise DatabaseError(f"{TIMEOUT_ENV}={value}: must be a number of seconds, 0 or more")
    return seconds


class Database:
    """An open database: `where` names it in messages (the file, or the URL without its password)."""

    def __init__(self, engine, where, timeout):
        self.engine, self.where, self.timeout = engine, where, timeout

    @contextmanager
    def write(self):
        """A connection in a write transaction, committed at the end, rolled back on error."""
        with self.errors(), self.engine.connect() as conn:
            conn.execution_options(dlbench_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self):
        with self.errors(), self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def errors(self):
        """The driver's errors as one line naming the database."""
        try:
            yield
        except exc.OperationalError as e:
            text = _first_line(e.orig)
            if "locked" in text or "busy" in text or "lock timeout" in text:
                raise DatabaseLocked(
                    f"{self.where}: locked by another writer for over {self.timeout:g} s; try again "
                    f"(the wait is {TIMEOUT_ENV}, seconds)"
                ) from None
            if self.engine.dialect.name == "postgresql" and getattr(e.orig, "sqlstate", None) is None:
                raise _connection_error(self.where, text) from None
            raise DatabaseError(f"{self.where}: {text}") from None
        except exc.DatabaseError as e:  # e.g. "file is not a database"
            raise DatabaseError(f"{self.where}: {_first_line(e.orig)}") from None

    def close(self):
        self.engine.dispose()


def _first_line(error):
    """A driver's message as one line (psycopg's run over several: the error, then DETAIL/HINT)."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _connection_error(where, text):
    """libpq's refusal to connect (psycopg gives it no SQLSTATE) as one line: the server's own
    FATAL reason where it answered (a database not there, a password refused), else that it
    was not reached and why."""
    reason = text.rsplit("failed: ", 1)[-1]
    if not reason.startswith("FATAL:"):
        return DatabaseError(f"{where}: server not reachable ({reason})")
    reason = reason.removeprefix("FATAL:").strip()
    if reason.startswith("database") and reason.endswith("does not exist"):
        return DatabaseMissing(f"{where}: {reason}; create it on the server (createdb)")
    return DatabaseError(f"{where}: {reason}")


def _postgresql_engine(url, timeout):
    # A writer waits for another's locks up to the timeout, as SQLite's busy timeout does;
    # an unreachable server fails after 10 s instead of the driver's default of forever.
    ms = max(1, int(timeout * 1000))  # 0 would mean "wait forever" to PostgreSQL
    return sa.create_engine(url, connect_args={"connect_timeout": 10, "options": f"-c lock_timeout={ms}"})


def _wal(cur, timeout):
    """WAL mode, which a database file keeps once set. Setting it takes an exclusive lock for
    which SQLite does not call its busy handler (a new file that another process is creating
    answers "database is locked" at once): retry until the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _sqlite_engine(url, timeout):
    engine = sa.create_engine(url, connect_args={"timeout": timeout})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below), DDL included
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        _wal(cur, timeout)
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("dlbench_write") else "BEGIN")

    return engine


def open_db(db=None, create=True):
    """The database at `db` (a path, an SQLAlchemy URL, or None: the default), migrated to
    head. create=False: a missing SQLite file is an error, not a new database."""
    url, path = resolve_url(db)
    where = path or unquote(url.render_as_string(hide_password=True))  # host=/a/socket/dir, not %2Fa%2F...
    if path and not os.path.exists(path):
        if not create:
            raise DatabaseMissing(f"no database at {path}; dlbench db ingest DIR creates it")
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError as e:
            raise DatabaseError(f"cannot create {path}: {e.strerror or e}") from None
    timeout = _timeout()
    try:
        make = _sqlite_engine if url.get_backend_name() == "sqlite" else _postgresql_engine
        engine = make(url, timeout)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as e:
        raise DatabaseError(f"{where}: cannot open ({e})") from None
    database = Database(engine, where, timeout)
    try:
        with database.write() as conn:
            migrate.upgrade(conn, where)
    except BaseException:
        database.close()
        raise
    return database
