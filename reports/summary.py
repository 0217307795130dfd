"""The report's first screen: one compact table that answers "which is fastest here, and
by how much", for the terminal and the HTML report alike.

Cells down (scenario, phase, size; the source, device and threads too where they vary),
each implementation x mode across, each entry the cell's speed relative to the fastest
of its row: reports.metrics' `vs_fastest`, which comes from the paired lockstep turns
where the cells shared them (harness.paired) and is the ratio of medians otherwise. A
cell without a time shows the short mark of its status, a flagged one the marks of its
flags; what each mark means, and each distinct reason, are gathered once under the
table (`Grid.legend`, `Grid.notes`).

Over several sources (machines), `machines` gives the same table with the sources
across: each cell's speed relative to the first source (reports.side_by_side's ratio:
the first's median over this one's, above 1 faster) and the geometric mean per scenario
and per row.

`marks_and_notes` gives the per-scenario tables the same marks, each row pointing at its
reasons by number instead of carrying them in a column of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

import scenarios
from records import PROBLEM
from reports.charts import cell_key
from reports.metrics import add_metrics
from reports.precision import (
    FLAGS,
    contention_bounds,
    fixed,
    flag_clauses,
    level_text,
    noisy_bounds,
    ratio_text,
    spread_decimals,
)
from reports.side_by_side import side_by_side

STATUS_MARKS = {"unsupported": "U", "invalid": "I", "error": "E", "timeout": "T", "missing": "-"}
FLAG_MARKS = {"contended": "c", "noisy": "n", "ceiling-low": "^", "drift": "d"}
assert set(FLAG_MARKS) == set(FLAGS)
MEANINGS = {
    "unsupported": "unsupported: the implementation cannot run this cell",
    "invalid": "invalid: its output did not match the reference's, so it has no time",
    "error": "error: it failed",
    "timeout": "timeout: it ran past its time limit",
    "missing": "not run on that source",
    "contended": "contended: other processes used the CPU while it was timed",
    "noisy": "noisy: its spread passed a bound",
    "ceiling-low": "ceiling-low: above 100% of its ceiling, so the ceiling read low",
    "drift": "drift: the machine ran slower while it was timed (drift sentinel); paired ratios cancel it",
}
ROW_ORDER = ("source", *PROBLEM, "device", "threads", "ranks", "scaling")


@dataclass(frozen=True)
class Mark:
    """A short mark: its letter ('' for a note without one), the word it stands for, and
    the number of its reason under the table (None: its meaning says it all)."""

    letter: str
    word: str
    note: int | None = None

    def text(self):
        return self.letter + (str(self.note) if self.note else "")


@dataclass
class Entry:
    """One entry of a grid: a ratio (NaN without one), as printed, its marks, a hover text
    with everything known about it, and the cell it is (reports.charts.cell_key; '' for a
    geometric mean)."""

    value: float
    text: str
    marks: tuple = ()
    title: str = ""
    cell: str = ""

    def plain(self):
        """The entry as a terminal prints it: '0.64', '0.31 n', 'U1'."""
        marks = "".join(m.text() for m in self.marks)
        return " ".join(part for part in (self.text, marks) if part)


@dataclass
class Row:
    labels: tuple  # one per Grid.row_columns
    anchor: str = ""  # the id of the per-scenario table it summarises
    geomean: bool = False


@dataclass
class Grid:
    """A summary table: rows of cells down, `columns` (tuples, one level each) across,
    `entries[row][column]` (None: no such cell), and what goes under it: the meanings of
    the marks it uses (`legend`: (letter, word, meaning)) and each distinct reason once
    (`notes`: (letter, text), numbered from 1)."""

    kind: str  # "fastest" or "machines"
    title: str
    caption: str
    row_columns: list
    column_levels: list
    columns: list
    rows: list = field(default_factory=list)
    entries: list = field(default_factory=list)
    legend: list = field(default_factory=list)
    notes: list = field(default_factory=list)


class Notes:
    """Distinct reasons in the order first met, numbered from 1."""

    def __init__(self):
        self.items = []  # (letter, text)

    def ref(self, letter, text):
        texts = [t for _, t in self.items]
        if text not in texts:
            self.items.append((letter, text))
            return len(self.items)
        return texts.index(text) + 1


def ratio_number(value, low=None, high=None):
    """A speed ratio for the summary: the digits its interval supports (reports.precision),
    never more than 3 significant; without an interval 2 decimals (2 significant digits
    below 0.1). '' without a value."""
    if not _finite(value) or value <= 0:
        return ""
    place = math.floor(math.log10(value))
    decimals = spread_decimals(value, (high - low) / 2) if _finite(low) and _finite(high) else None
    if decimals is None:
        decimals = max(2, 1 - place)
    return fixed(value, min(decimals, 2 - place))


def _words(value):
    return value.split() if isinstance(value, str) else []


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def geomean(values):
    logs = [math.log(v) for v in values if _finite(v) and v > 0]
    return math.exp(sum(logs) / len(logs)) if logs else math.nan


def _phase_rank(scenario, phase):
    try:
        return scenarios.get(scenario).phases.index(phase)
    except (KeyError, ValueError):
        return 99


def _size_rank(size):
    return scenarios.SIZES.index(size) if size in scenarios.SIZES else len(scenarios.SIZES)


def _row_sort(key):
    """Sort key of a row's labels given as {column: value}: sources in the order given,
    phases in their scenario's order, sizes small to large."""
    return (
        key.get("source_order", 0),
        str(key.get("scenario")),
        _phase_rank(key.get("scenario"), key.get("phase")),
        str(key.get("phase")),
        _size_rank(key.get("size")),
        str(key.get("size")),
        str(key.get("device", "")),
        key.get("threads", 0) if isinstance(key.get("threads"), (int, float)) else 0,
        key.get("ranks", 1) if isinstance(key.get("ranks"), (int, float)) else 1,
        str(key.get("scaling") or ""),
    )


