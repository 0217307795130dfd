"""dlbench bisect on a scripted repository: this checkout's files committed as a short history
in which one known commit makes the `slowdown` implementation do twice the work."""

import json
import os
import shutil
import subprocess
import sys
from argparse import Namespace

import pytest

from harness.environments import REPO_ROOT
from tests.conftest import FAST

pytestmark = pytest.mark.slow  # builds commits and runs both sides of each

SLOW_AT = 3  # commits[3] (the fourth) writes SLOWDOWN into the slowdown's fraction.txt
# Five times the elements. A tiny sigmoid call is mostly per-call overhead: twice the
# elements showed as only +20% here, with the backward cell inconclusive at 8 pairs.
SLOWDOWN = "4.0"
N_COMMITS = 6
FRACTION = os.path.join("tests", "fake_impls", "slowdown", "fraction.txt")
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
SELECTION = ["--impl", "slowdown", "--scenario", "sigmoid/forward", "--size", "tiny", "--threads", "1", *FAST]


def _git(repo, *args):
    return subprocess.run([*GIT, "-C", repo, *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """(repository, its commits oldest first): commit SLOW_AT carries the slowdown, the others touch notes.txt."""
    repo = str(tmp_path_factory.mktemp("bisect") / "repo")
    files = subprocess.run(
        ["git", "-C", REPO_ROOT, "ls-files", "-co", "--exclude-standard"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in files:
        src = os.path.join(REPO_ROOT, name)
        if os.path.isfile(src):  # a file deleted but not yet committed is still listed
            os.makedirs(os.path.dirname(os.path.join(repo, name)) or repo, exist_ok=True)
            shutil.copy2(src, os.path.join(repo, name))
    _git(repo, "init", "-q", "-b", "main")
    commits = []
    for k in range(N_COMMITS):
        path, text = (FRACTION, SLOWDOWN + "\n") if k == SLOW_AT else ("notes.txt", f"note {k}\n")
        if k == 0:
            path, text = FRACTION, "0\n"
        with open(os.path.join(repo, path), "w") as f:
            f.write(text)
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "slowdown: five times the work" if k == SLOW_AT else f"commit {k}")
        commits.append(_git(repo, "rev-parse", "HEAD"))
    return repo, commits


def bisect(repo, *args):
    env = dict(os.environ, PYTHONPATH=repo, DLBENCH_EXTRA_IMPLS=os.path.join(repo, "tests", "fake_impls"))
    env.pop("DLBENCH_SLOWDOWN", None)  # the committed fraction.txt decides
    return subprocess.run(
        [sys.executable, "-m", "cli", "bisect", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_bisect_names_the_commit_that_made_it_slower(scripted, tmp_path):
    repo, commits = scripted
    out = str(tmp_path / "bis")
    res = bisect(repo, "--good", commits[0], "--bad", commits[-1], "--pairs", "8", "--out", out, *SELECTION)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert f"first slower commit: {commits[SLOW_AT]} slowdown: five times the work" in lines
    premise = next(line for line in lines if line.startswith("premise "))
    # at least one phase is slower (a noisy pair can leave the other inconclusive)
    assert premise.startswith(f"premise  {commits[-1][:7]} (commit 5)  slower: sigmoid/")
    assert "/tiny slowdown +" in premise
    steps = [line for line in lines if line.startswith("step ")]
    # 5 commits after GOOD: commits[2] is not slower, commits[3] is, and that settles it
    assert len(steps) == 2
    assert steps[0].startswith("step 1/3  " + commits[2][:7]) and "not slower (" in steps[0]
    assert steps[1].startswith("step 2/") and commits[3][:7] in steps[1] and "  slower: sigmoid/" in steps[1]
    with open(os.path.join(out, "bisect.json")) as f:
        report = json.load(f)
    assert report["good"] == commits[0] and report["bad"] == commits[-1] and report["commits"] == commits[1:]
    assert report["first_slower"]["commit"] == commits[SLOW_AT]
    assert [s["commit"] for s in report["steps"]] == [commits[2], commits[3]]
    assert [s["slower"] for s in report["steps"]] == [False, True]
    for step in report["steps"]:
        assert {c["cell"] for c in step["cells"]} == set(report["cells"]) and step["seconds"] > 0
        cell = step["cells"][0]
        assert cell["verdict"] in ("slower", "same", "faster", "inconclusive") and cell["change"] is not None
        assert os.path.isdir(os.path.join(step["out"], "base")) and os.path.isdir(os.path.join(step["out"], "cur"))
        base = [json.loads(x) for x in open(os.path.join(step["out"], "base", "results.jsonl"))]
        assert {r["side"] for r in base} == {"base"} and all(r["interleaved"] and r["lockstep"] for r in base)
    slower_step = report["steps"][1]["cells"]
    # the step is slower through a cell that is clearly so (sigmoid backward at tiny size can stay inconclusive)
    assert any(c["verdict"] == "slower" and c["change"] > 0.2 for c in slower_step)
    # the sides' worktrees are gone
    assert _git(repo, "worktree", "list").count("\n") == 0


def test_bad_not_descending_from_good_is_a_usage_error(scripted):
    repo, commits = scripted
    res = bisect(repo, "--good", commits[-1], "--bad", commits[0], *SELECTION)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "does not descend from --good" in res.stderr
    res = bisect(repo, "--good", "no-such-rev", "--bad", commits[0], *SELECTION)
    assert res.returncode == 2 and res.stderr.strip() == f"dlbench bisect: --good no-such-rev: not a commit of {repo}"


def test_nothing_slower_exits_1(scripted, tmp_path):
    repo, commits = scripted
    out = str(tmp_path / "same")
    res = bisect(repo, "--good", commits[0], "--bad", commits[SLOW_AT - 1], "--pairs", "8", "--out", out, *SELECTION)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "BAD is not slower than GOOD on these cells: nothing to bisect" in res.stdout
    with open(os.path.join(out, "bisect.json")) as f:
        report = json.load(f)
    assert report["first_slower"] is None and report["steps"] == [] and not report["premise"]["slower"]


def test_missing_revision_option_is_one_line(capsys):
    from cli.main import main

    assert main(["bisect", "--bad", "HEAD"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--good" in err


# --- the search itself, with comparisons scripted (no processes) ---


class FakeVerdict:
    def __init__(self, verdict, change):
        self.verdict, self.change, self.note = verdict, change, ""
        self.ci_low, self.ci_high, self.p_value = change - 0.02, change + 0.02, 0.001


def test_each_step_compares_against_good_and_retries_inconclusive_once(scripted, tmp_path, monkeypatch, capsys):
    """commits[1] inconclusive twice (taken as not slower), commits[2] inconclusive then slower."""
    from cli.commands import bisect as bis
    from harness.plan import Cell

    repo, commits = scripted
    monkeypatch.setattr(bis, "REPO_ROOT", repo)
    cell = Cell("sigmoid", "forward", "tiny", "slowdown", "cpu", "eager", 1)
    calls = []

    def compare(self, rev, cells, out, pairs):
        calls.append((self.good, rev, pairs, out))
        retry = out.endswith("-retry")
        if rev == commits[-1] or rev in commits[3:] or (rev == commits[2] and retry):
            v = FakeVerdict("slower", 0.5)
        elif rev in commits[1:3]:
            v = FakeVerdict("inconclusive", 0.04)
        else:
            v = FakeVerdict("same", 0.0)
        return {bis.cell_id(c): v for c in cells}

    monkeypatch.setattr(bis.Search, "compare", compare)
    monkeypatch.setattr(bis, "selected_cells", lambda args: [cell])
    out = str(tmp_path / "out")
    args = Namespace(good=commits[0], bad=commits[-1], pairs=8, threshold=0.05, alpha=0.01, out=out)
    assert bis.run(args) == 0
    text = capsys.readouterr().out
    assert f"first slower commit: {commits[2]} commit 2" in text
    assert all(good == commits[0] for good, *_ in calls)  # never the moving good end
    # premise (bad), step 1 commits[2] + retry (slower), step 2 commits[1] + retry (still inconclusive)
    assert [(rev, pairs) for _, rev, pairs, _ in calls] == [
        (commits[-1], 8),
        (commits[2], 8),
        (commits[2], 16),
        (commits[1], 8),
        (commits[1], 16),
    ]
    assert calls[1][3] == os.path.join(out, f"step-1-{commits[2][:7]}")
    step2 = next(line for line in text.splitlines() if line.startswith("step 2/"))
    assert "not slower (inconclusive after a retry with 16 pairs, taken as not slower;" in step2
    with open(os.path.join(out, "bisect.json")) as f:
        report = json.load(f)
    assert [s["retried"] for s in report["steps"]] == [True, True]
    assert [s["slower"] for s in report["steps"]] == [True, False]
