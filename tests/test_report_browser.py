"""The HTML report in a real browser (headless Chromium), as a reader opens it.

Needs Debian's chromium, which `make test` installs (`make browser`). Without it these
tests fail with that command (DLBENCH_TEST_WITHOUT=chromium skips them, saying so).
"""

import io
import json
import os
import re

import numpy as np
import pytest

from records import KEY_FIELDS
from reports.charts import cell_key
from reports.summary import FLAG_MARKS
from tests.browser import Browser
from tests.conftest import NASTY, SLOWER, copy_results, dlbench, read_results

pytestmark = [pytest.mark.browser, pytest.mark.requires("chromium")]  # absent: fails with `make browser`

MARKED = ".bar, .box, .point, .ratio"  # the chart elements that carry data, and their colour
# A JavaScript function: (element) -> [[text of each note its links point at, whether it is visible]]
LINKED_NOTES = """(el => Array.from(el.querySelectorAll('a[href^="#"]')).map(a => {
    const note = document.getElementById(a.getAttribute('href').slice(1));
    if (!note) return ['', false];
    const r = note.getBoundingClientRect();
    return [note.innerText, r.width > 0 && r.height > 0]; }))"""
LAPTOP = (1366, 768)  # the screen the summary has to fit on


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
    shown = browser.evaluate(f"""Array.from(document.querySelectorAll('tr.cell')).map(tr => {{
        const r = tr.getBoundingClientRect();
        return [tr.dataset.cell, tr.dataset.status, r.width > 0 && r.height > 0, tr.innerText,
                {LINKED_NOTES}(tr)]; }})""")
    expected = expected_keys(mixed_run, other_machine)
    reasons = expected_keys(mixed_run, other_machine, field="reason")
    assert {key: status for key, status, _, _, _ in shown} == expected
    assert len(shown) == len(expected) == 2 * len(read_results(mixed_run)) - 3  # the fabricated 3: one machine
    for key, status, visible, text, notes in shown:
        assert visible, key
        assert status in text
        if status == "ok":
            assert any(c.isdigit() for c in text.split(status, 1)[1]), key
        else:  # its reason is the note its mark points at, under its table, visible
            assert any(words(reasons[key]) in words(note) and seen for note, seen in notes), key
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


def test_a_single_drifted_sentinel_reading_shows(browser, tiny_run, tmp_path):
    """One reading past the drift bound, alone and on the axis (the first), still shows in its colour."""

    def one_drift(machine):
        s = machine["sentinel"]
        for p in s["points"]:
            p["median"] = s["median"]
        s["points"][0]["median"] = s["median"] * (1 + s.get("slow_bound", 0)) * 1.5
        return machine

    d = copy_results(tiny_run, tmp_path / "drift", edit_machine=one_drift)
    path = tmp_path / "drift.html"
    assert dlbench(f"report {d} --html {path}") == 0
    # the lines share its colour: hidden, so the count is the point's own
    path.write_text(path.read_text().replace("</style>", "svg.chart line{visibility:hidden}</style>", 1))
    browser.open(str(path))
    charts, problems = _chart_problems(browser, tmp_path)
    sentinel = [c for c in charts if c["kind"] == "sentinel"]
    assert sentinel and "#D55E00" in sentinel[0]["colours"]
    mine = [p for p in problems if p.startswith(f"chart {sentinel[0]['i']} ")]
    assert mine == [], f"{mine} (screenshots in {tmp_path})"


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
    rows = browser.evaluate(f"""Array.from(document.querySelectorAll('tr.cell')).map(tr => {{
        return [tr.dataset.cell, tr.dataset.flags, getComputedStyle(tr.cells[0]).backgroundColor,
                Array.from(tr.querySelectorAll('.flag')).map(b => {{
                    const r = b.getBoundingClientRect(); return [getComputedStyle(b).backgroundColor, r.width > 0]; }}),
                Array.from(tr.querySelectorAll('td.flags .flag')).map(b => b.innerText), {LINKED_NOTES}(tr)];
        }})""")
    fields = ("source", *KEY_FIELDS)  # a row's data-cell: reports.charts.cell_key
    cell = lambda key: dict(zip(fields, key.split("|")))  # noqa: E731
    plain_bg = {bg for key, flags, bg, badges, _, _ in rows if not flags and cell(key)["device"] == "cpu"}
    assert plain_bg
    flagged = {}
    for key, text, bg, badges, letters, notes in rows:
        if text:
            # a short mark, and the number of the note under its table that gives the figures
            assert letters == [FLAG_MARKS[text]] and [n.split(None, 1)[1].split(":")[0] for n, _ in notes] == [text]
            assert all(seen for _, seen in notes), key
            c = cell(key)
            flagged[(c["scenario"], c["phase"], c["impl"], c["mode"], c["device"])] = text
            assert bg not in plain_bg, f"{key}: a flagged row looks like any other"
            assert badges and all(
                visible and colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)") for colour, visible in badges
            ), key
    assert flagged == expected
    legend = browser.evaluate("document.getElementById('flags-legend').nextElementSibling.innerText")
    assert all(flag in legend for flag in ("contended", "noisy", "ceiling-low"))
    assert "0.25 cores" in legend and "> 20%" in legend


