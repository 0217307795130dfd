"""The implementations of one cell in lockstep: every implementation and mode being compared
has its worker alive at once, and they time their samples in turns, one after another, in
a new random order every turn, on the same CPUs.

On a shared or virtual machine the speed drifts by 10-25% over seconds to minutes; two
implementations timed a minute apart differ by that drift as much as by their code. In
turns, sample i of every implementation comes from the same second or so, so the ratio of
turn i's samples cancels the drift (reports.paired pairs them). The shuffled order keeps
any "who ran just before me" effect from always favouring one side. Only one worker
computes at a time; the others block on their command pipes.

Each worker is a TurnServer (harness.processes): one process per implementation and mode
serves one round of the run's cells, so its framework is imported once a round. The
worker's side of the protocol is harness.worker.measure_lockstep and serve_turns.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Optional

from harness.lockstep import pin, shared_cpus
from harness.processes import TurnServer


@dataclass
class Lane:
    """One implementation and mode's part in a cell's turns."""

    cell: object
    server: TurnServer
    spec: dict
    result: Optional[dict] = None
    loops: Optional[int] = None
    timed_turns: list = field(default_factory=list)  # the turn index of each sample taken


class _Conductor:
    def __init__(self, lanes, timeout):
        self.lanes, self.timeout = lanes, timeout
        self.live = []
        self.servers = [lane.server for lane in lanes]

    def ask(self, lane, what=None):
        """Send `what` (None: nothing, just wait) and read the answer; a lane whose part
        ends here (its worker said `done`, died, or stayed silent past the timeout) is
        settled and leaves the turns. The answer, or None once it left."""
        if what is not None and not lane.server.send(what):
            return self.settle(lane, None)
        try:
            answer = lane.server.expect(time.monotonic() + self.timeout, self.servers)
        except TimeoutError:
            lane.result = lane.server.timed_out(self.timeout)
            return self._leave(lane)
        if answer is None or answer == "done":
            return self.settle(lane, answer)
        return answer

    def turn(self, lane, what):
        """`what` for this lane alone: it is continued for it and stopped again after, so
        nothing of it runs during another lane's turn (TurnServer.pause)."""
        lane.server.resume()
        answer = self.ask(lane, what)
        if answer is not None:
            lane.server.pause()
        return answer

    def settle(self, lane, answer):
        lane.result = lane.server.result() if answer == "done" else lane.server.ended()
        return self._leave(lane)

    def refuse(self, lane, answer):
        """A worker that answers out of protocol (another revision's?): ended, said why."""
        lane.server.close(kill=True)
        lane.result = {"status": "error", "reason": f"worker answered {answer!r} out of turn (protocol mismatch)"}
        self._leave(lane)

    def _leave(self, lane):
        if lane in self.live:
            self.live.remove(lane)
        return None

    def each(self, what):
        """Send `what` to every live lane, then read each answer (they work at once)."""
        for lane in list(self.live):
            if not lane.server.send(what):
                self.settle(lane, None)
        for lane in list(self.live):
            answer = self.ask(lane)
            if answer not in (None, "ok"):
                self.refuse(lane, answer)


def conduct(lanes, options, rng=None):
    """Run one round of one cell's implementations in turns; every lane's result (in the
    lanes' order), with `turns`: the turn index of each of its samples.

    options: the runner's (samples, min_samples, max_time, timeout, threads). A lane that
    fails (error, crash, out of memory, silence past --timeout) leaves; the others go on.
    """
    rng = rng or random.Random()
    c = _Conductor(lanes, options.timeout)
    for lane in lanes:
        lane.server.resume()
        if lane.server.begin(lane.spec):
            c.live.append(lane)
        else:
            c.settle(lane, None)
    # prepare, reference, validation: all at once, untimed; `ready` means validated
    for lane in list(c.live):
        answer = c.ask(lane)
        if answer not in (None, "ready"):
            c.refuse(lane, answer)
    c.each("warmup")  # untimed too: at once, like the imports before it
    cpus = shared_cpus(options.threads)  # from here on, the same CPUs, one worker at a time
    for lane in c.live:
        pin(lane.server.proc.pid, cpus)
        lane.server.pause()
    for lane in list(c.live):  # each implementation its own calls per sample: their speeds differ
        answer = c.turn(lane, "calibrate")
        if answer:
            parts = answer.split()
            lane.loops = int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else 1
    started = time.monotonic()
    for turn in range(options.samples):
        if not c.live:
            break
        for lane in rng.sample(c.live, len(c.live)):
            if c.turn(lane, "sample") is not None:
                lane.timed_turns.append(turn)
        if time.monotonic() - started > options.max_time and turn + 1 >= options.min_samples:
            break
    for lane in c.live:
        lane.server.resume()
    for lane in list(c.live):  # the rest of run_cell: device memory, the training check
        answer = c.ask(lane, "stop")
        if answer is not None:
            c.refuse(lane, answer)
    for lane in lanes:
        lane.result = lane.result or {"status": "error", "reason": "worker gave no result"}
        if lane.result.get("samples") is not None:
            lane.result["turns"] = lane.timed_turns[: len(lane.result["samples"])]
    return [lane.result for lane in lanes]
