"""The dashboard's pages: the index (machines, then every cell of each with its latest value,
trend, status and latest change), one page per cell (its history chart and runs), and the
list of detected changes, largest first. The report's rules: one folder of static files
that opens offline from file://, inline styles and SVG only, a Content-Security-Policy
that forbids any fetch, every string from the database escaped."""

from __future__ import annotations

import math
import os

from reports.dashboard import charts
from reports.dashboard.history import key_text, short
from reports.html import CSP, STYLE
from reports.noise_band import MIN_RUNS
from reports.svg import esc, fmt_num

EXTRA_STYLE = """
.up{color:#b91c1c;font-weight:600}.down{color:#047857;font-weight:600}.warn{background:#fff4d6;padding:6px 10px;
border-left:4px solid #d98c00;margin:8px 0;font-size:13px}td.spark{padding:1px 4px}
.few{color:#666;font-style:italic}
"""


def page(title, body, depth=0):
    home = "../" * depth
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{esc(title)}</title><style>{STYLE}{EXTRA_STYLE}</style></head><body>"
        f'<nav><a href="{home}index.html">index</a><a href="{home}regressions.html">changes</a></nav>'
        f"<h1>{esc(title)}</h1>{body}</body></html>"
    )


def _ms(v):
    return f"{fmt_num(v * 1e3)} ms" if isinstance(v, (int, float)) and math.isfinite(v) else ""


def _pct(v, cls=True):
    if v is None:
        return ""
    kind = "up" if v > 0.02 else "down" if v < -0.02 else ""
    return f'<span class="{kind}">{v:+.1%}</span>' if cls and kind else f"{v:+.1%}"


def _vs_previous(judged):
    """The latest run against the runs before it: coloured only beyond the cell's own
    run-to-run noise, and not a number at all while too few runs say what that noise is."""
    if judged is None:
        return ""
    if judged.too_few:
        why = f"{judged.runs} earlier run(s) with a time; knowing the cell's run-to-run noise takes {MIN_RUNS}"
        return f'<span class="few" title="{esc(why)}">too few runs</span>'
    if judged.change is None:
        return ""
    kind = ("up" if judged.change > 0 else "down") if judged.real else "noise"
    low, high = judged.bounds
    why = f"this cell's run-to-run noise (from {judged.runs} runs) explains {low:+.0%} to {high:+.0%}"
    return f'<span class="{kind}" title="{esc(why)}">{judged.change:+.1%}</span>'


def _link(href, text, depth=0):
    return f'<a href="{esc("../" * depth + href)}">{esc(text)}</a>'


