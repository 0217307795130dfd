"""What the user sets for the database: where it is (by default outside the work tree, so
a CI checkout's clean step does not delete it), how long a writer waits, and the machine
name runs are kept under. Imports nothing heavy: the parser uses it for --help."""

from __future__ import annotations

import os
import re

ENV = "DLBENCH_DB"
TIMEOUT_ENV = "DLBENCH_DB_TIMEOUT"
DEFAULT_TIMEOUT = 60.0
MACHINE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# scheme://user:PASSWORD@host...: the password runs to the last '@' before the host
_PASSWORD = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@]*:)[^/]*@")


def shown(db):
    """The database as every message, record and report may show it: a URL's password as ***."""
    return _PASSWORD.sub(lambda m: m.group("head") + "***@", db) if db else db


def default_db():
    """$DLBENCH_DB, else ${XDG_DATA_HOME:-~/.local/share}/dlbench/results.sqlite."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(data, "dlbench", "results.sqlite")


def check_machine_name(name):
    if not MACHINE_NAME_RE.match(name):
        raise ValueError(f"machine name {name!r} must be letters, digits, '.', '_' or '-' (at most 64)")
    return name
