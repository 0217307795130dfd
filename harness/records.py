"""One place that builds a cell's record from its workers' results: the cell, its
samples and their summary, precision and contention, the side and run it came from,
its work counts and rates. Runner.run and harness.interleave both call build_record.
"""

from __future__ import annotations

from datetime import datetime, timezone

import scenarios
from harness import __version__, contention, stats, task_runs
from records import SCHEMA_VERSION


def build_record(
    cell,
    results,
    *,
    run_id,
    machine,
    facts,
    side,
    options,
    work=None,
    quiet_wait=None,
    interleaved=False,
    lockstep=None,
    turns=None,
    drift="",
    sentinel=None,
    reached=None,
):
    """The record of one cell from its processes' results (the first failed one decides its status).

    facts: what the implementation's worker said about itself (harness.machine_record.framework_facts);
    work: the flops and bytes of the side's own checkout (harness.side_work), None: this one's;
    interleaved: a record of `compare --interleave` (lockstep: whether its pairs ran in lockstep);
    turns: the implementations it took lockstep turns with in `dlbench run` (harness.rounds),
    drift: why the sentinel says it ran on a slow machine (''), sentinel: the readings before
    its rounds, reached: what --precision reached.
    """
    scenario = scenarios.get(cell.scenario)
    params = scenario.params(cell.size, cell.ranks, cell.scaling)
    failed = next((r for r in results if r["status"] != "ok"), None)
    status, reason = (failed["status"], failed["reason"]) if failed else ("ok", "")
    task = task_runs.summary(results, params, cell.phase) if scenario.trials else None
    if task and status == "ok" and not task["reached"]:  # no time to report: none got there
        status, reason = "invalid", task_runs.not_reached(task)
    samples, sample_process, sample_turn = [], [], []
    for r in results:
        samples += r.get("samples", [])
        sample_process += [r.get("process", 0)] * len(r.get("samples", []))
        sample_turn += r.get("turns") or []
    if status != "ok":  # a failed cell is never reported as a time
        samples, sample_process, sample_turn = [], [], []
    summary = stats.summarize(samples)
    prec = precision(results, summary) if status == "ok" else dict.fromkeys(PRECISION_FIELDS)
    cont = contention.combine([r.get("contention") for r in results])
    # the work the side's own checkout does (another revision's scenario may differ)
    work = work or {}
    flops = work.get("flops", scenario.flops(params, cell.phase))
    nbytes = work.get("bytes", scenario.bytes_moved(params, cell.phase))
    median = summary.get("median")
    first = results[0]
    facts = facts or {}
    record = {
        "schema": SCHEMA_VERSION,
        "run_id": run_id,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dlbench_version": __version__,
        "git_commit": (machine or {}).get("git_commit"),
        "machine_id": (machine or {}).get("machine_id"),
        **cell.as_dict(),
        "params": params,
        "impl_version": (facts.get("info") or {}).get("version"),
        "python": facts.get("python"),
        "side": side,
        "status": status,
        "reason": reason,
        "errors": first.get("errors"),
        "samples": samples,
        "sample_process": sample_process,
        "loops": [r.get("loops") for r in results if "loops" in r],
        "processes": len(results),
        **summary,
        **prec,
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
        "device_peak_bytes": max((r["device_peak_bytes"] for r in results if r.get("device_peak_bytes")), default=None),
        "flops": flops,
        "bytes": nbytes,
        "working_set_bytes": scenario.working_set(params, cell.phase),
        "work_unit": scenario.work_unit,
        "memory_bound": scenario.memory_bound(cell.phase, params),
        "gflops": flops / median / 1e9 if median and flops else None,
        "gbs": nbytes / median / 1e9 if median and nbytes else None,
        # a collective's bus bandwidth (nccl-tests): its algorithm bandwidth (gbs) x 2(n-1)/n
        "bus_gbs": nbytes / median / 1e9 * scenario.bus_factor(params)
        if median and scenario.bus_factor and scenario.bus_factor(params) > 0
        else None,
        "options": {
            k: getattr(options, k, None)
            for k in (
                "samples",
                "min_time",
                "warmup_time",
                "max_time",
                "timeout",
                "processes",
                "quiet_wait",
                "memory_limit",
                "lockstep",
                "precision",
                "budget",
            )
        },
    }
    per_rank = [r["rank_samples"] for r in results if r.get("rank_samples")]
    if per_rank and status == "ok":  # over several ranks: each rank's samples, its processes in turn
        record["rank_samples"] = [[v for p in per_rank for v in p[i]] for i in range(len(per_rank[0]))]
        record["rank_cpus"] = first.get("rank_cpus")
        record["ranks_shared"] = first.get("ranks_shared", "")
        if first.get("ranks_across"):  # --across-machines: which launcher, which hosts
            record["ranks_across"] = first["ranks_across"]
    if task:  # the task layer: each trial to the target, MLPerf's mean
        record["task"] = dict(task, note=task_runs.missed_note(task))
    if turns is not None:  # dlbench run in lockstep: sample i of every implementation from turn i
        record["turns"] = turns
        record["sample_turn"] = sample_turn if len(sample_turn) == len(samples) else None
    record["drift"] = bool(drift) and status == "ok"
    record["drift_reason"] = drift if status == "ok" else ""
    if sentinel is not None:
        record["sentinel"] = sentinel
    if reached is not None:
        record["precision"] = reached
    for extra in ("traceback", "log_tail"):
        if failed and failed.get(extra):
            record[extra] = failed[extra]
    if interleaved:  # harness.interleave: the two sides' processes alternated
        record["interleaved"] = True
        if any(r.get("blocked") for r in results):
            record["blocked"] = True  # this side could have run it; the other could not
        record["lockstep"] = lockstep
    return record


