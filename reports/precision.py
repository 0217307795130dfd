"""How far each printed figure can be trusted: the digits its spread supports, the
confidence interval of the median, ratio intervals, and the flags a cell carries.

Flags (the words themselves, so a user can grep them):
- `contended`: while the cell was timed, other processes used more CPU than the run's
  threshold (the record's `contention`), so the time may be the neighbours', not the code's;
- `noisy`: the spread passed a bound (the record's `noisy_reason` says which and by how much);
- `ceiling-low`: the cell reached more than 100% of the ceiling it is compared with,
  so that ceiling was measured low (or at the wrong memory level).

Records written before these fields existed load as they are: no interval, no flag,
and medians rounded by their IQR.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from harness import paired

FLAGS = ("contended", "noisy", "ceiling-low", "drift")
MAX_DIGITS = 6  # significant digits a value is never printed beyond, however tight its spread


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def spread_decimals(value, halfwidth):
    """Decimal places (negative: tens, hundreds...) that put the last printed digit where
    the half-width's leading digit is; never fewer than one significant digit of `value`
    (a spread wider than the value still shows its magnitude), never more than MAX_DIGITS.
    None when either number cannot say."""
    if not _finite(value) or not _finite(halfwidth) or halfwidth <= 0 or value == 0:
        return None
    place = math.floor(math.log10(abs(value)))
    decimals = -math.floor(math.log10(halfwidth))
    return min(max(decimals, -place), MAX_DIGITS - 1 - place)


def fixed(value, decimals):
    """`value` rounded to `decimals` places (negative: to tens, hundreds...), as text."""
    if decimals > 0:
        return f"{value:.{decimals}f}"
    return f"{round(value, decimals):.0f}"


def with_spread(value, halfwidth, fallback="{:.4g}"):
    """`value` with the digits `halfwidth` supports: with_spread(12.345, 0.4) == '12.3',
    with_spread(12.345, 0.04) == '12.35', with_spread(1234.5, 60) == '1230'. Without a
    usable half-width, `fallback`; an empty string for a missing value."""
    if not _finite(value):
        return ""
    decimals = spread_decimals(value, halfwidth)
    return fallback.format(value) if decimals is None else fixed(value, decimals)


def level_text(level):
    """A confidence as a percentage, never rounded up (0.9375 is 93.7%, not 94%)."""
    if not _finite(level):
        return ""
    tenths = math.floor(round(level * 1000, 6)) / 10
    return f"{tenths:g}%"


def interval_text(low, high, level, decimals=None):
    """'[11.9-12.8] 75%', at `decimals` places (default: those of its own half-width)."""
    if not (_finite(low) and _finite(high)):
        return ""
    if decimals is None:
        decimals = spread_decimals((low + high) / 2, (high - low) / 2)
    text = f"[{low:.4g}-{high:.4g}]" if decimals is None else f"[{fixed(low, decimals)}-{fixed(high, decimals)}]"
    return f"{text} {level_text(level)}".rstrip()


def median_text(median, ci_low=None, ci_high=None, ci_level=None, iqr=None):
    """The median at the digits its spread supports, then its interval: '12.3 [11.9-12.8] 75%'.
    The spread is the interval's half-width, or the IQR where a record has no interval."""
    if not _finite(median):
        return ""
    if not (_finite(ci_low) and _finite(ci_high)):
        return with_spread(median, iqr)
    decimals = spread_decimals(median, (ci_high - ci_low) / 2)
    shown = f"{median:.4g}" if decimals is None else fixed(median, decimals)
    return f"{shown} {interval_text(ci_low, ci_high, ci_level, decimals)}"


def relative_spread(median, ci_low=None, ci_high=None, rel_iqr=None):
    """The spread of a cell as a fraction of its median: its interval's half-width, or its
    relative IQR without one (None without either). Rates share their time's spread."""
    if _finite(median) and median > 0 and _finite(ci_low) and _finite(ci_high):
        return (ci_high - ci_low) / 2 / median
    return rel_iqr if _finite(rel_iqr) else None


def rate_text(rate, relative, fallback="{:.4g}"):
    """A rate (GFLOP/s, GB/s) to the digits its relative spread supports."""
    return with_spread(rate, rate * relative if _finite(rate) and _finite(relative) else None, fallback)


def ratio_text(ratio, low=None, high=None, fallback="{:.2f}x"):
    """'0.52x' or, with an interval, '0.5x [0.4-0.7]' at the digits the interval supports."""
    if not _finite(ratio):
        return ""
    if not (_finite(low) and _finite(high)):
        return fallback.format(ratio)
    decimals = spread_decimals(ratio, (high - low) / 2)
    if decimals is None:
        return f"{ratio:.2f}x [{low:.2f}-{high:.2f}]"
    return f"{fixed(ratio, decimals)}x [{fixed(low, decimals)}-{fixed(high, decimals)}]"


def ratio_interval(num_low, num_high, den_low, den_high):
    """Conservative interval of num/den from the two intervals: [num_low/den_high,
    num_high/den_low]; (None, None) when either side has none."""
    values = (num_low, num_high, den_low, den_high)
    if not all(_finite(v) for v in values) or den_low <= 0 or den_high <= 0:
        return None, None
    return num_low / den_high, num_high / den_low


