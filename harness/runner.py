"""The parent: asks implementations what they are (framework facts), runs each cell in
fresh worker processes (harness.processes), and appends one record per finished cell
(harness.records).

It never times anything itself (the worker does) and the worker never aggregates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

import impls
import records
from harness import contention, environments, fingerprint, machine_peaks, sentinel
from harness.errors import DlbenchError
from harness.outlock import DirectoryBusy, OutLock
from harness.processes import CellServer, Side, TurnServer, run_worker, start_worker, worker_env
from harness.records import build_record
from harness.results import ResultsWriter, read_machine, read_results, repair_torn, write_machine
from harness.rounds import run_rounds


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


class RunError(DlbenchError, RuntimeError):
    """A run that cannot start (bad output directory, foreign results): one line."""


def framework_facts(impl_names, threads, workdir=None, timeout=300, side=None):
    """Ask each implementation's own interpreter what it is: installed, version, devices
    (the worker's `probe` request, which calls the adapter's probe())."""
    workdir = workdir or tempfile.mkdtemp(prefix="dlbench-")
    side = side or Side()
    facts = {}
    for name in impl_names:
        manifest = impls.manifest(name)
        if name in side.unbuilt:
            facts[name] = {"installed": False, "reason": side.unbuilt[name]}
            continue
        python, reason = side.interpreter(manifest)
        if python is None:
            facts[name] = {"installed": False, "reason": reason}
            continue
        res = run_worker(
            python,
            {"impl": name, "probe": True},
            worker_env(threads, manifest, side.repo_root),
            timeout,
            workdir,
            side.repo_root,
        )
        if res.get("status") in ("error", "timeout"):
            # a broken environment (its worker cannot even start) is fixed by the same command
            res = {
                "installed": False,
                "reason": f"{name}'s worker failed under {python}: {res['reason']}; fix: {manifest.install_hint}",
                "python": python,
            }
        elif not res.get("installed") and not res.get("malformed"):  # malformed: its reason says what is wrong
            res["reason"] = f"{name} is not installed for {python} ({res.get('reason')}); fix: {manifest.install_hint}"
        facts[name] = res
    return facts


class Runner:
    def __init__(self, out_dir, options, progress=None, resume=False, side=None, command="dlbench run"):
        self.side = side or Side()
        self.out_dir = out_dir
        self.options = options
        self.progress = progress
        self.resume = resume
        self.run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.facts = {}  # impl -> framework_facts()
        self.machine = None
        self.records = []
        self.notes = []  # one-line warnings for the command to print (a lock taken over, a torn line cut)
        self.work = {}  # cell key -> what the side's own checkout computes (harness.side_work)
        self.lock = OutLock(out_dir, command)
        self._claim_out_dir()
        self.writer = ResultsWriter(out_dir)
        self.listeners = []  # called with each record once it is on disk (run --db's recorder)
        self.machine_name = None  # --machine: the name the user gives this machine, kept in machine.json
        self._workdir = tempfile.mkdtemp(prefix="dlbench-")

    def _claim_out_dir(self):
        """Create OUT and take its lock (which proves it writable), then check what it holds."""
        try:
            os.makedirs(self.out_dir, exist_ok=True)
            taken_over = self.lock.acquire()  # before anything is written; creating it proves we can write
        except DirectoryBusy as exc:
            raise RunError(str(exc)) from None
        except OSError as exc:
            raise RunError(f"cannot write to output directory {self.out_dir}: {exc.strerror or exc}") from None
        try:
            self.notes += [taken_over] if taken_over else []
            contents = read_results(self.out_dir)  # a corrupt line other than a torn last one stops here
            existing = contents.records
            journal = os.path.join(self.out_dir, "rounds.jsonl")  # harness.rounds' journal of an interrupted run
            if not existing and not contents.torn and os.path.exists(journal) and not self.resume:
                raise RunError(
                    f"{self.out_dir} holds the timed rounds of an interrupted run ({journal}); pass --resume "
                    f"to complete that run, or choose another --out"
                )
            if (existing or contents.torn) and not self.resume:
                raise RunError(
                    f"{self.out_dir} already holds {len(existing)} results; pass --resume to complete "
                    f"that run, or choose another --out"
                )
            if self.resume and repair_torn(self.out_dir, contents):
                self.notes.append(
                    f"{contents.torn.path} line {contents.torn.number}: torn last line (cut "
                    f"mid-write) removed; its cell runs again"
                )
        except BaseException:
            self.lock.release()
            raise
        self.done = {records.key(r) for r in existing}

    # --- what the frameworks and the machine are ----------------------------------
    def framework_facts(self, impl_names):
        """framework_facts() of the implementations not asked yet, kept in self.facts."""
        self.facts.update(
            framework_facts(
                [n for n in impl_names if n not in self.facts],
                self.options.threads,
                self._workdir,
                min(self.options.timeout, 300),
                self.side,
            )
        )
        return self.facts

    def write_machine(self):
        frameworks = {
            n: p.get("info") if p.get("installed") else {"installed": False, "reason": p.get("reason")}
            for n, p in self.facts.items()
        }
        machine = fingerprint.collect(frameworks, self.side.repo_root)
        old = read_machine(self.out_dir)
        if old and old.get("machine_id") != machine["machine_id"]:
            raise RunError(
                f"{self.out_dir} holds results from machine {old.get('machine_id')} "
                f"({old.get('hostname')}); resume it there, or choose another --out"
            )
        if old:  # resuming: keep what the first part recorded, add any newly probed framework
            old.setdefault("frameworks", {}).update(frameworks)
            old.setdefault("caches", machine.get("caches"))
            machine = old
        if self.machine_name:
            machine["machine_name"] = self.machine_name
        write_machine(self.out_dir, machine)
        self.machine = machine
        return machine

    def measure_ceilings(self, impl_names, seconds=None, devices=None, keep_existing=False, hint=""):
        """Measure the machine's ceilings (harness.machine_peaks) into machine.json; says on
        stderr what it measures (hint: how to skip it). devices: default every usable one.

        keep_existing: a resumed run keeps the ceilings its first part measured, so all
        its cells are compared against the same ones.
        """
        seconds = seconds or machine_peaks.DEFAULT_SECONDS
        self.framework_facts(impl_names)
        devices = devices or machine_peaks.usable_devices(impl_names, self.facts)
        print(
            f"measuring this machine's peaks on {', '.join(devices)} ({', '.join(impl_names)}){hint}", file=sys.stderr
        )
        have = self.machine.setdefault("peaks", {})
        todo = [
            d for d in devices if not (keep_existing and (have.get(d) or {}).get("threads") == self.options.threads)
        ]
        have.update(
            machine_peaks.measure_ceilings(
                todo, impl_names, self.facts, self.options.threads, seconds, self._workdir, self.side, self.machine
            )
        )
        write_machine(self.out_dir, self.machine)
        return {d: have[d] for d in devices if d in have}

    def recheck_ceilings(self, impl_names, devices, beaten):
        """After the cells: each device's ceilings probed again in new processes, minutes
        after the first probe, by the implementations that set them and those whose cells
        beat them (the best of both probes stays); a ceiling that validated cells still
        beat beyond their noise is then marked invalid for the run. beaten(out_dir):
        reports.ceiling_check.beaten, handed in (harness does not read reports)."""
        peaks = self.machine.get("peaks") or {}
        hits = beaten(self.out_dir)
        for device in devices:
            entry = peaks.get(device)
            if not isinstance(entry, dict) or not isinstance(entry.get("by_impl"), dict):
                continue
            setters = {b.get("impl") for b in (entry.get("best") or {}).values() if isinstance(b, dict)}
            beaters = {h["impl"] for found in hits.get(device, {}).values() for h in found}
            who = [n for n in impl_names if n in setters | beaters]
            if not who:
                continue
            why = "second probe, after the cells"
            if hits.get(device):
                why += f"; cells beat {', '.join(sorted(hits[device]))} beyond their noise"
            print(f"probing {device} peaks again ({', '.join(who)}): {why}", file=sys.stderr)
            machine_peaks.reprobe(
                entry, why, device, who, self.facts, self._workdir, self.side, min(self.options.timeout, 300)
            )
            write_machine(self.out_dir, self.machine)
        for device, metrics in beaten(self.out_dir).items():
            for metric, found in metrics.items():
                machine_peaks.invalidate(peaks[device], metric, found)
                print(
                    f"{device} {metric} ceiling invalid for this run: {peaks[device]['invalid'][metric]}",
                    file=sys.stderr,
                )
        write_machine(self.out_dir, self.machine)

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
        facts = self.facts.get(cell.impl, {})
        if not facts.get("installed"):
            return facts.get("reason", f"{cell.impl} is not available")
        device_reason = facts.get("devices", {}).get(cell.device)
        return device_reason or None

    def run(self, cells):
        """Every cell not done yet, grouped by implementation, device and mode: the group's
        processes run in rounds (round k: one worker runs process k of each of its cells),
        so a cell's processes are different processes minutes apart, and each worker
        imports its framework once for the whole round. A group's records are appended
        when its last round ends."""
        todo = [c for c in cells if c.key() not in self.done]
        if self.progress:
            self.progress.start(len(cells), len(cells) - len(todo))
        try:
            if self.options.lockstep:
                run_rounds(self, todo)
            else:
                for group in _groups(todo):
                    for cell, record in self.run_group(group):
                        self.emit(cell, record)
        finally:
            if self.progress:
                self.progress.stop()
        return self.records

    def emit(self, cell, record):
        """A finished cell's record: on disk, to the listeners, on the screen."""
        self.writer.append(record)
        self.records.append(record)
        for listener in self.listeners:
            listener(record)
        if self.progress:
            self.progress.cell_done(cell, record)

    def close(self):
        shutil.rmtree(self._workdir, ignore_errors=True)
        self.lock.release()

    def run_group(self, cells):
        """[(cell, record)] for cells of one implementation, device and mode."""
        results = {c: [] for c in cells}
        early = {c: reason for c in cells for reason in [self.precheck(c)] if reason}
        waited = {}
        for process in range(self.options.processes):
            # unsupported, invalid, error or timeout: repeating would say the same
            live = [c for c in cells if c not in early and all(r["status"] == "ok" for r in results[c])]
            server = None
            try:
                for cell in live:
                    if self.progress:
                        self.progress.cell_started(cell, process, self.options.processes)
                    waited[cell] = contention.combine_waits([waited.get(cell), self.wait_for_quiet(cell)])
                    if server is None or not server.alive:
                        server = self.start_server(cell)
                    loops = results[cell][0].get("loops") if results[cell] else None  # calibrated once
                    res = server.run(
                        self.worker_launch(cell, process, **({"loops": loops} if loops else {}))[1],
                        self.options.timeout,
                    )
                    res["process"] = process
                    results[cell].append(res)
            finally:
                if server is not None and server.alive:
                    server.close()
        return [
            (
                c,
                self.make_record(c, [{"status": "unsupported", "reason": early[c]}])
                if c in early
                else self.make_record(c, results[c], waited.get(c)),
            )
            for c in cells
        ]

    def start_turn_server(self, cell):
        """A worker that serves this round's cells of cell's implementation and mode in turns."""
        python, _, env = self.worker_launch(cell, 0)
        return TurnServer(python, env, self._workdir, self.side.repo_root, self.options.memory_limit)

    def measure_noise_floor(self, readings=40, gap=0.05):
        """`dlbench machine`: the drift sentinel read `readings` times, `gap` seconds apart,
        into machine.json's `noise_floor`; returns its summary (harness.sentinel)."""
        from harness.lockstep import shared_cpus

        cpus = shared_cpus(self.options.threads)
        start, points = time.monotonic(), []
        for _ in range(readings):
            points.append(dict(sentinel.measure(max(cpus) if cpus else None), t=round(time.monotonic() - start, 3)))
            time.sleep(gap)
        summary = sentinel.summarize(points)
        self.machine["noise_floor"] = summary
        write_machine(self.out_dir, self.machine)
        return summary

    def record_sentinel(self, summary):
        """The run's drift sentinel (harness.sentinel.summarize) into machine.json."""
        if summary and self.machine is not None:
            self.machine["sentinel"] = summary
            write_machine(self.out_dir, self.machine)

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


def open_runner(command, out, options, **kwargs):
    """A Runner holding OUT's lock for `dlbench COMMAND`; what it had to say (a lock taken
    over, a torn line cut) goes to stderr, one line each."""
    runner = Runner(out, options, command=f"dlbench {command}", **kwargs)
    for note in runner.notes:
        print(note, file=sys.stderr)
    return runner


def _groups(cells):
    """Cells grouped by (implementation, device, mode), groups and cells in plan order."""
    groups = {}
    for c in cells:
        groups.setdefault((c.impl, c.device, c.mode), []).append(c)
    return list(groups.values())
