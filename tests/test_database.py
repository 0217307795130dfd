"""The results database (harness.db): ingest is idempotent by run id, export gives the
records back as they were (and `report` and `compare` accept them), the schema is
Alembic's head after open_db, and every refusal is one line, exit 2. The database
fixture (db_url, tests/conftest.py) is parametrized over the backends."""

import io
import json
import multiprocessing
import os
import sqlite3
from contextlib import contextmanager
from datetime import datetime

import pytest
import sqlalchemy as sa

from harness.db import baselines, engine, ingest, listing, migrate, schema
from tests.conftest import copy_results, dlbench, read_results


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def run_ids(results_dir):
    return sorted({r["run_id"] for r in read_results(results_dir)})


def with_run_id(src, dest, run_id):
    return copy_results(src, dest, lambda rec: dict(rec, run_id=run_id))


def stored_runs(url):
    db = engine.open_db(url, create=False)
    try:
        return {r["run_id"]: r for r in listing.list_runs(db)}
    finally:
        db.close()


def test_ingest_then_runs_lists_it_and_a_second_ingest_is_a_no_op(tiny_run, db_url, capsys):
    (run_id,) = run_ids(tiny_run)
    records = read_results(tiny_run)
    assert dlbench(f"db ingest {tiny_run} --db {db_url}") == 0
    out = capsys.readouterr().out
    assert f"ingested run {run_id} from {tiny_run} ({len(records)} cells)" in out

    assert dlbench(f"db runs --db {db_url}") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["run", "id", "machine", "commit", "started", "(UTC)", "cells", "ok/total"]
    (row,) = [line for line in table if line.startswith(run_id)]
    ok = sum(r["status"] == "ok" for r in records)
    with open(os.path.join(tiny_run, "machine.json")) as f:
        machine = json.load(f)
    assert row.split()[1] == machine["hostname"] and row.split()[-1] == f"{ok}/{len(records)}"
    assert 0 < ok < len(records)  # the cuda cells are unsupported here: the count tells them apart

    assert dlbench(f"db ingest {tiny_run} --db {db_url}") == 0
    assert f"run {run_id} from {tiny_run} is in the database already; skipped" in capsys.readouterr().out
    (stored,) = stored_runs(db_url).values()
    assert stored["total"] == len(records)  # nothing twice


def test_export_round_trip_and_report_and_compare_accept_it(tiny_run, db_url, tmp_path, capsys):
    (run_id,) = run_ids(tiny_run)
    assert dlbench(f"db ingest {tiny_run} --db {db_url}") == 0
    out = tmp_path / "exported"
    assert dlbench(f"db export {run_id} --out {out} --db {db_url}") == 0
    assert read_results(str(out)) == read_results(tiny_run)  # every field, samples included, in order
    with open(out / "machine.json") as f, open(os.path.join(tiny_run, "machine.json")) as g:
        assert json.load(f) == json.load(g)
    capsys.readouterr()
    assert dlbench(f"report {out}") == 0
    assert "conv" in capsys.readouterr().out
    assert dlbench(f"compare {tiny_run} {out}") == 0  # the same numbers: nothing slower
    assert "Traceback" not in capsys.readouterr().err


def test_the_run_columns_and_the_named_machine(tiny_run, db_url):
    (run_id,) = run_ids(tiny_run)
    records = read_results(tiny_run)
    assert dlbench(f"db ingest {tiny_run} --db {db_url} --machine ci-box.1") == 0
    db = engine.open_db(db_url, create=False)
    with db.read() as conn:
        run = conn.execute(sa.select(schema.runs)).one()
        machine = conn.execute(sa.select(schema.machines)).one()
        cells = conn.execute(sa.select(schema.cells).order_by(schema.cells.c.id)).all()
    db.close()
    assert run.run_id == run_id and run.machine == "ci-box.1" and run.machine_id == records[0]["machine_id"]
    assert run.git_commit == records[0]["git_commit"] and run.dlbench_version == records[0]["dlbench_version"]
    assert run.branch is None and run.command == "dlbench run"
    assert run.started.isoformat() == min(r["timestamp"] for r in records).replace("+00:00", "")
    with open(os.path.join(tiny_run, "machine.json")) as f:
        assert json.loads(run.machine_json) == json.load(f)
    assert (machine.name, machine.machine_id, machine.first_seen) == ("ci-box.1", run.machine_id, run.started)
    first = cells[0]
    assert (first.scenario, first.impl, first.status, first.median) == (
        records[0]["scenario"],
        records[0]["impl"],
        records[0]["status"],
        records[0]["median"],
    )
    assert [json.loads(c.record) for c in cells] == records


