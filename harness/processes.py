"""Worker processes: where they come from (a Side), their environment, starting one,
waiting for it, reading its result or why it ended, killing its group, and the
CellServer that runs cells one after another in one process.

The wire is fixed: `python -m harness.worker SPEC RESULT` (or `--serve`) in the side's
checkout, the spec and result as JSON files, the stage in RESULT.stage; a worker of
another revision (harness.sides) answers the same way.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional

from harness import environments, memory_guard

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def side_paths(paths, repo_root):
    """Extra implementation folders inside this checkout, moved to the same place in another
    (a --base-rev side): each revision's worker imports that revision's test implementations."""
    here = environments.REPO_ROOT + os.sep
    return os.pathsep.join(
        os.path.join(repo_root, p[len(here) :]) if p.startswith(here) else p for p in paths.split(os.pathsep)
    )


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
    env.update(ALLOCATOR)
    env.update(manifest.worker_env)
    env["PYTHONUNBUFFERED"] = "1"
    env[LAYOUT_PAD_VARIABLE] = layout_pad()
    return env


# glibc malloc's behaviour, fixed for every worker of every framework (docs/measurements.md,
# "Timer agreement"). By default a freed mmap'd block raises the mmap threshold (dynamically,
# up to 32 MiB) and with it the trim threshold, so whether a cell's multi-megabyte output
# comes from fresh pages, faulted in on every call, or from heap memory kept from the last
# call depends on what that process allocated and freed before (validation, the reference,
# the heap pad): a torch conv read 13.6 ms or 18.4 ms for the same call. Setting both
# thresholds turns the dynamic adjustment off: blocks below 64 MiB are reused from the heap,
# as a caching allocator (jemalloc, tcmalloc, PyTorch's CPU guide) would; larger ones are
# mmap'd and returned at once. The fingerprint records these values.
ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(128 << 20)}


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


def _popen_worker(python, args, env, repo_root, log_path, stdin, pass_fds=()):
    """`python -m harness.worker ARGS` in the side's checkout, its output in log_path, in
    its own process group: a kill takes its children too."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [python, "-m", "harness.worker", *args],
            cwd=repo_root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=stdin,
            pass_fds=pass_fds,
            start_new_session=True,
        )


def start_worker(python, spec, env, workdir, repo_root=environments.REPO_ROOT, pass_fds=(), memory_limit=None):
    tag = uuid.uuid4().hex[:8]
    spec_path = os.path.join(workdir, f"spec-{tag}.json")
    result_path = os.path.join(workdir, f"result-{tag}.json")
    log_path = os.path.join(workdir, f"log-{tag}.txt")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    proc = _popen_worker(python, [spec_path, result_path], env, repo_root, log_path, subprocess.DEVNULL, pass_fds)
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
    return {
        "status": "timeout",
        "reason": f"worker exceeded --timeout {seconds:g}s during {stage or 'start-up'}",
        "log_tail": _read_text(log_path)[-2000:],
    }


def _ended(guard, returncode, result_path, log):
    """The result of a worker that ended without one: out of memory (the guard's kill or
    the kernel's), or a crash."""
    stage = _read_text(result_path + ".stage")
    reason = guard.reason(returncode, stage) or _crash_reason(returncode, stage, log)
    return {"status": "error", "reason": reason, "log_tail": log[-2000:]}


def run_worker(python, spec, env, timeout, workdir, repo_root=environments.REPO_ROOT, memory_limit=None):
    """Start one worker and wait for it; returns its result dict, or an error/timeout result. Never raises
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
        self.proc = _popen_worker(python, ["--serve"], env, repo_root, self.log_path, subprocess.PIPE)
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


def with_pipes(start):
    """(start(cmd_r, ack_w), the command pipe's writing end as a file, the answer pipe's
    reading fd): start launches a worker that inherits the two other ends; ours of those
    are closed once it holds them, so that its end of file reaches us."""
    cmd_r, cmd_w = os.pipe()
    ack_r, ack_w = os.pipe()
    try:
        started = start(cmd_r, ack_w)
    finally:
        os.close(cmd_r)
        os.close(ack_w)
    return started, os.fdopen(cmd_w, "w", buffering=1), ack_r


class Answers:
    """A conductor's end of a worker's answer pipe: one line at a time, the memory guards
    polled while it waits (harness.lockstep's pairs and harness.turns' servers alike)."""

    def __init__(self, fd):
        self.fd, self._buffer = fd, b""

    def next(self, deadline, guards):
        """The next non-empty line ('ok' for an empty one), None at end of file;
        TimeoutError at the deadline. Each guard checks its worker's memory meanwhile."""
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready = select.select([self.fd], [], [], min(left, memory_guard.POLL_S))[0]
            for guard in guards:
                guard.check()
            if not ready:
                continue
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode(errors="replace").strip() or "ok"