def impl_modes(frame):
    """(impl, mode) pairs, the reference first, then by name."""
    pairs = set(zip(frame["impl"], frame["mode"]))
    return sorted(pairs, key=lambda p: (p[0] != "reference", str(p[0]), str(p[1])))


def status_reason(status, reason):
    """'unsupported: why', the reason as given where it already starts with its status."""
    reason = reason if isinstance(reason, str) else ""
    return reason if reason.startswith(f"{status}:") else f"{status}: {reason}".rstrip(": ")


def _reasons(row):
    """(letter, word, reason) of what a cell's marks stand for: its status where it has no
    time, else each flag (and a note on its peak, without a letter)."""
    if row["status"] != "ok":
        return [(STATUS_MARKS.get(row["status"], "?"), row["status"], status_reason(row["status"], row.get("reason")))]
    clauses = flag_clauses(
        row.get("contended"),
        row.get("noisy"),
        row.get("drift"),
        row.get("contention"),
        row.get("noisy_reason"),
        row.get("drift_reason"),
    )
    out = []
    flags = (row.get("flags") or "").split()
    for flag in flags:
        why = clauses.get(flag) or (f"ceiling-low: {row.get('peak_note')}" if row.get("peak_note") else flag)
        out.append((FLAG_MARKS[flag], flag, why))
    if row.get("peak_note") and "ceiling-low" not in flags:
        out.append(("", "peak", row["peak_note"]))
    return out


def marks_and_notes(rows):
    """([marks of each row], notes) for a per-scenario table: every reason numbered once."""
    notes = Notes()
    marks = [tuple(Mark(letter, word, notes.ref(letter, why)) for letter, word, why in _reasons(r)) for r in rows]
    return marks, notes.items


def _legend(words, m):
    """(letter, word, meaning) of each mark used, statuses first, with the thresholds these
    results were judged by (reports.precision)."""
    out = []
    for word in [*STATUS_MARKS, *FLAG_MARKS]:
        if word not in words:
            continue
        meaning = MEANINGS[word]
        if word == "noisy":
            bounds = noisy_bounds(m["noisy_reason"] if "noisy_reason" in m else [])
            meaning += f" ({'; '.join(bounds)})" if bounds else ""
        if word == "contended":
            bounds = contention_bounds(m["contention"] if "contention" in m else [])
            meaning += f" ({'; '.join(bounds)})" if bounds else ""
        out.append((STATUS_MARKS.get(word) or FLAG_MARKS[word], word, meaning))
    return out


