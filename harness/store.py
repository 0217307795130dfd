"""The one store: results directories, named baselines and the database behind one interface.

A results directory is a run as `dlbench run` wrote it; the database (a SQLite file outside
the work tree by default, PostgreSQL for a fleet: harness.db.settings) is the history. A
baseline is a name tagging runs of one machine, the machine named as the user names it
(--machine, DLBENCH_MACHINE, else the hostname), never by a fingerprint that changes with
every CI job. What `.dlbench/history` folders (the older, folder-kept baselines) hold is
imported into the database on first use.

    store = Store(db)                      # --db, or None for the default database
    store.save(out_dir, "main")            # the run in, tagged with the name
    store.runs()                           # every run: id, machine, commit, time, cells
    store.newest("main", machine, keep)    # the run ids a comparison against the name pools
    store.load(run_id)                     # (records, machine.json)
    store.side("main" or DIR, machine)     # a compare argument, read from wherever it lives
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from harness import history as folders
from harness.results import read_machine, read_results

IMPORTED = ".imported"  # in a history folder: the databases its baselines went into, one a line


class StoreError(folders.HistoryError):
    """A compare argument that is neither a results directory nor a baseline name: one line."""


@dataclass
class Side:
    """What one compare argument names: its records, each run's machine.json, and what to say."""

    records: list = field(default_factory=list)
    machines: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def load_dir(path):
    """One results directory as a Side (a torn last line is a warning); StoreError when it
    holds no results."""
    if not os.path.isdir(path):
        raise StoreError(f"{path}: no such results directory")
    contents = read_results(path)
    if not contents.records:
        raise StoreError(f"{path}: no results")
    return Side(contents.records, [read_machine(path)], [contents.torn.warning] if contents.torn else [])


def machine_of(out_dir, chosen=None):
    """The name a results directory's machine is kept under (harness.db.ingest.machine_name)."""
    from harness.db.ingest import machine_name

    return machine_name(read_machine(out_dir) if os.path.isdir(out_dir) else None, chosen)


class Store:
    def __init__(self, db=None):
        self.db_arg = db or None
        self._db = None

    # --- the database, opened once, with the folder history imported on first use ---
    def database(self, create=False):
        from harness.db import engine

        if self._db is None:
            self._db = engine.open_db(self.db_arg, create=create or self._history_waiting())
            self._import_history()
        return self._db

    def _history_waiting(self):
        from harness.db.baselines import history_runs

        root = folders.root()
        return os.path.isdir(root) and not os.path.exists(os.path.join(root, IMPORTED)) and bool(history_runs(root))

    def _import_history(self):
        """.dlbench/history's baselines into this database, once (a marker in the folder
        names each database they went into; ingest skips what is there anyway)."""
        from harness.db import baselines, ingest
        from harness.db.sources import history_runs

        root = folders.root()
        if not os.path.isdir(root):
            return
        marker = os.path.join(root, IMPORTED)
        if os.path.exists(marker):
            with open(marker) as f:
                if self._db.where in f.read().split("\n"):
                    return  # read no run of the folder again
        found = history_runs(root)
        if not found:
            return
        for name, run in found:
            ingest.ingest(self._db, run)
            baselines.tag(self._db, name, [run.run_id], ingest.machine_name(run.machine))
        with open(marker, "a") as f:
            f.write(self._db.where + "\n")

    @property
    def opened(self):
        return self._db is not None

    @property
    def where(self):
        from harness.db.settings import default_db, shown

        return self._db.where if self._db is not None else shown(self.db_arg or default_db())

    def close(self):
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- the interface ---
    def save(self, out_dir, name, machine=None):
        """The run of out_dir into the database (what it lacks of it) and tagged `name` for
        its machine; a line saying where."""
        from harness.db import baselines, ingest

        folders.check_name(name)
        runs, _ = ingest.read_runs(out_dir)
        db = self.database(create=True)
        names = set()
        for run in runs:
            ingest.ingest(db, run, machine)
            kept_as = ingest.machine_name(run.machine, machine)
            baselines.tag(db, name, [run.run_id], kept_as)
            names.add(kept_as)
        ids = ", ".join(r.run_id for r in runs)
        return f"run {ids} of machine {', '.join(sorted(names))} in {db.where}"

    def runs(self):
        from harness.db import listing

        return listing.list_runs(self.database())

    def newest(self, name, machine, keep=folders.KEEP):
        from harness.db import baselines
        from harness.db.errors import DatabaseMissing

        folders.check_name(name)
        try:
            db = self.database()
        except DatabaseMissing:
            raise StoreError(
                f"no saved baseline {name!r} (no database at {self.where} yet); save one with dlbench run --save {name}"
            ) from None
        return baselines.newest(db, name, machine, keep)

    def load(self, run_id):
        from harness.db import export

        return export.load_run(self.database(), run_id)

    def history(self, machine):
        """The machine's series (harness.db.series.MachineHistory): the noise a verdict must exceed."""
        from harness.db import series

        return series.load(self.database(), machine)

    def side(self, arg, machine, keep=folders.KEEP):
        """A compare argument as a Side: a results directory (or a baseline folder kept when
        the database could not be written: its runs/), else a baseline name, whose machine's
        newest `keep` runs are read from the database."""
        if os.path.isdir(arg):
            found = Side()
            for d in folders.run_dirs(arg):
                one = load_dir(d)
                found.records += one.records
                found.machines += one.machines
                found.warnings += one.warnings
            return found
        if not folders.NAME_RE.match(arg) or os.sep in arg:
            raise StoreError(f"{arg}: neither a results directory nor a saved baseline name")
        found = Side()
        for run_id in self.newest(arg, machine, keep):
            records, machine_json = self.load(run_id)
            found.records += records
            found.machines.append(machine_json)
        return found
