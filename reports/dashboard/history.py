"""From a machine's history to what the dashboard shows: each cell's values over runs, its
change points (reports.changepoints) with the commit range each lies in, its latest value
and how it stands against the runs before it (reports.noise_band)."""

from __future__ import annotations

import hashlib
import math
import re
import statistics
from dataclasses import dataclass

from harness.db.series import SERIES_KEY
from reports.changepoints import detect
from reports.noise_band import judge

TREND_RUNS = 5  # the latest value against the median of the runs before it, up to this many


@dataclass
class Change:
    machine: str
    key: tuple
    index: int  # the run at which the new level starts
    since: int  # the last run before it with a value: the change lies in (since, index]
    before: float
    after: float
    change: float
    first_commit: str  # the commit range: after first_commit, up to and including last_commit
    last_commit: str


@dataclass
class Cell:
    machine: str
    key: tuple
    points: list  # [Point or None] per run
    values: list  # the median where the cell was ok, else None
    changes: list  # [Change]
    page: str  # the cell page's path, relative to the site's root

    @property
    def latest(self):
        """(run index, Point) of the newest run that had this cell, or (None, None)."""
        for i in range(len(self.points) - 1, -1, -1):
            if self.points[i] is not None:
                return i, self.points[i]
        return None, None

    @property
    def vs_previous(self):
        """The latest value / median of the up-to-TREND_RUNS values before it, minus 1, judged
        against the noise of every value before it (reports.noise_band): a Judged, or None
        when the cell never had a value."""
        valid = [v for v in self.values if v is not None]
        if not valid:
            return None
        if len(valid) < 2:
            return judge(None, [])
        before = valid[-1 - TREND_RUNS : -1]
        # the latest run's own noise plus its reference's: a median of m runs varies about
        # pi/2 as much as their mean
        spread = math.sqrt(1 + math.pi / (2 * len(before)))
        return judge(valid[-1] / statistics.median(before) - 1, valid[:-1], spread)


def slug(text):
    """A file name from any text: safe characters, and a hash so two texts never share one."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:60] or "x"
    return f"{safe}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def key_text(key):
    d = dict(zip(SERIES_KEY, key))
    text = f"{d['scenario']} {d['phase']} {d['size']} {d['impl']}:{d['mode']}@{d['device']} t{d['threads']}"
    return text + (f" seed {d['seed']}" if d["seed"] else "")  # the default seed unsaid, as the CLI's


def short(commit):
    if not commit:
        return "?"
    return commit[:10] + ("-dirty" if commit.endswith("-dirty") else "")


def cells_of(history):
    """[Cell] of a MachineHistory, with change points detected."""
    out = []
    folder = slug(history.name)
    for key, points in history.series.items():
        values = [p.median if p is not None and p.status == "ok" else None for p in points]
        changes = []
        for cp in detect(values):
            since = max((i for i in range(cp.index) if values[i] is not None), default=cp.index)
            changes.append(
                Change(
                    history.name,
                    key,
                    cp.index,
                    since,
                    cp.before,
                    cp.after,
                    cp.change,
                    short(history.runs[since].git_commit),
                    short(history.runs[cp.index].git_commit),
                )
            )
        page = f"cells/{folder}/{slug(key_text(key))}.html"
        out.append(Cell(history.name, key, points, values, changes, page))
    return out
