"""Two workers in lockstep: baseline and candidate alive together, taking turns.

Interleaving whole processes (A, then B, then B, then A) still leaves each pair of
processes seconds apart, and on a shared machine the speed drifts by 10-25% over
seconds to minutes. Here both workers prepare, validate and calibrate, then the
conductor asks them for one sample each in turn (A B, B A, ...), so the two medians of
a pair come from the same stretch of time and drift cancels in their ratio. Only one
worker computes at a time; the other blocks on its command pipe.

The worker's side of the protocol is harness.worker.measure_lockstep.
"""

from __future__ import annotations

import os
import time

from harness.errors import DlbenchError
from harness.processes import Answers, finish_worker, kill_worker, with_pipes


class LockstepUnsupported(DlbenchError, RuntimeError):
    """A side's checkout predates lockstep: nothing it measures can be paired turn by turn."""


class Silent(Exception):
    """A worker did not answer before the deadline."""

    def __init__(self, lane):
        self.lane = lane


class Lane:
    """One worker under the conductor: commands go down one pipe, acknowledgements come up another."""

    def __init__(self, runner, cell, process, loops=None):
        self.handle, self.commands, self.acks = with_pipes(
            lambda cmd_r, ack_w: runner.start_process(
                cell,
                process,
                pass_fds=(cmd_r, ack_w),
                lockstep={"cmd_fd": cmd_r, "ack_fd": ack_w},
                **({"loops": loops} if loops else {}),
            )
        )
        self.answers = Answers(self.acks)
        self.process, self.killed_for = process, None

    def send(self, what):
        try:
            self.commands.write(what + "\n")
            return True
        except (BrokenPipeError, ValueError):  # the worker is gone (or we closed the pipe)
            return False

    def expect(self, deadline, watched=()):
        """The answer (a non-empty line), False when the worker ended (its result says why);
        Silent on the deadline.

        watched: the lanes whose memory is polled meanwhile (every lane: at start-up both
        prepare at once); one past the limit is killed, and its end of file ends its turn.
        """
        try:
            answer = self.answers.next(deadline, [lane.handle.guard for lane in watched or (self,)])
        except TimeoutError:
            raise Silent(self) from None
        return False if answer is None else answer

    def finish(self, timeout):
        try:
            self.commands.close()
        except BrokenPipeError:
            pass
        os.close(self.acks)
        result = finish_worker(self.handle, timeout, killed_for=self.killed_for)
        result["process"] = self.process
        return result


def conduct(lanes, samples, min_samples, max_time, timeout, threads=1):
    """Drive the lanes through warm-up, calibration and alternating samples; their results.

    timeout bounds the whole exchange; a lane that stays silent past it is killed and
    reported as a timeout, the others stop where they are.
    """
    deadline = time.monotonic() + timeout
    try:
        if not all([lane.expect(deadline, lanes) for lane in lanes]):
            return _finish(lanes, deadline)
        # warm-up is not timed: both at once, like the imports and validation before it
        if not all([lane.send("warmup") for lane in lanes]):
            return _finish(lanes, deadline)
        if not all([lane.expect(deadline, lanes) for lane in lanes]):
            return _finish(lanes, deadline)
        # from here on, the same CPUs, one worker at a time
        cpus = shared_cpus(threads)
        for lane in lanes:
            pin(lane.handle.proc.pid, cpus)
        counts = []
        for lane in lanes:
            answer = lane.send("calibrate") and lane.expect(deadline, lanes)
            if not answer:
                return _finish(lanes, deadline)
            counts.append(_calls(answer))
        # Both sides time the same number of calls per sample: the untimed call that starts
        # a turn of several calls (the worker's measure_lockstep) then runs on both sides or
        # on neither. Calibrated apart, one side at 1 call and the other at 2 once made an
        # A/A cell 12% slower in every pair. A worker older than this says plain `ok`.
        if all(counts) and len(set(counts)) > 1:
            for lane in lanes:
                if not (lane.send(f"loops {max(counts)}") and lane.expect(deadline, lanes)):
                    return _finish(lanes, deadline)
        started = time.monotonic()
        for j in range(samples):
            for lane in lanes if j % 2 == 0 else lanes[::-1]:
                if not (lane.send("sample") and lane.expect(deadline, lanes)):
                    return _finish(lanes, deadline)
            if time.monotonic() - started > max_time and j + 1 >= min_samples:
                break
    except Silent as silent:
        kill_worker(silent.lane.handle)
        silent.lane.killed_for = timeout
    except BaseException:  # Ctrl-C: take the workers down with us
        for lane in lanes:
            kill_worker(lane.handle)
        raise
    return _finish(lanes, deadline)


def _calls(answer):
    """The calls per sample in a worker's answer to `calibrate` (`ok 18`), or None."""
    parts = answer.split()
    return int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else None


def _finish(lanes, deadline):
    for lane in lanes:
        lane.send("stop")
    return [lane.finish(max(1.0, deadline - time.monotonic())) for lane in lanes]


def shared_cpus(threads):
    """The CPUs both workers of a pair run on: the same ones, so that neither side is measured
    on a slower core (virtual CPUs differ in speed with what shares their physical core, and a
    blocked worker wakes where it last ran). Only one computes at a time, so sharing costs
    nothing once both are prepared (before, both import and validate at once, on every CPU);
    the last `threads` CPUs, leaving the first to the conductor and the system when there
    are more CPUs than threads."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    return set(allowed[-threads:]) if threads < len(allowed) else set(allowed)


def pin(pid, cpus):
    """Every thread of the process (and of its children) onto cpus: sched_setaffinity moves
    one thread, and the worker's thread pools (BLAS, OpenMP) exist by now; threads started
    later inherit it."""
    if not cpus:
        return
    for proc_pid in [pid] + _children(pid):
        try:
            tids = os.listdir(f"/proc/{proc_pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:  # a thread that just ended
                pass


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def run_pair(runners, cell, process, loops=None):
    """One lockstep pair for this cell: a result per runner, in the runners' order (the
    first runner takes the first turn; the caller alternates the order from pair to pair).
    loops: per runner, the calls per sample an earlier pair calibrated (None: calibrate)."""
    lanes = []
    try:
        for runner, n in zip(runners, loops or [None] * len(runners)):
            lanes.append(Lane(runner, cell, process, n))
    except BaseException:
        for lane in lanes:
            kill_worker(lane.handle)
        raise
    opts = runners[0].options
    results = conduct(lanes, opts.samples, opts.min_samples, opts.max_time, opts.timeout, cell.threads)
    if all(r["status"] == "ok" for r in results) and not all(r.get("samples") for r in results):
        # a worker that never said `ready` but finished fine measured on its own: one side
        # is a checkout from before lockstep
        raise LockstepUnsupported(
            "one side's worker does not take lockstep commands (a revision older "
            "than lockstep?); compare with --no-lockstep"
        )
    return results
