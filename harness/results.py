"""results.jsonl and machine.json: plain records, appended as cells finish.

Each line is one cell, self-contained: enough to rerun it and to compare it with
another. Appends are flushed and fsynced, so an interrupted run keeps every cell
it finished.
"""
from __future__ import annotations

import json
import os

from harness import SCHEMA_VERSION

RESULTS = "results.jsonl"
MACHINE = "machine.json"


class ResultsError(ValueError):
    """A results file that cannot be read: the message names the file and line."""


def read_records(out_dir):
    return [rec for _, rec in numbered_records(out_dir)]


def numbered_records(out_dir):
    """(line number, record) pairs, so a later check can still name the line."""
    path = os.path.join(out_dir, RESULTS)
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ResultsError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise ResultsError(f"{path} line {number}: not valid JSON (nested too deeply)") from None
            if not isinstance(rec, dict) or "schema" not in rec:
                raise ResultsError(f"{path} line {number}: not a dlbench record (no schema field)")
            if rec["schema"] != SCHEMA_VERSION:
                raise ResultsError(f"{path} line {number}: schema {rec['schema']!r}, this dlbench reads {SCHEMA_VERSION}")
            records.append((number, rec))
    return records


def record_key(rec):
    return (rec["scenario"], rec["phase"], rec["size"], rec["impl"], rec["device"], rec["mode"], rec["threads"],
            rec.get("seed", 0))


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
        raise ResultsError(f"{path} line 1: not a dlbench machine fingerprint (a JSON {type(machine).__name__}, "
                           f"not an object)")
    return machine
