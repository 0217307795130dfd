import json
import os
import shlex
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_IMPLS = os.path.join(HERE, "fake_impls")

# Fast measurement settings: tests check behaviour, not speed.
FAST = ["--samples", "3", "--min-time", "0.001", "--warmup", "0.001"]

# `dlbench run` measures the machine's peaks first (a few seconds); tests of runs skip
# that unless they pass --machine-probe (tests/test_machine.py does, with tiny probes).
os.environ.setdefault("DLBENCH_MACHINE_PROBE", "0")
# and those that probe make quick probes (GEMMs to n=256, a 64 MiB DRAM copy, no wait for
# quiet: timing/ceiling.py); tests/test_machine.py waits and sweeps where it means to
os.environ.setdefault("DLBENCH_QUICK_PROBES", "1")
# Baselines go into the default database: the tests' own, never the user's (~/.local/share),
# and no folder history of the checkout's is imported into it.
_STORE = tempfile.mkdtemp(prefix="dlbench-tests-store-")
os.environ.setdefault("DLBENCH_DB", os.path.join(_STORE, "results.sqlite"))
os.environ.setdefault("DLBENCH_HISTORY", os.path.join(_STORE, "history"))
# One worker process per cell unless a test asks for more (the CLI default is several).
os.environ.setdefault("DLBENCH_PROCESSES", "1")


@pytest.fixture(autouse=True)
def own_store(tmp_path_factory, monkeypatch):
    """Each test its own default database and folder history (harness.store): a baseline one
    test saves is never another's."""
    where = tmp_path_factory.mktemp("store")
    monkeypatch.setenv("DLBENCH_DB", str(where / "results.sqlite"))
    monkeypatch.setenv("DLBENCH_HISTORY", str(where / "history"))


