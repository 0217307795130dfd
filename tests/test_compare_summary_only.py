"""A cell kept as statistics alone (pytest-benchmark saved without --benchmark-save-data, as
`db ingest .benchmarks` keeps it) is not comparable, said in words, never a NaN change."""

from reports.compare import compare_cell, compare_records
from tests.test_compare import record, runs


def summary_only(rec):
    return dict(rec, samples=[], sample_process=[], median=0.005, summary_only=True)


def test_a_cell_without_samples_is_not_comparable_and_says_why():
    base = [summary_only(r) for r in runs(3, 5e-3, 0.02, 1)]
    c = compare_cell(base, record([5e-3] * 3), threshold=0.05, alpha=0.01)
    assert c.verdict == "not-comparable"
    assert c.note == ("no samples in the baseline (statistics imported alone); rerun pytest with --benchmark-save-data")
    both = compare_cell(summary_only(record([5e-3])), summary_only(record([5e-3])), 0.05, 0.01)
    assert "no samples in the baseline and current" in both.note


def test_a_suite_with_a_bare_cell_compares_the_rest():
    base, cur = runs(3, 5e-3, 0.01, 2), record([5e-3] * 3)
    other = dict(cur, scenario="sigmoid")
    result = compare_records(
        [*base, *[summary_only(dict(r, scenario="sigmoid")) for r in base]], [cur, other], 0.05, 0.01
    )
    verdicts = {c.key["scenario"]: c.verdict for c in result.cells}
    assert verdicts["sigmoid"] == "not-comparable" and verdicts["conv"] != "not-comparable"
