"""Proof that examples/ci-compare.yml keeps its stored baselines from job to job.

    .venv/bin/python benchmarks/simulate_ci.py [--dir DIR] [--workflow FILE]
    DLBENCH_SIM_SUITE=real .venv/bin/python benchmarks/simulate_ci.py   # the workflow's own suite

Three jobs on one simulated self-hosted runner, each in a fresh clone of a scripted
"origin" (this checkout's files, tracked and untracked-not-ignored, committed into a temp
git repository): job 1 a push to main, job 2 another push to main (a new commit), job 3 a
pull request (a branch off main with one commit). Each job runs the workflow's steps as
Actions would (bash -eo pipefail, its env, GITHUB_ENV, if:, continue-on-error), starting
with the checkout: clone, then `git clean -ffdx` as actions/checkout does, then the commit.
The steps come from the workflow file itself, so the simulation changes with it.

What differs from a real runner, on purpose:
- `make venv` becomes a symlink to this checkout's .venv (a self-hosted runner keeps its
  venv; here the clones share this one) and PYTHONPATH is the clone, so its own code runs;
- by default (DLBENCH_SIM_SUITE unset or `tiny`) the suite is tiny: SUITE is replaced, one
  process per run and 2 pairs in the gate, no machine probes; `real` keeps the workflow's;
- `uses:` steps other than the checkout (the artifact upload) are skipped.

Checks: the results database is outside every clone and its baseline main holds main's
two runs, with the commits of jobs 1 and 2; job 3's stored comparison used those 2 runs;
without DLBENCH_DB job 3 would have found no baseline (the runner's home, where the
default database would be, has none). Prints the transcript; exit 0 when every check holds,
1 when one fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)  # harness, to read the database the jobs wrote
import workflow_steps  # noqa: E402

TINY_SUITE = "--size tiny --impl reference --scenario sigmoid --threads 1 --samples 3 --min-time 0.001 --warmup 0.001"
TINY_COUNTS = ((r"--processes \d+", "--processes 1"), (r"--pairs \d+", "--pairs 2"))
GIT_ID = {
    "GIT_AUTHOR_NAME": "sim",
    "GIT_AUTHOR_EMAIL": "sim@example.invalid",
    "GIT_COMMITTER_NAME": "sim",
    "GIT_COMMITTER_EMAIL": "sim@example.invalid",
}


class CheckFailed(Exception):
    pass


def say(text=""):
    print(text, flush=True)


def git(cwd, *args, quiet=False):
    res = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True, env={**os.environ, **GIT_ID})
    if res.returncode != 0:
        raise CheckFailed(f"git {' '.join(args)} in {cwd}: {res.stderr.strip()}")
    if not quiet:
        say(f"$ git {' '.join(args)}")
    return res.stdout.strip()


def make_origin(path):
    """This checkout's files committed on main of a new repository."""
    files = subprocess.run(
        ["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for f in filter(None, files):
        src = os.path.join(ROOT, f)
        if os.path.isfile(src):  # a deleted tracked file is listed too
            os.makedirs(os.path.dirname(os.path.join(path, f)), exist_ok=True)
            shutil.copy2(src, os.path.join(path, f))
    git(path, "init", "-q", "-b", "main", quiet=True)
    git(path, "add", "-A", quiet=True)
    git(path, "commit", "-q", "-m", "the project", quiet=True)
    return git(path, "rev-parse", "HEAD", quiet=True)


def commit_file(origin, name, text, message):
    with open(os.path.join(origin, name), "w") as f:
        f.write(text)
    git(origin, "add", name, quiet=True)
    git(origin, "commit", "-q", "-m", message, quiet=True)
    return git(origin, "rev-parse", "HEAD", quiet=True)


class Runner:
    """One self-hosted runner: its tool cache and temp survive between jobs."""

    def __init__(self, sim, origin, workflow_env, steps, tiny):
        self.sim, self.origin, self.steps, self.tiny = sim, origin, steps, tiny
        self.tool_cache = os.path.join(sim, "runner", "tool-cache")
        self.temp = os.path.join(sim, "runner", "temp")
        self.home = os.path.join(sim, "runner", "home")
        for folder in (self.tool_cache, self.temp, self.home):
            os.makedirs(folder)
        self.workflow_env = dict(workflow_env)
        if tiny:
            self.workflow_env["SUITE"] = TINY_SUITE
        self.venv = venv()

    def base_env(self, ws, github, env_file):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DLBENCH_")}
        env.update(self.workflow_env)
        env.update(
            GITHUB_ENV=env_file,
            GITHUB_WORKSPACE=ws,
            GITHUB_EVENT_NAME=github["github.event_name"],
            GITHUB_REF=github["github.ref"],
            GITHUB_BASE_REF=github["github.base_ref"],
            RUNNER_TOOL_CACHE=self.tool_cache,
            RUNNER_TEMP=self.temp,
            PYTHONPATH=ws,
            HOME=self.home,  # the runner's own: never the default database of whoever runs this
        )
        env.pop("XDG_DATA_HOME", None)
        if self.tiny:
            env["DLBENCH_MACHINE_PROBE"] = "0"
        return env

    def job(self, number, title, sha, github):
        """Runs the workflow's steps; returns {step name: (exit status, output)} and the workspace."""
        ws = os.path.join(self.sim, "work", f"job{number}")
        os.makedirs(ws)
        env_file = os.path.join(self.temp, f"job{number}.env")
        open(env_file, "w").close()
        context = {**github, "runner.tool_cache": self.tool_cache, "runner.temp": self.temp}
        say(f"\n===== job {number}: {title} (commit {sha[:10]}, workspace {ws}) =====")
        job_ok, ran = True, {}
        for step in self.steps:
            name = step.get("name") or step.get("uses")
            if not workflow_steps.condition(step.get("if"), context, job_ok):
                say(f"--- {name}: skipped (if: {step.get('if')})")
                continue
            say(f"--- {name}")
            if step.get("uses", "").startswith("actions/checkout@"):
                self.checkout(ws, sha)
                continue
            if "uses" in step:
                say(f"(not simulated: {step['uses']})")
                continue
            rc, out = self.run_step(step["run"], ws, context, env_file)
            ran[name] = (rc, out)
            if rc != 0:
                tolerated = step.get("continue-on-error") == "true"
                say(f"(exit {rc}{'; continue-on-error' if tolerated else '; the job fails'})")
                job_ok = job_ok and tolerated
        say(f"===== job {number}: {'succeeded' if job_ok else 'FAILED'} =====")
        return job_ok, ran, ws

    def checkout(self, ws, sha):
        """actions/checkout with fetch-depth 0: the whole history, the clean, the commit."""
        git(ws, "clone", "-q", self.origin, ".")
        git(ws, "clean", "-ffdx")
        git(ws, "checkout", "-q", "--detach", sha)

    def run_step(self, script, ws, context, env_file):
        script = workflow_steps.substitute(script, context)
        if script.strip() == "make venv":
            script = f"ln -s {self.venv} .venv"
            say("(make venv: the runner keeps its venv; here the clone links this checkout's)")
        if self.tiny:
            for pattern, tiny in TINY_COUNTS:
                script = re.sub(pattern, tiny, script)
        script = self.without_missing_options(script, ws, context, env_file)
        env = self.base_env(ws, context, env_file)
        env.update(read_env_file(env_file))
        say("$ " + script.rstrip().replace("\n", "\n  "))
        res = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=ws,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if res.stdout.strip():
            say(res.stdout.rstrip())
        return res.returncode, res.stdout

    def without_missing_options(self, script, ws, context, env_file):
        """--strict is added to dlbench compare on another branch: until this checkout's
        dlbench has it, the gate runs without it, and says so."""
        if "--strict" not in script or not os.path.exists(os.path.join(ws, ".venv")):
            return script
        env = {**self.base_env(ws, context, env_file), **read_env_file(env_file)}
        helptext = subprocess.run(
            [".venv/bin/dlbench", "compare", "--help"], cwd=ws, env=env, capture_output=True, text=True
        ).stdout
        if "--strict" in helptext:
            return script
        say("(this checkout's dlbench compare has no --strict yet: the gate runs without it)")
        return script.replace(" --strict", "")


def venv():
    """This checkout's .venv, else the one running this script: what the clones link."""
    for path in (os.path.join(ROOT, ".venv"), sys.prefix):
        if os.path.isfile(os.path.join(path, "bin", "dlbench")):
            return os.path.realpath(path)
    return None


def read_env_file(path):
    """GITHUB_ENV: NAME=value lines a step appended, seen by every later step."""
    with open(path) as f:
        return dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)


def saved_runs(db):
    """[(machine, git commit)] of every run of baseline main in the database, oldest first."""
    import sqlalchemy as sa

    from harness.db import engine, schema

    database = engine.open_db(db, create=False)
    try:
        with database.read() as conn:
            rows = conn.execute(
                sa.select(schema.baselines.c.machine, schema.runs.c.git_commit)
                .join(schema.runs, schema.runs.c.run_id == schema.baselines.c.run_id)
                .where(schema.baselines.c.name == "main")
                .order_by(schema.runs.c.started, schema.runs.c.run_id)
            ).all()
    finally:
        database.close()
    return [(r.machine, r.git_commit) for r in rows]


def check(ok, what):
    say(f"check: {what}: {'ok' if ok else 'FAILED'}")
    if not ok:
        raise CheckFailed(what)


def simulate(sim, workflow, tiny):
    with open(workflow) as f:
        workflow_env, steps = workflow_steps.parse(f.read())
    origin = os.path.join(sim, "origin")
    os.makedirs(origin)
    commit1 = make_origin(origin)
    runner = Runner(sim, origin, workflow_env, steps, tiny)
    say(f"origin: {origin} (this checkout's files, committed); runner tool cache: {runner.tool_cache}")
    say(
        f"suite: {runner.workflow_env['SUITE']}"
        + (" (tiny; DLBENCH_SIM_SUITE=real for the workflow's)" if tiny else " (the workflow's)")
    )
    push = {"github.event_name": "push", "github.ref": "refs/heads/main", "github.base_ref": ""}

    ok1, ran1, ws1 = runner.job(1, "push to main", commit1, push)
    commit2 = commit_file(origin, "ci-sim.txt", "the second push\n", "a second push to main")
    ok2, ran2, ws2 = runner.job(2, "another push to main", commit2, push)
    git(origin, "checkout", "-q", "-b", "change", quiet=True)
    commit3 = commit_file(origin, "ci-sim-pr.txt", "the pull request's change\n", "the pull request's one commit")
    git(origin, "checkout", "-q", "main", quiet=True)
    pr = {"github.event_name": "pull_request", "github.ref": "refs/pull/1/merge", "github.base_ref": "main"}
    ok3, ran3, ws3 = runner.job(3, "pull request change -> main", commit3, pr)

    say("\n===== checks =====")
    db = read_env_file(os.path.join(runner.temp, "job3.env")).get("DLBENCH_DB", "")
    say(f"DLBENCH_DB: {db}")
    check(ok1 and ok2, "jobs 1 and 2 (the pushes to main) succeeded")
    check(
        bool(db) and not os.path.realpath(db).startswith(os.path.join(sim, "work") + os.sep),
        "the results database is outside every job's work tree",
    )
    check(
        not any(os.path.exists(os.path.join(ws, ".dlbench")) for ws in (ws1, ws2, ws3)),
        "nothing went to a folder inside a work tree",
    )
    runs = saved_runs(db)
    for machine, commit in runs:
        say(f"saved run of main: machine {machine}, commit {commit}")
    check([c for _, c in runs] == [commit1, commit2], "baseline main holds 2 runs of main: jobs 1 and 2, by commit")
    gate = next((v for k, v in ran3.items() if k.startswith("gate")), None)
    check(gate is not None and gate[0] in (0, 1), "job 3's gate ran to a verdict (exit 0 or 1)")
    stored = next((v for k, v in ran3.items() if k.startswith("stored comparison")), None)
    check(stored is not None and stored[0] in (0, 1), "job 3's stored comparison ran (exit 0 or 1)")
    env = {**runner.base_env(ws3, pr, os.devnull), "DLBENCH_DB": db}
    res = subprocess.run(
        [".venv/bin/dlbench", "compare", "main", "out/pr/cur", "--format", "json"],
        cwd=ws3,
        env=env,
        capture_output=True,
        text=True,
    )
    cells = json.loads(res.stdout)["cells"] if res.returncode in (0, 1) else []
    counts = sorted({c.get("n_base") for c in cells if c.get("method") == "stored"})
    say(f"stored comparison (json): {len(cells)} cells, baseline runs per cell: {counts}")
    check(bool(cells) and counts == [2], "the stored comparison compared against the 2 saved runs")
    env.pop("DLBENCH_DB")
    res = subprocess.run(
        [".venv/bin/dlbench", "compare", "main", "out/pr/cur"], cwd=ws3, env=env, capture_output=True, text=True
    )
    say(f"without DLBENCH_DB: exit {res.returncode}: {res.stderr.strip()}")
    check(
        res.returncode == 2 and "no saved baseline" in res.stderr,
        "without DLBENCH_DB job 3 finds no baseline (the default database, in the runner's home, has none)",
    )
    say(f"\nsimulation: OK (gate exit {gate[0]}, stored comparison exit {stored[0]})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dir", help="work here (must not exist; kept afterwards); default a temp dir, removed")
    p.add_argument("--workflow", default=os.path.join(ROOT, "examples", "ci-compare.yml"))
    args = p.parse_args(argv)
    suite = os.environ.get("DLBENCH_SIM_SUITE", "tiny")
    if suite not in ("tiny", "real"):
        print(f"simulate_ci: DLBENCH_SIM_SUITE={suite}: use tiny or real", file=sys.stderr)
        return 2
    if not os.path.isfile(args.workflow):
        print(f"simulate_ci: {args.workflow}: no such file", file=sys.stderr)
        return 2
    if args.dir and os.path.exists(args.dir):
        print(f"simulate_ci: --dir {args.dir} exists; give a new path", file=sys.stderr)
        return 2
    if not venv():
        print(f"simulate_ci: no virtual environment with dlbench at {ROOT}/.venv (make venv)", file=sys.stderr)
        return 2
    sim = os.path.abspath(args.dir) if args.dir else tempfile.mkdtemp(prefix="dlbench-sim-ci-")
    os.makedirs(sim, exist_ok=True)
    try:
        simulate(sim, args.workflow, suite == "tiny")
        return 0
    except workflow_steps.WorkflowError as exc:
        print(f"simulate_ci: {args.workflow}: {exc}", file=sys.stderr)
        return 2
    except CheckFailed as exc:
        say(f"\nsimulation: FAILED: {exc}")
        return 1
    finally:
        if not args.dir:
            shutil.rmtree(sim, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
