"""`dlbench bisect --good REV --bad REV`: the first commit that made cells slower (asv's `find`).

The commits are BAD's first-parent line back to GOOD. First the premise: BAD against
GOOD; only the cells that came out `slower` there count from then on (and only they are
run, which keeps the steps short). Then a binary search: each step is an interleaved
lockstep comparison of the midpoint commit against GOOD itself, the one revision known
good, not against the moving good end (whose "not slower" may be noise short of the
threshold, which would then compound). Every step makes fresh sides (harness.sides) and
processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import records
from cli.common import cells as selected_cells
from cli.common import default_out
from cli.common import options as run_options
from cli.options import add_selection, add_verdict_options, positive_int
from harness.environments import REPO_ROOT
from harness.errors import DlbenchError

NAME = "bisect"


class BisectError(DlbenchError, ValueError):
    """Bad revisions or a comparison that could not run: one line for the user."""


def add_parser(sub):
    b = sub.add_parser(
        NAME,
        help="find the first commit between --good and --bad that made cells slower "
        "(each step an interleaved comparison against --good); exit 1 if --bad "
        "is not slower",
    )
    b.add_argument("--good", required=True, metavar="REV", help="a revision whose speed is the reference")
    b.add_argument(
        "--bad", required=True, metavar="REV", help="a later revision, descending from --good, that is slower"
    )
    b.add_argument(
        "--out", default=None, help="where each step's results and bisect.json go (default out/bisect-TIMESTAMP)"
    )
    b.add_argument("--pairs", type=positive_int, default=8, help="A/B process pairs per cell and step")
    add_verdict_options(b)
    add_selection(b)
    return b


# --- git ---


def _git(*args):
    return subprocess.run(["git", "-C", REPO_ROOT, *args], capture_output=True, text=True)


def resolve(rev, option):
    """The full sha of a commit, or BisectError naming the option."""
    res = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if res.returncode != 0:
        raise BisectError(f"{option} {rev}: not a commit of {REPO_ROOT}")
    return res.stdout.strip()


def first_parent_line(good, bad):
    """The commits after GOOD up to BAD on BAD's first-parent line, oldest first (BAD last)."""
    if good == bad:
        raise BisectError("--good and --bad are the same commit: nothing to bisect")
    if _git("merge-base", "--is-ancestor", good, bad).returncode != 0:
        raise BisectError(f"--bad {bad[:7]} does not descend from --good {good[:7]}")
    shas = _git("rev-list", "--ancestry-path", "--first-parent", "--reverse", f"{good}..{bad}").stdout.split()
    # GOOD reached only through a merged side branch: the line would not start at GOOD
    if not shas or _git("rev-parse", f"{shas[0]}^").stdout.strip() != good:
        raise BisectError(
            f"--good {good[:7]} is not on the first-parent line of --bad {bad[:7]} "
            "(it came in through a merge); choose a commit on that line"
        )
    return shas


def subject(sha):
    return _git("log", "-1", "--format=%s", sha).stdout.strip()


# --- one comparison ---


class Search:
    """What every comparison of the search shares: GOOD, the selection's options (options(pairs)
    -> harness.runner.Options), the verdict's settings."""

    def __init__(self, good, options, threshold, alpha, progress=None):
        self.good, self.options = good, options
        self.threshold, self.alpha, self.progress = threshold, alpha, progress

    def compare(self, rev, cells, out, pairs):
        """REV (candidate) against GOOD (baseline), fresh sides, lockstep: {cell id: CellComparison}.
        A side that cannot be made or run raises its own error (harness.errors)."""
        from harness.interleave import compare_sides
        from reports.compare import compare_records

        # as compare --interleave: both sides fresh, at paths of equal length, with their own builds
        base, cur = compare_sides(
            cells,
            out,
            self.options(pairs),
            pairs,
            "bisect",
            self.progress,
            lockstep=True,
            base_rev=self.good,
            cur_rev=rev,
        )
        comparison = compare_records(base, cur, self.threshold, self.alpha, paired=True)
        return {cell_id(c.key): c for c in comparison.cells}


def cell_id(cell):
    """A Cell or a comparison's key dict -> the tuple both share (records.key, as compare matches)."""
    return records.key(cell)


# --- what a step says ---


def labels(cells):
    """Short names: scenario/phase/size impl, plus mode, device, threads where the cells differ in them."""
    extra = [
        (k, fmt)
        for k, fmt in (("mode", ":{}"), ("device", "@{}"), ("threads", " x{}"))
        if len({getattr(c, k) for c in cells}) > 1
    ]
    return {
        cell_id(c): f"{c.scenario}/{c.phase}/{c.size} {c.impl}" + "".join(fmt.format(getattr(c, k)) for k, fmt in extra)
        for c in cells
    }


def step_entry(step, sha, cells, names, verdicts, seconds, out, retried):
    """One step (the premise is step 0) as bisect.json keeps it."""
    found = [verdicts.get(cell_id(c)) for c in cells]
    return {
        "step": step,
        "commit": sha,
        "subject": subject(sha),
        "out": out,
        "seconds": round(seconds, 3),
        "slower": any(v is not None and v.verdict == "slower" for v in found),
        "retried": retried,
        "cells": [
            {
                "cell": names[cell_id(c)],
                "verdict": v.verdict if v else "missing",
                "change": v.change if v else None,
                "ci_low": v.ci_low if v else None,
                "ci_high": v.ci_high if v else None,
                "p_value": v.p_value if v else None,
                "note": v.note if v else "not compared",
            }
            for c, v in zip(cells, found)
        ],
    }


