"""`compare NAME CUR --db` holds each verdict to its cell's noise over the machine's history
in the database: a `slower` the baseline's few agreeing runs made is `inconclusive` when the
longer history strays that far from run to run, stands when the change is well beyond it, and
is `inconclusive`, "too few runs", while the history is too short to know the noise (the
candidate's own run, recorded already, not counted). Without a series, two stored runs never
get a marked verdict. Results directories are written directly, fixed seeds, SQLite."""

import json
import os
import re

import numpy as np

from harness.db import baselines, engine
from reports.noise_band import MIN_RUNS
from tests.conftest import dlbench

CELLS = ("p0", "p1", "p2", "p3")  # four cells: the two-way model separates the runs' drift
SLOW = "p0"


def record(run_id, phase, level, rng, day):
    """One cell of one run: three processes of five samples around `level`, 0.5% apart."""
    samples = list(level * np.exp(0.005 * rng.standard_normal(15)))
    return dict(
        schema=1,
        run_id=run_id,
        scenario="conv",
        phase=phase,
        size="tiny",
        impl="reference",
        device="cpu",
        mode="eager",
        threads=2,
        status="ok",
        reason="",
        samples=samples,
        sample_process=[i // 5 for i in range(15)],
        median=float(np.median(samples)),
        timestamp=f"2026-11-{day + 1:02d}T12:00:00+00:00",
    )


def write_run(folder, run_id, day, run_sigma, rng, slow=1.0):
    """A results directory of one run on machine `box`: each cell's level strays by run_sigma."""
    os.makedirs(folder)
    with open(os.path.join(folder, "results.jsonl"), "w") as f:
        for phase in CELLS:
            level = 1e-3 * np.exp(run_sigma * rng.standard_normal()) * (slow if phase == SLOW else 1.0)
            f.write(json.dumps(record(run_id, phase, level, rng, day)) + "\n")
    with open(os.path.join(folder, "machine.json"), "w") as f:
        json.dump({"machine_id": "m1", "machine_name": "box", "hostname": "h"}, f)
    return str(folder)


def database(tmp_path, sigmas, slow):
    """(db url, candidate dir): one run per sigma, the newest 5 tagged `nightly`, then a
    candidate whose SLOW cell is `slow` times slower (ingested too, as run --db would)."""
    rng = np.random.default_rng(0)
    url = f"sqlite:///{tmp_path / 'h.sqlite'}"
    dirs = [write_run(tmp_path / f"r{i}", f"run-{i:02d}", i, s, rng) for i, s in enumerate(sigmas)]
    cur = write_run(tmp_path / "cur", "cur", len(sigmas), 0.005, rng, slow)
    assert dlbench(f"db ingest {' '.join([*dirs, cur])} --db {url}") == 0
    db = engine.open_db(url, create=False)
    baselines.tag(db, "nightly", [f"run-{i:02d}" for i in range(len(sigmas))][-5:], "box")
    db.close()
    return url, cur


def verdict(capsys, url, cur):
    capsys.readouterr()  # what ingest printed
    code = dlbench(f"compare nightly {cur} --db {url} --format json --threshold 5%")
    doc = json.loads(capsys.readouterr().out)
    (cell,) = [c for c in doc["cells"] if c["key"]["phase"] == SLOW]
    return code, cell


def test_a_slowdown_within_the_histories_noise_is_not_a_verdict(tmp_path, capsys):
    # 15 runs straying 15% apart, then 5 baseline runs that happen to agree within 0.5%
    url, cur = database(tmp_path, [0.15] * 15 + [0.005] * 5, slow=1.25)
    code, cell = verdict(capsys, url, cur)
    assert code == 0 and cell["verdict"] == "inconclusive" and not cell["fails"]
    assert cell["note"].startswith("within this cell's run-to-run noise (")
    assert "the test alone said slower" in cell["note"]
    assert cell["change"] > 0.2  # the change is still shown, unmarked
    # without the database's history the same baseline's test alone calls it slower
    folders = [str(tmp_path / f"r{i}") for i in range(15, 20)]
    assert dlbench(f"compare {' '.join(folders)} {cur} --threshold 5%") == 1
    assert "SLOWER" in capsys.readouterr().out


def test_a_slowdown_well_beyond_the_histories_noise_stands(tmp_path, capsys):
    url, cur = database(tmp_path, [0.01] * 10, slow=1.5)
    code, cell = verdict(capsys, url, cur)
    assert code == 1 and cell["verdict"] == "slower" and cell["fails"]
    assert "noise" not in cell["note"]


def test_too_few_runs_in_the_history_is_not_a_verdict(tmp_path, capsys):
    # MIN_RUNS - 1 earlier runs, and the candidate recorded too: it is not one of them
    url, cur = database(tmp_path, [0.01] * (MIN_RUNS - 1), slow=1.5)
    code, cell = verdict(capsys, url, cur)
    assert code == 0 and cell["verdict"] == "inconclusive"
    assert cell["note"].startswith(f"too few runs: {MIN_RUNS - 1} of this cell in the database's history")
    code = dlbench(f"compare nightly {cur} --db {url} --threshold 5%")
    out = capsys.readouterr().out
    assert code == 0 and "SLOWER" not in out and "too few runs" in out


def test_two_stored_runs_without_a_series_mark_nothing(tmp_path, capsys):
    rng = np.random.default_rng(1)
    base = write_run(tmp_path / "base", "base", 0, 0.005, rng)
    cur = write_run(tmp_path / "cur", "cur", 1, 0.005, rng, slow=1.6)
    for fmt in ("table", "markdown"):
        assert dlbench(f"compare {base} {cur} --format {fmt}") == 0
        out = capsys.readouterr().out
        rows = [line for line in out.splitlines() if "conv/" in line]
        assert len(rows) == len(CELLS) and all("inconclusive" in r for r in rows) and "SLOWER" not in out
        (slow,) = [r for r in rows if f"conv/{SLOW}/" in r]
        assert float(re.search(r"\+([0-9.]+)%", slow).group(1)) > 50  # the change is shown, a plain number
    assert dlbench(f"compare {base} {cur} --format json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert {c["verdict"] for c in doc["cells"]} == {"inconclusive"} and not doc["failed"]
