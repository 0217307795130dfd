"""The cells table: implementations side by side per scenario, phase and size.

`cells_table` keeps numbers as numbers (for CSV and JSON); `render` formats it for
a terminal. A cell that is not ok has its status and reason and no number at all.
"""

from __future__ import annotations

import pandas as pd

from records import PROBLEM
from reports.metrics import add_metrics
from reports.precision import median_text, rate_text, ratio_text, relative_spread
from reports.summary import marks_and_notes

ORDER = [
    "source_order",
    *PROBLEM,
    "device",
    "threads",
    "ranks",
    "scaling",
    "impl",
    "mode",
]  # a table's rows, in reading order
# metrics' ratios, copied as they are (reports.metrics computes them)
RATIOS = (
    "vs_reference",
    "vs_reference_low",
    "vs_reference_high",
    "vs_fastest",
    "vs_fastest_low",
    "vs_fastest_high",
    "pct_of_peak",
)
COLUMNS = [
    "source",
    "machine_id",
    "scenario",
    "phase",
    "size",
    "device",
    "threads",
    "ranks",
    "scaling",
    "impl",
    "mode",
    "impl_version",
    "status",
    "median_ms",
    "ci_low_ms",
    "ci_high_ms",
    "ci_level",
    "rel_iqr_pct",
    "rate",
    "rate_unit",
    *RATIOS,
    "peak_of",
    "first_call_s",
    "n_samples",
    "n_processes",
    "other_cpu",
    "flags",
    "reason",
]
SHORT_PEAK = {"fp32 GEMM": "fp32", "int8 GEMM": "int8", "memory bandwidth": "bw"}