def test_a_resumed_directory_ingests_each_run(tiny_run, db_url, tmp_path, capsys):
    """A directory --resume completed holds two run ids: two runs, each exported with its own cells."""
    records = read_results(tiny_run)
    half = len(records) // 2
    resumed = copy_results(tiny_run, tmp_path / "resumed", lambda r: r)
    with open(os.path.join(resumed, "results.jsonl"), "w") as f:
        for i, rec in enumerate(records):
            f.write(json.dumps(dict(rec, run_id="first-part" if i < half else "second-part")) + "\n")
    assert dlbench(f"db ingest {resumed} --db {db_url}") == 0
    out = capsys.readouterr().out
    assert "ingested run first-part" in out and "ingested run second-part" in out
    runs = stored_runs(db_url)
    assert (runs["first-part"]["total"], runs["second-part"]["total"]) == (half, len(records) - half)
    assert dlbench(f"db export second-part --out {tmp_path / 'second'} --db {db_url}") == 0
    assert [r["run_id"] for r in read_results(str(tmp_path / "second"))] == ["second-part"] * (len(records) - half)


def test_open_db_migrates_an_empty_database_to_head(db_url):
    """What open_db builds is what schema.py says, and Alembic itself reports head."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    db = engine.open_db(db_url)
    with db.read() as conn:
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
        out = io.StringIO()
        cfg = migrate.alembic_config(conn, stdout=out)
        script = ScriptDirectory.from_config(cfg)
        command.current(cfg)
    db.close()
    head = script.get_current_head()
    assert head == f"{schema.SCHEMA_VERSION:04d}"  # the version the code knows is the newest script
    assert len(list(script.walk_revisions())) == schema.SCHEMA_VERSION
    assert out.getvalue().strip() == f"{head} (head)"


def test_a_database_of_the_first_schema_migrates_with_its_runs_kept(tiny_run, db_url):
    """A database made at revision 0001 (the first schema), holding a run written in that
    schema's own tables, opens at head with the run, its cells and its machine as they were."""
    from alembic import command

    records = read_results(tiny_run)
    url, path = engine.resolve_url(db_url)
    if path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with sa.create_engine(url).begin() as conn:
        command.upgrade(migrate.alembic_config(conn), "0001")
        old = sa.MetaData()
        old.reflect(conn)  # the tables as 0001 made them, not as schema.py now says
        t = datetime(2026, 11, 1, 12, 0, 0)
        conn.execute(old.tables["machines"].insert().values(name="m1", first_seen=t, last_seen=t, machine_id="id1"))
        conn.execute(old.tables["runs"].insert().values(run_id="r1", machine="m1", started=t, ingested_at=t))
        keys = ("scenario", "phase", "size", "impl", "device", "mode", "threads", "status", "median")
        conn.execute(
            old.tables["cells"].insert(),
            [
                dict(
                    {k: rec[k] for k in keys},
                    run_id="r1",
                    seed=rec.get("seed", 0),
                    side="current",
                    record=json.dumps(rec),
                )
                for rec in records
            ],
        )
    db = engine.open_db(db_url, create=False)  # migrates to head
    assert baselines.tag(db, "kept", ["r1"], "m1") == 1  # what the newer schema added works on the old run
    assert baselines.newest(db, "kept", "m1", 5) == ["r1"]
    with db.read() as conn:
        assert migrate.current_revision(conn) == f"{schema.SCHEMA_VERSION:04d}"
        kept = [json.loads(r.record) for r in conn.execute(sa.select(schema.cells).order_by(schema.cells.c.id))]
        machine = conn.execute(sa.select(schema.machines)).one()
    db.close()
    assert kept == records and (machine.name, machine.machine_id, machine.first_seen) == ("m1", "id1", t)
    assert {k: v["total"] for k, v in stored_runs(db_url).items()} == {"r1": len(records)}


def test_a_newer_schema_is_refused_in_one_line(db_url, capsys):
    db = engine.open_db(db_url)
    with db.write() as conn:
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{schema.SCHEMA_VERSION + 1:04d}'")
    db.close()
    assert dlbench(f"db runs --db {db_url}") == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("dlbench db runs: ")
    newer = schema.SCHEMA_VERSION + 1
    assert line.endswith(
        f": schema version {newer} is newer than this dlbench's {schema.SCHEMA_VERSION}: upgrade dlbench"
    )


def test_a_missing_database_for_runs_and_export_is_one_line_and_not_created(tmp_path, capsys):
    path = tmp_path / "none" / "results.sqlite"
    assert dlbench(f"db runs --db {path}") == 2
    assert one_line(capsys.readouterr().err) == (
        f"dlbench db runs: no database at {path}; dlbench db ingest DIR creates it"
    )
    assert dlbench(f"db export some-run --out {tmp_path / 'out'} --db {path}") == 2
    assert one_line(capsys.readouterr().err).startswith(f"dlbench db export: no database at {path}")
    assert not path.exists() and not (tmp_path / "out").exists()


