"""The record's format: its version, the fields a reader may count on, one check and one
upgrade.

SCHEMA_VERSION moves when the format does. Version 1 grew fields without moving (what
ADDED lists: older dlbench left them out), so every reader once guessed defaults on its
own; version 2 writes them all, and upgrade() gives a version-1 record the same defaults
in one place. Version 3 adds the ranks to the key (a version-2 record ran on one), version 4
the scaling (a version-3 record split no batch).
Fields a record has only in some runs (interleaved, lockstep, turns, sentinel,
traceback, imported_from, ...) stay optional.
"""

import copy
import math

from records.key import KEY_FIELDS, key_fields

SCHEMA_VERSION = 4
STATUSES = ("ok", "invalid", "unsupported", "error", "timeout")
WHOLE = ("threads", "ranks", "seed")  # the key fields that are whole numbers; the rest are text
TEXT = ("run_id", *key_fields(without=WHOLE), "side", "status")
REQUIRED = ("run_id", *KEY_FIELDS, "side", "status", "reason")

# What version-1 records of older dlbench lack, with what their absence meant.
ADDED = {
    "seed": 0,  # before --seed, every run drew seed 0
    "ranks": 1,  # before --ranks (schema 3), every cell ran in one process
    "scaling": "",  # before --scaling (schema 4), no cell split a batch over ranks
    "side": "current",  # before interleaved comparisons, every record was this checkout's
    "working_set_bytes": None,  # not known: no cache level is picked for its bandwidth
    "drift": False,  # before the drift sentinel, no record was flagged
    "drift_reason": "",
    "layout": [],  # the processes' env/heap pads were not recorded
    "process_medians": None,  # before process-level precision: no interval
    "ci_low": None,
    "ci_high": None,
    "ci_level": None,
    "noisy": None,
    "noisy_reason": None,
    "contended": False,  # before contention was watched, nothing was flagged
    "contention": None,
    "quiet_wait": None,
    "last_loss": None,
}


class RecordError(ValueError):
    """A record that is not one: the message, one line, names where it was (file and line)."""


def defaults():
    """A fresh copy of ADDED, for a writer that has nothing to say for those fields."""
    return copy.deepcopy(ADDED)


def upgrade(rec):
    """The record in the current format: an older one with ADDED's defaults for what it
    lacks, stamped SCHEMA_VERSION (a new dict); a current one as it is."""
    if rec.get("schema") == SCHEMA_VERSION:
        return rec
    return {**defaults(), **rec, "schema": SCHEMA_VERSION}


def read(rec, where):
    """A record as a file held it (any version this dlbench reads) -> checked and current.
    where: 'FILE line N', the start of the one-line RecordError."""
    _check_version(rec, where)
    rec = upgrade(rec)
    validate(rec, where)
    return rec


def _check_version(rec, where):
    if not isinstance(rec, dict) or "schema" not in rec:
        raise RecordError(f"{where}: not a dlbench record (no schema field)")
    version = rec["schema"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= SCHEMA_VERSION:
        raise RecordError(f"{where}: schema {version!r}, this dlbench reads 1 to {SCHEMA_VERSION}")


def validate(rec, where):
    """Raise RecordError unless rec is a whole current record: its cell, run and side,
    a known status, and for an ok cell the times and work that reports divide by."""
    _check_version(rec, where)
    if rec["schema"] != SCHEMA_VERSION:
        raise RecordError(f"{where}: schema {rec['schema']}, not upgraded to {SCHEMA_VERSION}")
    missing = [k for k in (*REQUIRED, *ADDED) if k not in rec]
    if missing:
        raise RecordError(f"{where}: not a complete dlbench record (missing {', '.join(dict.fromkeys(missing))})")
    for k in TEXT:
        if not isinstance(rec[k], str):
            raise RecordError(f"{where}: field {k!r} is {type(rec[k]).__name__}, not text")
    for k in WHOLE:
        if not isinstance(rec[k], int) or isinstance(rec[k], bool):
            raise RecordError(f"{where}: field {k!r} is {type(rec[k]).__name__}, not a whole number")
    if rec["status"] not in STATUSES:
        raise RecordError(f"{where}: unknown status {rec['status']!r} (known: {', '.join(STATUSES)})")
    if rec["status"] == "ok":
        _check_ok(rec, where)


def _check_ok(rec, where):
    median, samples = rec.get("median"), rec.get("samples")
    if not _number(median) or not median > 0 or not math.isfinite(median):
        raise RecordError(f"{where}: status ok without a positive median time")
    if not isinstance(samples, list) or not all(_number(v) for v in samples):
        raise RecordError(f"{where}: status ok without a list of sample times")
    for k in ("flops", "bytes"):  # None: work not known (an imported foreign benchmark): no rate
        if rec.get(k) is not None and not _number(rec[k]):
            raise RecordError(f"{where}: status ok with {k!r} not a number")


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)
