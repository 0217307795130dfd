"""The parent: probes implementations, runs each cell in fresh worker processes,
contains crashes and hangs, and appends one record per finished cell.

It never times anything itself (the worker does) and the worker never aggregates.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional
from datetime import datetime, timezone

import impls
import scenarios
from harness import SCHEMA_VERSION, __version__, contention, environments, fingerprint, memory_guard, stats
from harness.outlock import DirectoryBusy, OutLock
from harness.results import ResultsWriter, read_machine, read_results, record_key, repair_torn, write_machine

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


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


class RunError(RuntimeError):
    """A run that cannot start (bad output directory, foreign results): one line."""


def side_paths(paths, repo_root):
    """Extra implementation folders inside this checkout, moved to the same place in another
    (a --base-rev side): each revision's worker imports that revision's test implementations."""
    here = environments.REPO_ROOT + os.sep
    return os.pathsep.join(os.path.join(repo_root, p[len(here):]) if p.startswith(here) else p
                           for p in paths.split(os.pathsep))


def worker_env(threads, manifest, repo_root=environments.REPO_ROOT):
    """The worker's environment: the repository importable, every thread pool pinned.

    Set before the worker imports anything, since OpenMP and BLAS read them once.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (repo_root, env.get("PYTHONPATH")) if p)
    if env.get("DLBENCH_EXTRA_IMPLS") and repo_root != environments.REPO_ROOT:
        env["DLBENCH_EXTRA_IMPLS"] = side_paths(env["DLBENCH_EXTRA_IMPLS"], repo_root)
    # the manifest may name its framework's own thread variables (MXNet's engine, say)
    for var in THREAD_VARIABLES + manifest.thread_variables:
        env[var] = str(threads)
    env.update(manifest.worker_env)
    env["PYTHONUNBUFFERED"] = "1"
    env[LAYOUT_PAD_VARIABLE] = layout_pad()
    return env


# Memory layout bias (Mytkowicz et al., ASPLOS 2009): the size of the environment and
# the paths in it move the initial stack, and with it the alignment of everything the
# process places there; a whole comparison side can be +-3% from that alone. ASLR
# randomizes at page granularity only, so offsets within a page (cache sets, 4K
# aliasing) stay fixed for a given path and environment. A pad of random length, new
# for every worker, spreads that bias over the processes instead of fixing it per side;
# it works for a worker of any revision (the worker's own heap pad: harness.worker).
LAYOUT_PAD_VARIABLE = "DLBENCH_LAYOUT_PAD"
LAYOUT_PAD_MAX = 4095


def layout_pad():
    return "x" * (int.from_bytes(os.urandom(2), "little") % (LAYOUT_PAD_MAX + 1))


@dataclass
class WorkerHandle:
    """A started worker: its process, where its spec, result, stage and log live, and its memory guard."""
    proc: subprocess.Popen
    result_path: str
    log_path: str
    guard: memory_guard.MemoryGuard


def start_worker(python, spec, env, workdir, repo_root=environments.REPO_ROOT, pass_fds=(), memory_limit=None):
    tag = uuid.uuid4().hex[:8]
    spec_path = os.path.join(workdir, f"spec-{tag}.json")
    result_path = os.path.join(workdir, f"result-{tag}.json")
    log_path = os.path.join(workdir, f"log-{tag}.txt")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([python, "-m", "harness.worker", spec_path, result_path], cwd=repo_root, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, pass_fds=pass_fds,
                                start_new_session=True)  # its own process group: a kill takes its children too
    return WorkerHandle(proc, result_path, log_path, memory_guard.MemoryGuard(proc.pid, memory_limit))


def finish_worker(handle, timeout, killed_for=None):
    """Wait for a started worker and read its result; never raises for anything the worker did.

    killed_for: the worker was already killed by a conductor for that many seconds of silence.
    """
    timed_out = killed_for is not None
    try:
        returncode = memory_guard.wait(handle.proc, handle.guard, None if timed_out else timeout)
    except subprocess.TimeoutExpired:
        kill_worker(handle)
        returncode, timed_out, killed_for = None, True, timeout
    except BaseException:  # Ctrl-C: take the worker down with us
        kill_worker(handle)
        raise
    if timed_out:
        return _timed_out(killed_for, handle.result_path, handle.log_path)
    log = _read_text(handle.log_path)
    if handle.guard.reason(returncode, "") is None and os.path.exists(handle.result_path):
        with open(handle.result_path) as f:
            result = json.load(f)
    else:
        result = _ended(handle.guard, returncode, handle.result_path, log)
    if result.get("status") in ("error", "timeout") and log:
        result["log_tail"] = log[-2000:]
    return result