def _varying(m, columns):
    return [c for c in columns if c in m and m[c].nunique(dropna=False) > 1]


def _how(row):
    level = row.get("vs_fastest_level")
    if _finite(level):
        return f"paired over the lockstep turns both were timed in ({level_text(level)} interval)"
    return "ratio of the medians"


def fastest(df) -> Grid:
    """The single-table summary: each cell's vs_fastest, its marks, the reasons once."""
    m = df if "vs_fastest" in df else add_metrics(df)
    varying = _varying(m, ["source", "device", "threads", "ranks", "scaling"])
    row_columns = [c for c in ROW_ORDER if c in PROBLEM or c in varying]
    columns = impl_modes(m)
    records = m.to_dict("records")
    groups = {}
    for r in records:
        groups.setdefault(tuple(r[c] for c in row_columns), {})[(r["impl"], r["mode"])] = r
    order = sorted(groups, key=lambda k: _row_sort({**dict(zip(row_columns, k)), **_source_order(m, k, row_columns)}))
    notes, used = Notes(), set()
    paired = int(m["vs_fastest_level"].notna().sum()) if "vs_fastest_level" in m else 0
    medians = int(((m["status"] == "ok") & (m["vs_fastest"] < 1.0)).sum()) - paired
    grid = Grid(
        kind="fastest",
        title="Speed relative to the fastest",
        caption=(
            "Each entry is the cell's speed over that of the fastest implementation and mode of its scenario, "
            "phase and size"
            + (" (on any device)" if "device" in varying else "")
            + ": 1.00 is the fastest, 0.50 half its speed. "
            + (
                f"Ratios below 1: {paired} from the lockstep turns the two cells shared (paired, so the "
                f"machine's drift cancels)" + (f", {medians} from their medians." if medians else ".")
                if paired
                else "Ratios of medians (these results have no lockstep turns to pair)."
            )
        ),
        row_columns=row_columns,
        column_levels=["impl", "mode"],
        columns=columns,
    )
    for key in order:
        cells = groups[key]
        labels = dict(zip(row_columns, key))
        best = [r for r in cells.values() if r["status"] == "ok" and r.get("vs_fastest") == 1.0]
        best_name = f"{best[0]['impl']} {best[0]['mode']}" if best else "?"
        grid.rows.append(Row(key, f"cells-{labels['scenario']}-{labels['phase']}-{labels['size']}"))
        row = []
        for column in columns:
            r = cells.get(column)
            if r is None:
                row.append(None)
                continue
            reasons = _reasons(r)
            used.update(word for _, word, _ in reasons)
            what = f"{labels['scenario']} {labels['phase']}/{labels['size']} {r['impl']} {r['mode']}"
            if r["status"] == "ok":
                marks = tuple(Mark(letter, word) for letter, word, _ in reasons if letter)
                v, lo, hi = r["vs_fastest"], r.get("vs_fastest_low"), r.get("vs_fastest_high")
                title = (
                    f"{what}: the fastest, median {r['median'] * 1e3:.4g} ms"
                    if v == 1.0
                    else f"{what}: {ratio_text(v, lo, hi)} the speed of {best_name}, {_how(r)}; median "
                    f"{r['median'] * 1e3:.4g} ms"
                )
                title = "; ".join([title] + [why for _, _, why in reasons])
                row.append(Entry(v, ratio_number(v, lo, hi), marks, title, cell_key(r)))
            else:
                marks = tuple(Mark(letter, word, notes.ref(letter, why)) for letter, word, why in reasons)
                row.append(Entry(math.nan, "", marks, f"{what}: {reasons[0][2]}", cell_key(r)))
        grid.entries.append(row)
    grid.legend = _legend(used, m)
    grid.notes = notes.items
    return grid