def _bools(df, column):
    """A record's boolean field as False where the record has none (older results)."""
    if column not in df:
        return pd.Series(False, index=df.index)
    return df[column].map(lambda v: not isinstance(v, (dict, list)) and not pd.isna(v) and bool(v))


def _numbers(df, column):
    if column not in df:
        return pd.Series(math.nan, index=df.index, dtype=float)
    return pd.to_numeric(df[column], errors="coerce")


def contention_note(contention):
    """One line on what else ran while the cell was timed, from the record's `contention`."""
    if not isinstance(contention, dict):
        return "contended: other processes used the CPU while this cell was timed"
    parts = []
    if _finite(contention.get("other_cpu")):
        bound = contention.get("threshold")
        parts.append(
            f"other processes used {contention['other_cpu']:.2f} cores" + (f" (> {bound:g})" if _finite(bound) else "")
        )
    steal = contention.get("steal")
    if _finite(steal) and _finite(contention.get("steal_threshold")) and steal > contention["steal_threshold"]:
        parts.append(f"steal {steal:.0%} (> {contention['steal_threshold']:.0%})")
    if _finite(contention.get("load1")):
        parts.append(f"load {contention['load1']:.2f}")
    return "contended: " + (", ".join(parts) if parts else "other processes used the CPU") + " while timed"


def _group_best(df, ok, keys, mask):
    """Per row: the index of the row holding its group's smallest median among `mask`."""
    rows = df[ok & mask]
    if rows.empty:
        return pd.Series(index=df.index, dtype=object)
    best = rows.groupby(keys)["median"].idxmin().rename("_best")
    return df.join(best, on=keys)["_best"]


def _turns_of(df, i):
    """Row i's samples as harness.paired reads them, or None for a row without turns."""
    row = df.loc[i]
    turns = row.get("sample_turn")
    if not isinstance(turns, list):
        return None
    return {"samples": row.get("samples"), "sample_process": row.get("sample_process"), "sample_turn": turns}


def _paired(df, b, i):
    """best's time over row i's from the turns they shared (the same run, in lockstep), or None."""
    if df.loc[b].get("run_id") != df.loc[i].get("run_id"):
        return None
    num, den = _turns_of(df, b), _turns_of(df, i)
    return paired.ratio(num, den) if num and den else None


def _ratios(df, ok, best_index):
    """(ratio, low, high, level) columns of best's time / each row's (vs_fastest,
    vs_reference) and its interval. Cells timed in the same lockstep turns (dlbench run)
    get the paired ratio and its Wilcoxon interval (harness.paired), with its level;
    others the ratio of medians and the conservative interval of the two intervals (no
    level). A cell's ratio to itself is exactly 1: no interval."""
    ratio, low, high, level = [], [], [], []
    med, lo, hi = df["median"], df["ci_low"], df["ci_high"]
    for i, b in zip(df.index, best_index):
        if not ok[i] or pd.isna(b):
            ratio.append(math.nan)
            low.append(math.nan)
            high.append(math.nan)
            level.append(math.nan)
            continue
        pair = _paired(df, b, i) if b != i else None
        if pair is not None:
            ratio.append(pair["ratio"])
            low.append(pair["low"] if pair["level"] is not None else math.nan)
            high.append(pair["high"] if pair["level"] is not None else math.nan)
            level.append(pair["level"] if pair["level"] is not None else math.nan)
            continue
        ratio.append(med[b] / med[i])
        a, z = ratio_interval(lo[b], hi[b], lo[i], hi[i]) if b != i else (None, None)
        low.append(math.nan if a is None else a)
        high.append(math.nan if z is None else z)
        level.append(math.nan)
    return ratio, low, high, level


def _fastest_by_pairs(df, keys):
    """vs_fastest where the ratios are paired: the cell with the smallest median is only the
    anchor; a cell its paired turns show faster still (a pseudo-median below the anchor's
    where the medians said otherwise) is the fastest, and every ratio of its group is
    divided by its own, so the fastest reads exactly 1 and no cell reads above it."""
    columns = ["vs_fastest", "vs_fastest_low", "vs_fastest_high"]
    for _, group in df[df["vs_fastest"].notna()].groupby(keys):
        top = group["vs_fastest"].max()
        if not top > 1.0:
            continue
        winner = group["vs_fastest"].idxmax()
        anchor = group.index[(group["vs_fastest"] == 1.0) & group["vs_fastest_low"].isna()]
        df.loc[group.index, columns] = df.loc[group.index, columns] / top
        df.loc[winner, "vs_fastest"] = 1.0
        df.loc[winner, ["vs_fastest_low", "vs_fastest_high", "vs_fastest_level"]] = math.nan
        for i in anchor:  # the anchor had no interval (itself); now it has a ratio to the winner
            pair = _paired(df, winner, i)
            if pair is not None and pair["level"] is not None:
                df.loc[i, "vs_fastest"] = pair["ratio"]
                df.loc[i, ["vs_fastest_low", "vs_fastest_high", "vs_fastest_level"]] = [
                    pair["low"],
                    pair["high"],
                    pair["level"],
                ]


