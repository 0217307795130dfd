"""`dlbench publish`: the results database as a static site (asv's publish is the model).

harness.db.series reads each machine's history, reports.dashboard.history finds its change
points, harness.db.drift its fingerprint and peak warnings, and reports.dashboard.pages
writes index.html, regressions.html and one page per cell.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from harness.db import drift, series
from harness.errors import DlbenchError
from reports.dashboard import pages
from reports.dashboard.history import cells_of


@dataclass
class Site:
    out: str
    machines: int
    cells: int
    changes: int
    files: int
    bytes: int
    seconds: float


def publish(db, out, names=None):
    """Write the site for the machines `names` (default: all) into `out`, replaced whole."""
    t0 = time.perf_counter()
    known = series.machine_names(db)
    names = names or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DlbenchError(f"no machine {unknown[0]!r} in {db.where}; it has: {', '.join(known) or 'none'}")
    histories = [series.load(db, n) for n in names]
    cells = {h.name: cells_of(h) for h in histories}
    warnings = {h.name: drift.run_warnings(h.runs) for h in histories}
    tmp = out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    size = files = 0
    for h in histories:
        groups = {}  # (scenario, phase, size) -> the cells of it: each page links its siblings
        for c in cells[h.name]:
            groups.setdefault(c.key[:3], []).append(c)
        for c in cells[h.name]:
            page = pages.cell_page(c, h, warnings[h.name], groups[c.key[:3]])
            size += pages.write(os.path.join(tmp, c.page), page)
            files += 1
    by_key = {(c.machine, c.key): c for cs in cells.values() for c in cs}
    changes = [ch for cs in cells.values() for c in cs for ch in c.changes]
    size += pages.write(os.path.join(tmp, "index.html"), pages.index(histories, cells, warnings))
    size += pages.write(os.path.join(tmp, "regressions.html"), pages.changes_page(changes, by_key))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)  # a reader never sees half a site
    return Site(out, len(histories), len(by_key), len(changes), files + 2, size, time.perf_counter() - t0)