def _first_screen(browser, path):
    """Open a report as a 1366x768 screen shows it: (what is in view, the page's width)."""
    browser.viewport(*LAPTOP)
    try:
        browser.open(path)
        return browser.evaluate(f"""(() => {{
            const box = e => {{ const r = e.getBoundingClientRect();
                return {{top: r.top + scrollY, bottom: r.bottom + scrollY, right: r.right}}; }};
            const sections = Array.from(document.querySelectorAll('section.summary')).map(s => ({{
                grid: s.dataset.grid, box: box(s), table: box(s.querySelector('table')),
                cells: Array.from(s.querySelectorAll('td.r')).map(td => [td.dataset.cell || '', td.innerText,
                    getComputedStyle(td).backgroundColor, {LINKED_NOTES}(td)]),
                geomeans: s.querySelectorAll('tr.geomean').length,
                under: Array.from(s.querySelectorAll('ul.marks, ol.notes')).map(box)}}));
            const first = document.querySelector('body > :not(header)');
            return {{sections: sections, first: first.id, width: document.documentElement.scrollWidth,
                     screen: [innerWidth, innerHeight]}}; }})()""")
    finally:
        browser.viewport()


def small_suite(tmp_path):
    """The committed small suite: 9 cells x 9 implementations and modes, from a real run."""
    d = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "results", "cpu-vm-2core", "small")
    path = tmp_path / "small.html"
    assert dlbench(f"report {d} --html {path}") == 0
    return d, str(path)


def test_the_summary_is_the_first_screen(browser, tmp_path):
    """The small suite's report opens on its answer: every cell's speed relative to the
    fastest, the marks and each reason once, all on a 1366x768 screen, nothing to scroll."""
    d, path = small_suite(tmp_path)
    view = _first_screen(browser, path)
    assert browser.console_errors() == []
    width, height = view["screen"]
    assert view["first"] == "summary" and [s["grid"] for s in view["sections"]] == ["fastest"]
    summary = view["sections"][0]
    assert summary["box"]["top"] < 200 and summary["table"]["bottom"] <= height, summary
    assert all(box["bottom"] <= height for box in summary["under"]), "its marks and notes fit too"
    assert summary["table"]["right"] <= width and view["width"] <= width, "nothing to scroll sideways"
    records = read_results(d)
    expected = expected_keys(d)
    cells = {key: (text, bg, notes) for key, text, bg, notes in summary["cells"]}
    assert len(cells) == len(summary["cells"]) and set(cells) == set(expected)  # every cell of the run, once
    assert len(records) == 81
    from reports import load
    from reports.metrics import add_metrics

    m = add_metrics(load([d]))
    for r in m.to_dict("records"):
        text, bg, notes = cells[cell_key(r)]
        if r["status"] == "ok":  # its ratio, shaded: the fastest green
            number = float(re.match(r"[\d.]+", text).group())  # then its marks, if any
            assert number == pytest.approx(r["vs_fastest"], rel=0.05), cell_key(r)
            assert bg not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
            if r["vs_fastest"] == 1.0:
                red, green, blue = map(int, re.findall(r"\d+", bg)[:3])
                assert green > red and green > blue
        else:  # its status's mark, pointing at its reason under the table
            assert text.startswith("U") and any(words(r["reason"]) in words(n) and seen for n, seen in notes)
    reasons = [n for _, _, notes in cells.values() for n, _ in notes]
    assert len(set(reasons)) == len(set(m.loc[m["status"] != "ok", "reason"])) == 2
    assert len(reasons) > 2, "several cells share a reason, written once"


