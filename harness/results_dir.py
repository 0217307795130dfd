"""The results directory held for one command: OUT created and locked (harness.outlock),
what it already holds read, the resume rules applied, a torn last line cut, and the
writer that appends records to it.

Held from construction to close(): the lock is taken before anything is written, so two
commands never append to one results.jsonl.
"""

from __future__ import annotations

import os

import records
from harness.errors import DlbenchError
from harness.outlock import DirectoryBusy, OutLock
from harness.results import ResultsWriter, read_results, repair_torn


class RunError(DlbenchError, RuntimeError):
    """A run that cannot start (bad output directory, foreign results): one line."""


class ResultsDir:
    def __init__(self, path, command, resume=False):
        self.path = path
        self.resume = resume
        self.notes = []  # one-line warnings for the command to print (a lock taken over, a torn line cut)
        self.lock = OutLock(path, command)
        self.done = self._claim()  # the keys of the cells it already holds
        self.writer = ResultsWriter(path)

    def _claim(self):
        """Create OUT and take its lock (which proves it writable), then check what it holds;
        the keys of its records."""
        try:
            os.makedirs(self.path, exist_ok=True)
            taken_over = self.lock.acquire()  # before anything is written; creating it proves we can write
        except DirectoryBusy as exc:
            raise RunError(str(exc)) from None
        except OSError as exc:
            raise RunError(f"cannot write to output directory {self.path}: {exc.strerror or exc}") from None
        try:
            self.notes += [taken_over] if taken_over else []
            contents = read_results(self.path)  # a corrupt line other than a torn last one stops here
            existing = contents.records
            journal = os.path.join(self.path, "rounds.jsonl")  # harness.rounds' journal of an interrupted run
            if not existing and not contents.torn and os.path.exists(journal) and not self.resume:
                raise RunError(
                    f"{self.path} holds the timed rounds of an interrupted run ({journal}); pass --resume "
                    f"to complete that run, or choose another --out"
                )
            if (existing or contents.torn) and not self.resume:
                raise RunError(
                    f"{self.path} already holds {len(existing)} results; pass --resume to complete "
                    f"that run, or choose another --out"
                )
            if self.resume and repair_torn(self.path, contents):
                self.notes.append(
                    f"{contents.torn.path} line {contents.torn.number}: torn last line (cut "
                    f"mid-write) removed; its cell runs again"
                )
        except BaseException:
            self.lock.release()
            raise
        return {records.key(r) for r in existing}

    def close(self):
        self.lock.release()