@pytest.fixture
def full_probes(monkeypatch):
    """The real probe rules (GEMMs to n=2048, DRAM past the caches, a wait for quiet), for
    the tests of those rules; every other test probes quickly."""
    monkeypatch.delenv("DLBENCH_QUICK_PROBES", raising=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """@pytest.mark.requires(...): checked before any fixture runs (tests/requirements.py)."""
    from tests.requirements import require

    for mark in item.iter_markers("requires"):
        require(*mark.args)


def dlbench(command, *extra):
    """`dlbench COMMAND EXTRA...` run in this process, as a user types it: its exit status.
    The command is one string, split as a shell splits it; extra words are passed as they are."""
    from cli.main import main

    return main(shlex.split(command) + [str(e) for e in extra])


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

    out = str(tmp_path_factory.mktemp("reports") / "tiny")
    code = dlbench(
        "run --size tiny --impl reference,torch --mode eager --scenario conv,sigmoid,qgemm "
        f"--device cpu,cuda --machine-probe --probe-time 0.05 --out {out} --quiet",
        *FAST,
    )
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
        rec = dict(
            template,
            impl=impl,
            mode=f"{status}-mode",
            status=status,
            reason=f"{status}: {NASTY}",
            impl_version="<svg onload=alert(2)>",
            samples=[],
            sample_process=[],
            median=None,
            q1=None,
            q3=None,
            iqr=None,
            rel_iqr=None,
            min=None,
            mean=None,
            gflops=None,
            gbs=None,
            n_samples=0,
        )
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

    code = (
        "import json, sys\nfrom harness import worker\n"
        f"res = {call}\n"
        f"print(json.dumps([res, sorted(m for m in {PARENT_ONLY!r} if m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    res, mods = json.loads(out.stdout.strip().splitlines()[-1])
    return res, mods


# --- the fields of issue 13 (contention, precision), set by hand on a copy of the tiny run ---

PRECISION_FIELDS = (
    "sample_turn",  # lockstep turns of dlbench run: paired ratios and their intervals
    "turns",
    "drift",
    "drift_reason",
    "sentinel",
    "contended",
    "contention",
    "noisy",
    "noisy_reason",
    "process_medians",
    "ci_low",
    "ci_high",
    "ci_level",
    "quiet_wait",
    "ceiling_low",
)
QUIET = {
    "other_cpu": 0.01,
    "steal": 0.0,
    "load1": 0.3,
    "window_s": 0.2,
    "threshold": 0.25,
    "steal_threshold": 0.05,
    "contended": False,
    "processes": [],
}
BUSY = dict(QUIET, other_cpu=1.37, load1=2.9, contended=True)
NOISY_REASON = "processes spread 40% of the median (> 20%)"


def strip_precision(rec):
    """A record as dlbench wrote it before contention and intervals existed (schema 1)."""
    return {**{k: v for k, v in rec.items() if k not in PRECISION_FIELDS}, "schema": 1}


def with_interval(rec, rel, level=0.75, **fields):
    """An ok record with three process medians +-rel around its median, and their interval."""
    m = rec["median"]
    return {
        **rec,
        "process_medians": [m * (1 - rel), m, m * (1 + rel)],
        "ci_low": m * (1 - rel),
        "ci_high": m * (1 + rel),
        "ci_level": level,
        "contended": False,
        "contention": QUIET,
        "noisy": False,
        "noisy_reason": "",
        **fields,
    }


def _scale_peaks(machine, factor):
    def scale(x):
        if isinstance(x, dict):
            return {k: (v * factor if k == "value" and isinstance(v, (int, float)) else scale(v)) for k, v in x.items()}
        return x

    return dict(machine, peaks=scale(machine.get("peaks") or {}))


def cell_of(rec):
    return (rec["scenario"], rec["phase"], rec["impl"], rec["mode"], rec["device"])


@pytest.fixture(scope="session")
def flagged_run(tiny_run, tmp_path_factory):
    """(results dir, {cell: flag}): the tiny run with every ok cell given a tight (+-0.4%)
    interval over three processes, except conv forward torch `contended`, sigmoid forward
    torch `noisy` with a +-20% interval, the first qgemm reference cell at 200% of its
    ceiling (every other cell far below: the machine's peaks x1000), and qgemm torch cells
    left as old records (no interval, no flags)."""
    from reports import load
    from reports.metrics import add_metrics

    base = tmp_path_factory.mktemp("reports")
    ok = [r for r in read_results(tiny_run) if r["status"] == "ok"]
    contended = next(r for r in ok if (r["scenario"], r["phase"], r["impl"]) == ("conv", "forward", "torch"))
    noisy = next(r for r in ok if (r["scenario"], r["phase"], r["impl"]) == ("sigmoid", "forward", "torch"))
    high = next(r for r in ok if (r["scenario"], r["impl"]) == ("qgemm", "reference"))
    scaled = copy_results(tiny_run, base / "scaled", strip_precision, lambda m: _scale_peaks(m, 1000))
    m = add_metrics(load([scaled]))
    pct = m[[cell_of(r) == cell_of(high) for r in m.to_dict("records")]]["pct_of_peak"].iloc[0]
    factor = 200 / pct

    def edit(rec):
        rec = strip_precision(rec)
        if rec["status"] != "ok" or (rec["scenario"] == "qgemm" and rec["impl"] == "torch"):
            return rec
        if cell_of(rec) == cell_of(contended):
            return with_interval(rec, 0.004, contended=True, contention=BUSY)
        if cell_of(rec) == cell_of(noisy):
            return with_interval(rec, 0.2, noisy=True, noisy_reason=NOISY_REASON)
        rec = with_interval(rec, 0.004)
        if cell_of(rec) == cell_of(high):
            rec["gflops"], rec["gbs"] = rec["gflops"] * factor, rec["gbs"] * factor
        return rec

    d = copy_results(tiny_run, base / "flagged", edit, lambda m: _scale_peaks(m, 1000))
    return d, {cell_of(contended): "contended", cell_of(noisy): "noisy", cell_of(high): "ceiling-low"}


# The results database's backends: every test that takes db_url runs on each; PostgreSQL's
# cases in their own lane (marker postgres: a server to start, outside the edit loop).
DB_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL server for the session (tests/postgres.py), stopped at its end."""
    from tests import postgres
    from tests.requirements import require

    require("postgres")
    server = postgres.Server()
    yield server
    server.stop()


@pytest.fixture(params=DB_BACKENDS)
def db_url(request, tmp_path):
    """A URL of a database that does not exist yet (SQLite: a file in tmp_path) or is empty
    (PostgreSQL: a new database on the session's throwaway server)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'results.sqlite'}"
    if request.param == "postgres":
        return request.getfixturevalue("postgres_server").new_database()
    raise AssertionError(request.param)
