"""The HTML report: one self-contained file that opens offline.

No CDN, no external font, script or image: styles are inline, charts are inline SVG
(reports.charts) and a Content-Security-Policy forbids loading anything else, so a
stray reference would show as a console error rather than a silent fetch. Every
string that comes from results (names, versions, reasons, hosts) is escaped.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime, timezone

import scenarios
from harness import __version__
from reports import charts, machines, summary
from reports.collectives import bandwidth_table
from reports.metrics import add_metrics, best_pct_of_peak
from reports.precision import legend, median_text, rate_text, ratio_text, relative_spread
from reports.scaling import scaling_rows, scaling_table
from reports.side_by_side import KEY as SIDE_KEY
from reports.side_by_side import side_by_side
from reports.svg import colors, esc
from reports.table import SHORT_PEAK
from reports.task import task_rows, task_table

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 40px;
color:#222;line-height:1.4}
h1{margin:18px 0 4px}h2{border-bottom:2px solid #ddd;padding-bottom:3px;margin-top:34px}h3{margin:22px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.not-ok td{background:#fff6f6}td.reason{max-width:460px;word-break:break-word}
.status-ok{color:#060}.status-invalid,.status-error,.status-timeout{color:#a00;font-weight:600}
.status-unsupported{color:#865}
.charts{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0}figcaption{font-size:12px;color:#555}
nav a{margin-right:12px}.muted{color:#666;font-size:13px}.swatch{display:inline-block;width:11px;height:11px;
margin:0 4px 0 10px;vertical-align:-1px}
tr.flagged td{background:#fff4d6}tr.flagged td.flags{border-left:4px solid #d98c00}
.flag{display:inline-block;padding:0 5px;margin:1px 2px;border-radius:3px;font-size:12px;font-weight:600;color:#fff}
.flag-contended{background:#c2410c}.flag-noisy{background:#7e22ce}.flag-ceiling-low{background:#1d4ed8}
.ci{color:#555;font-size:12px;white-space:nowrap}.flag{white-space:nowrap}
ul.legend{margin:4px 0 10px;padding-left:18px;font-size:13px}
.flag-drift{background:#0e7490}.flag-unsupported{background:#8a6d4b}
.flag-invalid,.flag-error,.flag-timeout{background:#a00}
a.note-ref{font-size:11px;margin:0 3px 0 1px;vertical-align:super}
header h1{margin:10px 0 2px;font-size:26px}header p{margin:2px 0}
section.summary h2{margin-top:10px}section.summary p{margin:2px 0;font-size:13px}
table.summary{margin:4px 0}table.summary th{text-align:center;padding:2px 6px;vertical-align:bottom}
table.summary th.rl{text-align:left}table.summary td{padding:2px 6px;white-space:nowrap}
table.summary td.r{text-align:right;font-variant-numeric:tabular-nums;min-width:3.2em}
table.summary td.none{background:#f4f4f4}table.summary tr.geomean td{font-weight:600;border-top:2px solid #999}
table.summary .swatch{margin:0 4px 0 0}
.mks{display:inline-block;min-width:1.5em;text-align:left}
.mk{font-size:10px;font-weight:700;margin-left:2px;vertical-align:super;color:#333}
.mk.solo{font-size:12px;vertical-align:baseline;margin:0}.mk a{color:#0645ad;font-weight:400}
ul.marks{list-style:none;padding:0;margin:3px 0;font-size:12px;display:flex;flex-wrap:wrap;gap:0 16px}
ol.notes{font-size:12px;margin:2px 0 8px;padding-left:28px}ol.notes li{margin:1px 0}
.mark{font-weight:700;font-family:ui-monospace,Menlo,Consolas,monospace;margin-right:4px}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _finite(v):
    return isinstance(v, (int, float)) and math.isfinite(v)


def _num(v, pattern):
    return pattern.format(v) if _finite(v) else ""


def _table(header, rows, cls=""):
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _machines_section(sources):
    summaries = [machines.summary(s) for s in sources]
    fields = [k for k in summaries[0] if k != "source"]
    rows = [f"<tr><th>{esc(f)}</th>" + "".join(f"<td>{esc(s[f])}</td>" for s in summaries) + "</tr>" for f in fields]
    out = [_table(["", *[s["source"] for s in summaries]], rows, "machines")]
    peak_rows = []
    for s in sources:
        lines = machines.peak_lines(s.machine)
        if not lines:
            peak_rows.append(
                f"<tr><td>{esc(s.label)}</td><td colspan=4>no peaks measured: "
                f"<code>dlbench machine --out {esc(s.results_dir)}</code> adds them</td></tr>"
            )
        for device, what, value, how in lines:
            peak_rows.append(
                f"<tr><td>{esc(s.label)}</td><td>{esc(device)}</td><td>{esc(what)}</td>"
                f'<td class="num">{esc(value)}</td><td>{esc(how)}</td></tr>'
            )
    out.append(
        "<h3>Measured peaks</h3><p class=muted>The ceilings every cell is compared against: the best any "
        "implementation reached in a short probe (GEMM, integer GEMM, a large copy).</p>"
    )
    out.append(_table(["source", "device", "peak", "value", "reached by"], peak_rows, "peaks"))
    speed = [(s, charts.sentinel(s.machine, f"{s.label}: drift sentinel over the run")) for s in sources]
    if any(chart for _, chart in speed):
        out.append(
            "<h3>Speed over the run</h3><p class=muted>A fixed NumPy workload timed before each round of "
            "each cell: the machine's own speed, minute by minute. Cells timed above the dashed bound are "
            "flagged <code>drift</code>; ratios from lockstep turns cancel it.</p>"
        )
        out += [f"<p>{esc(s.label)}: {esc(machines.speed_line(s.machine))}</p>{chart}" for s, chart in speed if chart]
    return "".join(out)


def _status_section(m):
    """How many cells of each status; where the ones without a time are and why is the
    summary's (its marks and notes) and each table's."""
    counts = Counter(m["status"])
    return (
        "<p>"
        + ", ".join(f'<span class="status-{esc(k)}">{v} {esc(k)}</span>' for k, v in sorted(counts.items()))
        + "</p>"
    )


def _shade(value, diverging):
    """An entry's background: relative to the fastest, green at 1 through yellow to red at a
    tenth or less (log scale); across sources, green above 1 and red below, deeper the
    further from 1 (full at 4x)."""
    if not _finite(value) or value <= 0:
        return ""
    if not diverging:
        t = min(1.0, max(0.0, -math.log10(value)))
        return f"hsl({120 * (1 - t):.0f},70%,{80 - 4 * (1 - t):.0f}%)"
    t = max(-1.0, min(1.0, math.log(value) / math.log(4)))
    return f"hsl({120 if t >= 0 else 0},65%,{97 - 20 * abs(t):.0f}%)"


def _mark_html(mark, notes_id, solo=False):
    note = f'<a href="#{esc(notes_id)}-{mark.note}">{mark.note}</a>' if mark.note else ""
    return (
        f'<span class="mk mk-{esc(mark.word)}{" solo" if solo else ""}" title="{esc(mark.word)}">'
        f"{esc(mark.letter)}{note}</span>"
    )


def _entry_td(entry, diverging, notes_id):
    if entry is None:
        return '<td class="none"></td>'
    marks = "".join(_mark_html(mk, notes_id, solo=not entry.text) for mk in entry.marks)
    marks = f'<span class="mks">{marks}</span>' if entry.text else marks  # numbers stay aligned
    shade = _shade(entry.value, diverging)
    style = f' style="background:{shade}"' if shade else ""
    value = f' data-value="{entry.value:.6g}"' if _finite(entry.value) else ""
    cell = f' data-cell="{esc(entry.cell)}"' if entry.cell else ""
    return f'<td class="r"{style}{cell}{value} title="{esc(entry.title)}">{esc(entry.text)}{marks}</td>'


def _rowspans(rows, j):
    """Per row: how many rows from it share labels[:j + 1] (0 for one covered by a row above)."""
    out = [0] * len(rows)
    i = 0
    while i < len(rows):
        k = i + 1
        while k < len(rows) and rows[k].labels[: j + 1] == rows[i].labels[: j + 1]:
            k += 1
        out[i] = k - i
        i = k
    return out


def _grid_section(grid, color):
    """A reports.summary grid as a table: the column levels as header rows (each label once,
    spanning its columns), entries shaded by their ratio, then the marks and the notes."""
    notes_id = f"{grid.kind}-note"
    levels = len(grid.column_levels)
    head = []
    for level in range(levels):
        cells = [f'<th rowspan="{levels}" class="rl">{esc(n)}</th>' for n in grid.row_columns] if level == 0 else []
        for start, end in summary.spans(grid.columns, level):
            column = grid.columns[start]
            if level and not any(column[level:]):
                continue  # under a label that spans the levels below it
            rowspan = levels - level if end - start == 1 and not any(column[level + 1 :]) else 1
            label = str(column[level])
            swatch = (
                f'<span class="swatch" style="background:{color[label]}"></span>'
                if grid.column_levels[level] == "impl" and label in color
                else ""
            )
            cells.append(
                f'<th colspan="{end - start}"'
                + (f' rowspan="{rowspan}"' if rowspan > 1 else "")
                + f">{swatch}{esc(label)}</th>"
            )
        head.append(f"<tr>{''.join(cells)}</tr>")
    spans = {j: _rowspans(grid.rows, j) for j, n in enumerate(grid.row_columns) if n in ("source", "scenario")}
    body = []
    for i, (row, entries) in enumerate(zip(grid.rows, grid.entries)):
        tds = []
        for j, (name, value) in enumerate(zip(grid.row_columns, row.labels)):
            if j in spans:
                if spans[j][i]:
                    tds.append(f'<td rowspan="{spans[j][i]}">{esc(value)}</td>')
            elif name == "phase" and row.anchor:
                tds.append(f'<td><a href="#{esc(row.anchor)}">{esc(value)}</a></td>')
            else:
                tds.append(f"<td>{esc(value)}</td>")
        tds += [_entry_td(e, grid.kind == "machines", notes_id) for e in entries]
        body.append(f'<tr class="{"geomean" if row.geomean else "cells"}">{"".join(tds)}</tr>')
    colours = (
        "Colour: green above 1 (faster), red below, deeper the further from 1."
        if grid.kind == "machines"
        else "Colour: green at the fastest, through yellow, to red at a tenth of its speed or slower."
    )
    marks = "".join(
        f'<li><span class="mark">{esc(letter)}</span>{esc(meaning)}</li>' for letter, _, meaning in grid.legend
    )
    notes = "".join(
        f'<li id="{esc(notes_id)}-{n}"><span class="mark">{esc(letter)}</span>{esc(text)}</li>'
        for n, (letter, text) in enumerate(grid.notes, 1)
    )
    return (
        f'<section class="summary" id="summary-{esc(grid.kind)}" data-grid="{esc(grid.kind)}">'
        f"<h2>{esc(grid.title)}</h2><p class=muted>{esc(grid.caption)} {colours}</p>"
        f'<table class="summary"><thead>{"".join(head)}</thead><tbody>{"".join(body)}</tbody></table>'
        + (f'<ul class="marks">{marks}</ul>' if marks else "")
        + (f'<ol class="notes">{notes}</ol>' if notes else "")
        + "</section>"
    )


def _flag_badges(flags):
    """A cell's flags as the badges of their marks (the word on hover)."""
    return " ".join(
        f'<span class="flag flag-{esc(f)}" title="{esc(f)}">{esc(summary.FLAG_MARKS.get(f, f))}</span>'
        for f in (flags or "").split()
    )


