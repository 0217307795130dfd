"""`dlbench run`'s schedule: the run in rounds, every cell's implementations in lockstep.

Round k gives every cell its k-th process before round k+1 gives any its next, so a
cell's processes are spread over the whole run and its interval sees the machine's drift
over minutes, not over one group's minute. Within a round, each implementation and mode
has one worker (harness.processes.TurnServer) that serves the round's cells one after
another, its framework imported once; for each cell, the workers of every implementation
and mode being compared time their samples in turns (harness.turns). Before each cell's
turns the parent reads the drift sentinel (harness.sentinel).

With --precision, rounds go on past --processes for the cells whose interval is still
wider than asked (the paired ratio to the cell's fastest implementation, or the absolute
interval where an implementation runs alone), within --budget.

Records are built when the last round ends: a cell's figure needs all its processes.
"""

from __future__ import annotations

import json
import os
import random
import time

from harness import contention, memory_guard, paired, sentinel, stats, task_runs
from harness.lockstep import shared_cpus
from harness.ranks import run_ranked
from harness.records import process_interval
from harness.turns import Lane, conduct

TURN_BLOCK = 10000  # turn numbers of a memory-split round's later groups start at s x this


def comparison_groups(cells):
    """Cells that compete: the same scenario, phase, size, device, threads, ranks and seed, every
    implementation and mode; groups and cells in plan order."""
    groups = {}
    for c in cells:
        groups.setdefault((c.scenario, c.phase, c.size, c.device, c.threads, c.ranks, c.scaling, c.seed), []).append(c)
    return list(groups.values())


class _Servers:
    """One round's TurnServers, one per implementation, device and mode, started on first use
    and started again after one ended (a crash, an error that may leave it unusable)."""

    def __init__(self, runner):
        self.runner, self.servers = runner, {}

    def get(self, cell):
        key = (cell.impl, cell.device, cell.mode)
        server = self.servers.get(key)
        if server is None or not server.alive:
            server = self.runner.start_turn_server(cell)
            self.servers[key] = server
        return server

    def pause(self):
        """Stop every idle server: nothing of theirs runs beside the sentinel or another cell."""
        for server in self.servers.values():
            server.pause()

    def close(self):
        for server in self.servers.values():
            server.close()
        self.servers.clear()


def run_rounds(runner, cells):
    """Run CELLS (not done yet) in rounds, in lockstep; each group's records are emitted as
    soon as it gets no further round. Every round's results also go to the run's journal
    (OUT/rounds.jsonl), so --resume after an interrupt keeps the rounds already timed."""
    state = _State(runner, cells)
    k = 0
    while True:
        todo = [g for g in state.groups if g not in state.emitted and state.group_rounds(g) == k]
        if not todo and all(g in state.emitted for g in state.groups):
            break
        servers = _Servers(runner)
        try:
            for group in todo:
                if not state.wants_round(group, k):
                    state.emit(group)
                    continue
                state.run_group_round(group, k, servers)
                if not state.wants_round(group, k + 1):
                    state.emit(group)
        finally:
            servers.close()
        k += 1
        most = max((task_runs.rounds_for(g, runner.options) for g in state.groups), default=0)
        if k > runner.options.max_rounds + most:  # never loops for ever
            for g in state.groups:
                if g not in state.emitted:
                    state.emit(g)
    runner.machine_record.record_sentinel(sentinel.summarize(state.points))


