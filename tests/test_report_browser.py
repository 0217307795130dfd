"""The HTML report in a real browser (headless Chromium), as a reader opens it.

Needs Debian's chromium, which `make test` installs (`make browser`). Without it these
tests fail with that command (DLBENCH_TEST_WITHOUT=chromium skips them, saying so).
"""

import io
import json

import numpy as np
import pytest

from reports.charts import cell_key
from tests.browser import Browser
from tests.conftest import NASTY, dlbench, read_results

pytestmark = [pytest.mark.browser, pytest.mark.requires("chromium")]  # absent: fails with `make browser`

MARKED = ".bar, .box, .point, .ratio"  # the chart elements that carry data, and their colour


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def report(mixed_run, other_machine, tmp_path_factory):
    """One report over two machines: every kind of chart, failed cells and hostile strings."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    assert dlbench(f"report {mixed_run} {other_machine} --html {path}") == 0
    return str(path)


def expected_keys(*dirs, field="status"):
    from reports import load_sources

    df, _ = load_sources(list(dirs))
    return {cell_key(r): r[field] for r in df.to_dict("records")}


def words(text):
    return " ".join(text.split())  # the page's innerText collapses runs of spaces


def test_report_loads_without_console_errors_and_shows_every_cell(browser, report, mixed_run, other_machine):
    browser.open(report)
    assert browser.console_errors() == []
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
    shown = browser.evaluate("""Array.from(document.querySelectorAll('tr.cell')).map(tr => {
        const r = tr.getBoundingClientRect();
        return [tr.dataset.cell, tr.dataset.status, r.width > 0 && r.height > 0, tr.innerText]; })""")
    expected = expected_keys(mixed_run, other_machine)
    reasons = expected_keys(mixed_run, other_machine, field="reason")
    assert {key: status for key, status, _, _ in shown} == expected
    assert len(shown) == len(expected) == 2 * len(read_results(mixed_run)) - 3  # the fabricated 3: one machine
    for key, status, visible, text in shown:
        assert visible, key
        assert status in text
        if status == "ok":
            assert any(c.isdigit() for c in text.split(status, 1)[1]), key
        else:
            assert words(reasons[key]) in words(text), f"{key}: its reason is not shown"
    # hostile strings from results show as text, not markup
    assert NASTY in browser.evaluate("document.body.innerText")
    assert browser.evaluate("document.querySelectorAll('script, img').length") == 0


def test_console_check_catches_a_blocked_load(browser, report, tmp_path):
    """The check above is not vacuous: the report's own policy, one external image, an error."""
    page = open(report).read()
    bad = tmp_path / "bad.html"
    bad.write_text(page.replace("<body>", '<body><img src="https://example.invalid/x.png">', 1))
    browser.open(str(bad))
    assert browser.console_errors(), "a blocked external load should reach the console"


def _chart_problems(browser, shot_dir):
    """For every chart: it has a size, and the screenshot of its box shows each colour
    its data elements are drawn in. Returns what is missing (empty: all charts drawn)."""
    from PIL import Image

    charts = browser.evaluate(f"""Array.from(document.querySelectorAll('svg.chart')).map((svg, i) => {{
        const r = svg.getBoundingClientRect();
        const colours = Array.from(new Set(Array.from(svg.querySelectorAll('{MARKED}'))
            .map(e => e.getAttribute('fill'))));
        return {{i: i, kind: svg.dataset.chart, x: r.left + window.scrollX, y: r.top + window.scrollY,
                 w: r.width, h: r.height, colours: colours}}; }})""")
    problems = []
    for c in charts:
        if c["w"] < 300 or c["h"] < 40:
            problems.append(f"chart {c['i']} ({c['kind']}) is {c['w']}x{c['h']}")
            continue
        png = browser.screenshot(c["x"], c["y"], c["w"], c["h"])
        (shot_dir / f"chart-{c['i']}-{c['kind']}.png").write_bytes(png)
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16).reshape(-1, 3)
        if (pixels != 255).any(axis=1).mean() < 0.01:
            problems.append(f"chart {c['i']} ({c['kind']}) is blank")
        for colour in c["colours"]:
            want = np.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)], dtype=np.int16)
            near = int((np.abs(pixels - want).sum(axis=1) < 60).sum())
            if near < 15:
                problems.append(f"chart {c['i']} ({c['kind']}): colour {colour} drawn in {near} pixels")
    return charts, problems


def test_screenshot_shows_every_chart(browser, report, tmp_path):
    browser.open(report)
    charts, problems = _chart_problems(browser, tmp_path)
    kinds = [c["kind"] for c in charts]
    for kind in ("bars", "distribution", "roofline", "ratios", "sentinel"):
        assert kind in kinds, f"no {kind} chart in the report"
    assert all(c["colours"] for c in charts), "a chart without any data element"
    assert problems == [], f"{problems} (screenshots in {tmp_path})"


def test_screenshot_check_fails_when_charts_are_missing(browser, report, tmp_path):
    """The screenshot test is not vacuous: with the charts' marks hidden it must complain."""
    page = open(report).read()
    hidden = tmp_path / "hidden.html"
    hidden.write_text(
        page.replace(
            "</style>",
            "svg.chart .bar,svg.chart .box,svg.chart .point,svg.chart .ratio,"
            "svg.chart .sample,svg.chart line{visibility:hidden}</style>",
            1,
        )
    )
    browser.open(str(hidden))
    charts, problems = _chart_problems(browser, tmp_path)
    assert len(problems) >= len(charts)


def test_machine_peaks_are_shown(browser, report, other_machine):
    browser.open(report)
    text = browser.evaluate("document.getElementById('machines').innerText")
    machine = json.load(open(f"{other_machine}/machine.json"))
    assert "other-box" in text and machine["machine_id"] in text
    assert "fp32 GEMM" in text and "GFLOP/s" in text and "DRAM bandwidth" in text and "L2 bandwidth" in text


def test_flagged_cells_are_visibly_marked(browser, flagged_run, tmp_path):
    """A reader sees which cells are contended, noisy or ceiling-low: shaded rows, the words
    in coloured badges, and a legend that says what each means and its threshold."""
    d, expected = flagged_run
    path = tmp_path / "flags.html"
    assert dlbench(f"report {d} --html {path}") == 0
    browser.open(str(path))
    assert browser.console_errors() == []
    rows = browser.evaluate("""Array.from(document.querySelectorAll('tr.cell')).map(tr => {
        const flags = tr.querySelector('td.flags');
        return [tr.dataset.cell, flags.innerText.trim(), getComputedStyle(tr.cells[0]).backgroundColor,
                Array.from(tr.querySelectorAll('.flag')).map(b => {
                    const r = b.getBoundingClientRect(); return [getComputedStyle(b).backgroundColor, r.width > 0]; })];
        })""")
    plain_bg = {bg for key, text, bg, badges in rows if not text and key.split("|")[4] == "cpu"}
    assert plain_bg
    flagged = {}
    for key, text, bg, badges in rows:
        if text:
            _, scenario, phase, _, device, _, impl, mode = key.split("|")
            flagged[(scenario, phase, impl, mode, device)] = text
            assert bg not in plain_bg, f"{key}: a flagged row looks like any other"
            assert badges and all(
                visible and colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)") for colour, visible in badges
            ), key
    assert flagged == expected
    legend = browser.evaluate("document.getElementById('flags-legend').nextElementSibling.innerText")
    assert all(flag in legend for flag in ("contended", "noisy", "ceiling-low"))
    assert "0.25 cores" in legend and "> 20%" in legend
