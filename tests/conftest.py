import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_IMPLS = os.path.join(HERE, "fake_impls")

# Fast measurement settings: tests check behaviour, not speed.
FAST = ["--samples", "3", "--min-time", "0.001", "--warmup", "0.001"]

# `dlbench run` measures the machine's peaks first (a few seconds); tests of runs skip
# that unless they pass --machine-probe (tests/test_machine.py does, with tiny probes).
os.environ.setdefault("DLBENCH_MACHINE_PROBE", "0")
# One worker process per cell unless a test asks for more (the CLI default is several).
os.environ.setdefault("DLBENCH_PROCESSES", "1")


@pytest.fixture
def fake_impls(monkeypatch):
    """Make the test-only implementations visible to the harness and its workers."""
    import impls
    monkeypatch.setenv("DLBENCH_EXTRA_IMPLS", FAKE_IMPLS)
    if FAKE_IMPLS not in impls.__path__:
        impls.__path__.append(FAKE_IMPLS)
    yield
    if FAKE_IMPLS in impls.__path__:
        impls.__path__.remove(FAKE_IMPLS)


def read_results(out):
    with open(os.path.join(out, "results.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def by_cell(records):
    return {(r["scenario"], r["phase"], r["impl"], r["mode"]): r for r in records}


# --- results for the report tests: one real tiny run per session, and edited copies ---

NASTY = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A real run: reference and torch (eager) on conv, sigmoid and qgemm, cpu and cuda
    (cuda cells are unsupported here: a reason, no numbers), with tiny machine probes."""
    from harness.cli import main
    out = str(tmp_path_factory.mktemp("reports") / "tiny")
    code = main(["run", "--size", "tiny", "--impl", "reference,torch", "--mode", "eager", "--scenario",
                 "conv,sigmoid,qgemm", "--device", "cpu,cuda", "--machine-probe", "--probe-time", "0.05",
                 "--out", out, "--quiet", *FAST])
    assert code == 0
    return out


def copy_results(src, dest, edit_record=None, edit_machine=None):
    """A copy of a results directory, each record and machine.json passed through an edit."""
    os.makedirs(dest)
    with open(os.path.join(dest, "results.jsonl"), "w") as f:
        for rec in read_results(src):
            f.write(json.dumps(edit_record(rec) if edit_record else rec) + "\n")
    with open(os.path.join(src, "machine.json")) as f:
        machine = json.load(f)
    with open(os.path.join(dest, "machine.json"), "w") as f:
        json.dump(edit_machine(machine) if edit_machine else machine, f)
    return str(dest)


@pytest.fixture(scope="session")
def mixed_run(tiny_run, tmp_path_factory):
    """The tiny run plus an invalid, an error and a timeout cell whose strings would be
    markup if not escaped (an implementation named and versioned as HTML included)."""
    dest = copy_results(tiny_run, tmp_path_factory.mktemp("reports") / "mixed")
    template = next(r for r in read_results(tiny_run) if r["status"] == "ok" and r["scenario"] == "conv")
    failed = []
    for status, impl in (("invalid", "torch"), ("error", "evil<b>impl</b>"), ("timeout", "reference")):
        rec = dict(template, impl=impl, mode=f"{status}-mode", status=status, reason=f"{status}: {NASTY}",
                   impl_version='<svg onload=alert(2)>', samples=[], sample_process=[], median=None, q1=None,
                   q3=None, iqr=None, rel_iqr=None, min=None, mean=None, gflops=None, gbs=None, n_samples=0)
        failed.append(rec)
    with open(os.path.join(dest, "results.jsonl"), "a") as f:
        for rec in failed:
            f.write(json.dumps(rec) + "\n")
    return dest


SLOWER = 2.0


@pytest.fixture(scope="session")
def other_machine(tiny_run, tmp_path_factory):
    """The tiny run as if from a second machine, every time SLOWER times longer."""
    def record(rec):
        rec = dict(rec, machine_id="feedfacecafe")
        if rec["status"] == "ok":
            for k in ("samples",):
                rec[k] = [v * SLOWER for v in rec[k]]
            for k in ("median", "q1", "q3", "iqr", "min", "mean"):
                rec[k] = rec[k] * SLOWER
            rec["gflops"], rec["gbs"] = rec["gflops"] / SLOWER, rec["gbs"] / SLOWER
        return rec

    def machine(m):
        return dict(m, machine_id="feedfacecafe", hostname="other-box")
    return copy_results(tiny_run, tmp_path_factory.mktemp("reports") / "other", record, machine)


PARENT_ONLY = ("pandas", "rich", "psutil", "cpuinfo", "torch", "scipy")


def in_fresh_worker(call):
    """Run `call` (an expression over harness.worker) in a fresh interpreter, as a worker
    would; returns (its JSON-able value, which parent-only libraries got imported)."""
    from harness.environments import REPO_ROOT
    code = ("import json, sys\nfrom harness import worker\n"
            f"res = {call}\n"
            f"print(json.dumps([res, sorted(m for m in {PARENT_ONLY!r} if m in sys.modules)]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    res, mods = json.loads(out.stdout.strip().splitlines()[-1])
    return res, mods