def _median_cell(r, scale=1e3):
    """The median (ms) at the digits its spread supports, its interval in a quieter style."""
    t = r["median"] * scale
    iqr = r["rel_iqr"] * t if _finite(r.get("rel_iqr")) else None
    low, high = (r[k] * scale if _finite(r.get(k)) else None for k in ("ci_low", "ci_high"))
    value, _, interval = median_text(t, low, high, r.get("ci_level"), iqr).partition(" ")
    return esc(value) + (f' <span class="ci">{esc(interval)}</span>' if interval else "")


def _rate(r):
    if r["status"] != "ok" or not _finite(r["rate"]):
        return ""
    spread = relative_spread(r["median"], r["ci_low"], r["ci_high"], r["rel_iqr"])
    return f"{rate_text(r['rate'], spread)} {r['rate_unit']}"


def _ratio_cell(ratio, low, high):
    value, _, interval = ratio_text(ratio, low, high).partition(" ")
    return esc(value) + (f' <span class="ci">{esc(interval)}</span>' if interval else "")


def _legend_section(m):
    words = m["flags"].str.split()
    items = []
    for flag, meaning in legend(m):
        count = int(words.map(lambda w, f=flag: f in w).sum())
        mark = summary.FLAG_MARKS[flag]
        items.append(
            f'<li><span class="flag flag-{esc(flag)}">{esc(mark)}</span> {esc(flag)} ({count} '
            f"cell{'' if count == 1 else 's'}): {esc(meaning)}</li>"
        )
    items = "".join(items)
    return (
        f'<p class="muted" id="flags-legend">Flagged cells are shaded and carry the marks of their flags; '
        f"the numbered notes under each table give the figures. A median is printed to the digits its spread "
        f"supports (the half-width of its confidence interval over processes, or its IQR without one), then "
        f"its interval and confidence.</p>"
        f'<ul class="legend">{items}</ul>'
    )


