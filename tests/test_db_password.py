"""A database URL's password never appears in any output, log, record or report: every
command that prints the database, given a URL with a password, shows it as ***."""

import os

import pytest

from harness.db.settings import shown
from tests.conftest import FAST, dlbench

SECRET = "Zq9-sekret-Xw"
# nothing listens on port 1: every command fails fast, the way an unreachable fleet server does
URL = f"postgresql://bench:{SECRET}@127.0.0.1:1/results"


def test_shown_hides_only_the_password():
    assert shown(URL) == "postgresql://bench:***@127.0.0.1:1/results"
    assert shown("postgresql+psycopg://u:p@ss:w@h:5432/db?host=/x") == "postgresql+psycopg://u:***@h:5432/db?host=/x"
    for plain in ("postgresql://bench@host/db", "/data/results.sqlite", "sqlite:////tmp/a.sqlite", None):
        assert shown(plain) == plain


def _everything_written(folder):
    text = []
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), errors="replace") as f:
                text.append(f.read())
    return "\n".join(text)


def test_no_output_file_or_report_shows_the_password(tmp_path, capsys, monkeypatch):
    out, report = tmp_path / "run", tmp_path / "report.html"
    said = []

    def run(command, *extra):
        code = dlbench(command, *extra)
        captured = capsys.readouterr()
        said.append(captured.out + captured.err)
        return code

    # run --db: the run finishes, the failure line suggests the ingest command to run later
    assert run(f"run --size tiny --impl reference --scenario sigmoid --out {out} --db {URL} --quiet", *FAST) == 2
    assert "dlbench db ingest" in said[-1] and "bench:***@127.0.0.1" in said[-1]
    # every other command that takes --db, each failing on the unreachable server
    for command in (
        f"db ingest {out} --db {URL}",
        f"db runs --db {URL}",
        f"db export some-run --out {tmp_path / 'exported'} --db {URL}",
        f"compare main {out} --db {URL}",
        f"publish --db {URL} --out {tmp_path / 'site'}",
        f"run --size tiny --impl reference --scenario sigmoid --out {tmp_path / 'saved'} --db {URL} --save main",
    ):
        assert run(command, *FAST if command.startswith("run") else ()) != 0, command
        assert "***" in said[-1], command
    assert run(f"report {out} --html {report}") == 0
    # the default database from the environment, as --help shows it
    monkeypatch.setenv("DLBENCH_DB", URL)
    with pytest.raises(SystemExit):
        run("run --help")
    said.append(capsys.readouterr().out)
    assert "bench:***@" in said[-1]
    everything = "\n".join(said) + _everything_written(tmp_path)
    assert SECRET not in everything
    assert len(everything) > 1000  # the outputs and files were there to search
