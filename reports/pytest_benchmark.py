"""pytest-benchmark JSON in and out.

Export: each valid cell becomes one pytest-benchmark entry (its samples as `data`,
per-call seconds), so `pytest-benchmark compare` and `--benchmark-compare` users can
read dlbench results. Import: each file becomes one *process* of the cells it holds,
so several pytest-benchmark runs of the same code compare at the level where the
noise is (see reports.compare). An imported cell is a current record (records), checked
as every reader checks one.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import uuid
from datetime import datetime, timezone

import scenarios
from harness import __version__, stats
from harness.errors import DlbenchError
from records import ADDED, KEY_FIELDS, SCHEMA_VERSION, RecordError, defaults, key_fields, read

# pytest-benchmark's name for a cell, in the order earlier exports spelt it (its history matches on it)
PARAM_FIELDS = (*key_fields(without=("device", "mode", "threads", "ranks", "scaling", "seed")), "mode", "device")


class ConvertError(DlbenchError, ValueError):
    pass


def _pb_stats(samples, loops):
    s = sorted(samples)
    q1, med, q3 = stats.quartiles(s)
    iqr = q3 - q1
    mean = statistics.fmean(s)
    sd = statistics.stdev(s) if len(s) > 1 else 0.0
    lo = next((v for v in s if v >= q1 - 1.5 * iqr), s[0])
    hi = next((v for v in reversed(s) if v <= q3 + 1.5 * iqr), s[-1])
    iqr_out = sum(1 for v in s if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr)
    sd_out = sum(1 for v in s if v < mean - sd or v > mean + sd)
    return {
        "min": s[0],
        "max": s[-1],
        "mean": mean,
        "stddev": sd,
        "rounds": len(s),
        "median": med,
        "iqr": iqr,
        "q1": q1,
        "q3": q3,
        "iqr_outliers": iqr_out,
        "stddev_outliers": sd_out,
        "outliers": f"{sd_out};{iqr_out}",
        "ld15iqr": lo,
        "hd15iqr": hi,
        "ops": 1.0 / mean if mean else 0.0,
        "total": sum(s) * loops,
        "data": list(samples),
        "iterations": loops,
    }


def export(records, machine):
    """dlbench records -> (pytest-benchmark document, number of cells left out)."""
    benches, left_out = [], 0
    for r in records:
        if r["status"] != "ok" or not r.get("samples"):
            left_out += 1  # pytest-benchmark has no notion of an invalid or unsupported cell
            continue
        param = "-".join(str(r[k]) for k in PARAM_FIELDS)
        benches.append(
            {
                "group": f"{r['scenario']}/{r['phase']}/{r['size']}",
                "name": f"test_cell[{param}]",
                "fullname": f"dlbench::test_cell[{param}]",
                "params": {"cell": param},
                "param": param,
                "extra_info": {
                    "dlbench": {
                        k: r.get(k)
                        for k in KEY_FIELDS + ("impl_version", "gflops", "gbs", "flops", "bytes", "sample_process")
                    }
                },
                "options": {
                    "timer": "perf_counter",
                    "min_time": (r.get("options") or {}).get("min_time"),
                    "warmup": True,
                    "disable_gc": True,
                },
                "stats": _pb_stats(r["samples"], (r.get("loops") or [1])[0] or 1),
            }
        )
    machine = machine or {}
    doc = {
        "machine_info": {
            "node": machine.get("hostname"),
            "machine": platform.machine(),
            "python_version": machine.get("python"),
            "system": platform.system(),
            "cpu": {"brand_raw": (machine.get("cpu") or {}).get("model")},
            "dlbench": {"machine_id": machine.get("machine_id")},
        },
        "commit_info": {
            "id": (machine.get("git_commit") or "").replace("-dirty", ""),
            "dirty": (machine.get("git_commit") or "").endswith("-dirty"),
        },
        "benchmarks": benches,
        "datetime": datetime.now(timezone.utc).isoformat(),
        "version": f"dlbench {__version__}",
    }
    return doc, left_out


def _load(path):
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read ({exc.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConvertError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ConvertError(f"{path}: not a pytest-benchmark file (no 'benchmarks' list)")
    return doc


def _work(bench, key):
    """What a cell computes, for its rates and for comparing like with like: a dlbench
    export carries its flops and bytes, and a known scenario gives the rest; a foreign
    benchmark's work is unknown (None: a time without a rate)."""
    info = (bench.get("extra_info") or {}).get("dlbench") or {}
    work = {"flops": info.get("flops"), "bytes": info.get("bytes"), "impl_version": info.get("impl_version")}
    scenario = scenarios.get(key["scenario"]) if key["scenario"] in scenarios.names() else None
    if scenario is None or key["size"] not in scenario.sizes or key["phase"] not in scenario.phases:
        return dict(work, params=bench.get("params") or {}, work_unit=None, memory_bound=False)
    params = scenario.params(key["size"])
    return dict(
        work,
        params=params,
        work_unit=scenario.work_unit,
        memory_bound=scenario.memory_bound(key["phase"], params),
        working_set_bytes=scenario.working_set(params, key["phase"]),
    )