def test_an_unknown_run_id_is_one_line(tiny_run, db_url, tmp_path, capsys):
    assert dlbench(f"db ingest {tiny_run} --db {db_url}") == 0
    capsys.readouterr()
    assert dlbench(f"db export no-such-run --out {tmp_path / 'out'} --db {db_url}") == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("dlbench db export: no run 'no-such-run' in ") and line.endswith(
        "dlbench db runs lists them"
    )
    assert not (tmp_path / "out").exists()


def test_a_corrupt_results_directory_stops_before_anything_is_written(tiny_run, db_url, tmp_path, capsys):
    good = with_run_id(tiny_run, tmp_path / "good", "good-run")
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = open(os.path.join(tiny_run, "results.jsonl")).read().splitlines()
    (bad / "results.jsonl").write_text(lines[0] + "\n" + lines[1][:40] + "\n" + lines[2] + "\n")
    assert dlbench(f"db ingest {good} {bad} --db {db_url}") == 2
    assert one_line(capsys.readouterr().err).startswith(
        f"dlbench db ingest: {bad}/results.jsonl line 2: not valid JSON ("
    )
    assert dlbench(f"db ingest {tmp_path / 'nowhere'} --db {db_url}") == 2
    assert one_line(capsys.readouterr().err) == f"dlbench db ingest: {tmp_path / 'nowhere'}: no such results directory"
    # read and checked first: not even the database was made (PostgreSQL's: no tables)
    if db_url.startswith("sqlite:"):
        assert not os.path.exists(db_url.removeprefix("sqlite:///"))
    else:
        with sa.create_engine(engine.resolve_url(db_url)[0]).connect() as conn:
            assert sa.inspect(conn).get_table_names() == []


@contextmanager
def another_writer(db_url):
    """Another connection, mid-transaction, holding what a writer needs: SQLite's write lock;
    on PostgreSQL, the runs table (ingest reads it first)."""
    if db_url.startswith("sqlite:"):
        holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        holder = psycopg.connect(
            engine.resolve_url(db_url)[0].render_as_string(hide_password=False).replace("+psycopg", "")
        )
        holder.execute("LOCK TABLE runs IN ACCESS EXCLUSIVE MODE")  # psycopg opened the transaction
    try:
        yield
    finally:
        holder.rollback() if not db_url.startswith("sqlite:") else holder.execute("ROLLBACK")
        holder.close()


def test_a_locked_database_is_one_line_after_the_busy_timeout(db_url, tiny_run, monkeypatch, capsys):
    engine.open_db(db_url).close()
    monkeypatch.setenv("DLBENCH_DB_TIMEOUT", "0.2")
    with another_writer(db_url):
        assert dlbench(f"db ingest {tiny_run} --db {db_url}") == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("dlbench db ingest: ") and "locked by another writer for over 0.2 s" in line
    assert stored_runs(db_url) == {}  # and now that it is free, it opens


def _ingest_at_once(barrier, results_dir, url):
    from harness.db import engine, ingest

    runs, _ = ingest.read_runs(results_dir)
    barrier.wait()
    db = engine.open_db(url)  # the first one creates and migrates it; the others wait for its lock
    try:
        return [ingest.ingest(db, run) for run in runs]
    finally:
        db.close()


def test_processes_ingesting_at_the_same_moment_all_land(tiny_run, db_url, tmp_path):
    """Four processes, a new database: each creates it if it has to, and each run lands whole."""
    dirs = [with_run_id(tiny_run, tmp_path / f"r{i}", f"run-{i}") for i in range(4)]
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(len(dirs))
    with ctx.Pool(len(dirs)) as pool:
        results = pool.starmap(_ingest_at_once, [(barrier, d, db_url) for d in dirs])
    assert results == [[len(read_results(tiny_run))]] * len(dirs)  # each wrote all its cells
    runs = stored_runs(db_url)
    n = len(read_results(tiny_run))
    assert {k: v["total"] for k, v in runs.items()} == {f"run-{i}": n for i in range(4)}


def test_processes_ingesting_the_same_run_at_once_write_it_once(tiny_run, db_url, tmp_path):
    """Three processes, one run: one writes it, the others find it there (no error, no duplicate)."""
    same = with_run_id(tiny_run, tmp_path / "same", "the-run")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(3)
    with ctx.Pool(3) as pool:
        results = pool.starmap(_ingest_at_once, [(barrier, same, db_url)] * 3)
    assert sorted(results) == [[0], [0], [len(read_results(tiny_run))]]
    assert {k: v["total"] for k, v in stored_runs(db_url).items()} == {"the-run": len(read_results(tiny_run))}