def _marks_cell(marks, notes_id):
    """The badges of a row's marks, each followed by the number of its note."""
    out = []
    for mark in marks:
        badge = (
            f'<span class="flag flag-{esc(mark.word)}" title="{esc(mark.word)}">{esc(mark.letter)}</span>'
            if mark.letter
            else ""
        )
        out.append(f'{badge}<a class="note-ref" href="#{esc(notes_id)}-{mark.note}">{mark.note}</a>')
    return "".join(out)


def _cell_rows(rows, multi_source, notes_id):
    """The rows of a table and the notes under it: each distinct reason once, numbered."""
    marks, notes = summary.marks_and_notes(rows)
    out = []
    for r, row_marks in zip(rows, marks):
        ok = r["status"] == "ok"
        pct = (
            f"{r['pct_of_peak']:.1f}% {SHORT_PEAK.get(r['peak_of'], r['peak_of'])}"
            if ok and _finite(r["pct_of_peak"])
            else ""
        )
        cells = ([f"<td>{esc(r['source'])}</td>"] if multi_source else []) + [
            f"<td>{esc(r['device'])}</td><td>{esc(r['impl'])}</td><td>{esc(r['mode'])}</td>"
            f"<td>{esc(r.get('impl_version') or '')}</td>",
            f'<td class="status-{esc(r["status"])}">{esc(r["status"])}</td>',
            f'<td class="num">{_median_cell(r) if ok else ""}</td>',
            f'<td class="num">{_num(r["rel_iqr"] * 100 if ok and _finite(r["rel_iqr"]) else None, "{:.1f}")}</td>',
            f'<td class="num">{esc(_rate(r))}</td>',
            f'<td class="num">{_ratio_cell(r["vs_reference"], r["vs_reference_low"], r["vs_reference_high"])}</td>',
            f'<td class="num">{_ratio_cell(r["vs_fastest"], r["vs_fastest_low"], r["vs_fastest_high"])}</td>',
            f'<td class="num">{esc(pct)}</td>',
            f'<td class="num">{_num(r.get("first_call_s") if ok else None, "{:.3g}")}</td>',
            f'<td class="num">{len(r["samples"]) if ok and isinstance(r.get("samples"), list) else ""}</td>',
            f'<td class="flags">{_marks_cell(row_marks, notes_id)}</td>',
        ]
        flags = r["flags"].split()
        cls = "cell" + ("" if ok else " not-ok") + (" flagged" if flags else "") + "".join(f" flag-{f}" for f in flags)
        out.append(
            f'<tr class="{esc(cls)}" data-cell="{esc(charts.cell_key(r))}" '
            f'data-status="{esc(r["status"])}" data-flags="{esc(r["flags"])}">{"".join(cells)}</tr>'
        )
    items = "".join(
        f'<li id="{esc(notes_id)}-{n}">'
        + (f'<span class="flag flag-{esc(_word(letter))}">{esc(letter)}</span> ' if letter else "")
        + f"{esc(text)}</li>"
        for n, (letter, text) in enumerate(notes, 1)
    )
    return out, (f'<ol class="notes" id="{esc(notes_id)}">{items}</ol>' if items else "")


