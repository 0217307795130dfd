"""The dashboard's inline SVG: a cell's history over runs (median and interval per run,
not-ok runs marked on the axis, change points as vertical lines with their size) and a
sparkline for the index."""

from __future__ import annotations

import math
import statistics

from reports.dashboard.history import short
from reports.svg import FONT, Linear, esc, fmt_num, scale_for, svg, x_axis, y_axis

OK = "#0072B2"
BAD = "#D55E00"
SPARK_SPAN = 0.10


def _finite(v):
    return isinstance(v, (int, float)) and math.isfinite(v)


def history(cell, runs, warnings, scale=1e3, unit="ms"):
    """The chart of one cell over the machine's runs."""
    n = len(runs)
    width, height, left, right, top, bottom = max(520, min(1150, 60 + 9 * n)), 310, 62, 16, 16, 58
    runs_x = Linear(0.5, max(n + 0.5, 1.5), left, width - right)  # run k (1-based, as the tables number them)

    def x(i):
        return runs_x(i + 1)

    values = [
        v * scale
        for p in cell.points
        if p is not None and p.status == "ok"
        for v in (p.median, p.ci_low, p.ci_high)
        if _finite(v)
    ]
    y = scale_for(values, height - bottom, top, zero=False)
    body = [x_axis(runs_x, height - bottom, top, ""), y_axis(y, left, width - right, unit)]
    # each numbered tick also names its run's commit: the history is read by commit, not by run number
    for t in runs_x.ticks():
        if float(t).is_integer() and 1 <= t <= n:
            body.append(
                f'<text class="commit" x="{runs_x(t):.1f}" y="{height - bottom + 26}" text-anchor="middle" '
                f'font-size="9" fill="#555">{esc(short(runs[int(t) - 1].git_commit)[:7])}</text>'
            )
    body.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - bottom + 42}" text-anchor="middle" font-size="12">'
        "run, oldest first, and its commit (full commit on hover)</text>"
    )
    for i, p in enumerate(cell.points):
        run = runs[i]
        label = f"{run.git_commit or '?'} {run.started or ''}"
        if p is None:
            continue
        if p.status != "ok" or not _finite(p.median):
            body.append(
                f'<g class="not-ok" data-run="{i}" data-status="{esc(p.status)}"><title>{esc(label)}: {esc(p.status)} '
                f'{esc(p.reason or "")}</title><text x="{x(i):.1f}" y="{height - bottom - 4}" text-anchor="middle" '
                f'font-size="12" fill="{BAD}">\u00d7</text></g>'
            )
            continue
        cx, cy = x(i), y(p.median * scale)
        if _finite(p.ci_low) and _finite(p.ci_high):
            body.append(
                f'<line class="interval" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(p.ci_low * scale):.1f}" '
                f'y2="{y(p.ci_high * scale):.1f}" stroke="{OK}" stroke-opacity="0.45" stroke-width="2"/>'
            )
        body.append(
            f'<circle class="point" data-run="{i}" cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{OK}">'
            f"<title>{esc(label)}: {esc(fmt_num(p.median * scale))} {esc(unit)}</title></circle>"
        )
    for i, run in enumerate(runs):
        if run.run_id in warnings:
            text = "; ".join(warnings[run.run_id])
            body.append(
                f'<g class="drift" data-run="{i}"><title>{esc(text)}</title><text x="{x(i):.1f}" y="{top + 10}" '
                f'text-anchor="middle" font-size="13" fill="#b45309">\u26a0</text></g>'
            )
    for c in cell.changes:
        cx = (x(c.since) + x(c.index)) / 2
        color = BAD if c.change > 0 else "#009E73"
        body.append(
            f'<g class="change" data-index="{c.index}"><line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top}" '
            f'y2="{height - bottom}" stroke="{color}" stroke-dasharray="4 3" stroke-width="1.5"/>'
            # left of the line, where the old level is not: above it for a slowdown, below for a speedup
            f'<text x="{cx - 4:.1f}" y="{top + 12 if c.change > 0 else height - bottom - 8}" text-anchor="end" '
            'font-size="12" '
            f'fill="{color}">{c.change:+.1%}</text>'
            f"<title>{esc(c.first_commit)}..{esc(c.last_commit)}: {c.change:+.1%}</title></g>"
        )
    return svg(width, height, "".join(body), "history", f"history of {cell.page}", points=len(values) // 3)


def sparkline(values, changes, width=120, height=24):
    """The values over runs as a line, the newest point dotted; change points as ticks."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 2:
        return ""
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    # at least SPARK_SPAN of the level from bottom to top: a 1% wobble stays flat, a 30% step does not
    pad = max(0.0, SPARK_SPAN * statistics.median(v for _, v in pts) - (hi - lo)) / 2
    lo, hi = lo - pad, hi + pad
    x = Linear(0, max(len(values) - 1, 1), 2, width - 4)
    y = Linear(lo, hi if hi > lo else lo * 1.01 + 1e-12, height - 3, 3)
    path = " ".join(f"{'M' if k == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for k, (i, v) in enumerate(pts))
    ticks = "".join(
        f'<line x1="{x(c.index):.1f}" x2="{x(c.index):.1f}" y1="0" y2="{height}" '
        f'stroke="{BAD if c.change > 0 else "#009E73"}" stroke-width="1"/>'
        for c in changes
    )
    i, v = pts[-1]
    return (
        f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="{FONT}" role="img"><title>trend</title>{ticks}'
        f'<path d="{path}" fill="none" stroke="{OK}" stroke-width="1.2"/>'
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2" fill="{OK}"/></svg>'
    )
