"""dlbench compare: stored verdicts at the run level, interleaved at the pair level; exit codes,
baselines, lockstep interleaving."""

import json
import math
import os
import sys

import numpy as np
import pytest
from scipy import stats as sps

from cli.main import main
from reports.compare import MIN_BASELINE_RUNS, compare_cell, compare_records, process_medians
from reports.compare_stats import hodges_lehmann, holm, wilcoxon_interval
from tests.conftest import FAST, dlbench, read_results

KEY = dict(
    scenario="conv",
    phase="forward",
    size="small",
    impl="torch",
    device="cpu",
    mode="eager",
    threads=2,
    ranks=1,
    scaling="",
    seed=0,
)


def record(process_medians_, per_process=10, spread=0.02, seed=0, status="ok", interleaved=False):
    rng = np.random.default_rng(seed)
    samples, procs = [], []
    for i, m in enumerate(process_medians_):
        samples += list(m * (1 + spread * rng.standard_normal(per_process)))
        procs += [i] * per_process
    rec = dict(
        KEY,
        schema=1,
        run_id="run",  # every reader now checks a record names its run
        status=status,
        reason="" if status == "ok" else "boom",
        samples=samples,
        sample_process=procs,
        median=float(np.median(samples)) if samples else None,  # an ok record has its time
    )
    if interleaved:
        rec["interleaved"] = True
    return rec


def processes(n, level, cv, seed):
    """Process medians with the between-process noise measured on this machine."""
    return list(level * np.exp(cv * np.random.default_rng(seed).standard_normal(n)))


def test_process_medians_group_samples():
    rec = {"samples": [1, 2, 3, 10, 20, 30], "sample_process": [0, 0, 0, 1, 1, 1]}
    assert process_medians(rec) == [2, 20]


def runs(n, level, run_cv, seed, n_proc=5, proc_cv=0.025):
    """n stored runs of one cell: each run's level drifts (run_cv), its processes vary (proc_cv)."""
    rng = np.random.default_rng(seed)
    return [
        record(
            list(level * np.exp(run_cv * rng.standard_normal() + proc_cv * rng.standard_normal(n_proc))),
            seed=seed * 100 + i,
            spread=proc_cv,
        )
        for i in range(n)
    ]


def test_clear_slowdown_is_slower_identical_is_not():
    base = runs(5, 5e-3, 0.02, 1)
    c = compare_cell(base, runs(1, 6.5e-3, 0.02, 2), threshold=0.05, alpha=0.01)  # +30%
    assert c.verdict == "slower" and c.fails and c.p_value < 0.01 and c.change > 0.2 and c.ci_low > 0.05
    assert (c.n_base, c.n_cur) == (5, 1)  # runs are the unit
    same = compare_cell(base, runs(1, 5e-3, 0.02, 3), 0.05, 0.01)
    assert same.verdict in ("same", "inconclusive") and not same.fails
    quiet = compare_cell(runs(5, 5e-3, 0.003, 4, proc_cv=0.003), runs(1, 5e-3, 0.003, 5, proc_cv=0.003), 0.05, 0.01)
    assert quiet.verdict == "same" and -0.05 < quiet.ci_low < quiet.ci_high < 0.05


def test_one_baseline_run_is_inconclusive_however_many_processes():
    """Drift between runs is invisible inside one run: no verdict from a single baseline run."""
    base = record(processes(20, 5e-3, 0.001, 1), per_process=50, spread=0.001)
    cur = record(processes(20, 8e-3, 0.001, 2), per_process=50, spread=0.001, seed=1)
    c = compare_cell(base, cur, 0.05, 0.01)
    assert c.verdict == "inconclusive" and "drift between runs is unknown" in c.note and not c.fails
    assert abs(c.change - 0.6) < 0.01  # the estimate is still shown
    c = compare_cell(runs(MIN_BASELINE_RUNS, 5e-3, 0.02, 4), runs(1, 8e-3, 0.02, 5), 0.05, 0.01)
    assert c.verdict == "slower"


def test_no_false_alarms_under_run_level_drift():
    """A/A: every run shifted by its own drift (10% CV, as measured here between runs minutes
    apart), processes by 2.5% plus occasional slow ones. A per-process test would fire on
    most of these."""
    alarms = 0
    for trial in range(300):
        rng = np.random.default_rng(1000 + trial)
        sides = []
        for n in (3, 1):
            side = []
            for _ in range(n):
                meds = 5e-3 * np.exp(0.10 * rng.standard_normal() + 0.025 * rng.standard_normal(5))
                meds[rng.random(5) < 0.15] *= 1.9  # the slow mode: two threads on two shared cores
                side.append(record(list(meds), seed=trial))
            sides.append(side)
        alarms += compare_cell(sides[0], sides[1], 0.05, 0.01).verdict == "slower"
    # what is left is a whole run landing in the slow mode (about 3% of runs here): to any
    # stored test that looks like a regression; only interleaving can tell
    assert alarms <= 4


def test_interleaved_pairs_use_the_paired_test():
    drift = np.exp(0.05 * np.random.default_rng(5).standard_normal(8))  # both sides drift together
    base = record(list(5e-3 * drift), interleaved=True)
    cur = record(
        list(5.5e-3 * drift * (1 + 0.003 * np.random.default_rng(6).standard_normal(8))), seed=1, interleaved=True
    )
    c = compare_cell(base, cur, 0.05, 0.01, paired=True)
    assert c.verdict == "slower" and c.method == "interleaved" and abs(c.change - 0.10) < 0.01
    few = compare_cell(record(list(5e-3 * drift[:6])), record(list(5.5e-3 * drift[:6])), 0.05, 0.01, paired=True)
    assert few.verdict == "inconclusive" and "pairs" in few.note


