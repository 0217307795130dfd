"""What the user sees while a run goes: a live bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def status_text(record):
    """One line per finished cell: its time and rate, or its status and reason."""
    if record["status"] != "ok":
        return f"{record['status'].upper()}: {record['reason']}"
    task = record.get("task")
    if task:  # the task layer: time to the target, MLPerf's mean, and how many trials got there
        epochs = task["epochs_to_target"]
        return (
            f"{task['time_to_target_s']:.3g} s to {task['target']:.0%} {task['metric']} ({task['averaged']})  "
            f"{task['reached']}/{task['of']} trials reached it in "
            f"{min(epochs)}-{max(epochs)} epochs" + (f"  ({task['note']})" if task.get("note") else "")
        )
    unit = "GB/s" if record["memory_bound"] else ("GOP/s" if record["work_unit"] == "OP" else "GFLOP/s")
    rate = record["gbs"] if record["memory_bound"] else record["gflops"]
    rel = record.get("rel_iqr")
    spread = f"+-{(rel or 0) * 100:.1f}% IQR"
    if record.get("ci_low") is not None:
        spread = (
            f"[{record['ci_low'] * 1e3:.3g}-{record['ci_high'] * 1e3:.3g}] {record['ci_level']:.0%} "
            f"over {record['processes']} processes"
        )
    flags = [w for w in ("contended", "noisy") if record.get(w)]
    return (
        f"{record['median'] * 1e3:.3f} ms  {spread}  {rate:.2f} {unit}"
        f"  ({record['n_samples']} samples x {record['loops'][0]} calls)" + "".join(f"  {w}" for w in flags)
    )


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
            # redrawn only when a cell starts or ends: a bar ticking while a cell is timed
            # would be CPU of ours (and of the terminal's) beside the measurement
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
                auto_refresh=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=total, completed=already_done)

    def cell_started(self, cell, process=0, processes=1):
        if self._progress:
            what = cell.label() + (f" (process {process + 1}/{processes})" if processes > 1 else "")
            self._progress.update(self._task, description=what, refresh=True)

    def note(self, text):
        if self._progress:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    def cell_done(self, cell, record):
        line = f"{cell.label():<48} {status_text(record)}"
        if self._progress:
            self._progress.console.print(line, markup=False, highlight=False)
            self._progress.advance(self._task)
            self._progress.refresh()
        else:
            print(line, file=self.stream, flush=True)

    def stop(self):
        if self._progress:
            self._progress.stop()
        if self._started is not None:
            self.console.print(f"run finished in {time.perf_counter() - self._started:.1f} s", highlight=False)
