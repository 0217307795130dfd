"""The report's first screen (reports/summary.py): each cell's speed relative to the fastest,
its marks, each reason once; across machines, the ratio to the first and geometric means.

Tiny constructed cells (no run): each test knows the numbers it expects.
"""

import math
import re
import statistics

import pandas as pd
import pytest

from reports import summary
from reports.charts import bars, ratios
from reports.metrics import add_metrics
from reports.svg import text_width

UNSUPPORTED = "no integer GEMM in this framework"


def _cell(**kw):
    row = dict(
        source="m",
        source_order=0,
        scenario="qgemm",
        phase="gemm",
        size="tiny",
        device="cpu",
        threads=2,
        seed=0,  # a loaded row has the record's whole key (records.KEY_FIELDS)
        ranks=1,
        scaling="",
        impl="torch",
        mode="eager",
        status="ok",
        reason="",
        median=1.0,
        rel_iqr=0.01,
        samples=[1.0],
        flops=1e9,
        bytes=1e6,
        work_unit="FLOP",
        memory_bound=False,
        peak_fp32_gflops=1e6,
        peak_int8_gops=1e6,
        peak_memory_gbs=1e6,
    )
    row.update(kw)
    if row["status"] == "ok":
        row["gflops"] = row["flops"] / row["median"] / 1e9
        row["gbs"] = row["bytes"] / row["median"] / 1e9
    else:
        row.update(median=None, samples=[], rel_iqr=None)
    return row


def _unsupported(impl, mode="eager", **kw):
    return _cell(impl=impl, mode=mode, status="unsupported", reason=UNSUPPORTED, **kw)


def _one_machine():
    """qgemm gemm and full: reference 4x and 2x slower than torch graph, torch eager 2x slower
    (noisy), mxnet unsupported in both, with one reason."""
    rows = []
    for phase in ("full", "gemm"):  # the scenario's own order is gemm, requantize, full
        rows += [
            _cell(phase=phase, impl="torch", mode="graph", median=1.0),
            _cell(phase=phase, impl="torch", mode="eager", median=2.0, noisy=True, noisy_reason="IQR 19% (> 10%)"),
            _cell(phase=phase, impl="reference", median=4.0 if phase == "gemm" else 2.0),
            _unsupported("mxnet", phase=phase),
        ]
    return add_metrics(pd.DataFrame(rows))


def _entries(grid):
    """{(row labels, column): entry} of a grid."""
    return {
        (row.labels, column): entry
        for row, entries in zip(grid.rows, grid.entries)
        for column, entry in zip(grid.columns, entries)
    }


def test_each_cell_relative_to_the_fastest_with_marks_and_each_reason_once():
    m = _one_machine()
    grid = summary.fastest(m)
    assert grid.row_columns == ["scenario", "phase", "size"]  # one source, device and thread count
    assert grid.columns == [("reference", "eager"), ("mxnet", "eager"), ("torch", "eager"), ("torch", "graph")]
    assert [row.labels for row in grid.rows] == [("qgemm", "gemm", "tiny"), ("qgemm", "full", "tiny")]
    assert grid.rows[0].anchor == "cells-qgemm-gemm-tiny"  # the per-scenario table it summarises
    entries = _entries(grid)
    gemm = ("qgemm", "gemm", "tiny")
    assert {c: entries[(gemm, c)].plain() for c in grid.columns} == {
        ("reference", "eager"): "0.25",
        ("mxnet", "eager"): "U1",
        ("torch", "eager"): "0.50 n",
        ("torch", "graph"): "1.00",
    }
    assert entries[(("qgemm", "full", "tiny"), ("reference", "eager"))].plain() == "0.50"
    for key, entry in entries.items():  # the values are metrics' vs_fastest, not recomputed
        r = m[(m["phase"] == key[0][1]) & (m["impl"] == key[1][0]) & (m["mode"] == key[1][1])].iloc[0]
        assert entry.value == pytest.approx(r["vs_fastest"], nan_ok=True)
        assert f"|{r['impl']}|{r['device']}|{r['mode']}|" in entry.cell  # reports.charts.cell_key: records' order
    # two unsupported cells, one reason: written once, both point at it
    assert grid.notes == [("U", f"unsupported: {UNSUPPORTED}")]
    assert [letter for letter, _, _ in grid.legend] == ["U", "n"]
    assert "IQR (> 10%)" not in dict((w, t) for _, w, t in grid.legend)["noisy"]  # the bound, not one cell's
    noisy = entries[(gemm, ("torch", "eager"))]
    assert "IQR 19%" in noisy.title and noisy.marks == (summary.Mark("n", "noisy"),)

    text = summary.text(grid)
    lines = text.splitlines()
    assert re.match(r"\s+reference\s+mxnet\s+torch$", lines[0])  # each implementation once, over its modes
    assert lines[1].split() == ["scenario", "phase", "size", "eager", "eager", "eager", "graph"]
    assert lines[2].split() == ["qgemm", "gemm", "tiny", "0.25", "U1", "0.50", "n", "1.00"]
    assert lines[3].split()[0] == "full"  # the scenario once, at the top of its rows
    assert text.count(UNSUPPORTED) == 1 and "  U  unsupported" in text and "  n  noisy" in text