class _State:
    """What a run in rounds knows: each cell's results so far, the sentinel's readings."""

    def __init__(self, runner, cells):
        self.runner, self.opts = runner, runner.options
        self.start = time.monotonic()
        self.rng = random.Random()
        self.groups = comparison_groups(cells)
        self.early = {c: reason for c in cells for reason in [runner.precheck(c)] if reason}
        self.results = {c: [] for c in cells}
        self.readings = {c: [] for c in cells}  # the sentinel before each of its rounds
        self.waited = {}
        self.points = []
        self.emitted = []
        self.split = {}  # cell -> (why it was not timed with every other, the ones it was timed with)
        cpus = shared_cpus(self.opts.threads)
        self.sentinel_cpu = max(cpus) if cpus else None
        self.journal = Journal(runner.out_dir)
        if runner.results_dir.resume:
            self.journal.load(self)

    def live(self, group):
        return [c for c in group if c not in self.early and all(r["status"] == "ok" for r in self.results[c])]

    def group_rounds(self, group):
        """Rounds this group has had (its live cells all had the same number)."""
        live = self.live(group)
        return max((len(self.results[c]) for c in live), default=0)

    def wants_round(self, group, k):
        """Whether the group gets round k: every group until --processes rounds; then, under
        --precision, one whose widest interval is still wider than asked, within --budget and
        max_rounds."""
        if not self.live(group):
            return False
        if k < task_runs.rounds_for(group, self.opts):
            return True
        if task_runs.trial_count(group[0], self.opts):  # a task cell: its trials, no more
            return False
        if not self.opts.precision or k >= self.opts.max_rounds:
            return False
        elapsed = time.monotonic() - self.start
        if self.opts.budget is not None and elapsed > self.opts.budget:
            return False
        return (_group_width(group, self.results, self.early) or 0) > self.opts.precision

    def run_group_round(self, group, k, servers):
        live = self.live(group)
        runner = self.runner
        if runner.progress:
            runner.progress.cell_started(live[0], k, max(self.opts.processes, k + 1))
        wait = runner.wait_for_quiet(live[0])  # once for the cell: its implementations run together
        for c in live:
            self.waited[c] = contention.combine_waits([self.waited.get(c), wait])
        point = dict(
            sentinel.measure(self.sentinel_cpu), t=round(time.monotonic() - self.start, 3), cell=live[0].label()
        )
        self.points.append(point)
        if live[0].ranks > 1 or task_runs.trial_count(live[0], self.opts):
            # each implementation's ranks in turn: N processes cannot take turns; a task's trial,
            # each implementation's in turn: it is a whole run, not a sample. A trial runs in the
            # round's worker of its implementation and mode, the others stopped meanwhile (its
            # framework imported once a round: trial k of each task phase, after its validation)
            for c in self.rng.sample(live, len(live)):
                if c.ranks > 1:
                    res = run_ranked(runner, c, k)
                else:
                    (res,) = conduct([Lane(c, servers.get(c), runner.worker_launch(c, k)[1])], self.opts, self.rng)
                    servers.pause()
                res.update(process=k, sentinel=point["median"])
                self.results[c].append(res)
                self.readings[c].append(point["median"])
                self.journal.append(runner.run_id, [(c, res)])
            return
        subsets, note = self.memory_split(live)
        for s, subset in enumerate(subsets):
            lanes = []
            for c in subset:
                # calibrated anew every round: a count fixed by round 0 made its noise the whole
                # run's (the same kernel at 850 or 1556 calls a sample, run to run), unseen by
                # the process-to-process interval
                spec = runner.worker_launch(c, k)[1]
                lanes.append(Lane(c, servers.get(c), spec))
            for lane, res in zip(lanes, conduct(lanes, self.opts, self.rng)):
                res["process"] = k
                res["sentinel"] = point["median"]
                if s and res.get("turns") is not None:  # other turns than the first subset's: never paired
                    res["turns"] = [t + s * TURN_BLOCK for t in res["turns"]]
                if note:
                    res["lockstep_split"] = note
                    self.split[lane.cell] = (note, [f"{c.impl}:{c.mode}" for c in subset if c is not lane.cell])
                self.results[lane.cell].append(res)
                self.readings[lane.cell].append(point["median"])
            self.journal.append(runner.run_id, [(lane.cell, self.results[lane.cell][-1]) for lane in lanes])
            servers.pause()

    def memory_split(self, live):
        """([cells timed together], why) for this round: all at once while the resident
        memory their workers reached (each one's peak so far) fits the budget (--memory-limit,
        else 75% of the machine); else sequential groups that each fit, said in the records."""
        budget = self.opts.memory_limit or int(memory_guard.total_memory() * 0.75)
        need = {c: max((r.get("peak_rss_bytes") or 0 for r in self.results[c]), default=0) for c in live}
        if sum(need.values()) <= budget or len(live) < 2:
            return [live], ""
        subsets, current, used = [], [], 0
        for c in live:
            if current and used + need[c] > budget:
                subsets.append(current)
                current, used = [], 0
            current.append(c)
            used += need[c]
        subsets.append(current)
        note = (
            f"sequential groups of {', '.join(str(len(x)) for x in subsets)}: the {len(live)} workers together "
            f"reached {memory_guard.bytes_text(sum(need.values()))}, over {memory_guard.bytes_text(budget)}"
        )
        return subsets, note

    def emit(self, group):
        """The group's records, now that it gets no more rounds (drift judged against the
        sentinel's readings so far)."""
        self.emitted.append(group)
        summary = sentinel.summarize(self.points)
        for c in group:
            if c in self.early:
                record = self.runner.make_record(c, [{"status": "unsupported", "reason": self.early[c]}])
            else:
                record = self.runner.make_record(
                    c,
                    self.results[c],
                    self.waited.get(c),
                    turns=None
                    if c.ranks > 1 or task_runs.trial_count(c, self.opts)
                    else _turn_facts(group, c, self.early, self.split.get(c)),
                    drift=sentinel.drift_reason(self.readings[c], summary),
                    sentinel=self.readings[c],
                    reached=_reached(self.runner, group, c, self.results, self.early),
                )
            self.runner.emit(c, record)


