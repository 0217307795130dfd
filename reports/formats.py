"""`dlbench report` output: a terminal table, markdown, JSON, CSV."""

from __future__ import annotations

import json
import math

from reports import machines, summary
from reports.collectives import bandwidth_table
from reports.metrics import add_metrics, best_pct_of_peak
from reports.scaling import scaling_table
from reports.side_by_side import display as side_display
from reports.side_by_side import side_by_side
from reports.table import cells_table, scenario_blocks
from reports.task import task_table


def _blocks(df):
    """(title, DataFrame of text, [lines under it]): the summaries first (reports.summary),
    then per scenario, then the side-by-side comparison and the best % of peak."""
    m = add_metrics(df)
    for grid in summary.grids(m):
        yield grid.title, grid, summary.under(grid)
    for scenario, block, notes in scenario_blocks(m):
        yield scenario, block, notes
    table, labels = side_by_side(m)
    if table is not None:
        yield (
            f"side by side (ratio: {labels[0]}'s median / the other's; above 1 is faster)",
            side_display(table, labels),
            [],
        )
    collectives, notes = bandwidth_table(m)
    if collectives is not None:
        yield "all-reduce bandwidth against message size and ranks", collectives, notes
    scaled, notes = scaling_table(m)
    if scaled is not None:
        yield "data-parallel scaling against one rank (weak and strong)", scaled, notes
    tasks, notes = task_table(m)
    if tasks is not None:
        yield "time to target (the task layer)", tasks, notes
    best = best_pct_of_peak(m)
    if not best.empty:
        best = best.assign(best_pct_of_peak=best["best_pct_of_peak"].map(lambda v: f"{v:.1f}%"))
        if best["source"].nunique() <= 1:
            best = best.drop(columns=["source"])
        yield "best % of peak per implementation and scenario", best, []


def text(df, sources):
    """The terminal report: the summary first, then the machines, then the tables."""
    blocks = list(_blocks(df))
    grids = [b for b in blocks if isinstance(b[1], summary.Grid)]
    parts = [f"{title}\n{summary.text(grid)}" for title, grid, _ in grids]
    parts.append("\n".join(machines.machine_lines(sources)))
    parts += [
        "\n".join([title, block.to_string(index=False), *notes])
        for title, block, notes in blocks
        if not isinstance(block, summary.Grid)
    ]
    return "\n\n".join(parts)


def _md_cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(block):
    header = "| " + " | ".join(_md_cell(c) for c in block.columns) + " |"
    rule = "| " + " | ".join("---" for _ in block.columns) + " |"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in block.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def markdown(df, sources):
    blocks = list(_blocks(df))
    grids = [b for b in blocks if isinstance(b[1], summary.Grid)]
    parts = []
    for title, grid, _ in grids:
        parts += [f"## {title}", markdown_table(summary.to_frame(grid)), grid.caption]
        lines = [f"- `{letter}` {meaning}" for letter, _, meaning in grid.legend]
        lines += [f"- [{n}] {_md_cell(text)}" for n, (_, text) in enumerate(grid.notes, 1)]
        if lines:
            parts.append("\n".join(lines))
    parts += [
        "## Machines",
        "\n".join(
            f"- {line}" if not line.startswith("  ") else f"  - {line.strip()}"
            for line in machines.machine_lines(sources)
        ),
    ]
    for title, block, notes in blocks:
        if isinstance(block, summary.Grid):
            continue
        parts += [f"## {title}", markdown_table(block)]
        if notes:
            parts.append("\n".join(f"- {_md_cell(n)}" for n in notes))
    return "\n\n".join(parts) + "\n"


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):
        return _plain(value.item())
    return value


def _records(frame):
    return [
        {k: _plain(v) for k, v in row.items()}
        for row in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]


def json_doc(df, sources):
    """Numbers as numbers (null where a cell has none), samples included."""
    m = add_metrics(df)
    cells = cells_table(m, with_samples=True)
    table, labels = side_by_side(m)
    return {
        "machines": [
            {
                "source": s.label,
                "results_dir": s.results_dir,
                "machine_id": s.machine.get("machine_id"),
                "hostname": s.machine.get("hostname"),
                "summary": machines.summary(s),
                "peaks": s.machine.get("peaks") or {},
            }
            for s in sources
        ],
        "cells": _records(cells),
        "side_by_side": _records(table) if table is not None else [],
        "best_pct_of_peak": _records(best_pct_of_peak(m)),
    }


def to_json(df, sources):
    return json.dumps(json_doc(df, sources), indent=1, allow_nan=False)


def write_csv(df, path):
    cells_table(add_metrics(df)).to_csv(path, index=False)