def test_ratios_come_from_the_lockstep_pairs_where_they_exist():
    """b's median is the larger, yet its paired turns show it faster: the summary says so."""
    a = [1.0] * 4 + [9.0] * 3
    b = [0.9] * 3 + [1.2] + [8.0] * 3
    rows = [
        _cell(
            impl=impl,
            median=statistics.median(s),
            samples=s * 2,
            sample_process=[0] * 7 + [1] * 7,
            sample_turn=list(range(7)) * 2,
            run_id="r",
        )
        for impl, s in (("a", a), ("b", b))
    ]
    grid = summary.fastest(add_metrics(pd.DataFrame(rows)))
    entries = {c: e for c, e in zip(grid.columns, grid.entries[0])}
    assert entries[("b", "eager")].text == "1.00"
    assert entries[("a", "eager")].value == pytest.approx(0.9)  # the pairs' 0.9, not the medians' 1.2
    assert "paired" in entries[("a", "eager")].title and "Ratios below 1: 1 from the lockstep turns" in grid.caption


def test_rows_split_by_source_device_and_threads_only_where_they_vary():
    m = add_metrics(
        pd.DataFrame(
            [_cell(threads=t, impl=i, median=v) for t in (1, 2) for i, v in (("reference", 2.0), ("torch", 1.0))]
        )
    )
    grid = summary.fastest(m)
    assert grid.row_columns == ["scenario", "phase", "size", "threads"]
    assert [row.labels[-1] for row in grid.rows] == [1, 2]


def test_machines_across_relative_to_the_first_with_geometric_means():
    """n: torch 2x faster and reference 2x slower on gemm, torch 4x faster on full; mxnet
    unsupported on m, not run at all on n."""
    m_rows = [
        _cell(phase="gemm", impl="torch", median=2.0),
        _cell(phase="gemm", impl="reference", median=1.0),
        _cell(phase="full", impl="torch", median=4.0),
        _unsupported("mxnet", phase="gemm"),
    ]
    n_rows = [
        dict(
            r,
            source="n",
            source_order=1,
            median=r["median"] * {"torch": 0.5 if r["phase"] == "gemm" else 0.25, "reference": 2.0}[r["impl"]],
        )
        for r in m_rows
        if r["status"] == "ok"
    ]
    m = add_metrics(pd.DataFrame(m_rows + n_rows))
    grid = summary.machines(m)
    assert grid.title == "Speed relative to m"
    assert grid.columns == [
        ("n", "reference", "eager"),
        ("n", "mxnet", "eager"),
        ("n", "torch", "eager"),
        ("n", "all", ""),
    ]
    entries = _entries(grid)
    gemm, full = ("qgemm", "gemm", "tiny"), ("qgemm", "full", "tiny")
    assert entries[(gemm, ("n", "torch", "eager"))].value == pytest.approx(2.0)
    assert entries[(gemm, ("n", "reference", "eager"))].value == pytest.approx(0.5)
    assert entries[(gemm, ("n", "all", ""))].value == pytest.approx(1.0)  # sqrt(2 * 0.5)
    assert entries[(full, ("n", "torch", "eager"))].value == pytest.approx(4.0)
    assert entries[(full, ("n", "reference", "eager"))] is None  # no such cell
    mxnet = entries[(gemm, ("n", "mxnet", "eager"))]
    assert math.isnan(mxnet.value) and mxnet.plain() == "U1"  # the reason of the side that has one
    assert grid.notes == [("U", f"unsupported: {UNSUPPORTED}")]
    geomean = grid.rows[-1]
    assert geomean.geomean and geomean.labels[:2] == ("qgemm", "geomean")
    means = dict(zip(grid.columns, grid.entries[-1]))
    assert means[("n", "torch", "eager")].value == pytest.approx(math.sqrt(2.0 * 4.0))
    assert means[("n", "reference", "eager")].value == pytest.approx(0.5)
    assert means[("n", "all", "")].value == pytest.approx((2.0 * 0.5 * 4.0) ** (1 / 3))  # the scenario's cells
    assert means[("n", "mxnet", "eager")] is None
    assert summary.machines(add_metrics(pd.DataFrame(m_rows))) is None  # one source: nothing across
    text = summary.text(grid)
    assert text.splitlines()[0].strip() == "n" and "geomean" in text and "1.59" in text


