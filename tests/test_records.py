"""The one record model (records/): a cell's key, defined once and matched on everywhere,
and the record's format: every reader upgrades an older line and checks it the one way."""

import json
import os

import pytest

import records
from harness.db.schema import cells
from harness.plan import Cell
from harness.results import ResultsError, read_results
from reports.compare import compare_records

OLD = "results/cpu-vm-2core/compare-evaluation/interleaved/inter-0-18/cur"  # committed by an older dlbench
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _write(d, lines):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "results.jsonl"), "w") as f:
        f.write("".join(line + "\n" for line in lines))
    return str(d)


def test_a_schema_1_record_without_the_later_fields_comes_back_upgraded(tmp_path):
    with open(os.path.join(REPO, OLD, "results.jsonl")) as f:
        raw = json.loads(f.readline())
    assert raw["schema"] == 1 and not set(records.ADDED) <= set(raw)  # it lacks fields added since
    old = {k: v for k, v in raw.items() if k not in ("seed", "side")}  # older still: before --seed and sides
    (rec,) = read_results(_write(tmp_path / "old", [json.dumps(old)])).records
    assert rec["schema"] == records.SCHEMA_VERSION == 4
    added = {k: v for k, v in records.ADDED.items() if k not in raw}
    assert {k: rec[k] for k in added} == added
    assert (rec["seed"], rec["side"], rec["working_set_bytes"], rec["drift"]) == (0, "current", None, False)
    assert (rec["ranks"], rec["scaling"]) == (1, "")  # before --ranks, every cell ran in one process
    assert {k: rec[k] for k in raw if k in old} == {k: raw[k] for k in old if k != "schema"} | {"schema": 4}
    # the committed directory itself reads whole
    assert all(r["schema"] == 4 for r in read_results(os.path.join(REPO, OLD)).records)


@pytest.mark.parametrize(
    "edit, needle",
    [
        (lambda r: dict(r, status="fine"), "unknown status 'fine'"),
        (lambda r: dict(r, threads="2"), "field 'threads' is str, not a whole number"),
        (lambda r: {k: v for k, v in r.items() if k != "run_id"}, "not a complete dlbench record (missing run_id)"),
        (lambda r: dict(r, schema=5), "schema 5, this dlbench reads 1 to 4"),
        (lambda r: dict(r, ranks="2"), "field 'ranks' is str, not a whole number"),
        (lambda r: dict(r, median=0), "status ok without a positive median time"),
    ],
)
def test_a_bad_record_is_one_error_naming_the_file_and_line(tmp_path, edit, needle):
    with open(os.path.join(REPO, OLD, "results.jsonl")) as f:
        good = f.readline().strip()
    d = _write(tmp_path / "bad", [good, json.dumps(edit(json.loads(good)))])
    with pytest.raises(ResultsError) as err:
        read_results(d)
    message = str(err.value)
    assert message.startswith(f"{os.path.join(d, 'results.jsonl')} line 2: ") and needle in message
    assert "\n" not in message


def test_one_key_for_cells_records_and_views():
    cell = Cell("conv", "forward", "small", "torch", "cpu", "eager", 2, 7)
    assert cell.key() == records.key(cell.as_dict()) == records.key(cell)
    assert records.key_fields(without=("threads",)) == tuple(f for f in records.KEY_FIELDS if f != "threads")
    with pytest.raises(ValueError):
        records.key_fields(without=("thread",))
    unique = next(c for c in cells.constraints if c.name == "uq_cell")
    assert [c.name for c in unique.columns] == ["run_id", *records.KEY_FIELDS, "side"]


def test_compare_tells_two_seeds_apart():
    """Another seed draws other inputs: its cell is another cell, never compared with the first."""
    cell = dict(zip(records.KEY_FIELDS, ("conv", "forward", "small", "torch", "cpu", "eager", 1, 1)))  # no seed: 0
    samples = dict(samples=[1.0, 1.1, 0.9], sample_process=[0, 1, 2], median=1.0)
    rec = records.upgrade(dict(cell, schema=1, run_id="r", status="ok", reason="", **samples))
    verdicts = sorted(c.verdict for c in compare_records([rec], [dict(rec, seed=1)]).cells)
    assert verdicts == ["missing", "new"]
