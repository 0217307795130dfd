"""`dlbench run --db`: a run recorded as it runs is the run `db ingest` of its directory
gives; --machine names the history; a database that cannot be written never costs the
results: the run finishes, says how to add them later, and exits 2; ingest then completes
a run recorded in part."""

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from harness.db import engine, schema
from tests.conftest import FAST, dlbench, read_results

RUN = "run --size tiny --impl reference --scenario sigmoid --quiet"


def stored(url):
    db = engine.open_db(url, create=False)
    with db.read() as conn:
        runs = conn.execute(sa.select(schema.runs)).all()
        cells = [json.loads(r.record) for r in conn.execute(sa.select(schema.cells).order_by(schema.cells.c.id))]
    db.close()
    return runs, cells


def test_run_db_records_what_ingest_of_its_directory_gives(db_url, tmp_path, capsys):
    out = tmp_path / "run"
    assert dlbench(f"{RUN} --out {out} --db {db_url} --machine lab-7", *FAST) == 0
    records = read_results(str(out))
    assert f"database: {len(records)} cells recorded in " in capsys.readouterr().out
    (run,), cells = stored(db_url)
    assert cells == records and run.machine == "lab-7" and run.run_id == records[0]["run_id"]
    with open(out / "machine.json") as f:
        assert json.load(f)["machine_name"] == "lab-7"  # the name travels with the directory
    # ingesting the directory afterwards finds everything there
    assert dlbench(f"db ingest {out} --db {db_url}") == 0
    assert "is in the database already; skipped" in capsys.readouterr().out
    assert stored(db_url)[1] == records