def _source_order(m, key, row_columns):
    if "source" not in row_columns:
        return {}
    source = key[row_columns.index("source")]
    orders = m.loc[m["source"] == source, "source_order"]
    return {"source_order": int(orders.iloc[0]) if len(orders) else 0}


def _side_entry(r, base, label, notes, used, what):
    """One cell of the machines grid: label's speed relative to base, or why there is none."""
    name = f"{label} vs {base}"
    value, low, high = r[name], r[f"{name} low"], r[f"{name} high"]
    marks, reasons = [], []
    failed = [s for s in (label, base) if r[f"{s} status"] != "ok"]
    failed.sort(key=lambda s: r[f"{s} status"] == "missing")  # a reason says more than an absence
    if failed:
        status = r[f"{failed[0]} status"]
        why = status_reason(status, r[f"{failed[0]} reason"]) if status != "missing" else ""
        word = status if status in STATUS_MARKS else "error"
        marks.append(Mark(STATUS_MARKS[word], word, notes.ref(STATUS_MARKS[word], why) if why else None))
        used.add(word)
        reasons.append(f"{failed[0]}: {why or MEANINGS['missing']}")
    for flag in FLAG_MARKS:
        on = [s for s in (label, base) if flag in _words(r[f"{s} flags"])]
        if on and not marks:  # a flag of one side only counts where there is a ratio
            marks.append(Mark(FLAG_MARKS[flag], flag))
            used.add(flag)
            reasons.append(f"{flag} on {' and '.join(on)}")
    if _finite(value):
        title = f"{what}: {label} runs at {ratio_text(value, low, high)} the speed of {base} (ratio of medians)"
    else:
        title = f"{what}: no ratio"
    return Entry(value, ratio_number(value, low, high), tuple(marks), "; ".join([title] + reasons))


def machines(df):
    """The summary across sources: each cell's speed on every source relative to the first
    (side_by_side's ratio), the geometric mean of each row (column 'all') and of each
    scenario (a row 'geomean' under it); None for one source."""
    m = df if "vs_fastest" in df else add_metrics(df)
    table, labels = side_by_side(m)
    if table is None:
        return None
    base, others = labels[0], labels[1:]
    row_columns = [*PROBLEM] + _varying(table, ["device"])
    pairs = impl_modes(table)
    columns = [(label, impl, mode) for label in others for impl, mode in pairs + [("all", "")]]
    rows = {}
    for r in table.to_dict("records"):
        rows.setdefault(tuple(r[c] for c in row_columns), {})[(r["impl"], r["mode"])] = r
    order = sorted(rows, key=lambda k: _row_sort(dict(zip(row_columns, k))))
    notes, used = Notes(), set()
    grid = Grid(
        kind="machines",
        title=f"Speed relative to {base}",
        caption=(
            f"Each entry is the cell's speed on that source relative to {base}: {base}'s median time over "
            f"the source's, so above 1 is faster than {base}. 'all' is the geometric mean of its row; each "
            f"scenario's 'geomean' row that of its column over the scenario, and in 'all' over every cell of "
            f"the scenario both sources timed."
        ),
        row_columns=row_columns,
        column_levels=["source", "impl", "mode"],
        columns=columns,
    )
    for scenario in dict.fromkeys(k[0] for k in order):
        keys = [k for k in order if k[0] == scenario]
        per_column = {c: [] for c in columns}
        for key in keys:
            labels = dict(zip(row_columns, key))
            grid.rows.append(Row(key, f"cells-{labels['scenario']}-{labels['phase']}-{labels['size']}"))
            row = []
            for label in others:
                values = []
                for impl, mode in pairs:
                    r = rows[key].get((impl, mode))
                    if r is None:
                        row.append(None)
                        continue
                    what = f"{scenario} {labels['phase']}/{labels['size']} {impl} {mode}"
                    entry = _side_entry(r, base, label, notes, used, what)
                    row.append(entry)
                    per_column[(label, impl, mode)].append(entry.value)
                    values.append(entry.value)
                row.append(_geomean_entry(values, f"{label} vs {base}, {scenario} {labels['phase']}/{labels['size']}"))
                per_column[(label, "all", "")] += values
            grid.entries.append(row)
        grid.rows.append(Row((scenario, "geomean") + ("",) * (len(row_columns) - 2), geomean=True))
        grid.entries.append(
            [_geomean_entry(per_column[c], f"{c[0]} vs {base}, {scenario} {' '.join(c[1:]).strip()}") for c in columns]
        )
    grid.legend = _legend(used, m)
    grid.notes = notes.items
    return grid