def test_status_changes_fail_the_comparison():
    base = [record([5e-3] * 5), dict(record([5e-3] * 5), phase="backward")]
    cur = [record([5e-3] * 5, status="invalid")]
    result = compare_records(base, cur, 0.05, 0.01)
    verdicts = {c.key["phase"]: c.verdict for c in result.cells}
    assert verdicts == {"forward": "invalid", "backward": "missing"} and result.failed


def test_different_machines_warn():
    rec = [record([5e-3] * 5)]
    m1 = {"machine_id": "aaa", "cpu": {"model": "X"}, "hostname": "h1"}
    m2 = {"machine_id": "bbb", "cpu": {"model": "Y"}, "hostname": "h2"}
    result = compare_records(rec, rec, machines=[m1, m2])
    assert result.warnings and "different machines" in result.warnings[0]


def _write(dirpath, records, machine_id="m1"):
    os.makedirs(dirpath, exist_ok=True)
    with open(os.path.join(dirpath, "results.jsonl"), "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    with open(os.path.join(dirpath, "machine.json"), "w") as f:
        json.dump({"machine_id": machine_id, "cpu": {"model": "cpu"}, "hostname": "h"}, f)


def test_cli_exit_codes_and_formats(tmp_path, capsys):
    same, slow = tmp_path / "same", tmp_path / "slow"
    bases = [tmp_path / f"base{i}" for i in range(3)]
    for d, rec in zip(bases, runs(3, 5e-3, 0.01, 1)):
        _write(d, [rec])
    base = bases[0]
    _write(same, runs(1, 5e-3, 0.01, 2))
    _write(slow, runs(1, 7e-3, 0.01, 3))
    assert main(["compare", *map(str, bases), str(same)]) == 0
    assert main(["compare", str(base), str(slow)]) == 0  # one baseline run: inconclusive, not a failure
    assert "inconclusive" in capsys.readouterr().out
    assert main(["compare", *map(str, bases), str(slow), "--threshold", "5%"]) == 1
    out = capsys.readouterr().out
    assert "SLOWER" in out and "FAIL" in out
    assert main(["compare", *map(str, bases), str(slow), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["failed"] and doc["cells"][0]["verdict"] == "slower"
    assert main(["compare", *map(str, bases), str(slow), "--format", "markdown"]) == 1
    assert "| cell | verdict |" in capsys.readouterr().out
    assert main(["compare", str(base), str(tmp_path / "nope")]) == 2
    assert "neither a results directory nor a saved baseline" in capsys.readouterr().err
    assert dlbench(f"compare {base} {slow} --threshold 150%") == 2
    assert "must be between 0 and 100%" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.jsonl").write_text("{not json\n")
    assert main(["compare", str(base), str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "line 1: not valid JSON" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow  # seconds of real runs or simulation: make test, not the edit loop
def test_run_save_and_compare_against_baseline(tmp_path, capsys):
    from harness.store import Store, machine_of

    args = ["run", "--scenario", "sigmoid", "--impl", "reference", "--size", "tiny", "--quiet", *FAST]
    for i in range(3):  # the baseline is a tag on runs in the default database
        assert main(args + ["--out", str(tmp_path / f"a{i}"), "--save", "main"]) == 0
        out = capsys.readouterr().out
        assert "saved baseline 'main': run " in out and os.environ["DLBENCH_DB"] in out
    assert not os.path.exists(os.environ["DLBENCH_HISTORY"])  # no folder kept besides
    store = Store()
    newest = store.newest("main", machine_of(str(tmp_path / "a2")), keep=2)
    store.close()
    assert len(newest) == 2 and newest[-1] == read_results(str(tmp_path / "a2"))[0]["run_id"]
    code = main(args + ["--out", str(tmp_path / "b"), "--compare", "main", "--keep", "2"])
    out = capsys.readouterr().out
    assert code == 0 and "inconclusive" in out and "2/1" in out  # 2 baseline runs cannot measure drift
    # by default the newest 5: all three (a wide threshold: the machine's noise is not the point)
    assert main(["compare", "main", str(tmp_path / "b"), "--threshold", "90%"]) == 0
    assert " 3/1 " in capsys.readouterr().out
    # a cell the baseline lacks: listed and passing, failing under --strict
    more = ["--scenario", "sigmoid,qgemm", "--quiet", "--out", str(tmp_path / "c"), "--compare", "main", "--keep", "2"]
    assert main([a for a in args if a != "sigmoid" and a != "--scenario"] + more + ["--strict"]) == 1
    out = capsys.readouterr().out
    assert " new " in out and "strict" in out and "FAIL" in out
    assert main(["compare", "main", str(tmp_path / "c"), "--threshold", "90%"]) == 0
    assert main(["compare", "nosuch", str(tmp_path / "b")]) == 2
    assert "no baseline 'nosuch' for machine " in capsys.readouterr().err


@pytest.mark.slow  # seconds of real runs or simulation: make test, not the edit loop
def test_folder_baselines_are_imported_into_the_database_on_first_use(tmp_path, capsys):
    """A .dlbench/history of an older dlbench: the first comparison by name imports it, once."""
    from harness import history

    args = ["run", "--scenario", "sigmoid", "--impl", "reference", "--size", "tiny", "--quiet", *FAST]
    for i in range(2):
        assert main(args + ["--out", str(tmp_path / f"old{i}")]) == 0
        history.save(str(tmp_path / f"old{i}"), "legacy")  # the folder layout older versions wrote
    assert main(args + ["--out", str(tmp_path / "new")]) == 0
    capsys.readouterr()
    assert not os.path.exists(os.environ["DLBENCH_DB"])
    assert main(["compare", "legacy", str(tmp_path / "new"), "--threshold", "50%"]) == 0
    assert "2 baseline run(s)" in capsys.readouterr().out
    marker = os.path.join(os.environ["DLBENCH_HISTORY"], ".imported")
    with open(marker) as f:
        assert f.read().split() == [os.environ["DLBENCH_DB"]]
    assert main(["compare", "legacy", str(tmp_path / "new"), "--threshold", "50%"]) == 0
    assert "2 baseline run(s)" in capsys.readouterr().out  # imported once: still the two runs
    with open(marker) as f:
        assert len(f.read().split()) == 1


@pytest.mark.slow  # interleaved sides, real runs
def test_interleaved_run_of_two_interpreters(tmp_path, capsys):
    out = tmp_path / "cmp"
    code = dlbench(
        f"compare --interleave --base-python {sys.executable} --scenario sigmoid --impl "
        f"reference --size tiny --pairs 2 --threads 1 --out {out}",
        *FAST,
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "interleaved" in text and "inconclusive" in text  # 2 pairs cannot reach alpha
    for side in ("base", "cur"):
        recs = read_results(str(out / side))
        assert len(recs) == 2 and all(r["interleaved"] and r["lockstep"] and r["side"] == side for r in recs)
        assert all(r["sample_process"] == [0, 0, 0, 1, 1, 1] for r in recs)
    # both workers of every pair ran on the same CPUs (lockstep.shared_cpus), neither side on a core of its own
    cpus = {
        tuple(lay["cpus"]) for side in ("base", "cur") for r in read_results(str(out / side)) for lay in r["layout"]
    }
    assert len(cpus) == 1 and len(next(iter(cpus))) == 1  # --threads 1: one CPU, the same for both


@pytest.mark.slow  # interleaved sides, real runs
def test_interleaved_without_lockstep_runs_processes_in_turn(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert (
        dlbench(
            f"compare --interleave --no-lockstep --base-python {sys.executable} --scenario "
            f"sigmoid --impl reference --size tiny --pairs 2 --out {out}",
            *FAST,
        )
        == 0
    )
    recs = read_results(str(out / "base"))
    assert all(r["interleaved"] and not r["lockstep"] and r["sample_process"] == [0, 0, 0, 1, 1, 1] for r in recs)


@pytest.mark.slow  # interleaved sides, real runs over ranks
def test_interleaved_cells_over_ranks_run_each_sides_ranks_in_turn(tmp_path, capsys):
    """A cell over 2 ranks is 2 processes per side: they cannot take turns with the other
    side's, so the sides alternate whole (A B, B A), and the record says not lockstep."""
    out = tmp_path / "cmp"
    code = dlbench(
        f"compare --interleave --base-python {sys.executable} --scenario allreduce --impl torch "
        f"--size tiny --ranks 2 --threads 1 --pairs 2 --out {out}",
        *FAST,
    )
    assert code == 0
    for side in ("base", "cur"):
        (rec,) = [r for r in read_results(str(out / side)) if r["mode"] == "eager"]  # graph: unsupported
        assert rec["status"] == "ok" and rec["ranks"] == 2 and rec["interleaved"] and not rec["lockstep"]
        assert sorted(set(rec["sample_process"])) == [0, 1]


@pytest.mark.slow  # interleaved sides, real runs
def test_lockstep_contains_crashes_and_hangs(fake_impls, tmp_path, capsys):
    """faulty: conv kills its process in prepare, sigmoid hangs in prepare, qgemm raises.
    Both lockstep workers of a pair are contained; the comparison finishes."""
    out = tmp_path / "cmp"
    code = dlbench(
        f"compare --interleave --base-python {sys.executable} --impl faulty --scenario "
        f"conv,sigmoid,qgemm --size tiny --pairs 2 --timeout 4 --out {out}",
        *FAST,
    )
    assert code == 0  # failing on both sides is not a regression
    for side in ("base", "cur"):
        recs = {(r["scenario"], r["phase"]): r for r in read_results(str(out / side))}
        assert recs[("conv", "forward")]["status"] == "error" and "SIGSEGV" in recs[("conv", "forward")]["reason"]
        hung = recs[("sigmoid", "forward")]
        assert hung["status"] == "timeout" and "prepare" in hung["reason"]
        assert recs[("qgemm", "gemm")]["status"] == "error" and "exploded" in recs[("qgemm", "gemm")]["reason"]
    assert "not-comparable" in capsys.readouterr().out


def test_interleave_bad_sides(capsys):
    assert dlbench("compare --interleave --base-python /no/such/python") == 2
    assert "not an executable file" in capsys.readouterr().err
    assert dlbench("compare --interleave --base-rev no-such-rev-xyz --size tiny") == 2
    assert "--base-rev no-such-rev-xyz" in capsys.readouterr().err
    assert main(["compare", "--interleave"]) == 2


def test_injected_slowdown_implementation_validates_and_does_more_work(fake_impls, tmp_path, monkeypatch):
    monkeypatch.setenv("DLBENCH_SLOWDOWN", "0.5")
    out = str(tmp_path / "out")
    assert dlbench(f"run --scenario sigmoid --impl slowdown --size tiny --out {out} --quiet", *FAST) == 0
    assert all(r["status"] == "ok" for r in read_results(out))
    import scenarios
    from tests.fake_impls.slowdown import adapter

    problem = scenarios.get("sigmoid").problem("tiny")
    step = adapter.sigmoid(problem, "forward", "cpu", "eager")
    assert step.run().shape == (1500,)  # 50% more of the same work
    assert step.outputs()["y"].shape == (1000,)


@pytest.mark.slow  # seconds of real runs or simulation: make test, not the edit loop
def test_pytest_benchmark_round_trip(tmp_path, capsys):
    """pytest-benchmark runs the scenarios; its JSON imports as dlbench results (one
    process per file), compares, and exports back."""
    import subprocess

    from harness.environments import REPO_ROOT

    files = []
    for i in range(2):
        path = tmp_path / f"pb{i}.json"
        env = dict(os.environ, DLBENCH_BENCH_IMPLS="reference", DLBENCH_BENCH_SIZE="tiny", PYTHONPATH=REPO_ROOT)
        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "benchmarks/test_pytest_benchmark.py",
                "-k",
                "sigmoid",
                f"--benchmark-json={path}",
                "--benchmark-min-rounds=5",
                "--benchmark-max-time=0.05",
            ],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        files.append(str(path))
    out = tmp_path / "imported"
    assert main(["import", *files, "--out", str(out)]) == 0
    recs = read_results(str(out))
    assert {(r["scenario"], r["phase"]) for r in recs} == {("sigmoid", "forward"), ("sigmoid", "backward")}
    assert all(set(r["sample_process"]) == {0, 1} and r["median"] > 0 for r in recs)
    assert main(["compare", str(out), str(out)]) == 0
    capsys.readouterr()
    exported = tmp_path / "exported.json"
    assert dlbench(f"export {out} --out {exported}") == 0
    doc = json.loads(exported.read_text())
    assert len(doc["benchmarks"]) == 2 and doc["benchmarks"][0]["stats"]["data"]
    assert main(["import", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x")]) == 2
    (tmp_path / "foreign.json").write_text('{"hello": 1}')
    assert main(["import", str(tmp_path / "foreign.json"), "--out", str(tmp_path / "y")]) == 2
    assert "not a pytest-benchmark file" in capsys.readouterr().err


def test_lockstep_pairs_compare_turn_by_turn():
    """In lockstep, sample j of each side was taken back to back: a drift of +-20% inside
    every process cancels turn by turn, and a 4% change stands out."""
    rng = np.random.default_rng(7)
    base, cur = [], []
    for _ in range(8):
        drift = 5e-3 * np.exp(0.2 * rng.standard_normal(10))  # the machine's speed, per turn
        base.append(list(drift * (1 + 0.002 * rng.standard_normal(10))))
        cur.append(list(1.04 * drift * (1 + 0.002 * rng.standard_normal(10))))

    def rec(values, lockstep):
        return dict(
            KEY,
            schema=1,
            status="ok",
            reason="",
            interleaved=True,
            lockstep=lockstep,
            samples=[v for p in values for v in p],
            sample_process=[i for i, p in enumerate(values) for _ in p],
        )

    c = compare_cell(rec(base, True), rec(cur, True), 0.03, 0.01, paired=True)
    assert c.verdict == "slower" and abs(c.change - 0.04) < 0.005 and 0.03 < c.ci_low < c.ci_high < 0.05
    # without lockstep, samples of the two sides were not taken together: process medians
    loose = compare_cell(rec(base, False), rec(cur, False), 0.03, 0.01, paired=True)
    by_medians = [np.log(np.median(y) / np.median(x)) for x, y in zip(base, cur)]
    assert loose.change == pytest.approx(np.exp(hodges_lehmann(by_medians)) - 1)


def test_contended_records_are_shown_and_the_verdict_is_unchanged():
    base = runs(5, 5e-3, 0.02, 1)
    cur = runs(1, 6.5e-3, 0.02, 2)
    plain = compare_cell(base, cur, 0.05, 0.01)
    busy_base = [dict(r, contended=True) if i == 2 else r for i, r in enumerate(base)]
    busy = compare_cell(busy_base, cur, 0.05, 0.01)
    assert busy.contended and busy.contended_sides == ["base"] and not plain.contended
    assert (busy.verdict, busy.change, busy.p_value) == (plain.verdict, plain.change, plain.p_value)
    both = compare_cell(base[-1], dict(cur[0], contended=True), 0.05, 0.01, paired=True)
    assert both.contended_sides == ["cur"] and both.as_dict()["contended"] is True
    assert compare_cell(base, [dict(cur[0], contended=False)], 0.05, 0.01).as_dict()["contended"] is False


def test_compare_shows_contended_on_exactly_that_cell(tmp_path, capsys, tiny_run, flagged_run):
    from tests.conftest import cell_of, copy_results, strip_precision

    flagged, expected = flagged_run
    busy = next(cell for cell, flag in expected.items() if flag == "contended")
    old = copy_results(tiny_run, tmp_path / "old", strip_precision)  # a baseline from before the field
    assert main(["compare", old, flagged]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if "contended" in line]
    cell = f"{busy[0]}/{busy[1]}/"
    assert len(lines) == 2 and cell in lines[0] and f"{busy[2]}:{busy[3]}@{busy[4]}" in lines[0]
    assert "contended (cur)" in lines[0] and "1 contended" in lines[1]  # the row, then the summary
    assert dlbench(f"compare {flagged} {old} --format markdown") == 0
    md = capsys.readouterr().out
    rows = [line for line in md.splitlines() if line.startswith("| ") and "contended" in line]
    assert "| method | flags | note |" in md and len(rows) == 1 and "contended (base)" in rows[0] and cell in rows[0]
    assert dlbench(f"compare {old} {flagged} --format json") == 0
    doc = json.loads(capsys.readouterr().out)
    shown = {cell_of(dict(c["key"])): c["contended"] for c in doc["cells"]}
    assert [k for k, v in shown.items() if v] == [busy] and len(shown) == len(read_results(flagged))
    assert main(["compare", old, old]) == 0 and "contended" not in capsys.readouterr().out


def test_cells_whose_work_changed_are_not_compared():
    """qgemm's `gemm` lost its output stage: an old record under the same name did other work."""
    old = [dict(r, flops=100, bytes=50) for r in runs(5, 5e-3, 0.02, 1)]
    new = [dict(r, flops=100, bytes=40) for r in runs(1, 2e-3, 0.02, 2)]
    c = compare_cell(old, new, threshold=0.05, alpha=0.01)
    assert c.verdict == "not-comparable" and "different work" in c.note and "rerun the baseline" in c.note
    assert compare_cell(old, [dict(r, bytes=50) for r in new], 0.05, 0.01).verdict == "faster"


def test_a_side_reads_its_own_checkouts_phases_and_work():
    """What an older revision computes comes from its own scenario modules: a phase it lacks
    is unsupported there, a phase whose work changed carries that side's counts."""
    from harness.environments import REPO_ROOT
    from harness.plan import Cell
    from harness.side_work import side_work

    have = Cell("qgemm", "gemm", "tiny", "reference", "cpu", "eager", 1)
    lacks = Cell("qgemm", "no-such-phase", "tiny", "reference", "cpu", "eager", 1)
    work = side_work(sys.executable, REPO_ROOT, [have, lacks])
    # qgemm gemm at tiny (m=5, k=64, n=12): 2mnk OP; mk + kn + 4mn bytes
    assert work[have.key()] == {"flops": 2 * 5 * 12 * 64, "bytes": 5 * 64 + 64 * 12 + 4 * 5 * 12}
    assert "has no phase no-such-phase" in work[lacks.key()]["missing"]


# --- suite-level statistics ---------------------------------------------------------------


def suite_runs(n_runs, n_cells, drift, noise, rng, shift=0.0, prefix="b", drifts=None):
    """n_runs stored runs of n_cells cells: each run shifted by one drift every cell shares,
    each cell by its own small noise; records carry their run's id, as real ones do."""
    recs = []
    for r in range(n_runs):
        d = drifts[r] if drifts is not None else drift * rng.standard_normal()
        for c in range(n_cells):
            level = 5e-3 * (1 + 0.1 * c) * math.exp(d + noise * rng.standard_normal()) * (1 + shift)
            recs.append(dict(record([level] * 3, per_process=2, spread=0.0), phase=f"p{c}", run_id=f"{prefix}{r}"))
    return recs


def old_pooled_interval(base, cur, phase, alpha, threshold=0.03):
    """What the old rule did: each cell's run variance pooled over cells, df added up (56 for
    14 cells x 5 runs, where the drift every cell shares has 4). (low, high, df, p of
    H0: change <= threshold)."""
    logs = {}
    for r in base:
        logs.setdefault(r["phase"], []).append(math.log(np.median(r["samples"])))
    ss = sum(((np.array(v) - np.mean(v)) ** 2).sum() for v in logs.values())
    df = sum(len(v) - 1 for v in logs.values())
    diff = math.log(np.median(next(r for r in cur if r["phase"] == phase)["samples"])) - np.mean(logs[phase])
    se = math.sqrt(ss / df * (1 / len(logs[phase]) + 1))
    half = sps.t.ppf(1 - alpha / 2, df) * se
    return diff - half, diff + half, df, sps.t.sf((diff - math.log1p(threshold)) / se, df)


@pytest.mark.slow  # seconds of real runs or simulation: make test, not the edit loop
def test_stored_shared_drift_has_run_degrees_of_freedom():
    """14 cells x 5 runs, each run shifted by a shared 8% drift, 0.3% noise per cell: A/A.
    The old pooled df (56) gave intervals too narrow for a drift seen in 5 runs only."""
    n, old_out, suite_out, cell_out, failed = 300, 0, 0, 0, 0
    for seed in range(n):
        rng = np.random.default_rng(seed)
        base = suite_runs(5, 14, 0.08, 0.003, rng)
        cur = suite_runs(1, 14, 0.08, 0.003, rng, prefix="c")
        comp = compare_records(base, cur, 0.05, 0.05)
        lo, hi, old_df, _ = old_pooled_interval(base, cur, "p0", 0.05)
        assert old_df == 56 and comp.suite.df == 4 and {c.df for c in comp.cells} == {4 * 13}
        old_out += lo > 0 or hi < 0
        suite_out += comp.suite.ci_low > 0 or comp.suite.ci_high < 0
        cell = comp.cells[0]
        cell_out += cell.ci_low > 0 or cell.ci_high < 0
        failed += comp.failed
    assert old_out > 0.10 * n  # a "95%" interval that misses the true change 0 over 10% of the time
    assert suite_out < 0.08 * n and cell_out < 0.08 * n
    assert failed <= 0.05 * n


def test_stored_drift_between_critical_values_is_not_a_verdict():
    """Baseline runs that happen to agree, a candidate run on a slower machine moment: with
    df 56 every cell is `slower`; with the drift's real df 4 nothing is."""
    rng = np.random.default_rng(3)
    base = suite_runs(5, 14, 0, 0.0002, rng, drifts=[0.0, 0.01, -0.01, 0.005, -0.005])
    cur = suite_runs(1, 14, 0, 0.0002, rng, prefix="c", drifts=[0.046])
    old_p = [old_pooled_interval(base, cur, f"p{c}", 0.05)[3] for c in range(14)]
    assert max(old_p) < 0.05  # the old rule: all 14 cells significantly beyond the threshold
    comp = compare_records(base, cur, 0.03, 0.05)
    assert comp.suite.verdict == "inconclusive" and comp.suite.ci_low < 0.03 < comp.suite.ci_high
    assert not comp.failed and not any(c.verdict == "slower" for c in comp.cells)
    assert all(abs(c.change) < 0.01 < 0.03 < c.raw_change for c in comp.cells)  # relative vs raw


def test_uniform_shift_is_caught_at_the_suite_level_not_per_cell():
    rng = np.random.default_rng(4)
    base = suite_runs(5, 14, 0.01, 0.002, rng)
    cur = suite_runs(1, 14, 0.01, 0.002, rng, shift=0.10, prefix="c")
    comp = compare_records(base, cur, 0.05, 0.05)
    assert comp.suite.verdict == "slower" and comp.suite.change > 0.07 and comp.failed
    assert not any(c.verdict == "slower" for c in comp.cells)
    assert all(c.raw_change > 0.07 and abs(c.change) < 0.02 for c in comp.cells)
    assert "suite-wide shift: SLOWER (df 4)" in comp.suite.line()
    # one cell +20% on top of the same drift: that cell, not the suite
    one = [
        dict(r, samples=[v * 1.2 for v in r["samples"]]) if r["phase"] == "p3" else r
        for r in suite_runs(1, 14, 0.01, 0.002, np.random.default_rng(5), prefix="c")
    ]
    comp = compare_records(base, one, 0.05, 0.05)
    assert [c.key["phase"] for c in comp.cells if c.verdict == "slower"] == ["p3"]
    assert comp.suite.verdict == "same"


def test_few_cells_fall_back_to_their_own_runs():
    rng = np.random.default_rng(6)
    base = suite_runs(5, 2, 0.02, 0.002, rng)
    cur = suite_runs(1, 2, 0.02, 0.002, rng, prefix="c")
    assert {(c.df, "own runs" in c.note) for c in compare_records(base, cur, 0.05, 0.05).cells} == {(4, True)}


def walsh_brute(x):
    return sorted((x[i] + x[j]) / 2 for i in range(len(x)) for j in range(i, len(x)))


def null_brute(n):
    """P(T+ = t) by enumerating every sign vector."""
    import itertools

    counts = {}
    for signs in itertools.product((0, 1), repeat=n):
        t = sum(r for r, s in zip(range(1, n + 1), signs) if s)
        counts[t] = counts.get(t, 0) + 1
    return [counts.get(t, 0) / 2**n for t in range(n * (n + 1) // 2 + 1)]


def test_hodges_lehmann_and_interval_match_brute_force():
    rng = np.random.default_rng(8)
    for n in (6, 7, 9, 10):
        x = list(0.03 + 0.02 * rng.standard_normal(n))
        w = walsh_brute(x)
        assert hodges_lehmann(x) == pytest.approx(float(np.median(w)))
        cdf = np.cumsum(null_brute(n))
        k = max(i + 1 for i in range(len(cdf)) if cdf[i] <= 0.025)  # P(T+ <= k-1) <= alpha/2
        lo, hi, level, reached = wilcoxon_interval(x, 0.05)
        assert reached and (lo, hi) == pytest.approx((w[k - 1], w[len(w) - k]))
        assert level == pytest.approx(1 - 2 * cdf[k - 1]) and 0.95 <= level < 1
    lo, hi, level, reached = wilcoxon_interval([0.1, 0.2, 0.3], 0.05)  # 3 pairs cannot reach 95%
    assert not reached and (lo, hi) == pytest.approx((0.1, 0.3)) and level == pytest.approx(0.75)


def test_interval_excludes_zero_exactly_when_the_test_rejects():
    rng = np.random.default_rng(9)
    agree = rejected = 0
    for trial in range(300):
        n = int(rng.integers(6, 13))
        alpha = 0.05 if n < 8 else (0.05, 0.01)[trial % 2]
        x = list(rng.normal(0.02 * rng.standard_normal(), 0.03, n))
        lo, hi, _, reached = wilcoxon_interval(x, alpha)
        p = sps.wilcoxon(x, method="exact").pvalue
        agree += reached and ((lo > 0 or hi < 0) == (p < alpha))
        rejected += p < alpha
    assert agree == 300 and 20 < rejected < 280


def test_holm_step_down():
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([]) == [] and holm([0.5]) == [0.5]


def interleaved(n_pairs, change, noise, rng, phase):
    base = 5e-3 * np.exp(0.05 * rng.standard_normal(n_pairs))  # the pair's drift, shared
    cur = base * (1 + change) * np.exp(noise * rng.standard_normal(n_pairs))
    return (
        dict(record(list(base), per_process=1, spread=0.0), phase=phase, interleaved=True),
        dict(record(list(cur), per_process=1, spread=0.0), phase=phase, interleaved=True),
    )


def suite_of_pairs(n_cells, n_pairs, noise, rng, changes=None):
    pairs = [interleaved(n_pairs, (changes or {}).get(c, 0.0), noise, rng, f"p{c}") for c in range(n_cells)]
    return [b for b, _ in pairs], [c for _, c in pairs]


@pytest.mark.slow  # a simulation of many suites
def test_holm_keeps_the_suites_false_alarms_at_alpha():
    """60 A/A cells per suite, 50 suites: the per-cell rule raises `slower` in most suites,
    Holm in about alpha of them or fewer."""
    old = new = 0
    for seed in range(50):
        base, cur = suite_of_pairs(60, 8, 0.04, np.random.default_rng(seed))
        comp = compare_records(base, cur, 0.02, 0.05, paired=True)
        new += comp.failed
        old += any(c.p_slower is not None and c.p_slower < 0.05 and c.change > 0.02 for c in comp.cells)
        if seed == 0:
            held = [c for c in comp.cells if c.p_value < 0.05 and abs(c.change) > 0.02 and c.verdict == "inconclusive"]
            assert held and "not significant over 60 cells (Holm)" in held[0].note
            assert all(c.p_holm >= c.p_value for c in comp.cells)
    assert new <= 0.07 * 50 and old > 0.5 * 50


def test_one_real_slowdown_among_many_cells_is_caught():
    base, cur = suite_of_pairs(60, 14, 0.01, np.random.default_rng(1), changes={7: 0.10})
    comp = compare_records(base, cur, 0.03, 0.05, paired=True)
    assert [c.key["phase"] for c in comp.cells if c.verdict == "slower"] == ["p7"] and comp.failed
    slow = comp.cells[7]
    assert slow.p_holm < 0.05 and abs(slow.change - 0.10) < 0.02 and slow.ci_level >= 0.95
    s = comp.suite
    assert s.compared == 60 and s.counts["slower"] == 1 and s.ci_low < s.change < s.ci_high
    assert s.change == pytest.approx(math.exp(np.mean([math.log1p(c.change) for c in comp.cells])) - 1)


def test_same_needs_the_whole_interval_inside_the_threshold():
    """A real +2.9% at a 3% threshold, but an interval that reaches past it: not `same`."""
    base, cur = suite_of_pairs(1, 10, 0.02, np.random.default_rng(2), changes={0: 0.029})
    c = compare_records(base, cur, 0.03, 0.05, paired=True).cells[0]
    assert c.ci_high > 0.03 and c.verdict == "inconclusive" and "reaches past" in c.note


def test_unsupported_side_is_not_compared_and_strict_fails(tmp_path, capsys):
    ok = runs(3, 5e-3, 0.01, 1)
    gone = [dict(r, status="unsupported", reason="the dlib bridge is not built", samples=[]) for r in ok]
    c = compare_cell(gone, runs(1, 5e-3, 0.01, 2), 0.05, 0.05)
    assert c.verdict == "not-compared" and not c.fails
    assert c.note == "base: unsupported (the dlib bridge is not built); cur: ok"
    c = compare_cell(ok, [gone[0]], 0.05, 0.05)
    assert c.verdict == "not-compared" and "cur: unsupported" in c.note
    errored = [dict(r, status="error", reason="boom") for r in ok]
    assert compare_cell(errored, runs(1, 5e-3, 0.01, 2), 0.05, 0.05).verdict == "fixed"
    # unsupported by the implementation on both sides (dlib's qgemm): nothing lost, not a strict failure
    c = compare_cell(gone[0], gone[1], 0.05, 0.05)
    assert c.verdict == "unsupported" and c.note == "on both sides: the dlib bridge is not built"
    # ... but a side that was not run because the other could not is `not-compared`
    blocked = dict(gone[1], reason="not run: the other side cannot run it (the dlib bridge is not built)", blocked=True)
    assert compare_cell(gone[0], blocked, 0.05, 0.05).verdict == "not-compared"
    bases = [tmp_path / f"base{i}" for i in range(3)]
    for d, rec in zip(bases, ok):
        _write(d, [rec, dict(rec, phase="backward", status="unsupported", reason="no phase", samples=[])])
    _write(tmp_path / "cur", runs(1, 5e-3, 0.01, 2) + [dict(ok[0], phase="backward")])
    args = ["compare", *map(str, bases), str(tmp_path / "cur")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "not-compared" in out and "1 not compared" in out.splitlines()[-1]
    assert main(args + ["--strict"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(args + ["--strict", "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["strict"] and doc["suite"]["not_compared"] == 1 and doc["suite"]["line"].startswith("suite: 1 cells")


def test_suite_line_in_every_format(tmp_path, capsys):
    bases = [tmp_path / f"base{i}" for i in range(3)]
    for i, d in enumerate(bases):
        _write(d, [r for r in suite_runs(1, 4, 0.01, 0.002, np.random.default_rng(i), prefix=f"b{i}")])
    _write(tmp_path / "cur", suite_runs(1, 4, 0.01, 0.002, np.random.default_rng(9), prefix="c"))
    args = ["compare", *map(str, bases), str(tmp_path / "cur")]
    assert main(args) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("suite: 4 cells compared, geometric mean change ") and "(95%)" in last
    assert "0 slower, 0 faster" in last and "0 not compared; suite-wide shift: " in last
    assert main(args + ["--format", "markdown"]) == 0
    assert any(line.startswith("suite: 4 cells compared") for line in capsys.readouterr().out.splitlines())
    assert main(args + ["--format", "json"]) == 0
    suite = json.loads(capsys.readouterr().out)["suite"]
    assert suite["compared"] == 4 and suite["df"] == 2 and suite["ci_low"] < suite["change"] < suite["ci_high"]


@pytest.mark.slow  # interleaved sides, real runs
def test_lockstep_sides_time_the_same_calls_per_sample(fake_impls, tmp_path, capsys):
    """One side doing 20 times the work calibrates far fewer calls per sample; the pair
    still times the same number on both sides (the larger), in every pair, so the untimed
    call that starts a turn of several calls runs on both sides or on neither."""
    slow = tmp_path / "python-slow"
    slow.write_text(f'#!/bin/sh\nDLBENCH_SLOWDOWN=19 exec {sys.executable} "$@"\n')
    slow.chmod(0o755)
    out = tmp_path / "cmp"
    dlbench(
        f"compare --interleave --base-python {sys.executable} --cur-python {slow} "
        f"--scenario sigmoid --impl slowdown --size tiny --pairs 3 --threads 1 --out {out} "
        "--samples 3 --min-time 0.002 --warmup 0.001"
    )
    capsys.readouterr()
    base, cur = (read_results(str(out / side)) for side in ("base", "cur"))
    for b, c in zip(base, cur):
        assert b["status"] == c["status"] == "ok"
        assert b["loops"] == c["loops"] and len(b["loops"]) == 3 and b["loops"][0] > 1
        # the sides did differ (20 times the work; call overhead keeps a tiny cell well under 20x)
        assert c["process_medians"][0] > 2 * b["process_medians"][0]


def test_every_directory_import_writes_is_read_by_report_compare_and_the_database(tiny_run, tmp_path, capsys):
    """export then import gives back cells with their work (flops, bytes): report and
    compare read them like the run itself; a foreign pytest-benchmark file's work is
    unknown, a time without a rate."""
    exported, back = tmp_path / "pb.json", tmp_path / "back"
    assert dlbench(f"export {tiny_run} --out {exported}") == 0
    assert dlbench(f"import {exported} --out {back}") == 0
    ok = {cell_key(r): r for r in read_results(tiny_run) if r["status"] == "ok"}
    again = {cell_key(r): r for r in read_results(str(back))}
    assert again.keys() == ok.keys()
    for key, rec in again.items():
        assert (rec["flops"], rec["bytes"], rec["work_unit"]) == (
            ok[key]["flops"],
            ok[key]["bytes"],
            ok[key]["work_unit"],
        )
        assert rec["median"] == ok[key]["median"] and rec["gflops"] == ok[key]["gflops"]
    capsys.readouterr()
    assert dlbench(f"report {back}") == 0
    capsys.readouterr()
    dlbench(f"compare {tiny_run} {back} --format json")  # exit 1: export leaves the failed cells out
    verdicts = {cell_key(c["key"]): c["verdict"] for c in json.loads(capsys.readouterr().out)["cells"]}
    # the same work on both sides: compared (one baseline run: inconclusive), never "different work"
    assert {v for k, v in verdicts.items() if k in ok} == {"inconclusive"}
    assert {v for k, v in verdicts.items() if k not in ok} == {"missing"}
    foreign = tmp_path / "foreign.json"
    data = [1e-3, 1.1e-3, 0.9e-3]
    foreign.write_text(json.dumps({"benchmarks": [{"name": "test_parse", "group": "io", "stats": {"data": data}}]}))
    assert dlbench(f"import {foreign} --out {tmp_path / 'f'}") == 0
    (rec,) = read_results(str(tmp_path / "f"))
    assert (rec["scenario"], rec["flops"], rec["gflops"], rec["median"]) == ("io", None, None, 1e-3)
    assert dlbench(f"report {tmp_path / 'f'}") == 0
    assert "test_parse" in capsys.readouterr().out
    # and the results database takes both, with the time pytest-benchmark ran them
    assert dlbench(f"db ingest {back} {tmp_path / 'f'} --db {tmp_path / 'r.sqlite'}") == 0
    assert capsys.readouterr().out.count("ingested run ") == 2
    assert again[next(iter(again))]["timestamp"] == json.loads(exported.read_text())["datetime"]


def cell_key(rec):
    return tuple(rec[k] for k in ("scenario", "phase", "size", "impl", "device", "mode"))
