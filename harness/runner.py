"""The parent: runs each cell in fresh worker processes (harness.processes) and appends
one record per finished cell (harness.records).

A Runner is composed at construction (open_runner) of the pieces that hold the rest: the
results directory with its lock and writer (harness.results_dir), machine.json with the
framework facts (harness.machine_record), the ceilings (harness.ceilings) and the
schedule (harness.schedule). prepare() is the one sequence before the cells: the facts,
machine.json, the ceilings when asked.

It never times anything itself (the worker does) and the worker never aggregates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import impls
import scenarios
from harness import contention, environments
from harness.ceilings import Ceilings
from harness.machine_record import MachineRecord
from harness.processes import CellServer, Side, TurnServer, run_worker, start_worker, worker_env
from harness.records import build_record
from harness.results_dir import ResultsDir, RunError
from harness.schedule import schedule_for


@dataclass
class Options:
    threads: int
    processes: int = 1
    timeout: float = 900.0
    samples: int = 10
    min_samples: int = 3
    min_time: float = 0.05
    warmup_time: float = 0.2
    max_time: float = 20.0
    quiet_wait: float = 0.0  # seconds to wait for other processes to go quiet before each cell
    memory_limit: Optional[int] = None  # bytes of resident memory per worker (its process group); None: no limit
    lockstep: bool = True  # a cell's implementations time their samples in turns (harness.turns)
    precision: Optional[float] = None  # --precision: more rounds until every interval is this narrow
    budget: Optional[float] = None  # --budget: wall seconds the extra rounds may take, from the run's start
    max_rounds: int = 20  # rounds a cell may get in all under --precision
    task_runs: Optional[int] = None  # --task-runs: trials of a task cell (None: its size's `runs`)


class Runner:
    """results_dir: harness.results_dir.ResultsDir, held until close(); machine_record:
    harness.machine_record.MachineRecord; ceilings: harness.ceilings.Ceilings; schedule:
    harness.schedule.schedule_for(options); workdir: the workers' temporary folder, removed on close();
    listeners: called with each record once it is on disk (run --db's recorder)."""

    def __init__(
        self,
        results_dir,
        options,
        machine_record,
        ceilings,
        schedule,
        workdir,
        side=None,
        progress=None,
        listeners=(),
    ):
        self.results_dir = results_dir
        self.out_dir = results_dir.path
        self.options = options
        self.machine_record = machine_record
        self.ceilings = ceilings
        self.schedule = schedule
        self.side = side or Side()
        self.progress = progress
        self.listeners = list(listeners)
        self.run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.records = []
        self.work = {}  # cell key -> what the side's own checkout computes (harness.side_work)
        self.launch = None  # --across-machines: this rank's harness.launch.Launch
        self._workdir = workdir

    @property
    def facts(self):
        return self.machine_record.facts

    @property
    def machine(self):
        return self.machine_record.machine

    def prepare(self, impl_names, probe_with=None, probe_seconds=None, devices=None, keep_existing=False, hint=""):
        """Before the cells: the framework facts of impl_names, machine.json, then, with
        probe_with (the implementations that probe), the ceilings (harness.ceilings.probe);
        returns those ceilings, or None when not asked."""
        self.machine_record.framework_facts(impl_names)
        self.machine_record.write()
        if probe_with is None:
            return None
        return self.ceilings.probe(probe_with, probe_seconds, devices, keep_existing, hint)

    def read_side_work(self, cells):
        """For a side in another checkout (a --base-rev), what its own scenarios compute:
        a phase it lacks becomes unsupported, and its records carry its own work counts."""
        if os.path.realpath(self.side.repo_root) == os.path.realpath(environments.REPO_ROOT):
            return
        from harness.side_work import SideWorkError, side_work

        try:
            self.work.update(side_work(self.side.python or sys.executable, self.side.repo_root, cells))
        except (SideWorkError, OSError, subprocess.SubprocessError, ValueError) as exc:
            raise RunError(f"{self.side.label} side: {exc}") from None

    # --- running ----------------------------------------------------------------
    def precheck(self, cell):
        """Reasons known without starting a worker: no such mode or device, not installed,
        a phase this side's checkout does not have."""
        missing = self.work.get(cell.key(), {}).get("missing")
        if missing:
            return f"the {self.side.label} side's checkout: {missing}"
        manifest = impls.manifest(cell.impl)
        if cell.mode not in manifest.modes:
            return f"{cell.impl} has no {cell.mode} mode (modes: {', '.join(manifest.modes)})"
        if cell.device not in manifest.devices:
            return f"{cell.impl} does not run on {cell.device} (devices: {', '.join(manifest.devices)})"
        if cell.ranks > 1 and manifest.distributed is None:
            return f"{cell.impl} over {cell.ranks} ranks: {manifest.single_process}"
        scenario = scenarios.get(cell.scenario)
        uneven = scenario.unsplittable(scenario.params(cell.size, cell.ranks, cell.scaling))
        if uneven:
            return uneven
        facts = self.facts.get(cell.impl, {})
        if not facts.get("installed"):
            return facts.get("reason", f"{cell.impl} is not available")
        device_reason = facts.get("devices", {}).get(cell.device)
        return device_reason or None

    def run(self, cells):
        """Every cell not done yet, in the schedule chosen from the options; the records."""
        todo = [c for c in cells if c.key() not in self.results_dir.done]
        if self.progress:
            self.progress.start(len(cells), len(cells) - len(todo))
        try:
            self.schedule(self, todo)
        finally:
            if self.progress:
                self.progress.stop()
        return self.records

    def emit(self, cell, record):
        """A finished cell's record: on disk, to the listeners, on the screen."""
        self.results_dir.writer.append(record)
        self.records.append(record)
        for listener in self.listeners:
            listener(record)
        if self.progress:
            self.progress.cell_done(cell, record)

    def close(self):
        shutil.rmtree(self._workdir, ignore_errors=True)
        self.results_dir.close()

    def start_turn_server(self, cell):
        """A worker that serves this round's cells of cell's implementation and mode in turns."""
        python, _, env = self.worker_launch(cell, 0)
        return TurnServer(python, env, self._workdir, self.side.repo_root, self.options.memory_limit)

    def start_server(self, cell):
        python, _, env = self.worker_launch(cell, 0)
        return CellServer(python, env, self._workdir, self.side.repo_root, self.options.memory_limit)

    def run_process(self, cell, process):
        """One fresh worker process for one cell; its result, tagged with the process index."""
        python, spec, env = self.worker_launch(cell, process)
        res = run_worker(
            python, spec, env, self.options.timeout, self._workdir, self.side.repo_root, self.options.memory_limit
        )
        res["process"] = process
        return res

    def wait_for_quiet(self, cell, step=0.5):
        """With --quiet-wait S: wait up to S seconds for other processes to use less than the
        contention threshold, measured over `step`-second windows. Returns what happened, for
        the record, or None when not asked to wait."""
        limit = self.options.quiet_wait
        waited = contention.wait_quiet(limit, step)
        if waited and waited["gave_up"]:
            self.note(
                f"{cell.label()}: machine still busy after --quiet-wait {limit:g}s (other processes "
                f"use {waited['other_cpu']:.2f} cores); timing it anyway, the record says if it was contended"
            )
        return waited

    def note(self, text):
        if self.progress:
            self.progress.note(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def worker_launch(self, cell, process, **extra):
        """(interpreter, spec, environment) of one worker for this cell and side."""
        manifest = impls.manifest(cell.impl)
        python, _ = self.side.interpreter(manifest)
        spec = dict(
            cell.as_dict(),
            process=process,
            samples=self.options.samples,
            min_samples=self.options.min_samples,
            min_time=self.options.min_time,
            warmup_time=self.options.warmup_time,
            max_time=self.options.max_time,
            ref_cache=os.path.join(self.out_dir, ".reference-cache"),
            **extra,
        )
        return python, spec, worker_env(cell.threads, manifest, self.side.repo_root)

    def start_process(self, cell, process, pass_fds=(), **extra):
        """Start one worker without waiting for it (harness.lockstep drives it through pass_fds)."""
        python, spec, env = self.worker_launch(cell, process, **extra)
        return start_worker(
            python,
            spec,
            env,
            self._workdir,
            self.side.repo_root,
            pass_fds=pass_fds,
            memory_limit=self.options.memory_limit,
        )

    def make_record(self, cell, results, quiet_wait=None, **flow):
        """The cell's record (harness.records.build_record) as this runner's side and run;
        flow: interleaved=, lockstep= from harness.interleave; turns=, drift=, sentinel=,
        reached= from harness.rounds."""
        return build_record(
            cell,
            results,
            run_id=self.run_id,
            machine=self.machine,
            facts=self.facts.get(cell.impl),
            side=self.side.label,
            options=self.options,
            work=self.work.get(cell.key()),
            quiet_wait=quiet_wait,
            **flow,
        )


def open_runner(command, out, options, progress=None, resume=False, side=None, machine_name=None, listeners=()):
    """A Runner holding OUT's lock for `dlbench COMMAND`, its pieces made here; what the
    directory had to say (a lock taken over, a torn line cut) goes to stderr, one line each.
    machine_name: --machine, kept in machine.json; listeners: called with each record."""
    side = side or Side()
    results_dir = ResultsDir(out, f"dlbench {command}", resume)
    for note in results_dir.notes:
        print(note, file=sys.stderr)
    workdir = tempfile.mkdtemp(prefix="dlbench-")
    record = MachineRecord(out, options.threads, workdir, side, min(options.timeout, 300), machine_name)
    return Runner(
        results_dir,
        options,
        record,
        Ceilings(record),
        schedule_for(options),
        workdir,
        side=side,
        progress=progress,
        listeners=listeners,
    )
