"""What the user sees while a run goes: a live bar on a terminal, plain lines elsewhere."""
from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def describe(record):
    """One line per finished cell: its time and rate, or its status and reason."""
    if record["status"] != "ok":
        return f"{record['status'].upper()}: {record['reason']}"
    unit = "GB/s" if record["memory_bound"] else ("GOP/s" if record["work_unit"] == "OP" else "GFLOP/s")
    rate = record["gbs"] if record["memory_bound"] else record["gflops"]
    rel = record.get("rel_iqr")
    return (f"{record['median'] * 1e3:.3f} ms  +-{(rel or 0) * 100:.1f}% IQR  {rate:.2f} {unit}"
            f"  ({record['n_samples']} samples x {record['loops'][0]} calls)")


class ProgressDisplay:
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.console = Console(file=self.stream)
        self.live = self.console.is_terminal
        self._progress = None
        self._started = None

    def start(self, total, already_done):
        self._started = time.perf_counter()
        if already_done:
            self.console.print(f"resuming: {already_done} of {total} cells already in the results")
        if self.live:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("", total=total, completed=already_done)

    def cell_started(self, cell):
        if self._progress:
            self._progress.update(self._task, description=cell.label())

    def cell_done(self, cell, record):
        line = f"{cell.label():<48} {describe(record)}"
        if self._progress:
            self._progress.console.print(line, markup=False, highlight=False)
            self._progress.advance(self._task)
        else:
            print(line, file=self.stream, flush=True)

    def stop(self):
        if self._progress:
            self._progress.stop()
        if self._started is not None:
            self.console.print(f"run finished in {time.perf_counter() - self._started:.1f} s", highlight=False)
