"""The report's charts, as inline SVG: throughput bars, sample distributions, roofline,
and the ratio between sources.

Each takes rows of reports.metrics.add_metrics (dicts) and returns one <svg>. A cell
that is not ok is drawn as its status and reason, never as a bar or a point.
"""

from __future__ import annotations

import math
import random

from records import KEY_FIELDS
from reports.svg import Linear, Log, esc, fmt_num, scale_for, shorten, svg, text_width, x_axis, y_axis

ROW = 22
LABEL_W = 285  # the widest label column; a chart's own is as wide as its longest label needs
WIDTH = 760
PLOT_W = WIDTH - LABEL_W - 90  # the bars' and the ratios' plot area
PAD = 8  # between the last text and the chart's edge


def _finite(v):
    return isinstance(v, (int, float)) and math.isfinite(v)


def cell_label(row, multi_source):
    label = f"{row['impl']}:{row['mode']}@{row['device']}"
    return f"{label} [{row['source']}]" if multi_source else label


def cell_key(row):
    return "|".join(str(row[k]) for k in ("source", *KEY_FIELDS))  # a source's cell: records.key


def label_column(labels, size=12, least=100):
    """x where a chart's plot starts, right of its right-aligned row labels (which end 6 px
    before it): as wide as the longest label needs, never under `least`."""
    return math.ceil(max([least] + [text_width(t, size) + 6 + PAD for t in labels]))


def rate_interval(row):
    """(low, high) of an ok cell's rate from its median's interval (rate ~ 1/time), or None."""
    lo, hi, med = row.get("ci_low"), row.get("ci_high"), row.get("median")
    if not all(_finite(v) and v > 0 for v in (lo, hi, med)) or not _finite(row.get("rate")):
        return None
    return row["rate"] * med / hi, row["rate"] * med / lo


def bars(rows, color, title, multi_source):
    """Throughput per implementation: one horizontal bar per ok cell, the reason otherwise;
    a whisker over the rate's interval where the cell has one, and its flags as words."""
    unit = next((r["rate_unit"] for r in rows if r["status"] == "ok"), "")
    rates = [r["rate"] for r in rows if r["status"] == "ok"]
    highs = [iv[1] for iv in (rate_interval(r) for r in rows if r["status"] == "ok") if iv]
    labels = [cell_label(r, multi_source) for r in rows]
    top, left = 10, label_column(shorten(label, 42) for label in labels)
    right = left + PLOT_W
    width = right + 90  # at least; widened below to the longest text
    height = top + ROW * len(rows) + 44
    x = Linear(0, (max(rates + highs) if rates else 1) * 1.08, left, right)
    parts = [x_axis(x, top + ROW * len(rows), top, f"throughput ({unit}), higher is better")] if rates else []
    for i, (r, label) in enumerate(zip(rows, labels)):
        y = top + i * ROW
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">{esc(shorten(label, 42))}'
            f"<title>{esc(label)}</title></text>"
        )
        if r["status"] == "ok":
            w = max(x(r["rate"]) - left, 1.0)
            flags = r.get("flags") or ""
            tip = f"{label}: {r['rate']:.4g} {unit}, median {r['median'] * 1e3:.4g} ms" + (
                f", {flags}" if flags else ""
            )
            parts.append(
                f'<rect class="bar" data-cell="{esc(cell_key(r))}" x="{left}" y="{y + 3}" width="{w:.1f}" '
                f'height="{ROW - 6}" fill="{color[r["impl"]]}"><title>{esc(tip)}</title></rect>'
            )
            interval = rate_interval(r)
            end = left + w
            if interval:
                x0, x1 = x(interval[0]), x(interval[1])
                mid = y + ROW / 2
                parts.append(
                    f'<path class="ci-whisker" d="M{x0:.1f} {mid}H{x1:.1f}M{x0:.1f} {mid - 4}V{mid + 4}'
                    f'M{x1:.1f} {mid - 4}V{mid + 4}" stroke="#222" fill="none"/>'
                )
                end = max(end, x1)
            parts.append(
                f'<text x="{end + 4:.1f}" y="{y + 15}" font-size="11">{esc(fmt_num(r["rate"]))}'
                + (f' <tspan class="flag-text" fill="#c2410c" font-weight="600">{esc(flags)}</tspan>' if flags else "")
                + "</text>"
            )
            text_end = end + 4 + text_width(fmt_num(r["rate"]) + " ", 11) + text_width(flags, 11, bold=True)
        else:
            why = f"{r['status']}: {r['reason']}"
            parts.append(
                f'<text class="not-ok" data-cell="{esc(cell_key(r))}" x="{left + 4}" y="{y + 15}" '
                f'font-size="11" fill="#a00">{esc(shorten(why, 85))}<title>{esc(why)}</title></text>'
            )
            text_end = left + 4 + text_width(shorten(why, 85), 11)
        width = max(width, math.ceil(text_end + PAD))
    return svg(width, height, "".join(parts), "bars", title)