def index(histories, cells_by_machine, warnings_by_machine):
    parts = [
        f"<p class=muted>{len(histories)} machine(s). Times are medians per run (lower is better); a change "
        "point is where the history steps (docs/change-points.md).</p>"
    ]
    for h in histories:
        cells = cells_by_machine[h.name]
        parts.append(f'<h2 id="m-{esc(h.name)}">{esc(h.name)}</h2>')
        last = h.runs[-1] if h.runs else None
        parts.append(
            f"<p class=muted>{len(h.runs)} runs, {len(cells)} cells; latest run {esc(last.run_id if last else '-')} "
            f"at commit {esc(short(last.git_commit) if last else '-')}.</p>"
        )
        warns = warnings_by_machine[h.name]
        for run_id, notes in warns.items():
            parts.append(f'<div class="warn drift">run {esc(run_id)}: {esc("; ".join(notes))}</div>')
        rows = []
        for c in cells:
            i, p = c.latest
            latest = c.changes[-1] if c.changes else None
            rows.append(
                f'<tr class="cell" data-cell="{esc(key_text(c.key))}" data-status="{esc(p.status if p else "")}">'
                f"<td>{_link(c.page, key_text(c.key))}</td>"
                f'<td class="num">{_ms(p.median) if p and p.status == "ok" else ""}</td>'
                f'<td class="spark">{charts.sparkline(c.values, c.changes)}</td>'
                f'<td class="num vs-previous">{_vs_previous(c.vs_previous)}</td>'
                f'<td class="status-{esc(p.status if p else "none")}">{esc(p.status if p else "-")}</td>'
                f"<td>{_pct(latest.change) + ' at ' + esc(latest.last_commit) if latest else ''}</td></tr>"
            )
        parts.append(
            "<table><thead><tr><th>cell</th><th>latest</th><th>trend</th><th>vs previous runs</th><th>status</th>"
            f"<th>latest change</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return page("dlbench dashboard", "".join(parts))


def cell_page(cell, history, warnings, siblings=()):
    """The cell's page; `siblings` are the machine's other cells of the same scenario, phase and
    size (other implementations, modes, devices, threads), linked so they compare in a click
    while each chart keeps one series and its own scale."""
    depth = cell.page.count("/")
    chart = charts.history(cell, history.runs, warnings)
    others = " \u00b7 ".join(_link(s.page, key_text(s.key), depth) for s in siblings if s.key != cell.key)
    changes = "".join(
        f'<tr class="change"><td>{_pct(c.change)}</td><td>{esc(_ms(c.before))} \u2192 {esc(_ms(c.after))}</td>'
        f"<td><code>{esc(c.first_commit)}..{esc(c.last_commit)}</code></td>"
        f"<td>runs {c.since + 1}..{c.index + 1}</td></tr>"
        for c in cell.changes
    )
    rows = []
    for i, (run, p) in enumerate(zip(history.runs, cell.points)):
        if p is None:
            continue
        ci = f"[{_ms(p.ci_low)}, {_ms(p.ci_high)}]" if p.ci_low is not None and p.ci_high is not None else ""
        rows.append(
            f"<tr><td class=num>{i + 1}</td><td><code>{esc(short(run.git_commit))}</code></td>"
            f"<td>{esc(run.started or '')}</td>"
            f'<td class="num">{esc(_ms(p.median))}</td><td class="ci">{esc(ci)}</td>'
            f'<td class="status-{esc(p.status)}">{esc(p.status)}</td><td class="reason">{esc(p.reason or "")}</td>'
            f"<td>{esc('; '.join(warnings.get(run.run_id, [])))}</td></tr>"
        )
    body = (
        f"<p class=muted>machine {_link('index.html#m-' + history.name, history.name, depth)}</p>{chart}"
        + (f'<p class="siblings">Same scenario, phase and size: {others}</p>' if others else "")
        + "<h2>Change points</h2>"
        + (
            "<table><thead><tr><th>change</th><th>level</th><th>commit range</th><th>runs</th></tr></thead>"
            f"<tbody>{changes}</tbody></table>"
            if changes
            else "<p>none detected</p>"
        )
        + "<h2>Runs</h2><table><thead><tr><th>#</th><th>commit</th><th>started (UTC)</th><th>median</th>"
        "<th>interval</th><th>status</th><th>reason</th><th>machine warning</th></tr></thead>"
        f"<tbody>{''.join(reversed(rows))}</tbody></table>"
    )
    return page(f"{history.name}: {key_text(cell.key)}", body, depth)


def changes_page(changes, cells_by_key):
    ordered = sorted(changes, key=lambda c: -abs(c.change))
    rows = "".join(
        f'<tr class="change {"regression" if c.change > 0 else "improvement"}"><td>{_pct(c.change)}</td>'
        f"<td>{'slower' if c.change > 0 else 'faster'}</td><td>{esc(c.machine)}</td>"
        f"<td>{_link(cells_by_key[(c.machine, c.key)].page, key_text(c.key))}</td>"
        f"<td><code>{esc(c.first_commit)}..{esc(c.last_commit)}</code></td>"
        f"<td>{esc(_ms(c.before))} \u2192 {esc(_ms(c.after))}</td></tr>"
        for c in ordered
    )
    body = (
        f"<p class=muted>{len(ordered)} change(s) detected: regressions (slower) and improvements, largest first.</p>"
        "<table><thead><tr><th>change</th><th></th><th>machine</th><th>cell</th><th>commit range</th><th>level</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    return page("Detected changes", body)


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return len(text.encode())
