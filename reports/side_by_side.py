"""Hardware comparison: the same cell on each source (machine, or machine at a version)
side by side, with the ratio against the first source given.

Cells match on the record's key (records.key) less threads, which default to each
machine's cores. A source that holds one cell at several thread counts is split into
one column set per count.
"""

from __future__ import annotations

import pandas as pd

from records import key_fields
from reports.metrics import add_metrics
from reports.precision import median_text, ratio_interval, ratio_text

KEY = list(key_fields(without=("threads",)))
SUFFIXES = (
    "status",
    "median_ms",
    "ci_low_ms",
    "ci_high_ms",
    "ci_level",
    "rel_iqr",
    "rate",
    "rate_unit",
    "flags",
    "reason",
)


def _column_labels(m):
    """source, or 'source @N threads' where a source ran a cell at several thread counts."""
    multi = m.groupby(["source"] + KEY)["threads"].transform("nunique") > 1
    return [f"{s} @{t} threads" if split else s for s, t, split in zip(m["source"], m["threads"], multi)]


def side_by_side(df: pd.DataFrame):
    """(table, column labels in order) or (None, labels) when there is one source only.

    Per label: `<label> median_ms`, `<label> ci_low_ms`, `<label> ci_high_ms`,
    `<label> ci_level`, `<label> rel_iqr`, `<label> rate`, `<label> status`, `<label> flags`;
    per label after the first: `<label> vs <first>` = first's median / this median (above 1:
    faster) and its conservative interval `<label> vs <first> low` / `... high` (NaN unless
    both cells have an interval).
    """
    m = df if "pct_of_peak" in df else add_metrics(df)
    m = m.sort_values(["source_order", "threads"], kind="stable").copy()
    m["column"] = _column_labels(m)
    labels = list(dict.fromkeys(m["column"]))
    if len(labels) < 2:
        return None, labels
    rows = {}
    for rec in m.to_dict("records"):
        key = tuple(rec[k] for k in KEY)
        row = rows.setdefault(key, dict(zip(KEY, key)))
        label = rec["column"]
        row[f"{label} status"] = rec["status"]
        row[f"{label} median_ms"] = rec["median"] * 1e3 if rec["status"] == "ok" else None
        for k in ("ci_low", "ci_high"):
            row[f"{label} {k}_ms"] = rec[k] * 1e3 if rec["status"] == "ok" else None
        row[f"{label} ci_level"] = rec["ci_level"] if rec["status"] == "ok" else None
        row[f"{label} rel_iqr"] = rec["rel_iqr"] if rec["status"] == "ok" else None
        row[f"{label} flags"] = rec["flags"]
        row[f"{label} rate"] = rec["rate"] if rec["status"] == "ok" else None
        row[f"{label} rate_unit"] = rec["rate_unit"]
        row[f"{label} reason"] = rec["reason"] if rec["status"] != "ok" else ""
    table = pd.DataFrame(list(rows.values()))
    base = labels[0]
    for label in labels:
        for suffix in SUFFIXES:
            if f"{label} {suffix}" not in table:
                table[f"{label} {suffix}"] = None
        table[f"{label} status"] = table[f"{label} status"].fillna("missing")
    for label in labels[1:]:
        table[f"{label} vs {base}"] = pd.to_numeric(table[f"{base} median_ms"]) / pd.to_numeric(
            table[f"{label} median_ms"]
        )
        bounds = [
            ratio_interval(*v)
            for v in zip(
                table[f"{base} ci_low_ms"],
                table[f"{base} ci_high_ms"],
                table[f"{label} ci_low_ms"],
                table[f"{label} ci_high_ms"],
            )
        ]
        table[f"{label} vs {base} low"] = pd.to_numeric([b[0] for b in bounds])
        table[f"{label} vs {base} high"] = pd.to_numeric([b[1] for b in bounds])
    return table.sort_values(KEY, kind="stable").reset_index(drop=True), labels


def time_text(row, label):
    """A source's time as the cells table shows it, in ms, its flags after it; or its status."""
    t = row[f"{label} median_ms"]
    if pd.isna(t):
        return row[f"{label} status"]
    iqr = row[f"{label} rel_iqr"]
    text = median_text(
        t,
        row[f"{label} ci_low_ms"],
        row[f"{label} ci_high_ms"],
        row[f"{label} ci_level"],
        t * iqr if pd.notna(iqr) else None,
    )
    value, _, interval = text.partition(" ")
    return " ".join(part for part in (f"{value} ms", interval, row[f"{label} flags"] or "") if part)


def display(table, labels):
    """Text columns for a terminal or markdown: time or status per source, then ratios
    with their intervals."""
    out = pd.DataFrame({k: table[k] for k in KEY})
    rows = table.to_dict("records")
    for label in labels:
        out[label] = [time_text(r, label) for r in rows]
    base = labels[0]
    for label in labels[1:]:
        name = f"{label} vs {base}"
        out[name] = [ratio_text(r[name], r[f"{name} low"], r[f"{name} high"]) for r in rows]
    return out