def step_line(entry, prefix, retry_pairs=None):
    """`step 2/4  abc1234 (subject)  slower: cell +48% [+40%, +55%]  (12.3 s)`."""
    groups = {}
    for c in entry["cells"]:
        v = c["verdict"]
        figure = f"{c['change']:+.0%}" if c["change"] is not None else c["note"] or v
        if c["change"] is not None and c["ci_low"] is not None:
            figure += f" [{c['ci_low']:+.0%}, {c['ci_high']:+.0%}]"
        groups.setdefault(v, []).append(f"{c['cell']} {figure}")
    parts = [f"{v}: {', '.join(items)}" for v, items in sorted(groups.items(), key=lambda kv: kv[0] != "slower")]
    if entry["slower"]:
        what = "; ".join(parts)
    else:
        unsure = (
            "inconclusive after a retry with %d pairs, taken as not slower; " % retry_pairs
            if entry["retried"] and "inconclusive" in groups
            else ""
        )
        what = f"not slower ({unsure}{'; '.join(parts)})"
    return f"{prefix}  {entry['commit'][:7]} ({entry['subject'][:40]})  {what}  ({entry['seconds']:.1f} s)"


# --- the search ---


def _steps_left(lo, hi):
    """Comparisons a binary search over positions lo+1..hi still needs, at most."""
    return (hi - lo - 1).bit_length()


def run(args):
    """The whole bisect: 0 with the first slower commit, 1 when BAD is not slower, 130 interrupted."""
    from harness.progress import ProgressDisplay

    cells = selected_cells(args)
    out = args.out or default_out("bisect")
    t0 = time.perf_counter()
    good, bad = resolve(args.good, "--good"), resolve(args.bad, "--bad")
    commits = first_parent_line(good, bad)
    search = Search(good, lambda pairs: run_options(args, pairs), args.threshold, args.alpha, ProgressDisplay())
    os.makedirs(out, exist_ok=True)
    report = {
        "good": good,
        "bad": bad,
        "commits": commits,
        "pairs": args.pairs,
        "threshold": args.threshold,
        "alpha": args.alpha,
        "cells": [],
        "premise": None,
        "steps": [],
        "first_slower": None,
        "seconds": None,
    }
    try:
        return _search(args, cells, search, out, commits, report, t0)
    except KeyboardInterrupt:
        print(f"\ninterrupted: the steps so far are in {os.path.join(out, 'bisect.json')}", file=sys.stderr)
        return 130
    finally:
        report["seconds"] = round(time.perf_counter() - t0, 3)
        _write(out, report)


def _search(args, cells, search, out, commits, report, t0):
    bad = commits[-1]
    names = labels(cells)
    print(
        f"bisect: {len(commits)} commits after {report['good'][:7]} up to {bad[:7]}, {len(cells)} cells; "
        f"premise: {bad[:7]} against {report['good'][:7]}",
        flush=True,
    )
    premise = _step(0, bad, cells, names, search, out, args.pairs)
    report["premise"] = premise
    print(step_line(premise, "premise"), flush=True)
    slower = {c["cell"] for c in premise["cells"] if c["verdict"] == "slower"}
    counted = [c for c in cells if names[cell_id(c)] in slower]
    if not counted:
        print("BAD is not slower than GOOD on these cells: nothing to bisect")
        return 1
    report["cells"] = [names[cell_id(c)] for c in counted]
    names = labels(counted)
    lo, hi = -1, len(commits) - 1  # commits[lo] is not slower (-1: GOOD itself), commits[hi] is
    step = 0
    while hi - lo > 1:
        step += 1
        mid = (lo + hi) // 2
        total = step - 1 + _steps_left(lo, hi)
        entry = _step(step, commits[mid], counted, names, search, out, args.pairs)
        report["steps"].append(entry)
        _write(out, report)
        print(step_line(entry, f"step {step}/{total}", retry_pairs=2 * args.pairs), flush=True)
        if entry["slower"]:
            hi = mid
        else:
            lo = mid
    answer = commits[hi]
    report["first_slower"] = {"commit": answer, "subject": subject(answer)}
    print(f"first slower commit: {answer} {subject(answer)}")
    print(
        f"bisect: the premise and {step} steps in {time.perf_counter() - t0:.1f} s; "
        f"details in {os.path.join(out, 'bisect.json')}"
    )
    return 0


def _step(step, sha, cells, names, search, out, pairs):
    """Compare SHA against GOOD on CELLS; inconclusive where it counts -> one retry with twice the pairs."""
    t0 = time.perf_counter()
    where = os.path.join(out, f"step-{step}-{sha[:7]}")
    verdicts = search.compare(sha, cells, where, pairs)
    retried = False
    if step and not any(v.verdict == "slower" for v in verdicts.values()):
        unsure = [c for c in cells if getattr(verdicts.get(cell_id(c)), "verdict", None) == "inconclusive"]
        if unsure:
            verdicts.update(search.compare(sha, unsure, where + "-retry", 2 * pairs))
            retried = True
    return step_entry(step, sha, cells, names, verdicts, time.perf_counter() - t0, where, retried)


def _write(out, report):
    path = os.path.join(out, "bisect.json")
    with open(path + ".tmp", "w") as f:
        json.dump(report, f, indent=1)
    os.replace(path + ".tmp", path)