def _word(letter):
    """The status or flag a mark's letter stands for (its badge's colour)."""
    return next(w for w, m in {**summary.STATUS_MARKS, **summary.FLAG_MARKS}.items() if m == letter)


CELL_HEADER = [
    "device",
    "impl",
    "mode",
    "version",
    "status",
    "median ms",
    "IQR %",
    "rate",
    "vs reference",
    "vs fastest",
    "% of peak",
    "first call s",
    "samples",
    "marks",
]


def _scenario_sections(m, color, multi_source):
    out = []
    for scenario, sdf in m.groupby("scenario", sort=True):
        try:
            description = scenarios.get(scenario).description
        except KeyError:
            description = "(not a scenario this dlbench knows)"
        out.append(
            f'<section class="scenario" id="scenario-{esc(scenario)}"><h2>{esc(scenario)}</h2>'
            f'<p class="muted">{esc(description)}</p>'
        )
        for (phase, size), g in sdf.groupby(["phase", "size"], sort=False):
            rows = g.sort_values(["source_order", "device", "impl", "mode"], kind="stable").to_dict("records")
            title = f"{scenario} {phase} / {size}"
            header = (["source"] if multi_source else []) + CELL_HEADER
            anchor = f"cells-{scenario}-{phase}-{size}"
            out.append(f'<h3 id="{esc(anchor)}">{esc(phase)} &middot; {esc(size)}</h3>')
            body, notes = _cell_rows(rows, multi_source, f"notes-{scenario}-{phase}-{size}")
            out.append(_table(header, body, "cells") + notes)
            out.append('<div class="charts">')
            if not all(r.get("bound") == "none" for r in rows):  # a task's trials have no rate: its own section
                out.append(
                    f"<figure>{charts.bars(rows, color, f'throughput: {title}', multi_source)}"
                    f"<figcaption>Throughput per implementation; cells that did not run show their reason."
                    f"</figcaption></figure>"
                )
            dist = charts.distribution(rows, color, f"samples: {title}", multi_source)
            if dist:
                out.append(
                    f"<figure>{dist}<figcaption>Every timed sample (per-call time): box from the first to "
                    f"the third quartile, thick line at the median, whiskers to min and max.</figcaption>"
                    f"</figure>"
                )
            out.append("</div>")
        out.append("</section>")
    return "".join(out)


