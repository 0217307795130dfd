"""Inline-SVG building blocks: escaping, linear and log scales, axes, a colour per name.

Charts are drawn here rather than by a JavaScript library so the report is one file
that opens offline. Every piece of text passes through `esc`.
"""

from __future__ import annotations

import html
import math

# Okabe-Ito, then a few more: distinguishable for most colour vision.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#8C6D31", "#000000", "#7F7F7F", "#B2182B"]
FONT = "font-family:system-ui,-apple-system,'Segoe UI',sans-serif"


# Advance widths (thousandths of an em) of printable ASCII in DejaVu Sans, the widest of the
# usual sans faces (what system-ui falls back to on Linux; Segoe UI and SF are narrower): an
# estimate of a label's width that errs wide, so that no chart clips its text.
ASCII_WIDTHS = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636,
    636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775,
    752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390,
    337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)  # fmt: skip
MARGIN = 1.05  # another face, another renderer
BOLD = 1.2  # the bold face's widest glyphs over the regular's


def text_width(text, size, bold=False):
    """Estimated width in px of `text` at font-size `size`: DejaVu Sans' advances (an em for
    anything beyond ASCII), 5% over, a fifth more in bold."""
    ems = sum(ASCII_WIDTHS[ord(c) - 32] if 32 <= ord(c) < 127 else 1000 for c in str(text)) / 1000
    return ems * size * MARGIN * (BOLD if bold else 1.0)


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def colors(names):
    """A stable colour per name (implementation): the same in every chart of a report."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(names)))}


def fmt_num(v):
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    if a >= 100:
        return f"{v:.0f}"
    if a >= 1:
        return f"{v:.3g}"
    return f"{v:.2g}"


class Linear:
    def __init__(self, lo, hi, a, b):
        self.lo, self.hi = lo, (hi if hi > lo else lo + 1)
        self.a, self.b = a, b

    def __call__(self, v):
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self, n=5):
        span = self.hi - self.lo
        step = 10 ** math.floor(math.log10(span / n))
        for m in (1, 2, 5, 10):
            if span / (step * m) <= n:
                step *= m
                break
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step) + 1)]


class Log:
    def __init__(self, lo, hi, a, b):
        lo = max(lo, 1e-12)
        hi = max(hi, lo * 10)
        self.lo, self.hi = 10 ** math.floor(math.log10(lo)), 10 ** math.ceil(math.log10(hi))
        self.a, self.b = a, b

    def __call__(self, v):
        v = max(v, self.lo)
        return self.a + (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo)) * (
            self.b - self.a
        )

    def ticks(self, n=6):
        lo, hi = round(math.log10(self.lo)), round(math.log10(self.hi))
        every = max(1, math.ceil((hi - lo) / n))
        return [10.0**e for e in range(lo, hi + 1, every)]


def scale_for(values, a, b, log_if_ratio=20.0, zero=False):
    """Log scale when the values span more than `log_if_ratio`, else linear."""
    vals = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    if not vals:
        return Linear(0, 1, a, b)
    lo, hi = min(vals), max(vals)
    if not zero and hi / lo > log_if_ratio:
        return Log(lo, hi, a, b)
    if zero:
        return Linear(0, hi * 1.08, a, b)
    pad = (hi - lo) * 0.08 or hi * 0.1
    return Linear(max(lo - pad, 0), hi + pad, a, b)


def x_axis(scale, y, top, label):
    """Grid lines from `top` to `y`, ticks and a label under the axis."""
    parts = [f'<line x1="{scale.a:.1f}" y1="{y}" x2="{scale.b:.1f}" y2="{y}" stroke="#444"/>']
    for t in scale.ticks():
        x = scale(t)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{y + 14}" text-anchor="middle" font-size="11">{esc(fmt_num(t))}</text>'
        )
    parts.append(
        f'<text x="{(scale.a + scale.b) / 2:.1f}" y="{y + 30}" text-anchor="middle" font-size="12">{esc(label)}</text>'
    )
    return "".join(parts)


def y_axis(scale, x, right, label):
    parts = [f'<line x1="{x}" y1="{scale.a:.1f}" x2="{x}" y2="{scale.b:.1f}" stroke="#444"/>']
    for t in scale.ticks():
        y = scale(t)
        parts.append(
            f'<line x1="{x}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{x - 5}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{esc(fmt_num(t))}</text>'
        )
    mid = (scale.a + scale.b) / 2
    parts.append(
        f'<text x="14" y="{mid:.1f}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {mid:.1f})">{esc(label)}</text>'
    )
    return "".join(parts)


def svg(width, height, body, kind, title, **data):
    """An inline <svg> with an accessible title; `data` becomes data-* attributes for tests."""
    attrs = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in data.items())
    return (
        f'<svg class="chart" data-chart="{esc(kind)}"{attrs} xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" style="{FONT}">'
        f"<title>{esc(title)}</title>{body}</svg>"
    )


def shorten(text, n):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "\u2026"
