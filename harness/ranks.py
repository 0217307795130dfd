"""One process of a data-parallel cell: its N rank workers, started and watched together.

Each rank is its own worker process (`python -m harness.worker SPEC RESULT`, its spec
saying `rank` and the rendezvous `address`), with its own threads, pinned to CPUs of its
own where the machine has enough (else they share, and the result says so). They meet on
loopback, on a port free for this cell, through the framework's own rendezvous, and agree
among themselves on the calls per sample and the samples taken (harness.worker), so every
rank makes the same collective calls.

A rank that fails (an error, a crash, out of memory) would leave the others waiting in a
collective for ever: they are killed at once and the cell is that rank's failure, the
rank named. Past --timeout every rank is killed and the cell is a timeout naming each
rank still running and its stage. A sample's time is the slowest rank's: a step is done
when every rank is; every rank's samples are kept beside it.
"""

from __future__ import annotations

import json
import os
import socket
import time

from harness.lockstep import pin
from harness.processes import finish_worker, kill_worker

POLL_S = 0.05


def free_ports(n):
    """n distinct free ports (each checked while the others are still held)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def rank_cpus(ranks, threads):
    """([CPUs of rank r], '') with disjoint CPUs per rank where ranks x threads fit the
    CPUs this process may use; else (None, why they share)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, "CPU affinity is not available here: the ranks share whatever CPUs the system gives"
    allowed = sorted(os.sched_getaffinity(0))
    if ranks * threads > len(allowed):
        return None, f"ranks share cores: {ranks} ranks x {threads} threads on {len(allowed)} CPUs"
    return [set(allowed[r * threads : (r + 1) * threads]) for r in range(ranks)], ""


def run_ranked(runner, cell, process):
    """The result of one process of CELL over cell.ranks ranks (a worker's result dict)."""
    # one port per rank: rank 0's is the rendezvous (torch), each rank's its own server (TensorFlow's cluster)
    addresses = [f"127.0.0.1:{port}" for port in free_ports(cell.ranks)]
    cpus, shared = rank_cpus(cell.ranks, cell.threads)
    handles = []
    try:
        for r in range(cell.ranks):
            handle = runner.start_process(cell, process, rank=r, address=addresses[0], addresses=addresses)
            pin(handle.proc.pid, cpus[r] if cpus else None)
            handles.append(handle)
        results = wait_ranks(handles, runner.options.timeout)
    except BaseException:  # Ctrl-C: no rank outlives the run
        for h in handles:
            kill_worker(h)
        raise
    result = combine(results)
    result["rank_cpus"] = [sorted(c) for c in cpus] if cpus else None
    if shared:
        result["ranks_shared"] = shared
    return result


def _finished_ok(handle):
    """Whether a rank that exited left an ok result (the others may still be finishing)."""
    try:
        with open(handle.result_path) as f:
            return json.load(f).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def wait_ranks(handles, timeout):
    """Every rank's result, in rank order. The first rank to end without an ok result has
    the others killed (they would wait for it in a collective); past `timeout` all are."""
    deadline = time.monotonic() + timeout
    failed, done_ok = None, set()  # done_ok: ranks that exited with an ok result, read once
    while True:
        codes = [h.proc.poll() for h in handles]
        for h in handles:
            h.guard.check()  # a rank past --memory-limit is killed here and reads as out of memory
        if failed is None:
            exited = [r for r, c in enumerate(codes) if c is not None and r not in done_ok]
            done_ok |= {r for r in exited if _finished_ok(handles[r])}
            ended = [r for r in exited if r not in done_ok]
            # a rank that died without a result first: the others' exceptions are often its
            # echo (gloo's "Connection reset by peer" on rank 0 when rank 1 crashed)
            ended.sort(key=lambda r: os.path.exists(handles[r].result_path))
            failed = ended[0] if ended else None
        if all(c is not None for c in codes):
            break
        if failed is not None:
            for r, h in enumerate(handles):
                if codes[r] is None:
                    kill_worker(h)
            break
        if time.monotonic() >= deadline:
            results = []
            for r, h in enumerate(handles):
                running = h.proc.poll() is None
                if running:
                    kill_worker(h)
                res = finish_worker(h, timeout, killed_for=timeout if running else None)
                results.append(_named(res, r, running and res["status"] == "timeout"))
            return results
        time.sleep(POLL_S)
    results = []
    for r, h in enumerate(handles):
        res = finish_worker(h, timeout)
        if failed is not None and r != failed and res.get("status") != "ok":
            res = {"status": "error", "reason": f"killed: rank {failed} failed first", "killed": True}
        results.append(_named(res, r, r == failed))
    return results


def _named(result, rank, blame):
    """The rank's result, its reason starting `rank R:` where it is the one to blame."""
    result = dict(result, rank=rank)
    if blame and result.get("reason") and result.get("status") in ("error", "timeout", "invalid"):
        result["reason"] = f"rank {rank}: {result['reason']}"
    return result


def combine(results):
    """One result from the ranks' results: the first rank's that failed on its own (not
    killed because another failed) if any did; else rank 0's, its samples replaced by the
    slowest rank's time of each sample."""
    # a killed rank's result exists only beside the failed rank's own, never alone
    failed = [r for r in results if r.get("status") != "ok" and not r.get("killed")]
    if failed:
        timeouts = [r for r in failed if r["status"] == "timeout"]
        if len(timeouts) > 1:  # a hang holds every rank: name them all, and where each was
            return {"status": "timeout", "reason": "; ".join(r["reason"] for r in timeouts)}
        return dict(failed[0])
    first = results[0]
    per_rank = [r.get("samples") or [] for r in results]
    n = min(len(s) for s in per_rank)
    slowest = [max(s[i] for s in per_rank) for i in range(n)]
    loops = {r.get("loops") for r in results}
    out = dict(first, samples=slowest, rank_samples=[s[:n] for s in per_rank])
    if len(loops) > 1:  # never expected: the ranks agree on it (harness.worker.measure_agreed)
        out.update(status="error", reason=f"the ranks timed different calls per sample: {sorted(loops)}")
    out["peak_rss_bytes"] = max((r.get("peak_rss_bytes") or 0 for r in results), default=None) or None
    return out
