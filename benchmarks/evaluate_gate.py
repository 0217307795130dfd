"""The CI gate as CI runs it: false alarms and detections of `dlbench compare --base-rev`.

Three measurements, each through two git revisions exactly as a CI job compares them:
- aa: `dlbench compare --interleave --base-rev HEAD` of the gate's suite, run from this
  checkout (the candidate is the checkout, the base its HEAD: identical code), --aa-runs
  times. Per cell and per suite: how often the gate says `slower` (exit 1).
- slow: a scripted clone of this repository whose commits carry a slowdown
  (tests/fake_impls/slowdown/fraction.txt: the reference's work plus that fraction more
  of the same work, not a sleep), compared with `--base-rev <no slowdown> --cur-rev
  <slowdown>`; --slow-trials per level, levels interleaved so drift hits each alike. Its
  table gives each level's real cost in time (the median estimated change) beside how
  often it was caught.
- five: one gate run of the small suite of every installed implementation, eager, A/A,
  with its wall time.

Measurements are kept under --out; a rerun with the same --out only judges them again
(`dlbench compare BASE CUR` on the saved sides), so other --threshold/--alpha settings can
be judged on the same data:

    .venv/bin/python benchmarks/evaluate_gate.py --out out/gate --parts aa,slow,five
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = "--size small --mode eager --threads 1 --samples 10 --min-time 0.02 --warmup 0.1".split()
GATE_SUITE = ["--impl", "reference,torch", *SETTINGS]
SLOW_CELLS = ["--impl", "slowdown", "--scenario", "sigmoid,conv", *SETTINGS]
FIVE_SUITE = SETTINGS  # every implementation, with the gate's settings
GIT = ["git", "-c", "user.name=dlbench-eval", "-c", "user.email=eval@dlbench", "-c", "advice.detachedHead=false"]


def dlbench(args, cwd=REPO, extra_env=None):
    env = dict(os.environ, PYTHONPATH=cwd, **(extra_env or {}))
    env.pop("DLBENCH_SLOWDOWN", None)  # the revisions carry the slowdown, never the environment
    started = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "cli", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode not in (0, 1):
        raise RuntimeError(f"dlbench {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()[-800:]}")
    return res, time.monotonic() - started


def judge(out, opts):
    """The verdicts of a measured comparison, recomputed from its saved sides."""
    res, _ = dlbench(
        [
            "compare",
            os.path.join(out, "base"),
            os.path.join(out, "cur"),
            "--threshold",
            str(opts.threshold),
            "--alpha",
            str(opts.alpha),
            "--format",
            "json",
        ]
    )
    doc = json.loads(res.stdout[res.stdout.index("{") :])
    doc["exit"] = res.returncode
    return doc


def measure(out, args, opts, cwd=REPO, extra_env=None):
    """One interleaved comparison into out (skipped when out holds one already)."""
    meta = os.path.join(out, "gate.json")
    if not os.path.exists(meta):
        res, seconds = dlbench(
            [
                "compare",
                "--interleave",
                *args,
                "--pairs",
                str(opts.pairs),
                "--threshold",
                str(opts.threshold),
                "--alpha",
                str(opts.alpha),
                "--format",
                "json",
                "--out",
                out,
            ],
            cwd,
            extra_env,
        )
        with open(meta, "w") as f:
            json.dump({"args": args, "exit": res.returncode, "wall_s": seconds, "stderr": res.stderr[-4000:]}, f)
    with open(meta) as f:
        info = json.load(f)
    doc = judge(out, opts)
    return doc, info


def cell_name(key):
    return f"{key['scenario']}/{key['phase']} {key['impl']}:{key['mode']}"


def log(msg, started):
    print(f"[{time.monotonic() - started:6.0f}s] {msg}", file=sys.stderr, flush=True)


def run_aa(opts, started):
    runs = []
    for i in range(opts.aa_runs):
        doc, info = measure(os.path.join(opts.out, "aa", f"run-{i}"), ["--base-rev", "HEAD", *GATE_SUITE], opts)
        slower = [cell_name(c["key"]) for c in doc["cells"] if c["verdict"] == "slower"]
        log(
            f"A/A run {i}: exit {doc['exit']}, {len(doc['cells'])} cells, slower: {slower or 'none'}, "
            f"{info['wall_s']:.0f} s",
            started,
        )
        runs.append((doc, info))
    return runs


def scripted_clone(opts):
    """A clone of this repository's HEAD with one commit per slowdown level; {level: commit}."""
    repo = os.path.join(opts.out, "slow", "repo")
    commits_file = os.path.join(opts.out, "slow", "commits.json")
    if os.path.exists(commits_file):
        with open(commits_file) as f:
            return repo, {float(k): v for k, v in json.load(f).items()}
    subprocess.run(["rm", "-rf", repo], check=True)
    subprocess.run(["git", "clone", "-q", REPO, repo], check=True)
    head = subprocess.run(
        ["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    commits = {0.0: head}
    for level in opts.levels:
        subprocess.run([*GIT, "-C", repo, "checkout", "-q", "--detach", head], check=True)
        with open(os.path.join(repo, "tests", "fake_impls", "slowdown", "fraction.txt"), "w") as f:
            f.write(f"{level:g}\n")
        subprocess.run([*GIT, "-C", repo, "commit", "-q", "-am", f"slowdown {level:.0%}"], check=True)
        commits[level] = subprocess.run(
            ["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    subprocess.run([*GIT, "-C", repo, "checkout", "-q", "--detach", head], check=True)
    with open(commits_file, "w") as f:
        json.dump({str(k): v for k, v in commits.items()}, f)
    return repo, commits


def run_slow(opts, started):
    repo, commits = scripted_clone(opts)
    extra = {"DLBENCH_EXTRA_IMPLS": os.path.join(repo, "tests", "fake_impls")}
    rows = []
    for t in range(opts.slow_trials):
        for level in opts.levels:  # round robin over levels: drift spreads over all of them
            out = os.path.join(opts.out, "slow", f"{level:g}-{t}")
            doc, info = measure(
                out,
                ["--base-rev", commits[0.0], "--cur-rev", commits[level], *SLOW_CELLS],
                opts,
                cwd=repo,
                extra_env=extra,
            )
            for c in doc["cells"]:
                rows.append((cell_name(c["key"]), level, c["verdict"], c.get("change")))
            log(
                f"slowdown {level:.0%} trial {t}: "
                + ", ".join(f"{cell_name(c['key'])} {c['verdict']} {(c.get('change') or 0):+.1%}" for c in doc["cells"])
                + f" ({info['wall_s']:.0f} s)",
                started,
            )
    return rows


def run_five(opts, started):
    doc, info = measure(os.path.join(opts.out, "five"), ["--base-rev", "HEAD", *FIVE_SUITE], opts)
    log(f"five implementations: exit {doc['exit']}, {len(doc['cells'])} cells, {info['wall_s']:.0f} s", started)
    return doc, info


def pair_spread(outs):
    """Per cell: the spread of per-pair log ratios around their comparison's median."""
    sys.path.insert(0, REPO)
    from harness.results import read_records
    from reports.compare import pair_log_ratios

    spread = defaultdict(list)
    for out in outs:
        base, cur = (
            {cell_name(r): r for r in read_records(os.path.join(out, s)) if r["status"] == "ok"}
            for s in ("base", "cur")
        )
        for cell in base.keys() & cur.keys():
            logs = sorted(pair_log_ratios(base[cell], cur[cell]))
            mid = logs[len(logs) // 2]
            spread[cell].extend(v - mid for v in logs)
    return spread


def suite_line(doc):
    s = doc.get("suite") or {}
    change, lo, hi = s.get("change"), s.get("ci_low"), s.get("ci_high")
    if change is None:
        return ""
    return f"{change:+.1%} [{lo:+.1%}, {hi:+.1%}]"


def report(opts, aa, slow, five):
    lines = [
        f"threshold {opts.threshold:.0%}, alpha {opts.alpha:g} (suite-wide, Holm), {opts.pairs} pairs in "
        f"lockstep, both sides git revisions (--base-rev)",
        "",
    ]
    if aa:
        per_cell = Counter()
        n_cells = 0
        lines += [
            "### A/A: the small reference+torch suite, `--base-rev HEAD` from the checkout",
            "",
            "| run | cells | slower | same | inconclusive | faster | not compared | suite change | exit | wall |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for i, (doc, info) in enumerate(aa):
            v = Counter(c["verdict"] for c in doc["cells"])
            n_cells += len(doc["cells"])
            for c in doc["cells"]:
                per_cell[cell_name(c["key"])] += c["verdict"] == "slower"
            lines.append(
                f"| {i} | {len(doc['cells'])} | {v['slower']} | {v['same']} | {v['inconclusive']} | "
                f"{v['faster']} | {v['not-compared']} | {suite_line(doc)} | {doc['exit']} | "
                f"{info['wall_s'] / 60:.1f} min |"
            )
        alarms = sum(doc["exit"] != 0 for doc, _ in aa)
        lines += [
            "",
            f"False alarms: {sum(per_cell.values())} of {n_cells} cell comparisons "
            f"({sum(per_cell.values()) / max(n_cells, 1):.1%} per cell); {alarms} of {len(aa)} suite runs "
            f"failed ({alarms / len(aa):.0%} per suite). Gate wall time: median "
            f"{sorted(i['wall_s'] for _, i in aa)[len(aa) // 2] / 60:.1f} min.",
            "",
        ]
        spread = pair_spread([os.path.join(opts.out, "aa", f"run-{i}") for i in range(len(aa))])
        lines += ["| cell | A/A pairs | per-pair spread (1.4826 MAD) | mean change over runs |", "|---|---|---|---|"]
        means = defaultdict(list)
        for doc, _ in aa:
            for c in doc["cells"]:
                if c.get("change") is not None:
                    means[cell_name(c["key"])].append(c["change"])
        for cell, dev in sorted(spread.items()):
            dev = sorted(abs(v) for v in dev)
            m = means.get(cell, [])
            lines.append(
                f"| {cell} | {len(dev)} | {1.4826 * dev[len(dev) // 2]:.2%} | "
                f"{(sum(m) / len(m)) if m else float('nan'):+.2%} |"
            )
        lines.append("")
    if slow:
        lines += [
            "### Injected slowdowns: `--base-rev <none> --cur-rev <slowdown>`",
            "",
            "| cell | injected work | real cost in time (median change) | trials | slower | same | "
            "inconclusive | caught |",
            "|---|---|---|---|---|---|---|---|",
        ]
        table, changes = defaultdict(Counter), defaultdict(list)
        for cell, level, verdict, change in slow:
            table[(cell, level)][verdict] += 1
            if change is not None:
                changes[(cell, level)].append(change)
        by_cost = defaultdict(lambda: [0, 0])
        for (cell, level), counts in sorted(table.items()):
            n = sum(counts.values())
            cost = sorted(changes[(cell, level)])
            median_cost = cost[len(cost) // 2] if cost else float("nan")
            lines.append(
                f"| {cell} | +{level:.0%} | {median_cost:+.1%} | {n} | {counts['slower']} | "
                f"{counts['same']} | {counts['inconclusive']} | {counts['slower']}/{n} |"
            )
            bucket = next((b for b in (0.10, 0.05, 0.03) if median_cost >= 0.9 * b), None)
            if bucket:
                by_cost[bucket][0] += counts["slower"]
                by_cost[bucket][1] += n
        lines += [
            "",
            "By real cost (a row counts at the level its median cost in time reaches, 90% of it): "
            + "; ".join(f"{b:.0%}: {c}/{n} caught ({c / n:.0%})" for b, (c, n) in sorted(by_cost.items())),
            "",
        ]
    if five:
        doc, info = five
        v = Counter(c["verdict"] for c in doc["cells"])
        lines += [
            "### Every implementation, small suite, one A/A gate run",
            "",
            f"{len(doc['cells'])} cells: "
            + ", ".join(f"{n} {k}" for k, n in sorted(v.items()))
            + f"; exit {doc['exit']}; suite change {suite_line(doc)}; wall time {info['wall_s'] / 60:.1f} min",
            "",
        ]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="measurements go (and are found again) here")
    p.add_argument("--parts", type=lambda s: s.split(","), default=["aa", "slow", "five"])
    p.add_argument("--aa-runs", type=int, default=10)
    p.add_argument("--slow-trials", type=int, default=6)
    p.add_argument("--levels", type=lambda s: [float(x) for x in s.split(",")], default=[0.03, 0.05, 0.10])
    p.add_argument("--pairs", type=int, default=10, help="the CI example's setting")
    p.add_argument("--threshold", type=float, default=0.03, help="the CI example's setting")
    p.add_argument("--alpha", type=float, default=0.05, help="suite-wide family-wise error rate")
    opts = p.parse_args(argv)
    opts.out = os.path.abspath(opts.out)
    os.makedirs(opts.out, exist_ok=True)
    started = time.monotonic()
    aa = run_aa(opts, started) if "aa" in opts.parts else []
    slow = run_slow(opts, started) if "slow" in opts.parts else []
    five = run_five(opts, started) if "five" in opts.parts else None
    text = report(opts, aa, slow, five)
    with open(os.path.join(opts.out, f"report-t{opts.threshold:g}-a{opts.alpha:g}.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"\n{(time.monotonic() - started) / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
