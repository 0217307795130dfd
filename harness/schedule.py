"""How a run's cells are scheduled, chosen once from the options: in rounds, every cell's
implementations in lockstep (harness.rounds, the default), or with --no-lockstep group
after group (here). A schedule is called as schedule(runner, cells) with the cells not
done yet, and hands each finished cell's record to runner.emit."""

from __future__ import annotations

from harness import contention, task_runs
from harness.launch import run_launched
from harness.ranks import run_ranked
from harness.rounds import run_rounds


def schedule_for(options):
    return run_rounds if options.lockstep else run_groups


def run_groups(runner, cells):
    """Every cell grouped by implementation, device and mode: the group's processes run in
    rounds (round k: one worker runs process k of each of its cells), so a cell's processes
    are different processes minutes apart, and each worker imports its framework once for
    the whole round. A group's records are emitted when its last round ends."""
    for group in _groups(cells):
        for cell, record in run_group(runner, group):
            runner.emit(cell, record)


def run_group(runner, cells):
    """[(cell, record)] for cells of one implementation, device and mode."""
    options, progress = runner.options, runner.progress
    results = {c: [] for c in cells}
    early = {c: reason for c in cells for reason in [runner.precheck(c)] if reason}
    waited = {}
    rounds = {c: task_runs.rounds_for([c], options) for c in cells}  # a task cell: one per trial
    for process in range(max(rounds.values(), default=0)):
        # unsupported, invalid, error or timeout: repeating would say the same
        live = [
            c for c in cells if c not in early and process < rounds[c] and all(r["status"] == "ok" for r in results[c])
        ]
        server = None
        try:
            for cell in live:
                if progress:
                    progress.cell_started(cell, process, rounds[cell])
                waited[cell] = contention.combine_waits([waited.get(cell), runner.wait_for_quiet(cell)])
                if cell.ranks > 1:  # its own N rank workers (or this host's one), not the group's server
                    res = run_launched(runner, cell, process) if runner.launch else run_ranked(runner, cell, process)
                    res["process"] = process
                    results[cell].append(res)
                    continue
                if server is None or not server.alive:
                    server = runner.start_server(cell)
                loops = results[cell][0].get("loops") if results[cell] else None  # calibrated once
                res = server.run(
                    runner.worker_launch(cell, process, **({"loops": loops} if loops else {}))[1],
                    options.timeout,
                )
                res["process"] = process
                results[cell].append(res)
        finally:
            if server is not None and server.alive:
                server.close()
    return [
        (
            c,
            runner.make_record(c, [{"status": "unsupported", "reason": early[c]}])
            if c in early
            else runner.make_record(c, results[c], waited.get(c)),
        )
        for c in cells
    ]


def _groups(cells):
    """Cells grouped by (implementation, device, mode), groups and cells in plan order."""
    groups = {}
    for c in cells:
        groups.setdefault((c.impl, c.device, c.mode), []).append(c)
    return list(groups.values())