def _roofline_section(m, sources, color):
    out = []
    for s in sources:
        sm = m[m["source"] == s.label]
        for device, g in sm.groupby("device", sort=True):
            first = g.iloc[0]
            peaks = {k: first[k] for k in ("peak_fp32_gflops", "peak_int8_gops", "peak_memory_gbs")}
            chart = charts.roofline(g.to_dict("records"), peaks, color, f"roofline: {s.label} {device}")
            if chart:
                out.append(
                    f"<figure>{chart}<figcaption>{esc(s.label)}, {esc(device)}: each ok cell at its "
                    f"arithmetic intensity; circles are float work, squares integer work (held to the int8 "
                    f"roof).</figcaption></figure>"
                )
    return "".join(out) or "<p>No cell ran, so there is nothing to place under the roofline.</p>"


def _side_by_side_section(m):
    table, labels = side_by_side(m)
    if table is None:
        return ""
    base = labels[0]
    header = SIDE_KEY + [f"{lab}" for lab in labels] + [f"{lab} vs {base}" for lab in labels[1:]]
    rows = []
    for r in table.to_dict("records"):
        tds = [f"<td>{esc(r[k])}</td>" for k in SIDE_KEY]
        for lab in labels:
            t = r[f"{lab} median_ms"]
            shown = {
                "median": t,
                "rel_iqr": r[f"{lab} rel_iqr"],
                "ci_low": r[f"{lab} ci_low_ms"],
                "ci_high": r[f"{lab} ci_high_ms"],
                "ci_level": r[f"{lab} ci_level"],
            }
            tds.append(
                f'<td class="num">{_median_cell(shown, 1)} ms {_flag_badges(r[f"{lab} flags"])}</td>'
                if _finite(t)
                else f'<td class="status-{esc(r[f"{lab} status"])}" title="{esc(r[f"{lab} reason"] or "")}">'
                f"{esc(r[f'{lab} status'])}</td>"
            )
        for lab in labels[1:]:
            name = f"{lab} vs {base}"
            tds.append(f'<td class="num">{_ratio_cell(r[name], r[f"{name} low"], r[f"{name} high"])}</td>')
        rows.append(f"<tr>{''.join(tds)}</tr>")
    out = [
        f"<p class=muted>The same cell on each source; the ratio is {esc(base)}'s median time over the "
        f"other's, so above 1 means faster than {esc(base)}. Where both cells have an interval, the ratio's "
        f"is the widest the two allow (low over high, high over low).</p>",
        _table(header, rows, "side-by-side"),
    ]
    for lab in labels[1:]:
        ratio_rows = [
            {"label": " ".join(str(r[k]) for k in SIDE_KEY), "ratio": r[f"{lab} vs {base}"]}
            for r in table.to_dict("records")
        ]
        chart = charts.ratios(ratio_rows, f"{lab} against {base}")
        if chart:
            out.append(f"<figure>{chart}<figcaption>{esc(lab)} against {esc(base)}</figcaption></figure>")
    return "".join(out)


