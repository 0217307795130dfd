"""A throwaway PostgreSQL server for the tests: Debian's postgresql binaries, a cluster made
by initdb in a temporary folder, listening on a Unix socket only (no TCP port to collide
with), stopped and deleted afterwards.

The server refuses to run as root: as root, initdb and pg_ctl run as an unprivileged
system user (USER, created if missing), which owns the temporary folder. Each test gets
a database of its own (`new_database`), so tests share one server start (about a second)
but no tables.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile

USER = "dlbench-pg"
SUPERUSER = "postgres"
# a role that must give its password (scram), for the tests of a refused one; the rest trust the socket
SECRET_ROLE, SECRET_PASSWORD = "dlbench_secret", "right-password"
HBA = f"local all {SECRET_ROLE} scram-sha-256\nlocal all all trust\n"
FIX = "scripts/install_postgres.sh (Debian's postgresql package; `make postgres`)"


def bin_dir():
    """Where initdb and pg_ctl are: PATH, else Debian's /usr/lib/postgresql/N/bin (newest); None if absent."""
    found = shutil.which("initdb") and shutil.which("pg_ctl")
    if found:
        return os.path.dirname(shutil.which("pg_ctl"))
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0
    )
    dirs = [d for d in dirs if os.path.exists(os.path.join(d, "initdb"))]
    return dirs[-1] if dirs else None


def missing():
    """Why no server can start here, or None."""
    if bin_dir() is None:
        return "PostgreSQL's server (initdb, pg_ctl) is not installed"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed in .venv"
    return None


def _unprivileged_user():
    """The user the server runs as: this one, or USER (created) when this is root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            capture_output=True,
        )
    return USER


class Server:
    """One running cluster; `url(db)` is an SQLAlchemy URL of a database on it."""

    def __init__(self):
        self.user = _unprivileged_user()
        self.bin = bin_dir()
        # short: a Unix socket's path is limited to about 100 bytes
        self.root = tempfile.mkdtemp(prefix="dlbpg-")
        self.data = os.path.join(self.root, "data")
        self.socket_dir = self.root
        self._names = itertools.count()
        if self.user:
            os.chmod(self.root, 0o755)
            shutil.chown(self.root, self.user)
        self._pg("initdb", "-D", self.data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-sync")
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write(HBA)
        options = f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c max_connections=50"
        self._pg("pg_ctl", "start", "-w", "-D", self.data, "-l", os.path.join(self.root, "log"), "-o", options)
        self.admin(f"CREATE ROLE {SECRET_ROLE} LOGIN PASSWORD '{SECRET_PASSWORD}'")

    def _pg(self, program, *args):
        cmd = [os.path.join(self.bin, program), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if done.returncode != 0:
            log = os.path.join(self.root, "log")
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr.strip()}\n{tail}")

    def url(self, database, user=SUPERUSER, password=None):
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@/{database}?host={self.socket_dir}"

    def admin(self, sql):
        """One statement as the superuser, outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(f"dbname=postgres user={SUPERUSER} host={self.socket_dir}", autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self, owner=SUPERUSER):
        """The URL of a new, empty database on this server, `owner`'s (who may make tables in it)."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.admin(f'CREATE DATABASE "{name}" OWNER {owner}')
        return self.url(name)

    def stop(self):
        try:
            self._pg("pg_ctl", "stop", "-m", "immediate", "-w", "-D", self.data)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