def distribution(rows, color, title, multi_source, seed=0):
    """Every sample of every ok cell (per-call ms): a box from q1 to q3 with the median,
    whiskers to min and max, and the samples as jittered dots, so the noise shows."""
    rows = [r for r in rows if r["status"] == "ok" and r.get("samples")]
    if not rows:
        return ""
    jitter = random.Random(seed)
    top, left = 10, label_column(shorten(cell_label(r, multi_source), 42) for r in rows)
    right = left + WIDTH - LABEL_W - 20
    height = top + ROW * len(rows) + 44
    all_ms = [v * 1e3 for r in rows for v in r["samples"]]
    x = scale_for(all_ms, left, right)
    scale_name = "log scale" if isinstance(x, Log) else "linear"
    parts = [x_axis(x, top + ROW * len(rows), top, f"time per call (ms, {scale_name}), lower is better")]
    for i, r in enumerate(rows):
        y = top + i * ROW
        mid = y + ROW / 2
        ms = sorted(v * 1e3 for v in r["samples"])
        q1, med, q3 = (r.get(k) for k in ("q1", "median", "q3"))
        q1, q3 = (q1 or r["median"]) * 1e3, (q3 or r["median"]) * 1e3
        med *= 1e3
        c = color[r["impl"]]
        label = cell_label(r, multi_source)
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">{esc(shorten(label, 42))}'
            f"<title>{esc(label)}</title></text>"
        )
        parts.append(f'<line x1="{x(ms[0]):.1f}" y1="{mid}" x2="{x(ms[-1]):.1f}" y2="{mid}" stroke="{c}"/>')
        tip = (
            f"{label}: median {med:.4g} ms, IQR {q1:.4g}-{q3:.4g} ms, min {ms[0]:.4g}, max {ms[-1]:.4g}, "
            f"{len(ms)} samples"
        )
        parts.append(
            f'<rect class="box" data-cell="{esc(cell_key(r))}" x="{x(q1):.1f}" y="{y + 4}" '
            f'width="{max(x(q3) - x(q1), 1.5):.1f}" height="{ROW - 8}" fill="{c}" fill-opacity="0.25" '
            f'stroke="{c}"><title>{esc(tip)}</title></rect>'
            f'<line x1="{x(med):.1f}" y1="{y + 3}" x2="{x(med):.1f}" y2="{y + ROW - 3}" stroke="{c}" '
            f'stroke-width="2.5"/>'
        )
        for v in ms:
            parts.append(
                f'<circle class="sample" cx="{x(v):.1f}" cy="{mid + jitter.uniform(-5, 5):.1f}" r="2.2" '
                f'fill="{c}" fill-opacity="0.7"/>'
            )
    return svg(right + 20, height, "".join(parts), "distribution", title)