def _collectives_section(m, color):
    """The bandwidth table, then bandwidth against message size per source and device."""
    table, notes = bandwidth_table(m)
    if table is None:
        return ""
    columns = list(table.columns)
    rows = ["<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in r) + "</tr>" for r in table.itertuples(index=False)]
    cells = m[(m["scenario"] == "allreduce") & (m["status"] == "ok")]
    figures = []
    for (source, device), group in cells.groupby(["source", "device"], sort=True):
        what = f"all-reduce on {device}" + (f" ({source})" if m["source"].nunique() > 1 else "")
        chart = charts.bandwidth(group.to_dict("records"), color, what)
        if chart:
            caption = f"{esc(what)}: bandwidth against message size"
            figures.append(f"<figure>{chart}<figcaption>{caption}</figcaption></figure>")
    return (
        '<section id="collectives"><h2>All-reduce bandwidth</h2>'
        + _table(columns, rows, "collectives")
        + "".join(f"<p class=muted>{esc(n)}</p>" for n in notes)
        + f'<div class="charts">{"".join(figures)}</div></section>'
    )


def _scaling_section(m, color):
    """The scaling table, then a chart of efficiency against ranks per problem and scaling."""
    table, notes = scaling_table(m)
    if table is None:
        return ""
    rows = ["<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in r) + "</tr>" for r in table.itertuples(index=False)]
    groups = {}
    for r in scaling_rows(m):
        groups.setdefault((r["source"], r["scenario"], r["phase"], r["size"], r["scaling"]), []).append(r)
    figures = []
    for (source, scenario, phase, size, how), group in sorted(groups.items()):
        what = f"{scenario}/{phase}/{size}, {how} scaling" + (f" ({source})" if m["source"].nunique() > 1 else "")
        chart = charts.scaling(group, color, what)
        if chart:
            figures.append(f"<figure>{chart}<figcaption>{esc(what)}</figcaption></figure>")
    return (
        '<section id="scaling"><h2>Data-parallel scaling</h2>'
        + _table(list(table.columns), rows, "scaling")
        + "".join(f"<p class=muted>{esc(n)}</p>" for n in notes)
        + f'<div class="charts">{"".join(figures)}</div></section>'
    )


def _task_section(m, color):
    """Time to target: the table, then each problem's quality (accuracy, score) against training seconds."""
    table, notes = task_table(m)
    if table is None:
        return ""
    rows = ["<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in r) + "</tr>" for r in table.itertuples(index=False)]
    groups = {}
    for r in task_rows(m):
        groups.setdefault((r["source"], r["scenario"], r["phase"], r["size"], r["device"]), []).append(r)
    figures = []
    for (source, scenario, phase, size, device), group in sorted(groups.items()):
        what = f"{scenario}/{phase}/{size} on {device}" + (f" ({source})" if m["source"].nunique() > 1 else "")
        chart = charts.quality_curves(group, color, what)
        if chart:
            figures.append(f"<figure>{chart}<figcaption>{esc(what)}: every trial</figcaption></figure>")
    return (
        '<section id="task"><h2>Time to target: the task layer</h2>'
        + _table(list(table.columns), rows, "task")
        + "".join(f"<p class=muted>{esc(n)}</p>" for n in notes)
        + f'<div class="charts">{"".join(figures)}</div></section>'
    )


def _best_section(m):
    best = best_pct_of_peak(m)
    if best.empty:
        return "<p>No % of peak: no machine peaks were measured (dlbench machine).</p>"
    rows = [
        f"<tr><td>{esc(r['source'])}</td><td>{esc(r['device'])}</td><td>{esc(r['scenario'])}</td>"
        f"<td>{esc(r['impl'])}</td><td class=num>{r['best_pct_of_peak']:.1f}%</td><td>{esc(r['cell'])}</td></tr>"
        for r in best.to_dict("records")
    ]
    return _table(["source", "device", "scenario", "impl", "best % of peak", "cell"], rows, "best-of-peak")


def render_html(df, sources, title="dlbench report"):
    """The page: the summary first (its first screen answers which is fastest and by how much),
    then the machines, the status and flags, a section per scenario, the roofline and, over
    several sources, the side-by-side comparison."""
    m = add_metrics(df)
    multi_source = len(sources) > 1
    color = colors(m["impl"])
    scenario_links = "".join(f'<a href="#scenario-{esc(s)}">{esc(s)}</a>' for s in sorted(m["scenario"].unique()))
    side = _side_by_side_section(m)
    side_link = '<a href="#side-by-side">side by side</a>' if side else ""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<header><h1>{esc(title)}</h1><p class=muted>{len(m)} cells from {len(sources)} results "
        f"director{'y' if len(sources) == 1 else 'ies'} ({esc(', '.join(s.label for s in sources))}); generated "
        f"{esc(generated)} by dlbench {esc(__version__)}.</p>"
        f'<nav><a href="#summary">summary</a><a href="#machines">machines</a><a href="#status">status and '
        f'flags</a>{scenario_links}<a href="#roofline">roofline</a>{side_link}</nav></header>',
        f'<div id="summary">{"".join(_grid_section(g, color) for g in summary.grids(m))}</div>',
        f'<section id="machines"><h2>Machines</h2>{_machines_section(sources)}</section>',
        f'<section id="status"><h2>Status and flags</h2>{_status_section(m)}<h3>Flags</h3>{_legend_section(m)}'
        f"<h3>Best % of peak per implementation</h3>"
        f"{_best_section(m)}</section>",
        _scenario_sections(m, color, multi_source),
        _collectives_section(m, color),
        _scaling_section(m, color),
        _task_section(m, color),
        f'<section id="roofline"><h2>Roofline</h2><p class=muted>Achieved rate against arithmetic intensity, '
        f"under the measured ceilings: below the slope a cell is bound by memory bandwidth, under a flat roof by "
        f'GEMM throughput.</p><div class="charts">{_roofline_section(m, sources, color)}</div></section>',
        f'<section id="side-by-side"><h2>Side by side</h2>{side}</section>' if side else "",
    ]
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