def test_a_merged_report_opens_with_the_machines_across(browser, report):
    view = _first_screen(browser, report)
    assert browser.console_errors() == []
    grids = {s["grid"]: s for s in view["sections"]}
    assert [s["grid"] for s in view["sections"]] == ["machines", "fastest"]
    across = grids["machines"]
    assert across["table"]["top"] < view["screen"][1] and across["geomeans"] == 3  # conv, qgemm, sigmoid
    ratios = [float(re.match(r"[\d.]+", t).group()) for _, t, _, _ in across["cells"] if re.match(r"\d", t)]
    # its 12 cells that ran, then the means: of each cpu row (6), of reference, torch and all per scenario (9)
    assert len(ratios) == 12 + 6 + 9
    assert all(r == pytest.approx(1 / SLOWER, rel=0.01) for r in ratios)  # every cell SLOWER times slower
    marks = {text: notes for _, text, _, notes in across["cells"] if not re.match(r"\d", text)}
    assert {text[0] for text in marks} == {"U", "T", "E", "I"}  # cuda cells; the failed ones, on the first only
    for text, notes in marks.items():  # each points at its reason, shown under the table
        assert len(notes) == 1 and notes[0][1] and ("cuda" in notes[0][0].lower() or NASTY in notes[0][0]), text


OVERFLOWING = """Array.from(document.querySelectorAll('svg')).flatMap((svg, i) => {
    const box = svg.getBoundingClientRect();
    return Array.from(svg.querySelectorAll('text')).map(t => {
        const r = t.getBoundingClientRect(), b = t.getBBox();
        const view = svg.viewBox.baseVal;
        const out = r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 ||
            r.bottom > box.bottom + 0.5 || (!t.transform.baseVal.numberOfItems && (b.x < -0.5 ||
            b.x + b.width > view.width + 0.5));
        return out ? [i, svg.dataset.chart, t.textContent.slice(0, 60), Math.round(r.left - box.left),
                      Math.round(r.right - box.right)] : null; }).filter(x => x); })"""


@pytest.mark.parametrize("which", ["merged", "flagged", "small"])
def test_no_chart_text_leaves_its_svg(browser, which, report, flagged_run, tmp_path):
    """Every label of every chart lies inside its SVG (bar values with their flags, reasons
    of cells that did not run, long names): nothing is clipped."""
    if which == "merged":
        path = report
    elif which == "flagged":
        path = str(tmp_path / "flags.html")
        assert dlbench(f"report {flagged_run[0]} --html {path}") == 0
    else:
        path = small_suite(tmp_path)[1]
    browser.open(path)
    assert browser.console_errors() == []
    assert browser.evaluate("document.querySelectorAll('svg text').length") > 100
    assert browser.evaluate(OVERFLOWING) == []


def test_overflow_check_catches_a_clipped_label(browser, report, tmp_path):
    """The check above is not vacuous: one label pushed past its chart's edge is found."""
    page = open(report).read()
    bad = tmp_path / "clipped.html"
    bad.write_text(page.replace("</svg>", '<text x="700" y="20" font-size="12">a label that runs out</text></svg>', 1))
    browser.open(str(bad))
    assert [hit[2] for hit in browser.evaluate(OVERFLOWING)] == ["a label that runs out"]