def roofline(rows, peaks, color, title):
    """Achieved rate against arithmetic intensity, under the machine's measured ceilings:
    memory bandwidth (the slope) and fp32 / int8 GEMM (the flat roofs)."""
    rows = [r for r in rows if r["status"] == "ok" and _finite(r.get("intensity")) and _finite(r.get("gflops"))]
    if not rows:
        return ""
    bw = peaks.get("peak_memory_gbs")
    roofs = [
        (peaks.get(k), what, dash)
        for k, what, dash in (("peak_fp32_gflops", "fp32 GEMM", ""), ("peak_int8_gops", "int8 GEMM", "6 3"))
    ]
    roofs = [(v, what, dash) for v, what, dash in roofs if v and math.isfinite(v)]
    has_bw = bool(bw and math.isfinite(bw))
    xs = [r["intensity"] for r in rows] + ([v / bw for v, _, _ in roofs] if has_bw else [])
    ys = [r["gflops"] for r in rows] + [v for v, _, _ in roofs]
    left, right, top, bottom = 70, WIDTH - 150, 12, 330
    x = Log(min(xs) / 2, max(xs) * 2, left, right)
    y = Log(min(ys) / 2, max(ys) * 2, bottom, top)
    parts = [
        x_axis(x, bottom, top, "arithmetic intensity (FLOP or OP per byte moved)"),
        y_axis(y, left, right, "achieved GFLOP/s or GOP/s"),
    ]
    width = WIDTH
    for value, what, dash in roofs:
        ridge = value / bw if has_bw else x.lo
        x0 = max(ridge, x.lo)
        width = max(width, math.ceil(right + 4 + text_width(f"{what} {fmt_num(value)}", 11) + PAD))
        parts.append(
            f'<line class="roof" x1="{x(x0):.1f}" y1="{y(value):.1f}" x2="{right}" y2="{y(value):.1f}" '
            f'stroke="#333" stroke-width="2" stroke-dasharray="{dash}"/><text x="{right + 4}" '
            f'y="{y(value) + 4:.1f}" font-size="11">{esc(what)} {esc(fmt_num(value))}</text>'
        )
    if has_bw:
        x_end = min(max([v / bw for v, _, _ in roofs] or [x.hi]), y.hi / bw)
        x_start = max(x.lo, y.lo / bw)
        parts.append(
            f'<line class="roof" x1="{x(x_start):.1f}" y1="{y(x_start * bw):.1f}" x2="{x(x_end):.1f}" '
            f'y2="{y(x_end * bw):.1f}" stroke="#333" stroke-width="2"/>'
            f'<text x="{x(x_start) + 4:.1f}" y="{y(x_start * bw) - 6:.1f}" font-size="11">'
            f"memory {esc(fmt_num(bw))} GB/s</text>"
        )
        width = max(width, math.ceil(x(x_start) + 4 + text_width(f"memory {fmt_num(bw)} GB/s", 11) + PAD))
    if not roofs and not has_bw:
        parts.append(
            f'<text x="{left + 10}" y="{top + 14}" font-size="12" fill="#a00">no peaks measured for this '
            f"machine: run dlbench machine --out DIR</text>"
        )
    for r in rows:
        cx, cy = x(r["intensity"]), y(r["gflops"])
        unit = "GOP/s" if r.get("work_unit") == "OP" else "GFLOP/s"
        pct = f", {r['pct_of_peak']:.1f}% of {r['peak_of']}" if _finite(r.get("pct_of_peak")) else ""
        tip = (
            f"{r['scenario']} {r['phase']}/{r['size']} {r['impl']}:{r['mode']}: {r['gflops']:.4g} {unit} at "
            f"{r['intensity']:.3g} per byte{pct}"
        )
        shape = (
            f'<rect x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8"'
            if r.get("work_unit") == "OP"
            else f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4.5"'
        )
        parts.append(
            f'{shape} class="point" data-cell="{esc(cell_key(r))}" fill="{color[r["impl"]]}" '
            f'stroke="#fff"><title>{esc(tip)}</title></{"rect" if r.get("work_unit") == "OP" else "circle"}>'
        )
    return svg(width, bottom + 44, "".join(parts), "roofline", title)


