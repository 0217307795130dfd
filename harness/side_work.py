"""What a side of a comparison computes, read from that side's own checkout.

A `--base-rev` side runs its own revision's scenario and adapter code, so what one of
its cells computes is that revision's: a phase it lacks (qgemm's `requantize` before
the phases were split) must not run as if it were the current one, and a phase whose
work changed (qgemm's `gemm` lost its output stage) must not be compared as the same
work. The parent's scenario modules are the current checkout's, so the phases and
work counts come from a short subprocess in the side's checkout instead.
"""

from __future__ import annotations

import json
import os
import subprocess

from harness.errors import DlbenchError

# Runs in the side's checkout: only `scenarios`, whose flops/bytes_moved(params, phase)
# and phases have kept their shape since the first revision.
SCRIPT = r"""
import json, sys
import scenarios
out = {}
for name, size, phase in json.load(sys.stdin):
    key = "/".join((name, size, phase))
    try:
        s = scenarios.get(name)
        if phase not in s.phases:
            out[key] = {"missing": f"scenario {name} has no phase {phase} (phases: {', '.join(s.phases)})"}
            continue
        p = s.params(size)
        out[key] = {"flops": int(s.flops(p, phase)), "bytes": int(s.bytes_moved(p, phase))}
    except Exception as exc:
        out[key] = {"missing": f"scenario {name} at size {size}: {type(exc).__name__}: {exc}"[:300]}
print(json.dumps(out))
"""


class SideWorkError(DlbenchError, RuntimeError):
    """The side's checkout could not say what it computes: one line."""


def side_work(python, repo_root, cells):
    """{cell key: {"flops", "bytes"} or {"missing": why}} for `cells` in `repo_root`."""
    wanted = sorted({(c.scenario, c.size, c.phase) for c in cells})
    env = dict(os.environ, PYTHONPATH=repo_root)
    res = subprocess.run(
        [python, "-c", SCRIPT],
        cwd=repo_root,
        env=env,
        input=json.dumps(wanted),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise SideWorkError(f"cannot read the scenarios of {repo_root}: {last}")
    counts = json.loads(res.stdout.strip().splitlines()[-1])
    return {c.key(): counts["/".join((c.scenario, c.size, c.phase))] for c in cells}
