"""Screenshots of the HTML report as a reader's screen shows it, from committed real results.

    .venv/bin/python benchmarks/report_screenshots.py [--out results/cpu-vm-2core/report-screens]

Headless Chromium (Debian's, `make browser`) over the DevTools protocol, as
tests/test_report_browser.py drives it (tests/browser.py), at 1366x768 CSS pixels:

- first-screen.png: `dlbench report results/cpu-vm-2core/small`, the first screen (the
  summary: 9 cells x 9 implementations and modes);
- scenario-section.png: the same report's conv section, whole (its table, two rows marked
  ceiling-low with their one reason under it, the throughput bars and every sample);
- merged-first-screen.png: `dlbench report` over two machines, the first screen (each cell's
  speed relative to the first machine, geometric means per scenario).

The two machines are results/cpu-vm-2core/small (an Intel Xeon VM, machine id 3d73e8...)
and results/cpu-vm-2core/reproducibility/run-0 (an AMD EPYC VM, machine id 79ede4...): the
same small suite, though not every implementation in both. Both hosts are named "vm", so
the script copies the two directories to a temporary folder and gives each a machine name
in its machine.json (`machine_name`, what `dlbench run --machine` sets): "xeon-vm" and
"epyc-vm". The committed results are not touched. Prints what it wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cli import main as cli  # noqa: E402
from tests.browser import Browser  # noqa: E402

RESULTS = os.path.join("results", "cpu-vm-2core")  # from ROOT, as the report shows it
SMALL = os.path.join(RESULTS, "small")
MACHINES = [(SMALL, "xeon-vm"), (os.path.join(RESULTS, "reproducibility", "run-0"), "epyc-vm")]
SCREEN = (1366, 768)
SECTION = "scenario-conv"


def named_copy(src, dest, name):
    """A copy of a results directory whose machine.json carries `name` as its machine_name."""
    os.makedirs(dest)
    shutil.copy(os.path.join(src, "results.jsonl"), dest)
    with open(os.path.join(src, "machine.json")) as f:
        machine = json.load(f)
    with open(os.path.join(dest, "machine.json"), "w") as f:
        json.dump(dict(machine, machine_name=name), f)
    return dest


def report(dirs, path):
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            code = cli.main(["report", *dirs, "--html", path])
        finally:
            sys.stdout = stdout
    if code != 0:
        raise SystemExit(f"dlbench report {' '.join(dirs)} failed ({code})")
    return path


def first_screen(browser, page, png):
    browser.open(page)
    errors = browser.console_errors()
    if errors:
        raise SystemExit(f"{page}: console errors: {errors}")
    with open(png, "wb") as f:
        f.write(browser.screenshot(0, 0, *SCREEN))


def element(browser, page, element_id, png):
    browser.open(page)
    x, y, w, h = browser.evaluate(
        f"(() => {{ const r = document.getElementById('{element_id}').getBoundingClientRect();"
        f" return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }})()"
    )
    margin = 12
    with open(png, "wb") as f:
        f.write(browser.screenshot(max(x - margin, 0), max(y - margin, 0), w + 2 * margin, h + 2 * margin))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, RESULTS, "report-screens"))
    args = parser.parse_args(argv)
    args.out = os.path.abspath(args.out)
    os.chdir(ROOT)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dlbench-screens-") as tmp:
        small = report([SMALL], os.path.join(tmp, "small.html"))
        dirs = [named_copy(src, os.path.join(tmp, name), name) for src, name in MACHINES]
        merged = report(dirs, os.path.join(tmp, "merged.html"))
        browser = Browser(*SCREEN)
        try:
            browser.viewport(*SCREEN)
            shots = [
                ("first-screen.png", lambda png: first_screen(browser, small, png)),
                ("scenario-section.png", lambda png: element(browser, small, SECTION, png)),
                ("merged-first-screen.png", lambda png: first_screen(browser, merged, png)),
            ]
            for name, take in shots:
                png = os.path.join(args.out, name)
                take(png)
                print(f"{os.path.relpath(png, ROOT)}: {os.path.getsize(png) / 1024:.0f} KiB")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