def _timed_out(seconds, result_path, log_path):
    stage = _read_text(result_path + ".stage")
    return {"status": "timeout", "reason": f"worker exceeded --timeout {seconds:g}s during {stage or 'start-up'}",
            "log_tail": _read_text(log_path)[-2000:]}


def _ended(guard, returncode, result_path, log):
    """The result of a worker that ended without one: out of memory (the guard's kill or
    the kernel's), or a crash."""
    stage = _read_text(result_path + ".stage")
    reason = guard.reason(returncode, stage) or _crash_reason(returncode, stage, log)
    return {"status": "error", "reason": reason, "log_tail": log[-2000:]}


def spawn(python, spec, env, timeout, workdir, repo_root=environments.REPO_ROOT, memory_limit=None):
    """Run one worker; returns its result dict, or an error/timeout result. Never raises
    for anything the worker does."""
    return finish_worker(start_worker(python, spec, env, workdir, repo_root, memory_limit=memory_limit), timeout)


class CellServer:
    """One worker process that runs cells on request, one after another (`worker --serve`).

    A round of an implementation's cells in one process pays for the framework's import
    once, not once per cell (TensorFlow's is 2-3 s here, more than most cells' timing).
    Each request is watched as a single worker is: its own timeout, the memory guard, a
    crash; after any of those (or an exception in the cell) the server is gone and the
    next request starts a new one.
    """

    def __init__(self, python, env, workdir, repo_root, memory_limit=None):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, f"log-{uuid.uuid4().hex[:8]}.txt")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([python, "-m", "harness.worker", "--serve"], cwd=repo_root, env=env,
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
                                         start_new_session=True)
        self.guard = memory_guard.MemoryGuard(self.proc.pid, memory_limit)
        self.alive = True

    def run(self, spec, timeout):
        """The cell's result dict; never raises for anything the worker does."""
        tag = uuid.uuid4().hex[:8]
        spec_path = os.path.join(self.workdir, f"spec-{tag}.json")
        result_path = os.path.join(self.workdir, f"result-{tag}.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        try:
            self.proc.stdin.write(f"{spec_path}\t{result_path}\n".encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died between requests: the wait below reads how
        try:
            code = memory_guard.wait(self.proc, self.guard, timeout, done=lambda: os.path.exists(result_path))
        except subprocess.TimeoutExpired:
            self.close(kill=True)
            return _timed_out(timeout, result_path, self.log_path)
        except BaseException:  # Ctrl-C: take the worker down with us
            self.close(kill=True)
            raise
        if code is not None:
            self.alive = False
            return _ended(self.guard, code, result_path, _read_text(self.log_path))
        with open(result_path) as f:
            result = json.load(f)
        if result.get("status") == "error":  # an exception may leave the framework unusable: start afresh
            result["log_tail"] = _read_text(self.log_path)[-2000:]
            self.close()
        return result

    def close(self, kill=False):
        """End the server: end of its input and a moment to exit, or a kill of its group."""
        self.alive = False
        if not kill:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
                return
            except (OSError, subprocess.TimeoutExpired):
                pass
        _kill_group(self.proc)


def kill_worker(handle):
    _kill_group(handle.proc)


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _crash_reason(returncode, stage, log):
    if returncode is not None and returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exited with status {returncode} without a result"
    last = next((ln.strip() for ln in reversed(log.splitlines()) if ln.strip()), "")
    return f"worker crashed ({how}) during {stage or 'start-up'}" + (f"; last output: {last[:300]}" if last else "")


@dataclass
class Side:
    """Where workers come from: which checkout, and which interpreter for the shared venv.

    The default is this checkout and the interpreter running dlbench; an interleaved
    comparison runs two sides (another venv, or another git revision's checkout).
    """
    label: str = "current"
    python: Optional[str] = None
    repo_root: str = environments.REPO_ROOT
    envs_dir: Optional[str] = None  # this side's .venv-NAME folder (harness.side_build); None: the global one
    unbuilt: dict = field(default_factory=dict)  # impl -> why its build failed on this side (its cells' reason)
    parent: Optional[str] = None  # the temporary folder holding this side's directory (harness.sides)

    def interpreter(self, manifest):
        if self.python and not manifest.environment:
            return self.python, None
        return environments.interpreter(manifest, self.envs_dir)


def probe_all(impl_names, threads, workdir=None, timeout=300, side=None):
    """Ask each implementation's own interpreter what it is: installed, version, devices."""
    workdir = workdir or tempfile.mkdtemp(prefix="dlbench-")
    side = side or Side()
    probes = {}
    for name in impl_names:
        manifest = impls.manifest(name)
        if name in side.unbuilt:
            probes[name] = {"installed": False, "reason": side.unbuilt[name]}
            continue
        python, reason = side.interpreter(manifest)
        if python is None:
            probes[name] = {"installed": False, "reason": reason}
            continue
        res = spawn(python, {"impl": name, "probe": True}, worker_env(threads, manifest, side.repo_root), timeout,
                    workdir, side.repo_root)
        if res.get("status") in ("error", "timeout"):
            # a broken environment (its worker cannot even start) is fixed by the same command
            res = {"installed": False, "reason": f"{name}'s worker failed under {python}: {res['reason']}; "
                                                 f"fix: {manifest.install_hint}", "python": python}
        elif not res.get("installed") and not res.get("malformed"):  # malformed: its reason says what is wrong
            res["reason"] = f"{name} is not installed for {python} ({res.get('reason')}); fix: {manifest.install_hint}"
        probes[name] = res
    return probes


class Runner:
    def __init__(self, out_dir, options, progress=None, resume=False, side=None, command="dlbench run"):
        self.side = side or Side()
        self.out_dir = out_dir
        self.options = options
        self.progress = progress
        self.resume = resume
        self.run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]
        self.probes = {}
        self.machine = None
        self.records = []
        self.notes = []  # one-line warnings for the command to print (a lock taken over, a torn line cut)
        self.work = {}  # cell key -> what the side's own checkout computes (harness.side_work)
        self.lock = OutLock(out_dir, command)
        self._prepare_out_dir()
        self.writer = ResultsWriter(out_dir)
        self._workdir = tempfile.mkdtemp(prefix="dlbench-")

    def _prepare_out_dir(self):
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
            if (existing or contents.torn) and not self.resume:
                raise RunError(f"{self.out_dir} already holds {len(existing)} results; pass --resume to complete "
                               f"that run, or choose another --out")
            if self.resume and repair_torn(self.out_dir, contents):
                self.notes.append(f"{contents.torn.path} line {contents.torn.number}: torn last line (cut "
                                  f"mid-write) removed; its cell runs again")
        except BaseException:
            self.lock.release()
            raise
        self.done = {record_key(r) for r in existing}

    # --- probing ----------------------------------------------------------------
    def probe(self, impl_names):
        self.probes.update(probe_all([n for n in impl_names if n not in self.probes], self.options.threads,
                                     self._workdir, min(self.options.timeout, 300), self.side))
        return self.probes

    def write_machine(self):
        frameworks = {n: p.get("info") if p.get("installed") else {"installed": False, "reason": p.get("reason")}
                      for n, p in self.probes.items()}
        machine = fingerprint.collect(frameworks, self.side.repo_root)
        old = read_machine(self.out_dir)
        if old and old.get("machine_id") != machine["machine_id"]:
            raise RunError(f"{self.out_dir} holds results from machine {old.get('machine_id')} "
                           f"({old.get('hostname')}); resume it there, or choose another --out")
        if old:  # resuming: keep what the first part recorded, add any newly probed framework
            old.setdefault("frameworks", {}).update(frameworks)
            old.setdefault("caches", machine.get("caches"))
            machine = old
        write_machine(self.out_dir, machine)
        self.machine = machine
        return machine

    def record_peaks(self, devices, seconds, impl_names, keep_existing=False):
        """Measure the machine's ceilings (harness.machine_peaks) into machine.json.

        keep_existing: a resumed run keeps the ceilings its first part measured, so all
        its cells are compared against the same ones.
        """
        from harness import machine_peaks  # it imports this module
        have = self.machine.setdefault("peaks", {})
        todo = [d for d in devices
                if not (keep_existing and (have.get(d) or {}).get("threads") == self.options.threads)]
        self.probe(impl_names)
        have.update(machine_peaks.measure(todo, impl_names, self.probes, self.options.threads, seconds,
                                          self._workdir, self.side, self.machine))
        write_machine(self.out_dir, self.machine)
        return {d: have[d] for d in devices if d in have}

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
        probe = self.probes.get(cell.impl, {})
        if not probe.get("installed"):
            return probe.get("reason", f"{cell.impl} is not available")
        device_reason = probe.get("devices", {}).get(cell.device)
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
            for group in _groups(todo):
                for cell, record in self.run_group(group):
                    self.writer.append(record)
                    self.records.append(record)
                    if self.progress:
                        self.progress.cell_done(cell, record)
        finally:
            if self.progress:
                self.progress.stop()
        return self.records

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
                    waited[cell] = _waits(waited.get(cell), self.wait_for_quiet(cell))
                    if server is None or not server.alive:
                        server = self.start_server(cell)
                    loops = results[cell][0].get("loops") if results[cell] else None  # calibrated once
                    res = server.run(self.worker_launch(cell, process, **({"loops": loops} if loops else {}))[1],
                                     self.options.timeout)
                    res["process"] = process
                    results[cell].append(res)
            finally:
                if server is not None and server.alive:
                    server.close()
        return [(c, self.make_record(c, [{"status": "unsupported", "reason": early[c]}]) if c in early
                 else self.make_record(c, results[c], waited.get(c))) for c in cells]

    def start_server(self, cell):
        python, _, env = self.worker_launch(cell, 0)
        return CellServer(python, env, self._workdir, self.side.repo_root, self.options.memory_limit)

    def run_process(self, cell, process):
        """One fresh worker process for one cell; its result, tagged with the process index."""
        python, spec, env = self.worker_launch(cell, process)
        res = spawn(python, spec, env, self.options.timeout, self._workdir, self.side.repo_root,
                    self.options.memory_limit)
        res["process"] = process
        return res

    def wait_for_quiet(self, cell, step=0.5):
        """With --quiet-wait S: wait up to S seconds for other processes to use less than the
        contention threshold, measured over `step`-second windows. Returns what happened, for
        the record, or None when not asked to wait."""
        limit = self.options.quiet_wait
        if not limit:
            return None
        start = time.monotonic()
        while True:
            other = contention.other_cpu_now(step)
            waited = time.monotonic() - start
            if other is None or other <= contention.OTHER_CPU_THRESHOLD:
                return {"waited_s": round(waited, 1), "gave_up": False, "other_cpu": other}
            if waited >= limit:
                self.note(f"{cell.label()}: machine still busy after --quiet-wait {limit:g}s (other processes "
                          f"use {other:.2f} cores); timing it anyway, the record says if it was contended")
                return {"waited_s": round(waited, 1), "gave_up": True, "other_cpu": round(other, 3)}

    def note(self, text):
        if self.progress:
            self.progress.note(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def worker_launch(self, cell, process, **extra):
        """(interpreter, spec, environment) of one worker for this cell and side."""
        manifest = impls.manifest(cell.impl)
        python, _ = self.side.interpreter(manifest)
        spec = dict(cell.as_dict(), process=process, samples=self.options.samples,
                    min_samples=self.options.min_samples, min_time=self.options.min_time,
                    warmup_time=self.options.warmup_time, max_time=self.options.max_time,
                    ref_cache=os.path.join(self.out_dir, ".reference-cache"), **extra)
        return python, spec, worker_env(cell.threads, manifest, self.side.repo_root)

    def start_process(self, cell, process, pass_fds=(), **extra):
        """Start one worker without waiting for it (harness.lockstep drives it through pass_fds)."""
        python, spec, env = self.worker_launch(cell, process, **extra)
        return start_worker(python, spec, env, self._workdir, self.side.repo_root, pass_fds=pass_fds,
                            memory_limit=self.options.memory_limit)

    def make_record(self, cell, results, quiet_wait=None):
        scenario = scenarios.get(cell.scenario)
        params = scenario.params(cell.size)
        failed = next((r for r in results if r["status"] != "ok"), None)
        status, reason = (failed["status"], failed["reason"]) if failed else ("ok", "")
        samples, sample_process = [], []
        for r in results:
            samples += r.get("samples", [])
            sample_process += [r.get("process", 0)] * len(r.get("samples", []))
        if status != "ok":  # a failed cell is never reported as a time
            samples, sample_process = [], []
        summary = stats.summarize(samples)
        precision = _precision(results, summary) if status == "ok" else dict.fromkeys(PRECISION_FIELDS)
        cont = contention.combine([r.get("contention") for r in results])
        # the work the side's own checkout does (another revision's scenario may differ)
        work = self.work.get(cell.key()) or {}
        flops = work.get("flops", scenario.flops(params, cell.phase))
        nbytes = work.get("bytes", scenario.bytes_moved(params, cell.phase))
        median = summary.get("median")
        first = results[0]
        probe = self.probes.get(cell.impl, {})
        record = {
            "schema": SCHEMA_VERSION,
            "run_id": self.run_id,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "dlbench_version": __version__,
            "git_commit": (self.machine or {}).get("git_commit"),
            "machine_id": (self.machine or {}).get("machine_id"),
            **cell.as_dict(),
            "params": params,
            "impl_version": (probe.get("info") or {}).get("version"),
            "python": probe.get("python"),
            "side": self.side.label,
            "status": status,
            "reason": reason,
            "errors": first.get("errors"),
            "samples": samples,
            "sample_process": sample_process,
            "loops": [r.get("loops") for r in results if "loops" in r],
            "processes": len(results),
            **summary,
            **precision,
            "contended": bool(cont and cont["contended"]),
            "contention": cont,
            "quiet_wait": quiet_wait,
            "prepare_s": first.get("prepare_s"),
            "first_call_s": first.get("first_call_s"),
            "first_call_s_per_process": [r.get("first_call_s") for r in results],
            "layout": [r.get("layout") for r in results],  # each process's pads: {"env_pad", "heap_pad"}
            "last_loss": results[-1].get("last_loss"),  # a training cell's, after sampling (last process)
            "peak_rss_bytes": max((r["peak_rss_bytes"] for r in results if r.get("peak_rss_bytes")), default=None),
            "rss_base_bytes": first.get("rss_base_bytes"),
            "device_peak_bytes": max((r["device_peak_bytes"] for r in results if r.get("device_peak_bytes")),
                                     default=None),
            "flops": flops,
            "bytes": nbytes,
            "working_set_bytes": scenario.working_set(params, cell.phase),
            "work_unit": scenario.work_unit,
            "memory_bound": scenario.memory_bound(cell.phase, params),
            "gflops": flops / median / 1e9 if median else None,
            "gbs": nbytes / median / 1e9 if median else None,
            "options": {k: getattr(self.options, k) for k in ("samples", "min_time", "warmup_time", "max_time",
                                                               "timeout", "processes", "quiet_wait",
                                                               "memory_limit")},
        }
        for extra in ("traceback", "log_tail"):
            if failed and failed.get(extra):
                record[extra] = failed[extra]
        return record


def _groups(cells):
    """Cells grouped by (implementation, device, mode), groups and cells in plan order."""
    groups = {}
    for c in cells:
        groups.setdefault((c.impl, c.device, c.mode), []).append(c)
    return list(groups.values())


def _waits(before, now):
    """A cell's --quiet-wait over its processes: seconds waited in all, gave up on any."""
    if now is None or before is None:
        return now or before
    return {"waited_s": round(before["waited_s"] + now["waited_s"], 1),
            "gave_up": before["gave_up"] or now["gave_up"], "other_cpu": now["other_cpu"]}


# A cell is `noisy` when its figure moves more than these from process to process or
# within one: within-process IQR over 10% of the median is where
# torch.utils.benchmark warns too; a process-to-process interval wider than 20% of
# the median (+-10%) means the next run may well land outside what is printed.
NOISY_IQR = 0.10
NOISY_SPREAD = 0.20
PRECISION_FIELDS = ("process_medians", "ci_low", "ci_high", "ci_level", "noisy", "noisy_reason")


def _precision(results, summary):
    """Process-level precision of an ok cell: each process's median, the interval of the
    median over processes, and whether the cell is noisy (and why)."""
    per_process = [stats.summarize(r["samples"]) for r in results if r.get("samples")]
    medians = [p["median"] for p in per_process]
    interval = stats.median_interval(medians)
    low, high, level = interval if interval else (None, None, None)
    within = sorted(p["rel_iqr"] for p in per_process if p["rel_iqr"] is not None)
    reasons = []
    if within and within[len(within) // 2] > NOISY_IQR:
        reasons.append(f"IQR {within[len(within) // 2]:.0%} of the median within a process (> {NOISY_IQR:.0%})")
    median = summary.get("median")
    if interval and median and (high - low) / median > NOISY_SPREAD:
        reasons.append(f"processes spread {(high - low) / median:.0%} of the median (> {NOISY_SPREAD:.0%})")
    return {"process_medians": medians, "ci_low": low, "ci_high": high, "ci_level": level,
            "noisy": bool(reasons), "noisy_reason": "; ".join(reasons)}
