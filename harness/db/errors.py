"""The database's one-line errors (harness.errors.DlbenchError: exit 2 in the CLI)."""

from harness.errors import DlbenchError


class DatabaseError(DlbenchError):
    """A database that cannot be opened or used: the message names it."""


class DatabaseMissing(DatabaseError):
    pass


class SchemaNewer(DatabaseError):
    pass


class DatabaseLocked(DatabaseError):
    pass


class UnknownRun(DatabaseError):
    pass