def test_ingest_keeps_the_machine_name_the_run_recorded(db_url, tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setenv("DLBENCH_MACHINE", "ci-runner-a")
    assert dlbench(f"{RUN} --out {out}", *FAST) == 0  # no database: the name is in machine.json
    assert dlbench(f"db ingest {out} --db {db_url}") == 0
    (run,), _ = stored(db_url)
    assert run.machine == "ci-runner-a"


def test_a_database_that_cannot_be_written_keeps_the_results_and_says_how_to_add_them(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    bad = blocker / "results.sqlite"  # its folder is a file: the database cannot be created
    out = tmp_path / "run"
    assert dlbench(f"{RUN} --out {out} --db {bad}", *FAST) == 2
    captured = capsys.readouterr()
    (line,) = [x for x in captured.err.splitlines() if "database write failed" in x]
    assert line.startswith("dlbench run: the database write failed (cannot create ")
    assert line.endswith(f"the results are complete in {out}; add them later with: dlbench db ingest {out} --db {bad}")
    assert "Traceback" not in captured.err
    records = read_results(str(out))
    assert records and all(r["status"] == "ok" for r in records)  # every cell ran and was written


def test_a_baseline_whose_database_write_failed_is_kept_as_a_folder_that_ingest_names(
    db_url, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DLBENCH_HISTORY", str(tmp_path / "history"))
    (tmp_path / "file").write_text("not a folder")
    bad, out = tmp_path / "file" / "results.sqlite", tmp_path / "run"
    assert dlbench(f"{RUN} --out {out} --db {bad} --machine box --save nightly", *FAST) == 2
    captured = capsys.readouterr()
    (line,) = [x for x in captured.err.splitlines() if x.startswith("dlbench run:")]  # one: all it needs
    assert f"the results are complete in {out}, baseline 'nightly' saved as the folder {tmp_path / 'history'}" in line
    command = f"db ingest --history --db {bad} --machine box"
    assert line.endswith(f"add them later with: dlbench {command}")
    assert dlbench(command.replace(str(bad), db_url)) == 0  # the command, on a database that works
    capsys.readouterr()
    assert dlbench(f"compare nightly {out} --db {db_url} --machine box --threshold 50%") == 0
    assert "sigmoid/forward/tiny" in capsys.readouterr().out


def test_ingest_completes_a_run_recorded_in_part(db_url, tmp_path, capsys):
    out = tmp_path / "run"
    assert dlbench(f"{RUN} --out {out} --db {db_url}", *FAST) == 0
    records = read_results(str(out))
    assert len(records) == 2  # forward and backward
    db = engine.open_db(db_url)
    with db.write() as conn:  # as if the database went away after the first cell
        conn.execute(schema.cells.delete().where(schema.cells.c.phase == records[1]["phase"]))
    db.close()
    capsys.readouterr()
    assert dlbench(f"db ingest {out} --db {db_url}") == 0
    assert f"run {records[0]['run_id']} from {out}: added the 1 cells the database lacked" in capsys.readouterr().out
    assert sorted(json.dumps(c, sort_keys=True) for c in stored(db_url)[1]) == sorted(
        json.dumps(r, sort_keys=True) for r in records
    )
    assert os.path.exists(out / "results.jsonl")


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_baselines_saved_into_the_database_are_what_compare_by_name_takes(db_url, tmp_path, capsys):
    for i in range(2):
        assert dlbench(f"{RUN} --out {tmp_path / f'b{i}'} --db {db_url} --machine box --save nightly", *FAST) == 0
        assert "saved baseline 'nightly': run " in capsys.readouterr().out
    assert not os.path.exists(tmp_path / ".dlbench")  # nothing saved under a work tree
    cur = tmp_path / "cur"
    assert dlbench(f"{RUN} --out {cur} --machine box", *FAST) == 0
    capsys.readouterr()
    code = dlbench(f"compare nightly {cur} --db {db_url} --threshold 50%")
    out = capsys.readouterr()
    assert code == 0 and "Traceback" not in out.err
    assert "2 baseline run(s)" in out.out  # both saved runs, pooled, from the database
    # the name on another machine is one line naming where it exists
    assert dlbench(f"compare nightly {cur} --db {db_url} --machine other") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlbench compare: no baseline 'nightly' for machine 'other' in ")
    assert err.endswith("(it has one on: box); save one with dlbench run --save nightly --db ...")


def test_saved_history_folders_import_with_their_names(db_url, tmp_path, monkeypatch, capsys):
    from harness import history

    monkeypatch.setenv("DLBENCH_HISTORY", str(tmp_path / "history"))
    for i in range(2):  # baselines as older versions kept them: folders under .dlbench/history
        assert dlbench(f"{RUN} --out {tmp_path / f'h{i}'} --machine box", *FAST) == 0
        history.save(str(tmp_path / f"h{i}"), "weekly")
    assert dlbench(f"db ingest --history --db {db_url}") == 0
    assert capsys.readouterr().out.count("ingested run ") == 2
    assert dlbench(f"db ingest --history --db {db_url}") == 0  # again: nothing new
    assert "ingested run" not in capsys.readouterr().out
    assert dlbench(f"compare weekly {tmp_path / 'h1'} --db {db_url} --threshold 50%") == 0
    assert dlbench(f"db ingest --history {tmp_path / 'nowhere'} --db {db_url}") == 2
    assert "no such history folder" in capsys.readouterr().err


def _pytest_benchmark_folder(tmp_path, save_data):
    """A real .benchmarks folder: pytest-benchmark run on a tiny test, saved as it saves."""
    test = tmp_path / "test_tiny.py"
    test.write_text("def test_sum(benchmark):\n    benchmark(sum, range(100))\n")
    storage = tmp_path / ".benchmarks"
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test), "--benchmark-autosave",
        f"--benchmark-storage=file://{storage}", "--benchmark-min-rounds=5", "--benchmark-max-time=0.05",
    ]  # fmt: skip
    if save_data:
        cmd.append("--benchmark-save-data")
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return storage


def test_pytest_benchmark_saved_runs_import_as_history(db_url, tmp_path, capsys):
    storage = _pytest_benchmark_folder(tmp_path, save_data=False)
    _pytest_benchmark_folder(tmp_path, save_data=True)  # a second run, with its samples
    files = sorted(storage.rglob("*.json"))
    assert len(files) == 2
    assert dlbench(f"db ingest {storage} --db {db_url} --machine laptop") == 0
    assert capsys.readouterr().out.count("ingested run pytest-benchmark-") == 2
    assert dlbench(f"db ingest {storage} --db {db_url}") == 0  # again: the same files, nothing new
    assert capsys.readouterr().out.count("is in the database already; skipped") == 2
    runs, cells = stored(db_url)
    assert {r.machine for r in runs} == {"laptop"} and len(runs) == 2
    assert all(c["scenario"] == "test_sum" and c["median"] > 0 for c in cells)
    assert sorted(bool(c["samples"]) for c in cells) == [False, True]  # statistics alone, then samples
    # tmp_path is no git checkout: pytest-benchmark saved the commit as "unversioned", which is none
    assert {r.git_commit for r in runs} == {None}


def test_a_results_directory_without_results_is_named_as_one(db_url, tmp_path, capsys):
    out = tmp_path / "run"
    assert dlbench(f"{RUN} --out {out}", *FAST) == 0
    os.remove(out / "results.jsonl")  # machine.json is left: a results directory, not pytest-benchmark's
    assert dlbench(f"db ingest {out} --db {db_url}") == 2
    err = capsys.readouterr().err
    assert "results.jsonl" in err and "pytest-benchmark" not in err


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_two_machines_running_at_once_into_one_database_lose_nothing(db_url, tmp_path, capsys):
    """Two `dlbench run --db` processes (two machine names, as two nodes of a fleet) write
    into one database at the same time; each run lands whole, and publish shows both."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli",
                *RUN.split(),
                "--scenario",
                "sigmoid,conv",
                "--out",
                str(tmp_path / f"node-{i}"),
                "--db",
                db_url,
                "--machine",
                f"node-{i}",
                *FAST,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    runs, cells = stored(db_url)
    assert sorted(r.machine for r in runs) == ["node-0", "node-1"]
    expected = read_results(str(tmp_path / "node-0")) + read_results(str(tmp_path / "node-1"))
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, cells)) == sorted(map(key, expected))
    assert dlbench(f"publish --db {db_url} --out {tmp_path / 'site'}") == 0
    assert capsys.readouterr().out.startswith("published 2 machine(s), ")
