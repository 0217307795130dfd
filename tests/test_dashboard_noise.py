"""The dashboard's "vs previous runs" does not cry wolf: over a history of identical code
whose runs scatter by 10-30%, nothing is coloured; a step well beyond a cell's own noise is,
slower red and faster green, while the same step on a cell that noisy is not; and until a
cell has the runs its noise needs, the cell says "too few runs" instead of a percentage.
Histories are built directly (no database, no run), with fixed seeds."""

import re

import numpy as np

from harness.db.series import MachineHistory, Point, RunInfo
from reports.dashboard import pages
from reports.dashboard.history import cells_of
from reports.noise_band import MIN_RUNS


def key(name):
    return (
        "sigmoid",
        "forward",
        "tiny",
        name,
        "cpu",
        "eager",
        2,
        1,
        "",
        0,
    )  # records.KEY_FIELDS: 1 rank, no scaling, seed 0


def history(series):
    """A machine's history: one run per position, each series' values as ok medians (None: no cell)."""
    n = max(len(v) for v in series.values())
    runs = [RunInfo(f"run-{i:02d}", f"{i:02d}" + "ab" * 19, "main", None, {}) for i in range(n)]
    h = MachineHistory("vm", runs)
    for name, values in series.items():
        h.series[key(name)] = [None if v is None else Point("ok", v, None, None, None) for v in values]
    return h


def vs_previous(series):
    """{series name: the inner HTML of its "vs previous runs" cell} on the index."""
    h = history(series)
    index = pages.index([h], {h.name: cells_of(h)}, {h.name: {}})
    rows = re.findall(r'data-cell="sigmoid forward tiny ([^:]+):[^"]*".*?<td class="num vs-previous">(.*?)</td>', index)
    assert len(rows) == len(series)
    return dict(rows), index


def noisy(level, sigma, runs, rng):
    return list(level * np.exp(rng.normal(0.0, sigma, runs)))


def test_identical_code_with_10_to_30_percent_noise_is_never_coloured():
    rng = np.random.default_rng(2026)
    series = {f"impl{i}": noisy(1e-3 * (i + 1), sigma, 12, rng) for i, sigma in enumerate(np.linspace(0.1, 0.3, 12))}
    cells, index = vs_previous(series)
    changes = [float(m) for html in cells.values() for m in re.findall(r">([+-][0-9.]+)%<", html)]
    assert len(changes) == len(series)  # every cell has its percentage, none is "too few runs"
    assert max(abs(c) for c in changes) > 20  # changes the old 2% rule painted red or green
    assert 'class="up"' not in index and 'class="down"' not in index
    assert all('class="noise"' in html for html in cells.values())


def test_a_step_well_beyond_the_cells_noise_is_coloured_and_the_same_step_in_a_noisy_cell_is_not():
    rng = np.random.default_rng(7)
    quiet, loud = noisy(1.0, 0.03, 10, rng), noisy(1.0, 0.25, 10, rng)
    cells, _ = vs_previous(
        {
            "slower": [*quiet, 1.6],
            "faster": [*quiet, 0.6],
            "noisy": [*loud, 1.6 * float(np.median(loud[-5:]))],  # the same +60% on its own level
        }
    )
    assert re.fullmatch(r'<span class="up" title="[^"]*">\+[0-9.]+%</span>', cells["slower"])
    assert re.fullmatch(r'<span class="down" title="[^"]*">-[0-9.]+%</span>', cells["faster"])
    assert re.fullmatch(r'<span class="noise" title="[^"]*">\+60\.0%</span>', cells["noisy"])


def test_with_too_few_runs_the_cell_says_so():
    # the case: two runs of the same code, the second 52% slower
    cells, index = vs_previous({"two": [1.0, 1.52], "one": [None, 1.0], "never": [None, None]})
    assert cells["two"].endswith(">too few runs</span>") and "%" not in cells["two"]
    assert cells["one"].endswith(">too few runs</span>")
    assert cells["never"] == ""  # never a time: nothing to say
    assert 'class="up"' not in index
    # MIN_RUNS earlier runs (gaps do not count) are the first with a number
    steady = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0]
    cells, _ = vs_previous({"short": [*steady[: MIN_RUNS - 1], None, 5.0], "enough": [*steady[:MIN_RUNS], 5.0]})
    assert "too few runs" in cells["short"]
    assert 'class="up"' in cells["enough"] and "+4" in cells["enough"]
