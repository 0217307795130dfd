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
from reports import charts, machines
from reports.metrics import add_metrics, best_pct_of_peak
from reports.precision import legend, median_text, rate_text, ratio_text, relative_spread
from reports.side_by_side import KEY as SIDE_KEY
from reports.side_by_side import side_by_side
from reports.svg import colors, esc
from reports.table import SHORT_PEAK

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


def _summary_section(m):
    counts = Counter(m["status"])
    parts = [", ".join(f'<span class="status-{esc(k)}">{v} {esc(k)}</span>' for k, v in sorted(counts.items()))]
    bad = m[m["status"] != "ok"]
    if len(bad):
        rows = [
            f'<tr class="not-ok"><td>{esc(r["source"])}</td><td>{esc(r["scenario"])} {esc(r["phase"])}/'
            f"{esc(r['size'])}</td><td>{esc(r['impl'])}:{esc(r['mode'])}@{esc(r['device'])}</td>"
            f'<td class="status-{esc(r["status"])}">{esc(r["status"])}</td>'
            f'<td class="reason">{esc(r["reason"])}</td></tr>'
            for r in bad.to_dict("records")
        ]
        parts.append(
            "<h3>Cells without a time</h3>"
            + _table(["source", "cell", "implementation", "status", "reason"], rows, "not-ok")
        )
    return "<p>" + parts[0] + "</p>" + "".join(parts[1:])


def _flag_badges(flags):
    return " ".join(f'<span class="flag flag-{esc(f)}">{esc(f)}</span>' for f in (flags or "").split())


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
        items.append(f"<li>{_flag_badges(flag)} ({count} cell{'' if count == 1 else 's'}): {esc(meaning)}</li>")
    items = "".join(items)
    return (
        f'<p class="muted" id="flags-legend">Flagged cells are shaded and carry their flags; the reason column '
        f"gives the figures. A median is printed to the digits its spread supports (the half-width of its "
        f"confidence interval over processes, or its IQR without one), then its interval and confidence.</p>"
        f'<ul class="legend">{items}</ul>'
    )


def _cell_rows(rows, multi_source):
    out = []
    for r in rows:
        ok = r["status"] == "ok"
        pct = (
            f"{r['pct_of_peak']:.1f}% {SHORT_PEAK.get(r['peak_of'], r['peak_of'])}"
            if ok and _finite(r["pct_of_peak"])
            else ""
        )
        reason = r["reason"] if not ok else "; ".join(n for n in (r.get("peak_note"), r.get("flag_note")) if n)
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
            f'<td class="flags">{_flag_badges(r["flags"])}</td>',
            f'<td class="reason">{esc(reason)}</td>',
        ]
        flags = r["flags"].split()
        cls = "cell" + ("" if ok else " not-ok") + (" flagged" if flags else "") + "".join(f" flag-{f}" for f in flags)
        out.append(
            f'<tr class="{esc(cls)}" data-cell="{esc(charts.cell_key(r))}" '
            f'data-status="{esc(r["status"])}" data-flags="{esc(r["flags"])}">{"".join(cells)}</tr>'
        )
    return out


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
    "flags",
    "reason",
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
            out.append(f'<h3 id="{esc(f"cells-{scenario}-{phase}-{size}")}">{esc(phase)} &middot; {esc(size)}</h3>')
            out.append(_table(header, _cell_rows(rows, multi_source), "cells"))
            out.append(
                '<div class="charts">'
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
    m = add_metrics(df)
    multi_source = len(sources) > 1
    color = colors(m["impl"])
    legend = "".join(f'<span class="swatch" style="background:{c}"></span>{esc(name)}' for name, c in color.items())
    scenario_links = "".join(f'<a href="#scenario-{esc(s)}">{esc(s)}</a>' for s in sorted(m["scenario"].unique()))
    side = _side_by_side_section(m)
    side_link = '<a href="#side-by-side">side by side</a>' if side else ""
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<header><h1>{esc(title)}</h1><p class=muted>{len(m)} cells from {len(sources)} results "
        f"director{'y' if len(sources) == 1 else 'ies'}; generated {esc(generated)} by dlbench {esc(__version__)}."
        f'</p><nav><a href="#machines">machines</a><a href="#summary">summary</a>{scenario_links}'
        f'<a href="#roofline">roofline</a>{side_link}</nav>'
        f"<p>implementations:{legend}</p></header>",
        f'<section id="machines"><h2>Machines</h2>{_machines_section(sources)}</section>',
        f'<section id="summary"><h2>Summary</h2>{_summary_section(m)}<h3>Flags</h3>{_legend_section(m)}'
        f"<h3>Best % of peak per implementation</h3>"
        f"{_best_section(m)}</section>",
        _scenario_sections(m, color, multi_source),
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
