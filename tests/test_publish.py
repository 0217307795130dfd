"""`dlbench publish`: the database's history as a static site. Every cell of the machine is
in the index with its latest value; the planted 30% step is a change point at its commit,
first in the list of changes and marked on its cell's chart; the run whose peak dropped
carries a warning; what came from results (a hostname, a reason) is text, never markup;
every link leads to a file of the site."""

import os
import re
from html.parser import HTMLParser

import pytest

from harness.db.drift import run_warnings
from harness.db.series import RunInfo
from reports.dashboard.charts import sparkline
from tests import history_db
from tests.conftest import NASTY, dlbench, read_results


@pytest.fixture(scope="module")
def site(tiny_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("publish")
    url = history_db.build(tiny_run, str(folder))
    out = folder / "site"
    assert dlbench(f"publish --db {url} --out {out}") == 0
    return str(out), url


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.scripts, self.tags = [], 0, []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.scripts += tag in ("script", "img", "iframe", "link")
        self.hrefs += [v for k, v in attrs if k in ("href", "src")]


def pages(out):
    for folder, _, files in os.walk(out):
        for f in files:
            yield os.path.join(folder, f)


def test_every_page_is_self_contained_escaped_and_its_links_resolve(site):
    out, _ = site
    files = list(pages(out))
    assert {"index.html", "regressions.html"} <= {os.path.relpath(f, out) for f in files}
    for path in files:
        text = open(path, encoding="utf-8").read()
        parser = Links()
        parser.feed(text)
        assert parser.scripts == 0, path  # no script, image, frame or stylesheet: nothing to fetch
        assert "<script>" not in text and "<img" not in text
        for href in parser.hrefs:
            assert "://" not in href, (path, href)
            target = os.path.normpath(os.path.join(os.path.dirname(path), href.split("#")[0]))
            assert os.path.isfile(target), (path, href)
    index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in index  # the hostname, as text


def test_the_index_lists_every_cell_with_its_latest_value(site, tiny_run):
    out, _ = site
    index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    rows = re.findall(r'<tr class="cell" data-cell="([^"]*)" data-status="([^"]*)"', index)
    records = read_results(tiny_run)
    assert len(rows) == len(records)  # one row per cell of the machine
    assert {s for _, s in rows} == {r["status"] for r in records}
    assert index.count('<svg class="spark"') == sum(
        r["status"] == "ok" for r in records
    )  # a trend where there are times


def test_the_planted_step_is_the_largest_change_at_its_commit(site):
    out, _ = site
    changes = open(os.path.join(out, "regressions.html"), encoding="utf-8").read()
    rows = re.findall(
        r'<tr class="change (\w+)"><td>.*?([+-][0-9.]+)%.*?<a href="([^"]+)">([^<]+)</a>.*?<code>([^<]+)</code>',
        changes,
    )
    assert rows, changes
    kind, pct, href, cell, commits = rows[0]
    assert kind == "regression" and 27 <= float(pct) <= 33 and cell.startswith("sigmoid forward tiny reference:eager")
    before, after = (history_db.commit(history_db.STEP_AT - 1)[:10], history_db.commit(history_db.STEP_AT)[:10])
    assert commits == f"{before}..{after}"
    page = open(os.path.join(out, href), encoding="utf-8").read()
    assert page.count('class="change"') >= 2  # the marker on the chart and the row in its table
    assert f'data-index="{history_db.STEP_AT}"' in page
    assert len(rows) <= 2  # the ±1% wobble of every other cell is no change


def test_the_failed_run_shows_on_its_cell_page_with_its_reason_as_text(site):
    out, _ = site
    index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    href = re.search(r'<a href="([^"]+)">conv forward tiny reference:eager@cpu', index).group(1)
    page = open(os.path.join(out, href), encoding="utf-8").read()
    assert f'data-run="{history_db.FAILED_RUN}" data-status="invalid"' in page
    assert "invalid: &lt;script&gt;" in page and NASTY not in page


def test_a_run_whose_peak_dropped_is_warned_about(site):
    out, _ = site
    index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    (warning,) = re.findall(r'<div class="warn drift">([^<]*)</div>', index)
    assert warning.startswith(f"run run-{history_db.RUNS - 1:02d}: cpu fp32_gemm_gflops ")


def test_drift_rules():
    def run(i, model="Xeon", gemm=400.0, threads=2):
        peaks = {"cpu": {"threads": threads, "best": {"g": {"value": gemm}}}}
        return RunInfo(f"r{i}", None, None, None, {"cpu": {"model": model}, "peaks": peaks})

    steady = [run(i, gemm=400 + 20 * (i % 3)) for i in range(6)]
    assert run_warnings(steady) == {}  # within the earlier runs' range
    assert list(run_warnings([*steady, run(6, gemm=320)])) == ["r6"]  # 36% below: the two VMs
    (note,) = run_warnings([*steady, run(6, model="EPYC")])["r6"]
    assert note == "fingerprint changed: CPU Xeon -> EPYC"
    assert run_warnings([*steady, run(6, gemm=200, threads=1)]) == {}  # a 1-thread peak has no earlier ones


def test_publish_refuses_what_it_cannot_do_in_one_line(site, tmp_path, capsys):
    _, url = site
    assert dlbench(f"publish --db {tmp_path / 'none.sqlite'} --out {tmp_path / 's'}") == 2
    assert capsys.readouterr().err.strip().startswith("dlbench publish: no database at ")
    assert dlbench(f"publish --db {url} --out {tmp_path / 's'} --machine other") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dlbench publish: no machine 'other' in ") and "\n" not in err
    assert not (tmp_path / "s").exists()


def test_a_sparkline_keeps_a_one_percent_wobble_flat_and_shows_a_step():
    def heights(values):
        ys = [float(y) for y in re.findall(r"[ML][0-9.]+,([0-9.]+)", sparkline(values, []))]
        return max(ys) - min(ys)

    wobble = [1.0 + 0.01 * (i % 2) for i in range(10)]
    step = [1.0] * 5 + [1.3] * 5
    assert heights(wobble) < 3 and heights(step) > 15  # pixels of a 24-pixel-high line


def test_the_cell_chart_names_the_commit_under_its_run_ticks(site):
    out, _ = site
    index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    href = re.search(r'<a href="([^"]+)">sigmoid forward tiny reference:eager@cpu', index).group(1)
    page = open(os.path.join(out, href), encoding="utf-8").read()
    labels = re.findall(r'<text class="commit"[^>]*>([^<]+)</text>', page)
    assert labels and set(labels) <= {history_db.commit(i)[:7] for i in range(history_db.RUNS)}


def test_a_cell_page_links_its_siblings_of_the_same_scenario_phase_and_size(site):
    out, _ = site
    index = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    href = re.search(r'<a href="([^"]+)">sigmoid forward tiny reference:eager@cpu', index).group(1)
    page = open(os.path.join(out, href), encoding="utf-8").read()
    siblings = re.findall(r"<a [^>]*>([^<]+)</a>", re.search(r'<p class="siblings">(.*?)</p>', page).group(1))
    assert siblings and all(s.startswith("sigmoid forward tiny ") for s in siblings)
    assert "sigmoid forward tiny reference:eager@cpu t2" not in siblings and len(siblings) == 3