def add_precision(df: pd.DataFrame, keys) -> pd.DataFrame:
    """add_metrics' table plus: ci_low, ci_high, ci_level (seconds; NaN without), the
    speedups vs_reference and vs_fastest (the group's reference or fastest median over
    this one's) with their intervals (`_low`, `_high`), contended, noisy, ceiling_low
    (booleans, False for cells that are not ok), `flags` (the words, space-separated) and
    `flag_note` (why, one clause per flag). `keys`: the columns of a competing group."""
    df = df.copy()
    ok = df["status"] == "ok"
    for column in ("ci_low", "ci_high", "ci_level"):
        df[column] = _numbers(df, column).where(ok)
    df["ceiling_low"] = _bools(df, "ceiling_low") & ok
    df["contended"] = _bools(df, "contended") & ok
    df["noisy"] = _bools(df, "noisy") & ok
    df["drift"] = _bools(df, "drift") & ok
    for name, among in (("vs_fastest", pd.Series(True, index=df.index)), ("vs_reference", df["impl"] == "reference")):
        best = _group_best(df, ok, keys, among)
        df[name], df[f"{name}_low"], df[f"{name}_high"], df[f"{name}_level"] = _ratios(df, ok, best)
    _fastest_by_pairs(df, keys)
    contention = df["contention"] if "contention" in df else pd.Series(None, index=df.index, dtype=object)
    noisy_reason = df["noisy_reason"] if "noisy_reason" in df else pd.Series("", index=df.index, dtype=object)
    drift_reason = df["drift_reason"] if "drift_reason" in df else pd.Series("", index=df.index, dtype=object)
    flags, notes = [], []
    rows = zip(df["contended"], df["noisy"], df["ceiling_low"], df["drift"], contention, noisy_reason, drift_reason)
    for c, n, low, d, cont, why, drifted in rows:
        flags.append(" ".join(word for word, on in zip(FLAGS, (c, n, low, d)) if on))
        notes.append("; ".join(flag_clauses(c, n, d, cont, why, drifted).values()))
    df["flags"], df["flag_note"] = flags, notes
    return df


def flag_clauses(contended, noisy, drift, contention=None, noisy_reason="", drift_reason=""):
    """{flag: why, one clause} of a cell's contended, noisy and drift flags, from its record's
    fields (ceiling-low's why is metrics' peak_note). Joined, they are its `flag_note`."""
    out = {}
    if contended:
        out["contended"] = contention_note(contention)
    if noisy:
        out["noisy"] = f"noisy: {noisy_reason}" if isinstance(noisy_reason, str) and noisy_reason else "noisy"
    if drift:
        out["drift"] = f"drift: {drift_reason}" if isinstance(drift_reason, str) and drift_reason else "drift"
    return out


def noisy_bounds(reasons):
    """The bounds named in `noisy_reason` texts ('processes spread 24% of the median (> 20%)'
    -> 'processes spread of the median > 20%'), each once, for a legend."""
    out = []
    for reason in reasons:
        if not isinstance(reason, str):
            continue
        for part in reason.split(";"):
            match = re.search(r"\((>\s*[^)]*)\)", part)
            if not match:
                continue
            name = re.sub(r"\s*\d+(\.\d+)?%", "", part[: match.start()], count=1).strip()
            bound = f"{name} {match.group(1)}".strip()
            if bound not in out:
                out.append(bound)
    return out


def contention_bounds(contentions):
    """The contention thresholds the records were judged by, each once, for a legend."""
    out = []
    for c in contentions:
        if not isinstance(c, dict):
            continue
        parts = []
        if _finite(c.get("threshold")):
            parts.append(f"other processes > {c['threshold']:g} cores")
        if _finite(c.get("steal_threshold")):
            parts.append(f"steal > {c['steal_threshold']:.0%}")
        text = " or ".join(parts)
        if text and text not in out:
            out.append(text)
    return out


def legend(df):
    """(flag, what it means with the thresholds these results used) for every flag."""
    cont = contention_bounds(df["contention"] if "contention" in df else [])
    noisy = noisy_bounds(df["noisy_reason"] if "noisy_reason" in df else [])
    return [
        (
            "contended",
            "other processes used the CPU while the cell was timed"
            + (f" ({'; '.join(cont)}, averaged over the timed part)" if cont else "")
            + ": its time may be the neighbours', not the code's",
        ),
        (
            "noisy",
            "its spread passed a bound"
            + (f" ({'; '.join(noisy)})" if noisy else "")
            + ": the next run may well land outside what is printed",
        ),
        (
            "ceiling-low",
            "above 100% of the ceiling it is compared with: the ceiling read low (or is the "
            "wrong memory level), so its % of peak is not a fraction of anything",
        ),
        (
            "drift",
            "the drift sentinel (a fixed NumPy workload timed before each of the cell's rounds) ran "
            "slower than over the rest of the run by more than its own noise: the absolute time may be "
            "the machine's; ratios from lockstep turns cancel it",
        ),
    ]