def _geomean_entry(values, what):
    finite = [v for v in values if _finite(v) and v > 0]
    value = geomean(finite)
    title = f"{what}: geometric mean of {len(finite)} ratio{'' if len(finite) == 1 else 's'}"
    return Entry(value, ratio_number(value), (), title) if finite else None


def grids(df):
    """The summaries a report opens with: across sources first where there are several,
    then each cell's speed relative to the fastest."""
    m = df if "vs_fastest" in df else add_metrics(df)
    across = machines(m)
    return ([across] if across else []) + [fastest(m)]


def text(grid):
    """A grid as fixed-width text: the column levels as header lines (each label once over
    the columns it spans), the rows, then the marks' meanings and the numbered reasons."""
    cells = [[e.plain() if e else "" for e in row] for row in grid.entries]
    labels = [[str(v) for v in row.labels] for row in grid.rows]
    for i in range(1, len(grid.rows)):  # each source and scenario once, at the top of its rows
        for j, name in enumerate(grid.row_columns):
            if name in ("source", "scenario") and grid.rows[i].labels[: j + 1] == grid.rows[i - 1].labels[: j + 1]:
                labels[i][j] = ""
    levels = len(grid.column_levels)
    widths = [max([len(c[-1])] + [len(r[k]) for r in cells]) for k, c in enumerate(grid.columns)]
    for level in range(levels - 1):  # a spanning label wider than its columns widens the last of them
        for start, end in spans(grid.columns, level):
            need = len(str(grid.columns[start][level])) - (sum(widths[start:end]) + 2 * (end - start - 1))
            if need > 0:
                widths[end - 1] += need
    label_widths = [max([len(n)] + [len(r[j]) for r in labels]) for j, n in enumerate(grid.row_columns)]
    lead = "  ".join(" " * w for w in label_widths)
    lines = []
    for level in range(levels):
        parts = []
        for start, end in spans(grid.columns, level):
            span_width = sum(widths[start:end]) + 2 * (end - start - 1)
            label = str(grid.columns[start][level])
            parts.append(label.center(span_width) if level < levels - 1 else label.rjust(span_width))
        head = lead if level < levels - 1 else "  ".join(n.ljust(w) for n, w in zip(grid.row_columns, label_widths))
        lines.append((head + "  " + "  ".join(parts)).rstrip())
    for row, cell_texts in zip(labels, cells):
        left = "  ".join(v.ljust(w) for v, w in zip(row, label_widths))
        lines.append((left + "  " + "  ".join(t.rjust(w) for t, w in zip(cell_texts, widths))).rstrip())
    return "\n".join(lines + under(grid))


def under(grid):
    """The lines under a grid: its caption, the marks' meanings, each reason once."""
    out = [grid.caption]
    out += [f"  {letter}  {meaning}" for letter, _, meaning in grid.legend]
    out += [f"  [{n}] {text}" for n, (_, text) in enumerate(grid.notes, 1)]
    return out


def spans(columns, level):
    """[(start, end)] of the runs of columns that share their labels down to `level`."""
    spans, start = [], 0
    for i in range(1, len(columns) + 1):
        if i == len(columns) or columns[i][: level + 1] != columns[start][: level + 1]:
            spans.append((start, i))
            start = i
    return spans


def to_frame(grid):
    """A grid as a DataFrame of text (markdown): one column per grid column, levels joined."""
    out = pd.DataFrame([list(map(str, r.labels)) for r in grid.rows], columns=grid.row_columns)
    for k, column in enumerate(grid.columns):
        out[" ".join(str(c) for c in column if c)] = [row[k].plain() if row[k] else "" for row in grid.entries]
    return out