def test_a_cell_missing_on_one_machine_is_marked_not_flagged():
    m_rows = [_cell(impl="torch", median=1.0), _cell(impl="tensorflow", median=1.0, noisy=True, noisy_reason="x")]
    n_rows = [dict(m_rows[0], source="n", source_order=1)]
    grid = summary.machines(add_metrics(pd.DataFrame(m_rows + n_rows)))
    entries = dict(zip(grid.columns, grid.entries[0]))
    assert entries[("n", "tensorflow", "eager")].plain() == "-"  # its noisy flag on m is beside the point
    assert [w for _, w, _ in grid.legend] == ["missing"] and grid.notes == []


def test_per_scenario_tables_number_each_reason_once():
    m = _one_machine()
    rows = m.to_dict("records")
    marks, notes = summary.marks_and_notes(rows)
    assert notes == [("n", "noisy: IQR 19% (> 10%)"), ("U", f"unsupported: {UNSUPPORTED}")]  # in row order
    by_impl = {}
    for r, row_marks in zip(rows, marks):
        by_impl.setdefault((r["impl"], r["mode"]), set()).add(tuple(mk.text() for mk in row_marks))
    assert by_impl == {  # two rows each: the same marks, the same notes
        ("mxnet", "eager"): {("U2",)},
        ("torch", "eager"): {("n1",)},
        ("torch", "graph"): {()},
        ("reference", "eager"): {()},
    }


def _overflow(svg_text):
    """The <text> elements whose estimated extent leaves the SVG's width."""
    width = float(re.search(r'<svg[^>]* width="([\d.]+)"', svg_text).group(1))
    out = []
    for attrs, body in re.findall(r"<text([^>]*)>(.*?)</text>", svg_text):
        if "transform" in attrs:
            continue
        x = float(re.search(r' x="([-\d.]+)"', attrs).group(1))
        shown = re.sub(r"<title>.*?</title>", "", body)
        plain = re.sub(r"<[^>]+>", "", shown).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
        w = text_width(plain, float(re.search(r'font-size="([\d.]+)"', attrs).group(1)), bold="font-weight" in shown)
        anchor = re.search(r'text-anchor="(\w+)"', attrs)
        lo, hi = {"end": (x - w, x), "middle": (x - w / 2, x + w / 2)}.get(anchor and anchor.group(1), (x, x + w))
        if lo < 0 or hi > width:
            out.append((plain, lo, hi, width))
    return out


def test_charts_are_as_wide_as_their_longest_label():
    m = add_metrics(
        pd.DataFrame(
            [
                _cell(impl="a-framework-with-a-long-name", mode="graph", median=1.0, noisy=True, noisy_reason="x"),
                _cell(impl="b", median=0.5, noisy=True, contended=True),
                _cell(impl="c", status="unsupported", reason="why " * 40),
            ]
        )
    )
    m.loc[m["impl"] == "b", "ceiling_low"] = True
    m.loc[m["impl"] == "b", "flags"] = "contended noisy ceiling-low"  # the longest value label a bar gets
    records = m.to_dict("records")
    chart = bars(records, {"a-framework-with-a-long-name": "#000", "b": "#111", "c": "#222"}, "t", True)
    assert "contended noisy ceiling-low" in chart and _overflow(chart) == []
    long = [{"label": "WIDE " * 20, "ratio": 9.0}]  # shortened to 52 characters, still wider than 330 px
    chart = ratios(long + [{"label": "x", "ratio": 0.11}], "t")
    assert _overflow(chart) == []


def test_the_terminal_and_html_reports_open_with_the_summary(capsys, tiny_run, other_machine, tmp_path):
    from cli.main import main
    from reports import load
    from tests.conftest import SLOWER

    page = tmp_path / "one.html"
    assert main(["report", tiny_run, "--html", str(page)]) == 0
    out = capsys.readouterr().out
    first = out.split("\n\n")[0]
    assert first.startswith("Speed relative to the fastest\n")
    grid = summary.fastest(add_metrics(load([tiny_run])))
    assert summary.text(grid) in first
    html = page.read_text()
    assert html.index('data-grid="fastest"') < html.index('id="machines"') < html.index('class="scenario"')

    assert main(["report", tiny_run, other_machine, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Speed relative to ") and out.index("## Speed relative to the fastest") < out.index(
        "## Machines"
    )
    m = add_metrics(load([tiny_run, other_machine]))
    across = summary.machines(m)
    assert across.columns[0][0] == "other-box"
    means = [e for row, entries in zip(across.rows, across.entries) if row.geomean for e in entries if e]
    assert means and {e.text for e in means} == {f"{1 / SLOWER:.2f}"}  # every cell SLOWER times slower
    assert {r.labels[0] for r in across.rows if r.geomean} == {"conv", "qgemm", "sigmoid"}
