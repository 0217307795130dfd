"""A comparison as a terminal table, Markdown (for CI comments) or JSON.

Nothing here marks a change by its size: a change is a plain number. The one mark is the
verdict (SLOWER, and `faster`), which reports.compare gives only where its own test calls
the change real: significant over the suite's cells (Holm) and beyond the threshold, with
3 or more baseline runs to measure the drift between runs. Two stored runs (one baseline
run, no series) therefore never carry one: `inconclusive`, whatever the change. With --db
the verdict must also clear the cell's run-to-run noise over its history there
(reports.compare_noise), the rule the dashboard colours by.
"""

from __future__ import annotations

import json

import pandas as pd

VERDICT_MARK = {"slower": "SLOWER", "faster": "faster", "same": "same", "inconclusive": "inconclusive"}


def _pct(v):
    return "" if v is None else f"{v:+.1%}"


def flags_text(cell):
    """'contended (base)', '(cur)' or '(base, cur)': grep finds the word, the reader the side."""
    return f"contended ({', '.join(cell.contended_sides)})" if cell.contended else ""


def to_frame(comparison):
    rows = []
    for c in comparison.cells:
        k = c.key
        rows.append(
            {
                "cell": f"{k['scenario']}/{k['phase']}/{k['size']} {k['impl']}:{k['mode']}@{k['device']}",
                "verdict": VERDICT_MARK.get(c.verdict, c.verdict),
                "change": _pct(c.change),
                "raw": _pct(c.raw_change) if c.method == "stored" else "",
                "interval": "" if c.ci_low is None else f"{_pct(c.ci_low)}..{_pct(c.ci_high)}",
                "p": "" if c.p_value is None else f"{c.p_value:.3g}",
                "p_holm": "" if c.p_holm is None else f"{c.p_holm:.3g}",
                "base_ms": "" if c.base_median is None else f"{c.base_median * 1e3:.3f}",
                "cur_ms": "" if c.cur_median is None else f"{c.cur_median * 1e3:.3f}",
                "n": f"{c.n_base}/{c.n_cur}" if c.n_base or c.n_cur else "",
                "method": c.method,
                "flags": flags_text(c),
                "note": c.note,
            }
        )
    return pd.DataFrame(rows)


def summary_line(comparison):
    counts = pd.Series([c.verdict for c in comparison.cells]).value_counts().to_dict()
    parts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    status = "FAIL" if comparison.failed else "ok"
    if comparison.strict:
        parts += "; strict"
    contended = sum(c.contended for c in comparison.cells)
    if contended:
        parts += f"; {contended} contended"
    return (
        f"{status}: {parts} (threshold {comparison.threshold:.1%}, alpha {comparison.alpha:g} over the suite, "
        f"{comparison.cells[0].method if comparison.cells else 'stored'} comparison)"
    )


def suite_line(comparison):
    return comparison.suite.line() if comparison.suite else "suite: no summary"


def render(comparison, fmt="table"):
    if fmt == "json":
        return json.dumps(
            {
                "failed": comparison.failed,
                "threshold": comparison.threshold,
                "alpha": comparison.alpha,
                "strict": comparison.strict,
                "warnings": comparison.warnings,
                "suite": comparison.suite.as_dict() if comparison.suite else None,
                "noise": comparison.noise or None,
                "cells": [c.as_dict() for c in comparison.cells],
            },
            indent=1,
        )
    df = to_frame(comparison)
    if fmt == "markdown":
        head = "| " + " | ".join(df.columns) + " |\n|" + "---|" * len(df.columns) + "\n"
        body = "".join(
            "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |\n" for row in df.itertuples(index=False)
        )
        notes = "".join(f"> {w}\n\n" for w in comparison.warnings)
        noise = f"\n\n{comparison.noise}" if comparison.noise else ""
        return f"{notes}**{summary_line(comparison)}**\n\n{suite_line(comparison)}{noise}\n\n{head}{body}"
    text = df.to_string(index=False) if len(df) else "(no cells)"
    tail = [comparison.noise] if comparison.noise else []
    return "\n".join(comparison.warnings + [text, summary_line(comparison), suite_line(comparison)] + tail)
