"""A results database with a history: RUNS runs of the tiny_run fixture's cells, one per
commit, on one machine whose hostname is hostile text. Every time is the real one times a
small deterministic wobble (±1%), except STEP_CELL's, which is 30% slower from run STEP_AT
on; one reference cell fails with a hostile reason in one run; the fp32 GEMM peak of the
last run drops by a third (a changed machine)."""

import math
import os

from tests.conftest import NASTY, copy_results, dlbench

RUNS = 14
STEP_AT = 8
STEP_CELL = ("sigmoid", "forward", "reference")
FAILED_RUN = 3
MACHINE = f"vm {NASTY}"


def commit(i):
    return f"{i:02d}" + "c0ffee" * 6 + "ab"


def _edit_record(i):
    def edit(rec):
        rec = dict(rec, run_id=f"run-{i:02d}", git_commit=commit(i), timestamp=f"2026-11-{i + 1:02d}T12:00:00+00:00")
        if rec["status"] != "ok":
            return rec
        factor = 1 + 0.01 * math.sin(7 * i + len(rec["scenario"]) + len(rec["phase"]))
        if (rec["scenario"], rec["phase"], rec["impl"]) == STEP_CELL and i >= STEP_AT:
            factor *= 1.3
        if (rec["scenario"], rec["phase"], rec["impl"]) == ("conv", "forward", "reference") and i == FAILED_RUN:
            return dict(rec, status="invalid", reason=f"invalid: {NASTY}", median=None, ci_low=None, ci_high=None)
        for k in ("median", "ci_low", "ci_high"):
            if isinstance(rec.get(k), (int, float)):
                rec[k] = rec[k] * factor
        return rec

    return edit


def _edit_machine(i):
    def edit(machine):
        machine = dict(machine, hostname=MACHINE)
        peaks = machine.get("peaks") or {}
        best = (peaks.get("cpu") or {}).get("best") or {}
        if i == RUNS - 1 and "fp32_gemm_gflops" in best:
            best["fp32_gemm_gflops"] = dict(best["fp32_gemm_gflops"], value=best["fp32_gemm_gflops"]["value"] / 1.5)
        return machine

    return edit


def build(tiny_run, folder):
    """The database's URL, with the RUNS runs ingested."""
    url = f"sqlite:///{folder}/history.sqlite"
    dirs = [
        copy_results(tiny_run, os.path.join(folder, f"r{i}"), _edit_record(i), _edit_machine(i)) for i in range(RUNS)
    ]
    assert dlbench(f"db ingest {' '.join(dirs)} --db {url}") == 0
    return url
