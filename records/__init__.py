"""dlbench's record: what one cell's line of results.jsonl is, defined once.

The cell's identity (records.key) and the record's format (records.record: its
version, its check, and the upgrade of older lines) are what the runner writes and
every reader, comparison, database and report matches on. Standard library only: a
worker process imports it, and it imports nothing of dlbench's.
"""

from records.key import KEY_FIELDS, PROBLEM, key, key_fields
from records.record import ADDED, SCHEMA_VERSION, STATUSES, WHOLE, RecordError, defaults, read, upgrade, validate

__all__ = [
    "ADDED",
    "KEY_FIELDS",
    "PROBLEM",
    "SCHEMA_VERSION",
    "STATUSES",
    "WHOLE",
    "RecordError",
    "defaults",
    "key",
    "key_fields",
    "read",
    "upgrade",
    "validate",
]
