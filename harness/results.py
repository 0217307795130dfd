"""results.jsonl and machine.json: plain records, appended as cells finish.

Each line is one cell, self-contained: enough to rerun it and to compare it with
another. Appends are flushed and fsynced, so an interrupted run keeps every cell
it finished.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Optional

import records
from harness.errors import DlbenchError
from harness.outlock import OutLock

RESULTS = "results.jsonl"
MACHINE = "machine.json"


class ResultsError(DlbenchError, records.RecordError):
    """A results file that cannot be read: the message names the file and line (a
    records.RecordError, as the CLI's one-line DlbenchError)."""


def read_records(out_dir):
    return [rec for _, rec in numbered_records(out_dir)]


def numbered_records(out_dir):
    """(line number, record) pairs, so a later check can still name the line. Strict: a
    torn last line stops here like any corrupt line; read_results sets it aside instead."""
    contents = read_results(out_dir)
    if contents.torn:
        raise ResultsError(contents.torn.error)
    return contents.numbered


@dataclass(frozen=True)
class TornLine:
    """The last line of a results file, cut mid-write: no newline and not valid JSON.

    The writer writes `line + "\n"` in one go, so a crash or a full disk can leave only
    a prefix of the last record; every record before it is whole.
    """

    path: str
    number: int
    offset: int  # byte offset where the line starts: truncating there removes it
    error: str  # the message a strict reader stops with

    @property
    def warning(self):
        return f"WARNING: {self.path} line {self.number}: torn last line (cut mid-write), skipped"


@dataclass
class ResultsFile:
    """What a results.jsonl holds: its whole records, and a torn last line if there is one."""

    path: str
    numbered: list = field(default_factory=list)
    torn: Optional[TornLine] = None
    ends_with_newline: bool = True

    @property
    def records(self):
        return [rec for _, rec in self.numbered]


def read_results(out_dir):
    """Every record of OUT/results.jsonl, and a torn last line set aside.

    Any other corrupt line (not the last, or a complete last line that is not a
    record) raises ResultsError naming the file and line. Records come back checked and
    in the current format (records.read upgrades an older one).
    """
    path = os.path.join(out_dir, RESULTS)
    contents = ResultsFile(path)
    if not os.path.exists(path):
        return contents
    with open(path, "rb") as f:
        data = f.read()
    contents.ends_with_newline = not data or data.endswith(b"\n")
    offset = 0
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, 1):
        start, offset = offset, offset + len(raw) + 1
        line = raw.decode("utf-8", errors="replace")
        if not line.strip():
            continue
        try:
            rec = _parse(path, number, line)
        except _NotJSON as exc:
            if number == len(lines) and not contents.ends_with_newline:
                contents.torn = TornLine(path, number, start, str(exc))
                break
            raise
        contents.numbered.append((number, rec))
    return contents


class _NotJSON(ResultsError):
    """A line that does not parse at all: torn, if it is the last and has no newline."""


def _parse(path, number, line):
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _NotJSON(f"{path} line {number}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise _NotJSON(f"{path} line {number}: not valid JSON (nested too deeply)") from None
    try:
        return records.read(rec, f"{path} line {number}")
    except records.RecordError as exc:
        raise ResultsError(str(exc)) from None


def repair_torn(out_dir, contents=None):
    """Cut a torn last line off OUT/results.jsonl (and end a whole last line that lacks
    its newline), so appends start on a line of their own; returns the torn line or None.
    contents: the file as read_results just read it, to not read it twice."""
    contents = contents or read_results(out_dir)
    if contents.torn:
        with open(contents.path, "r+b") as f:
            f.truncate(contents.torn.offset)
            f.flush()
            os.fsync(f.fileno())
    elif not contents.ends_with_newline:
        with open(contents.path, "ab") as f:
            f.write(b"\n")
            f.flush()
            os.fsync(f.fileno())
    return contents.torn


class ResultsWriter:
    def __init__(self, out_dir):
        self.path = os.path.join(out_dir, RESULTS)

    def append(self, record):
        line = json.dumps(record, separators=(",", ":"), allow_nan=False, default=_plain)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())


def _plain(obj):
    """NumPy scalars and the like, should any reach a record."""
    for attr in ("item", "tolist"):
        if hasattr(obj, attr):
            return getattr(obj, attr)()
    raise TypeError(f"not JSON-serializable: {type(obj).__name__}")


def write_machine(out_dir, machine):
    path = os.path.join(out_dir, MACHINE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(machine, f, indent=1, default=_plain)
    os.replace(tmp, path)


def read_machine(out_dir):
    path = os.path.join(out_dir, MACHINE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            machine = json.load(f)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ResultsError(f"{path}: not valid JSON ({type(exc).__name__})") from None
    if not isinstance(machine, dict):
        raise ResultsError(
            f"{path} line 1: not a dlbench machine fingerprint (a JSON {type(machine).__name__}, not an object)"
        )
    return machine


def import_records(out_dir, records, machine, command):
    """Write converted records and their machine.json into a new results directory under its
    lock (a take-over of a stale lock is said on stderr). A directory that already holds
    results, or cannot be written, is an error, one line."""
    lock = OutLock(out_dir, command)
    try:
        os.makedirs(out_dir, exist_ok=True)
        taken_over = lock.acquire()
    except OSError as exc:
        raise ResultsError(f"{out_dir}: {exc}") from None
    try:
        if taken_over:
            print(taken_over, file=sys.stderr)
        try:
            existing = read_results(out_dir)
        except ResultsError as exc:
            raise ResultsError(f"{out_dir}: {exc}") from None
        if existing.numbered or existing.torn:
            raise ResultsError(f"{out_dir} already holds results; choose another --out")
        writer = ResultsWriter(out_dir)
        for rec in records:
            writer.append(rec)
        if machine is not None:  # a run that had no machine.json gets none
            write_machine(out_dir, machine)
    finally:
        lock.release()