# A cell is `noisy` when its figure moves more than these from process to process or
# within one: within-process IQR over 10% of the median is where
# torch.utils.benchmark warns too; a process-to-process interval wider than 20% of
# the median (+-10%) means the next run may well land outside what is printed.
NOISY_IQR = 0.10
NOISY_SPREAD = 0.20
PRECISION_FIELDS = ("process_medians", "ci_low", "ci_high", "ci_level", "noisy", "noisy_reason")


def process_interval(medians, center):
    """(low, high, level) of a cell's figure `center` from its processes' medians, None for
    fewer than two: the level the process count supports (75% for 3, 95% from 6), stated
    for where the next run's figure lands (harness.stats.prediction_interval), and never
    narrower than the processes' own order-statistic interval."""
    interval = stats.median_interval(medians)
    if not interval:
        return None
    low, high, level = interval
    predicted = stats.prediction_interval(medians, center or 0, level)
    if predicted:
        low, high = min(low, predicted[0]), max(high, predicted[1])
    return low, high, level


def precision(results, summary):
    """Process-level precision of an ok cell: each process's median, the interval the next
    run's figure falls in (it holds the processes' range too), and whether the cell is
    noisy (and why)."""
    per_process = [stats.summarize(r["samples"]) for r in results if r.get("samples")]
    medians = [p["median"] for p in per_process]
    interval = process_interval(medians, summary.get("median"))
    low, high, level = interval if interval else (None, None, None)
    within = sorted(p["rel_iqr"] for p in per_process if p["rel_iqr"] is not None)
    reasons = []
    if within and within[len(within) // 2] > NOISY_IQR:
        reasons.append(f"IQR {within[len(within) // 2]:.0%} of the median within a process (> {NOISY_IQR:.0%})")
    median = summary.get("median")
    if interval and median and (high - low) / median > NOISY_SPREAD:
        reasons.append(f"processes spread {(high - low) / median:.0%} of the median (> {NOISY_SPREAD:.0%})")
    return {
        "process_medians": medians,
        "ci_low": low,
        "ci_high": high,
        "ci_level": level,
        "noisy": bool(reasons),
        "noisy_reason": "; ".join(reasons),
    }