def ratios(rows, title):
    """Side by side: one bar per matched cell, log scale around 1 (right: faster than the baseline)."""
    rows = [r for r in rows if r["ratio"] and math.isfinite(r["ratio"]) and r["ratio"] > 0]
    if not rows:
        return ""
    top, left = 10, label_column((shorten(r["label"], 52) for r in rows), least=330)
    right = left + WIDTH - 390
    height = top + ROW * len(rows) + 44
    extreme = max(max(abs(math.log10(r["ratio"])) for r in rows), math.log10(1.5)) * 1.4  # room for the values
    x = Linear(-extreme, extreme, left, right)
    zero = x(0)
    parts = [
        f'<line x1="{zero:.1f}" y1="{top}" x2="{zero:.1f}" y2="{top + ROW * len(rows)}" stroke="#444"/>',
        f'<text x="{(left + right) / 2}" y="{top + ROW * len(rows) + 30}" text-anchor="middle" font-size="12">'
        f"speed ratio (log scale): right of the line is faster than the baseline</text>",
        f'<text x="{left}" y="{top + ROW * len(rows) + 14}" font-size="11">slower</text>'
        f'<text x="{right}" y="{top + ROW * len(rows) + 14}" font-size="11" text-anchor="end">faster</text>',
    ]
    for i, r in enumerate(rows):
        y = top + i * ROW
        v = math.log10(r["ratio"])
        x0, x1 = sorted((zero, x(v)))
        fill = "#009E73" if v >= 0 else "#D55E00"
        parts.append(
            f'<text x="{left - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{esc(shorten(r['label'], 52))}<title>{esc(r['label'])}</title></text>"
            f'<rect class="ratio" x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 1):.1f}" height="{ROW - 6}" '
            f'fill="{fill}"><title>{esc(r["label"])}: {r["ratio"]:.3g}x</title></rect>'
            f'<text x="{x1 + 4 if v >= 0 else x0 - 4:.1f}" y="{y + 15}" font-size="11" '
            f'text-anchor="{"start" if v >= 0 else "end"}">{r["ratio"]:.2f}x</text>'
        )
    longest = max(text_width(f"{r['ratio']:.2f}x", 11) for r in rows)
    return svg(math.ceil(max(right + 60, x(extreme) + 4 + longest + PAD)), height, "".join(parts), "ratios", title)


def sentinel(machine, title):
    """The drift sentinel's readings over the run (harness.sentinel): time per reading
    against seconds into the run, the median and the drift bound drawn across. '' without."""
    s = machine.get("sentinel") if isinstance(machine, dict) else None
    points = [p for p in (s or {}).get("points") or [] if _finite(p.get("t")) and _finite(p.get("median"))]
    if not points:
        return ""
    width, height, left, right, top, bottom = 640, 170, 60, 620, 16, 120
    ts = [p["t"] for p in points]
    ms = [p["median"] * 1e3 for p in points]
    bound = s["median"] * 1e3 * (1 + s.get("slow_bound", 0))
    x = Linear(min(ts), max(ts) if max(ts) > min(ts) else min(ts) + 1, left, right)
    y = Linear(min(ms + [s["median"] * 1e3]) * 0.95, max(ms + [bound]) * 1.05, bottom, top)
    body = [x_axis(x, bottom, top, "seconds into the run"), y_axis(y, left, right, "sentinel ms")]
    for value, what, dash in ((s["median"] * 1e3, "median", ""), (bound, "drift bound", ' stroke-dasharray="4 3"')):
        body.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{right}" y2="{y(value):.1f}" stroke="#D55E00"{dash}/>'
            f'<text x="{right - 4}" y="{y(value) - 3:.1f}" text-anchor="end" font-size="10">{esc(what)}</text>'
        )
    for t, v in zip(ts, ms):
        # a reading past the bound is what a reader looks for: larger, so one alone still shows
        color, r = ("#D55E00", 4) if v > bound else ("#0072B2", 2.5)
        body.append(
            f'<circle class="point" cx="{x(t):.1f}" cy="{y(v):.1f}" r="{r}" fill="{color}">'
            f"<title>{v:.3g} ms at {t:.0f} s</title></circle>"
        )
    return svg(width, height, "".join(body), "sentinel", title, points=len(points))


