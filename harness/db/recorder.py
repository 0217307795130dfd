"""`dlbench run --db`: each record goes into the database as it is written to results.jsonl.

The results directory stays the run's primary, crash-safe copy. A database that cannot be
written (missing, unreachable, locked past its timeout, of a newer schema) does not stop
the run: the recorder stops trying, the run finishes every cell, and the command ends with
one line naming the failure and the `dlbench db ingest` that adds the run later (ingest
adds whatever cells the database lacks, so a run recorded in part is completed).
"""

from __future__ import annotations

import shlex

from harness.db import engine, ingest
from harness.db.settings import shown
from harness.errors import DlbenchError
from harness.results import read_machine


class Recorder:
    def __init__(self, db, out_dir, machine_name=None):
        self.db_arg, self.out_dir, self.machine_name = db, out_dir, machine_name
        self.db = None
        self.failure = None  # the first error's line; nothing is tried after it
        self.written = 0
        self._runs = set()  # run ids whose row is written

    def add(self, record):
        if self.failure:
            return
        try:
            if self.db is None:
                self.db = engine.open_db(self.db_arg, create=True)
            run_id = record["run_id"]
            # machine.json is read once per run, for its row; a cell needs only the run id
            new = (
                None if run_id in self._runs else ingest.Run(run_id, self.out_dir, read_machine(self.out_dir), [record])
            )
            with self.db.write() as conn:
                if new:
                    ingest.add_run(conn, new, self.machine_name)
                self.written += ingest.add_cells(conn, run_id, [record])
            self._runs.add(run_id)
        except (DlbenchError, OSError) as exc:
            self.failure = str(exc)

    def close(self):
        if self.db is not None:
            self.db.close()

    def where(self):
        return self.db.where if self.db is not None else (shown(self.db_arg) or "the default database")

    def failure_line(self, baseline=None):
        """The one line for a failed recording: what failed, where the results are, how to add
        them. baseline: (name, folder) where run --save kept the run as a folder instead; its
        ingest (--history) adds the run with its name. A password in --db shows as ***: the user
        puts it back (or in PGPASSWORD) when running the command."""
        db = f" --db {shlex.quote(shown(self.db_arg))}" if self.db_arg else ""
        machine = f" --machine {self.machine_name}" if self.machine_name else ""
        where = f"the results are complete in {self.out_dir}"
        source = shlex.quote(self.out_dir)
        if baseline:
            where += f", baseline {baseline[0]!r} saved as the folder {baseline[1]}"
            source = "--history"
        return (
            f"the database write failed ({self.failure}); {where}; "
            f"add them later with: dlbench db ingest {source}{db}{machine}"
        )