def _other_cpu(contention):
    value = contention.get("other_cpu") if isinstance(contention, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def _joined(*notes):
    return "; ".join(n for n in notes if isinstance(n, str) and n)


def cells_table(df: pd.DataFrame, with_samples=False) -> pd.DataFrame:
    """One row per cell, numbers unformatted; `df` as reports.load gives it. Times in ms,
    the interval of the median with its confidence (ci_level, a fraction), ratio intervals,
    `flags` (contended / noisy / ceiling-low) and, for an ok cell, why in `reason`."""
    m = df if "pct_of_peak" in df else add_metrics(df)
    m = m.sort_values(ORDER, kind="stable")
    ok = m["status"] == "ok"
    out = pd.DataFrame(
        {
            "source": m["source"],
            "machine_id": m["machine_id"],
            **{k: m[k] for k in (*ORDER[1:], "impl_version", "status")},
            "median_ms": m["median"] * 1e3,
            "ci_low_ms": m["ci_low"] * 1e3,
            "ci_high_ms": m["ci_high"] * 1e3,
            "ci_level": m["ci_level"],
            "rel_iqr_pct": m["rel_iqr"] * 100,
            "rate": m["rate"],
            "rate_unit": m["rate_unit"].where(ok),
            **{k: m[k] for k in RATIOS},
            "peak_of": m["peak_of"].where(ok),
            "first_call_s": pd.to_numeric(m.get("first_call_s"), errors="coerce").where(ok),
            "n_samples": pd.to_numeric(m.get("n_samples"), errors="coerce").where(ok),
            "n_processes": pd.to_numeric(m.get("processes"), errors="coerce").where(ok),
            "other_cpu": [_other_cpu(c) for c in m.get("contention", pd.Series(None, index=m.index))],
            "flags": m["flags"],
            "reason": m["reason"].where(~ok, [_joined(p, f) for p, f in zip(m["peak_note"], m["flag_note"])]),
        }
    )
    extra = []
    if with_samples:
        out["samples_s"] = [list(v) if isinstance(v, list) and ok_ else [] for v, ok_ in zip(m["samples"], ok)]
        medians = m.get("process_medians", pd.Series(None, index=m.index))
        out["process_medians_ms"] = [
            [x * 1e3 for x in v] if isinstance(v, list) and ok_ else [] for v, ok_ in zip(medians, ok)
        ]
        extra = ["samples_s", "process_medians_ms"]
    return out[COLUMNS + extra].reset_index(drop=True)


def _fmt(value, pattern):
    return "" if pd.isna(value) else pattern.format(value)


def display_table(cells: pd.DataFrame, width=110) -> pd.DataFrame:
    """The cells table as text columns: units attached, empty where a cell has no number; the
    median to the digits its spread supports, with its interval and confidence where the
    record has one ('12.3 [11.9-12.8] 75%'); flags as words, so that grep finds them."""
    out = pd.DataFrame(
        {
            "source": cells["source"],
            **{k: cells[k] for k in (*ORDER[1:], "status")},
            "median ms": [
                median_text(v, lo, hi, level, v * iqr / 100 if pd.notna(iqr) else None)
                for v, lo, hi, level, iqr in zip(
                    cells["median_ms"], cells["ci_low_ms"], cells["ci_high_ms"], cells["ci_level"], cells["rel_iqr_pct"]
                )
            ],
            "IQR %": cells["rel_iqr_pct"].map(lambda v: _fmt(v, "{:.1f}")),
            "rate": [
                f"{rate_text(v, relative_spread(t, lo, hi, iqr / 100), '{:.2f}')} {u}" if pd.notna(v) else ""
                for v, u, t, lo, hi, iqr in zip(
                    cells["rate"],
                    cells["rate_unit"],
                    cells["median_ms"],
                    cells["ci_low_ms"],
                    cells["ci_high_ms"],
                    cells["rel_iqr_pct"],
                )
            ],
            "vs ref": [
                ratio_text(*v)
                for v in zip(cells["vs_reference"], cells["vs_reference_low"], cells["vs_reference_high"])
            ],
            "vs fastest": [
                ratio_text(*v) for v in zip(cells["vs_fastest"], cells["vs_fastest_low"], cells["vs_fastest_high"])
            ],
            "% peak": [
                _fmt(v, "{:.1f}% ") + SHORT_PEAK.get(p, p or "") if pd.notna(v) else ""
                for v, p in zip(cells["pct_of_peak"], cells["peak_of"])
            ],
            "flags": cells["flags"].fillna(""),
            "reason": cells["reason"].fillna("").map(lambda s: s if len(s) <= width else s[: width - 3] + "..."),
        }
    )
    if out["source"].nunique() <= 1:
        out = out.drop(columns=["source"])
    for column in ("threads", "ranks", "scaling"):
        if cells[column].nunique() <= 1:
            out = out.drop(columns=[column])
    if not out["reason"].astype(bool).any():
        out = out.drop(columns=["reason"])
    return out


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """Formatted, one row per cell, each with its reason (the cells of the table `dlbench run`
    ends with)."""
    return display_table(cells_table(df))


def scenario_blocks(df: pd.DataFrame):
    """(scenario, its rows as text, [its notes]) per scenario: the display table with the
    reason column replaced by `note`, the numbers of the row's reasons, each distinct
    reason written once under the block ('[1] noisy: IQR 19% of the median ...')."""
    m = df if "pct_of_peak" in df else add_metrics(df)
    ordered = m.sort_values(ORDER, kind="stable").reset_index(drop=True)
    shown = display_table(cells_table(ordered)).drop(columns=["reason"], errors="ignore")
    for scenario in dict.fromkeys(ordered["scenario"]):
        at = ordered.index[ordered["scenario"] == scenario]
        marks, notes = marks_and_notes(ordered.loc[at].to_dict("records"))
        block = shown.loc[at].drop(columns=["scenario"])
        if notes:
            block["note"] = [",".join(str(mark.note) for mark in row) for row in marks]
        yield scenario, block, [f"[{n}] {text}" for n, (_, text) in enumerate(notes, 1)]


def render(df: pd.DataFrame) -> str:
    """Plain-text blocks, one per scenario, each with its notes."""
    return "\n\n".join(
        "\n".join([scenario, block.to_string(index=False), *notes]) for scenario, block, notes in scenario_blocks(df)
    )