def scaling(rows, color, title):
    """Scaling efficiency (%) against ranks: one line per implementation and mode, from
    100% at one rank to each rank count measured (reports.scaling rows of one scaling and
    problem), with the ideal drawn across. '' without an efficiency."""
    rows = [r for r in rows if r.get("efficiency") is not None and math.isfinite(r["efficiency"])]
    if not rows:
        return ""
    lines = {}
    for r in rows:
        lines.setdefault((r["impl"], r["mode"]), [(1, 100.0)]).append((r["ranks"], r["efficiency"] * 100))
    names = [f"{impl}:{mode}" for impl, mode in lines]
    left, top, bottom = 60, 16, 150
    right = left + 420
    legend_x = right + 16
    width = math.ceil(legend_x + max(text_width(n, 11) for n in names) + 20 + PAD)
    top_ranks = max(n for pts in lines.values() for n, _ in pts)
    x = Linear(1, max(top_ranks, 2), left, right)
    y = Linear(0, max(110.0, max(e for pts in lines.values() for _, e in pts) * 1.08), bottom, top)
    body = [x_axis(x, bottom, top, "ranks"), y_axis(y, left, right, "efficiency %")]
    body.append(
        f'<line x1="{left}" y1="{y(100):.1f}" x2="{right}" y2="{y(100):.1f}" stroke="#444" stroke-dasharray="4 3"/>'
        f'<text x="{right - 4}" y="{y(100) - 4:.1f}" text-anchor="end" font-size="10">ideal</text>'
    )
    for i, ((impl, mode), pts) in enumerate(lines.items()):
        pts = sorted(pts)
        fill = color.get(impl, "#000000")
        path = " ".join(f"{x(n):.1f},{y(e):.1f}" for n, e in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{fill}" stroke-width="1.5"/>')
        for n, e in pts:
            body.append(
                f'<circle class="point" cx="{x(n):.1f}" cy="{y(e):.1f}" r="4" fill="{fill}">'
                f"<title>{esc(impl)}:{esc(mode)} at {n} ranks: {e:.0f}%</title></circle>"
            )
        ly = top + 6 + i * 16
        body.append(
            f'<rect x="{legend_x}" y="{ly - 8}" width="10" height="10" fill="{fill}"/>'
            f'<text x="{legend_x + 14}" y="{ly + 1}" font-size="11">{esc(impl)}:{esc(mode)}</text>'
        )
    height = max(bottom + 40, top + 16 * len(lines) + 10)
    return svg(width, height, "".join(body), "scaling", title, lines=len(lines))


def quality_curves(rows, color, title):
    """Quality against training seconds, the task layer's curves (reports.task rows of one
    problem): test accuracy in %, or a score as it is; one polyline per trial, coloured by
    implementation (dashed for a mode after the first), the target drawn across. '' without
    a curve."""
    lines = [(r, run["curve"]) for r in rows for run in r["runs"] if run.get("curve")]
    if not lines:
        return ""
    keys = list(dict.fromkeys(f"{r['impl']}:{r['mode']}" for r, _ in lines))
    first_mode = {}
    for r, _ in lines:
        first_mode.setdefault(r["impl"], r["mode"])
    left, top, bottom = 60, 16, 190
    right = left + 440
    legend_x = right + 16
    width = math.ceil(legend_x + max(text_width(k, 11) for k in keys) + 20 + PAD)
    x = Linear(0, max(t for _, curve in lines for t, _ in curve) * 1.04 or 1.0, left, right)
    percent = "accuracy" in rows[0]["metric"]
    scale = 100.0 if percent else 1.0
    target = rows[0]["target"] * scale
    values = [a * scale for _, curve in lines for _, a in curve]
    if percent:
        y = Linear(max(0.0, math.floor(min(min(values), target - 5) / 10) * 10), 100.0, bottom, top)
    else:
        y = Linear(max(0.0, math.floor(min(min(values), target) - 0.5)), max(max(values), target) * 1.05, bottom, top)
    label = "accuracy %" if percent else rows[0]["metric"]
    body = [x_axis(x, bottom, top, "training seconds (evaluation excluded)"), y_axis(y, left, right, label)]
    body.append(
        f'<line x1="{left}" y1="{y(target):.1f}" x2="{right}" y2="{y(target):.1f}" stroke="#444" '
        f'stroke-dasharray="4 3"/><text x="{right - 4}" y="{y(target) - 4:.1f}" text-anchor="end" '
        f'font-size="10">target {esc(rows[0]["target_text"])}</text>'
    )
    for r, curve in lines:
        fill = color.get(r["impl"], "#000000")
        dash = "" if first_mode[r["impl"]] == r["mode"] else ' stroke-dasharray="5 3"'
        path = " ".join(f"{x(t):.1f},{y(a * scale):.1f}" for t, a in curve)  # after each epoch: none before
        body.append(
            f'<polyline points="{path}" fill="none" stroke="{fill}" stroke-width="1.2" opacity="0.8"{dash}>'
            f"<title>{esc(r['impl'])}:{esc(r['mode'])}: {len(curve)} epochs, "
            f"{curve[-1][1] * scale:.{1 if percent else 2}f}{'%' if percent else ''} at {curve[-1][0]:.3g} s"
            "</title></polyline>"
        )
    for i, key in enumerate(keys):
        impl, mode = key.split(":", 1)
        ly = top + 6 + i * 16
        dash = "" if first_mode[impl] == mode else ' stroke-dasharray="5 3"'
        body.append(
            f'<line x1="{legend_x}" y1="{ly - 3}" x2="{legend_x + 12}" y2="{ly - 3}" stroke="{color.get(impl, "#000")}"'
            f' stroke-width="2"{dash}/><text x="{legend_x + 16}" y="{ly + 1}" font-size="11">{esc(key)}</text>'
        )
    height = max(bottom + 40, top + 16 * len(keys) + 10)
    return svg(width, height, "".join(body), "quality", title, lines=len(keys))


def bandwidth(rows, color, title):
    """All-reduce algorithm bandwidth (GB/s, log) against message size (floats, log): one line
    per implementation, mode and rank count (dashed at one rank, where nothing crosses).
    rows: ok allreduce cells with gbs and params. '' without two points on a line."""
    lines = {}
    for r in rows:
        params = r.get("params") if isinstance(r.get("params"), dict) else {}
        if _finite(r.get("gbs")) and r["gbs"] > 0 and params.get("elements"):
            key = (r["impl"], r["mode"], int(r.get("ranks") or 1))
            lines.setdefault(key, []).append((params["elements"], r["gbs"]))
    if not lines:
        return ""
    names = [f"{impl}:{mode} x{n}" for impl, mode, n in lines]
    left, top, bottom = 70, 16, 220
    right = left + 420
    legend_x = right + 16
    width = math.ceil(legend_x + max(text_width(n, 11) for n in names) + 20 + PAD)
    xs = [e for pts in lines.values() for e, _ in pts]
    ys = [g for pts in lines.values() for _, g in pts]
    x, y = Log(min(xs), max(xs), left, right), Log(min(ys), max(ys), bottom, top)
    body = [x_axis(x, bottom, top, "message size (floats per rank)"), y_axis(y, left, right, "GB/s (S/t)")]
    for i, ((impl, mode, n), pts) in enumerate(sorted(lines.items())):
        pts = sorted(pts)
        fill = color.get(impl, "#000000")
        dash = ' stroke-dasharray="5 3"' if n == 1 else ""
        path = " ".join(f"{x(e):.1f},{y(g):.1f}" for e, g in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{fill}" stroke-width="1.5"{dash}/>')
        for e, g in pts:
            body.append(
                f'<circle class="point" cx="{x(e):.1f}" cy="{y(g):.1f}" r="3.5" fill="{fill}">'
                f"<title>{esc(impl)}:{esc(mode)} over {n} rank(s), {e:,} floats: {g:.3g} GB/s</title></circle>"
            )
        ly = top + 6 + i * 16
        body.append(
            f'<line x1="{legend_x}" y1="{ly - 3}" x2="{legend_x + 12}" y2="{ly - 3}" stroke="{fill}" '
            f'stroke-width="2"{dash}/><text x="{legend_x + 16}" y="{ly + 1}" font-size="11">'
            f"{esc(impl)}:{esc(mode)} x{n}</text>"
        )
    height = max(bottom + 40, top + 16 * len(lines) + 10)
    return svg(width, height, "".join(body), "bandwidth", title, lines=len(lines))