class Journal:
    """OUT/rounds.jsonl: every round's raw results, a line per cell and round, so that an
    interrupted run resumes with the rounds it had timed. A group's rounds are taken back
    only where all its cells have the same ones (they were timed in the same turns)."""

    def __init__(self, out_dir):
        self.path = os.path.join(out_dir, "rounds.jsonl")

    def append(self, run_id, entries):
        with open(self.path, "a") as f:
            for cell, result in entries:
                f.write(json.dumps({"run_id": run_id, "key": list(cell.key()), "result": result}) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def load(self, state):
        found = {}
        try:
            with open(self.path) as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                        found.setdefault(tuple(entry["key"]), []).append(entry["result"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn last line: that round runs again
        except OSError:
            return
        for group in state.groups:
            ran = [c for c in group if c not in state.early]
            taken = [found.get(c.key(), []) for c in ran]
            ok_counts = {len(t) for t in taken if t and all(r.get("status") == "ok" for r in t)}
            if not any(taken) or len(ok_counts) > 1:
                continue
            for c, rounds in zip(ran, taken):
                state.results[c] = rounds
                state.readings[c] = [r.get("sentinel") for r in rounds]


def _ok_cells(group, results, early):
    """The group's cells timed so far with every round ok."""
    return [c for c in group if c not in early and results[c] and all(r["status"] == "ok" for r in results[c])]


def _group_width(group, results, early):
    """The widest relative half-width of a group's intervals: each cell's paired ratio to
    the group's fastest, or its own absolute interval where it ran alone. None: nothing to
    judge (every cell failed)."""
    ok = _ok_cells(group, results, early)
    return max((w for c in ok for w in [_cell_width(c, ok, results)] if w is not None), default=None)


def _cell_width(cell, ok, results):
    own = _as_record(results[cell])
    if len(ok) < 2:  # alone: the interval its record will print (harness.records)
        medians = [stats.summarize(r["samples"])["median"] for r in results[cell] if r.get("samples")]
        center = stats.summarize(own["samples"])["median"]
        interval = process_interval(medians, center)
        if not interval:
            return float("inf")
        low, high, _ = interval
        return (high - low) / 2 / center
    fastest = min(ok, key=lambda c: stats.summarize(_as_record(results[c])["samples"])["median"] or float("inf"))
    if fastest is cell:
        others = [c for c in ok if c is not cell]
        fastest = others[0]
    r = paired.ratio(own, _as_record(results[fastest]))
    if r is None:
        return float("inf")
    return paired.half_width(r) if r["level"] is not None and r["units"] == "processes" else float("inf")


def _as_record(res_list):
    """A cell's results so far in the record's shape that harness.paired reads."""
    samples, process, turn = [], [], []
    for r in res_list:
        s = r.get("samples") or []
        samples += s
        process += [r.get("process", 0)] * len(s)
        turn += r.get("turns") or list(range(len(s)))
    return {"samples": samples, "sample_process": process, "sample_turn": turn}


def _turn_facts(group, cell, early, split=None):
    """The record's `turns`: which implementations and modes this cell took turns with
    (in its last round, where memory split the group: then `split` says why)."""
    if split:
        return {"with": split[1], "order": "shuffled each turn", "split": split[0]}
    return {
        "with": [f"{c.impl}:{c.mode}" for c in group if c is not cell and c not in early],
        "order": "shuffled each turn",
    }


def _reached(runner, group, cell, results, early):
    """Under --precision: what this cell reached, for its record; None otherwise."""
    opts = runner.options
    if not opts.precision:
        return None
    ok = _ok_cells(group, results, early)
    width = _cell_width(cell, ok, results) if cell in ok else None
    return {
        "target": opts.precision,
        "half_width": None if width in (None, float("inf")) else round(width, 5),
        "met": width is not None and width <= opts.precision,
        "rounds": len(results[cell]),
        "of": "paired ratio to the fastest" if len(ok) > 1 else "interval of the median",
    }