def test_the_default_database_is_outside_the_work_tree(monkeypatch, tmp_path, capsys):
    from harness.db.settings import default_db

    monkeypatch.delenv("DLBENCH_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db() == str(tmp_path / "data" / "dlbench" / "results.sqlite")
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_db() == os.path.expanduser("~/.local/share/dlbench/results.sqlite")
    monkeypatch.setenv("DLBENCH_DB", str(tmp_path / "env.sqlite"))
    assert dlbench("db runs") == 2  # DLBENCH_DB is the one looked at
    assert str(tmp_path / "env.sqlite") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        dlbench("db ingest --help")
    assert str(tmp_path / "env.sqlite") in capsys.readouterr().out.replace("\n", "").replace(" ", "")


def test_read_runs_keeps_file_order_and_skips_a_torn_last_line(tiny_run, tmp_path):
    d = copy_results(tiny_run, tmp_path / "torn")
    with open(os.path.join(d, "results.jsonl"), "a") as f:
        f.write('{"schema": 1, "run_id": "cut')
    runs, warnings = ingest.read_runs(d)
    assert [r.records for r in runs] == [read_results(tiny_run)]
    assert warnings == [
        f"WARNING: {d}/results.jsonl line {len(runs[0].records) + 1}: torn last line (cut mid-write), skipped"
    ]


def test_migrations_are_found_from_any_working_directory(tiny_run, tmp_path):
    """The scripts ship in the package: a dlbench started elsewhere (a CI job's own folder) migrates too."""
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=repo)
    argv = [sys.executable, "-m", "cli", "db", "ingest", tiny_run, "--db", "here.sqlite"]
    done = subprocess.run(argv, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"database: {elsewhere / 'here.sqlite'}"
    assert set(stored_runs(str(elsewhere / "here.sqlite"))) == set(run_ids(tiny_run))


# --- PostgreSQL's ways in and its refusals (the server's own tests: not parametrized) ---


def test_a_plain_postgresql_url_uses_psycopg_3():
    for given in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        url, path = engine.resolve_url(f"{given}://ci@db.example/results")
        assert (url.get_driver_name(), path) == ("psycopg", None)


@pytest.mark.parametrize(
    "url, why",
    [
        ("postgresql://ci@db.example:port/results", "not a database path or URL"),
        ("mysql://ci@db.example/results", "not SQLite or PostgreSQL"),
    ],
)
def test_a_url_dlbench_cannot_use_is_one_line(url, why, capsys):
    assert dlbench(f"db runs --db {url}") == 2
    assert one_line(capsys.readouterr().err).endswith(f": {why}")


@pytest.mark.requires("postgres")
@pytest.mark.postgres
def test_the_password_comes_from_pgpassword_not_the_url(postgres_server, tiny_run, monkeypatch, capsys):
    from tests.postgres import SECRET_PASSWORD, SECRET_ROLE, SUPERUSER

    url = postgres_server.new_database(owner=SECRET_ROLE).replace(f"{SUPERUSER}@", f"{SECRET_ROLE}@")
    monkeypatch.setenv("PGPASSWORD", SECRET_PASSWORD)  # how a fleet's machines are told it
    assert dlbench(f"db ingest {tiny_run} --db {url}") == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"database: {url}"
    assert set(stored_runs(url)) == set(run_ids(tiny_run))


@pytest.mark.requires("postgres")
@pytest.mark.postgres
def test_postgresql_refusals_are_one_line_naming_the_database_without_its_password(postgres_server, tmp_path, capsys):
    """A wrong password, a database not on the server, no server: each one line, exit 2."""
    from tests.postgres import SECRET_PASSWORD, SECRET_ROLE

    wrong = postgres_server.url("postgres", SECRET_ROLE, "wrong-password")
    assert dlbench(f"db runs --db {wrong}") == 2
    line = one_line(capsys.readouterr().err)
    assert line.endswith(f'password authentication failed for user "{SECRET_ROLE}"') and "***@" in line
    assert "wrong-password" not in line

    missing = postgres_server.url("no_such_db", SECRET_ROLE, SECRET_PASSWORD)
    assert dlbench(f"db runs --db {missing}") == 2
    line = one_line(capsys.readouterr().err)
    assert line.endswith('database "no_such_db" does not exist; create it on the server (createdb)')
    assert SECRET_PASSWORD not in line and "/no_such_db?" in line

    nowhere = f"postgresql://ci@/results?host={tmp_path}"  # no server listens there
    assert dlbench(f"db runs --db {nowhere}") == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"dlbench db runs: {nowhere}: server not reachable (")