class TurnServer:
    """One implementation and mode's worker for one round of a run (`worker --turns`):
    it serves that round's cells one after another, each timed in lockstep with the other
    implementations' workers (harness.turns). Commands go down one pipe, answers come up
    another; the memory guard watches it as it watches any worker."""

    def __init__(self, python, env, workdir, repo_root, memory_limit=None):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, f"log-{uuid.uuid4().hex[:8]}.txt")
        self.proc, self.commands, self.acks = with_pipes(
            lambda cmd_r, ack_w: _popen_worker(
                python,
                ["--turns", str(cmd_r), str(ack_w)],
                env,
                repo_root,
                self.log_path,
                subprocess.DEVNULL,
                pass_fds=(cmd_r, ack_w),
            )
        )
        self.answers = Answers(self.acks)
        self.guard = memory_guard.MemoryGuard(self.proc.pid, memory_limit)
        self.alive = True
        self.paused = False
        self.result_path = None

    # A worker waiting for its turn is not idle: thread pools spin after their work
    # (OpenMP's spin-wait, Eigen's), and torch.compile's and TensorFlow's runtimes keep
    # background threads busy; measured here, an idle torch graph worker used 40-70% of a
    # core beside the worker being timed. So a worker whose turn it is not is stopped
    # outright (SIGSTOP to its process group) and continued for its turn: only one
    # computes, enforced by the kernel, not hoped for.
    def pause(self):
        if self.alive and not self.paused:
            self._signal(signal.SIGSTOP)
            self.paused = True

    def resume(self):
        if self.paused:
            self._signal(signal.SIGCONT)
            self.paused = False

    def _signal(self, sig):
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def begin(self, spec):
        """Hand it a cell; it answers `ready` (to be timed in turns) or `done` (ended before)."""
        tag = uuid.uuid4().hex[:8]
        spec_path = os.path.join(self.workdir, f"spec-{tag}.json")
        self.result_path = os.path.join(self.workdir, f"result-{tag}.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        return self.send(f"cell\t{spec_path}\t{self.result_path}")

    def send(self, what):
        try:
            self.commands.write(what + "\n")
            return True
        except (BrokenPipeError, ValueError, OSError):  # the worker is gone
            return False

    def expect(self, deadline, watched=()):
        """The next answer (a non-empty line), or None when the worker ended; TimeoutError
        at the deadline. watched: the servers whose memory is polled meanwhile (all of a
        cell's: they prepare at once); one past its limit is killed."""
        return self.answers.next(deadline, [s.guard for s in watched or (self,)])

    def result(self):
        """The cell's result once the worker said `done`."""
        with open(self.result_path) as f:
            result = json.load(f)
        if result.get("status") == "error":  # an exception may leave the framework unusable: start afresh
            result["log_tail"] = _read_text(self.log_path)[-2000:]
            self.close()
        return result

    def ended(self):
        """The result of a worker that ended mid-cell: out of memory or a crash."""
        self.alive = False
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
            code = self.proc.returncode
        return _ended(self.guard, code, self.result_path, _read_text(self.log_path))

    def timed_out(self, timeout):
        """Kill it for silence past `timeout` seconds; the cell's timeout result."""
        self.close(kill=True)
        return _timed_out(timeout, self.result_path, self.log_path)

    def close(self, kill=False):
        """End the server: end of its input and a moment to exit, or a kill of its group."""
        self.resume()  # a stopped worker would neither read its end of file nor exit
        if not self.alive and self.proc.returncode is not None:
            return
        self.alive = False
        if not kill:
            try:
                self.commands.close()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                kill = True
        if kill:
            _kill_group(self.proc)
        try:
            self.commands.close()
        except OSError:
            pass
        try:
            os.close(self.acks)
        except OSError:
            pass
        self.acks = -1


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