def _key(bench):
    """The dlbench cell of a pytest-benchmark entry: its own (an older dlbench's export may
    lack a field added since: ADDED's default), or one derived from the test name."""
    info = (bench.get("extra_info") or {}).get("dlbench")
    if info:
        return {k: info[k] if k in info else ADDED.get(k) for k in KEY_FIELDS}
    name = bench.get("name") or bench.get("fullname") or "benchmark"
    return {
        "scenario": bench.get("group") or name.split("[")[0],
        "phase": "call",
        "size": "-",
        "impl": "pytest-benchmark",
        "device": "cpu",
        "mode": bench.get("param") or name,
        "threads": 0,
        "ranks": 1,
        "scaling": "",
        "seed": 0,
    }


def _commit(info):
    """The commit a file was saved at; pytest-benchmark writes "unversioned" outside a git
    checkout, which is no commit (history would line runs up by it)."""
    commit = info.get("id")
    if not commit or commit == "unversioned":
        return None
    return commit + ("-dirty" if info.get("dirty") else "")


def import_files(paths, summary_ok=False):
    """pytest-benchmark files -> (dlbench records, machine); file i is process i.

    summary_ok: a benchmark saved without its raw data (pytest-benchmark's default for
    --benchmark-autosave) becomes a cell with its saved statistics and no samples (history
    for the database needs only the median), instead of an error."""
    cells, machine = {}, None
    summaries = {}  # cell key -> pytest-benchmark's stats, for cells saved without raw data
    # unique as a run's is (the results database keys runs by it): two imports in one second differ
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-import-") + uuid.uuid4().hex[:6]
    for process, path in enumerate(paths):
        doc = _load(path)
        info = doc.get("machine_info") or {}
        machine = machine or {
            "machine_id": (info.get("dlbench") or {}).get("machine_id") or info.get("node"),
            "hostname": info.get("node"),
            "cpu": {"model": (info.get("cpu") or {}).get("brand_raw")},
            "python": info.get("python_version"),
            "git_commit": _commit(doc.get("commit_info") or {}),
            "frameworks": {},
            "imported_from": "pytest-benchmark",
        }
        for number, bench in enumerate(doc["benchmarks"]):
            st = bench.get("stats") or {}
            data = st.get("data")
            if not data and summary_ok and isinstance(st.get("median"), (int, float)):
                summaries[tuple(_key(bench).values())] = st
                data = []
            elif not data:
                raise ConvertError(
                    f"{path}: benchmark {number} ({bench.get('name')}) has no raw data; "
                    f"rerun pytest with --benchmark-save-data (or --benchmark-json keeps it)"
                )
            key = _key(bench)
            rec = cells.setdefault(
                tuple(key.values()),
                {
                    **defaults(),  # what a pytest-benchmark run does not measure
                    "schema": SCHEMA_VERSION,
                    "run_id": run_id,
                    "timestamp": doc.get("datetime"),  # when pytest-benchmark ran it (the first file's)
                    "dlbench_version": __version__,
                    **key,
                    **_work(bench, key),
                    "status": "ok",
                    "reason": "",
                    "samples": [],
                    "sample_process": [],
                    "loops": [],
                    "imported_from": [],
                    "first_call_s": None,
                    "errors": None,
                },
            )
            rec["samples"] += [float(v) for v in data]
            rec["sample_process"] += [process] * len(data)
            rec["loops"].append(st.get("iterations", 1))
            rec["imported_from"].append(os.path.basename(path))
    imported = []
    for key, rec in cells.items():
        rec.update(stats.summarize(rec["samples"]))
        if not rec["samples"] and key in summaries:
            st = summaries[key]
            rec.update(median=st["median"], min=st.get("min"), mean=st.get("mean"), stdev=st.get("stddev"))
            rec.update(q1=st.get("q1"), q3=st.get("q3"), iqr=st.get("iqr"), n_samples=st.get("rounds"))
            rec["summary_only"] = True  # pytest-benchmark kept its statistics, not its samples
        rec["processes"] = len(set(rec["sample_process"]))
        median = rec.get("median")
        rec["gflops"] = rec["flops"] / median / 1e9 if rec["flops"] is not None and median else None
        rec["gbs"] = rec["bytes"] / median / 1e9 if rec["bytes"] is not None and median else None
        try:
            imported.append(read(rec, f"{', '.join(rec['imported_from'])}: {'/'.join(map(str, key))}"))
        except RecordError as exc:
            raise ConvertError(str(exc)) from None
    return imported, machine
