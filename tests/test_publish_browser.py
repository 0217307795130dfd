"""The dashboard in a real browser (headless Chromium) as a reader opens it from disk: no
console error or blocked load on any page, the history chart draws a point per run with its
change marker, the index's links open, and screenshots of both pages for a person to look at
(written to DLBENCH_SCREENSHOTS, else to a temporary folder)."""

import os

import pytest

from tests import history_db
from tests.browser import Browser
from tests.conftest import dlbench

pytestmark = [pytest.mark.browser, pytest.mark.requires("chromium")]


@pytest.fixture(scope="module")
def browser():
    b = Browser(width=1280, height=900)
    yield b
    b.close()


@pytest.fixture(scope="module")
def site(tiny_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("publish-browser")
    url = history_db.build(tiny_run, str(folder))
    assert dlbench(f"publish --db {url} --out {folder / 'site'}") == 0
    return str(folder / "site")


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return os.environ.get("DLBENCH_SCREENSHOTS") or str(tmp_path_factory.mktemp("screenshots"))


def loaded_cleanly(browser, path):
    """Open a page of the site; it must log nothing and load nothing but itself from file://."""
    browser.open(path)
    assert browser.console_errors() == []
    urls = browser.evaluate("performance.getEntries().map(e => e.name).filter(n => n.includes(':'))")
    assert urls and all(u.startswith("file://") for u in urls), urls
    assert browser.evaluate("performance.getEntriesByType('resource').length") == 0  # no fetch of any kind


def shot(browser, folder, name):
    height = browser.evaluate("document.documentElement.scrollHeight")
    png = browser.screenshot(0, 0, 1280, min(height, 1400))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000  # a picture with something on it
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(png)


def test_index_cell_page_and_changes_open_cleanly_and_draw(browser, site, shots):
    loaded_cleanly(browser, os.path.join(site, "index.html"))
    rows = browser.evaluate("document.querySelectorAll('tr.cell').length")
    sparks = browser.evaluate(
        "Array.from(document.querySelectorAll('svg.spark')).filter(s => s.getBoundingClientRect().width > 0).length"
    )
    assert rows > 0 and sparks > 0
    warn = browser.evaluate("document.querySelector('.warn.drift').innerText")
    assert warn.startswith(f"run run-{history_db.RUNS - 1:02d}: cpu fp32_gemm_gflops")
    shot(browser, shots, "index.png")

    loaded_cleanly(browser, os.path.join(site, "regressions.html"))
    href = browser.evaluate("document.querySelector('tr.change a').getAttribute('href')")
    shot(browser, shots, "regressions.png")
    loaded_cleanly(browser, os.path.join(site, href))
    drawn = browser.evaluate("""(() => {
        const svg = document.querySelector('svg[data-chart=history]');
        const box = svg.getBoundingClientRect();
        const line = svg.querySelector('g.change line').getBoundingClientRect();
        return {points: svg.querySelectorAll('circle.point').length, width: box.width,
                marker: line.height > 0, title: svg.querySelector('g.change title').textContent};
    })()""")
    assert drawn["points"] == history_db.RUNS and drawn["width"] > 500 and drawn["marker"]
    assert drawn["title"].startswith(history_db.commit(history_db.STEP_AT - 1)[:10] + "..")
    assert "\u26a0" in browser.evaluate("document.querySelector('svg[data-chart=history]').textContent")
    shot(browser, shots, "cell.png")
