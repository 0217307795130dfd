"""dlib's conv with OpenBLAS as against without: one `dlbench run` per BLAS choice.

Choices (see impls/dlib/blas.py): openblas; reference (netlib's unoptimized BLAS, what
Debian's dlib gets without OpenBLAS); builtin (dlib compiled without any BLAS, its own
matrix multiply; `make dlib-builtin` builds it, skipped with a note where it is not
built). Each run is a normal, validated dlbench run into OUT/<choice>; the table shows
the median, GFLOP/s and the slowdown against OpenBLAS, and which BLAS each run used.

Run:  .venv/bin/python benchmarks/dlib_blas.py [--size small,medium] [--threads N]
      [--scenario conv] [--out out/dlib-blas]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from impls.dlib import blas, bridge_path  # noqa: E402

CHOICES = ("openblas", "reference", "builtin")


def run_choice(choice, args, out):
    env = dict(os.environ, **{blas.VARIABLE: choice})
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "dlbench"),
        "run",
        "--impl",
        "dlib",
        "--scenario",
        args.scenario,
        "--size",
        args.size,
        "--threads",
        str(args.threads),
        "--out",
        out,
        "--quiet",
    ]
    if args.samples:
        cmd += ["--samples", str(args.samples)]
    subprocess.run(cmd, env=env, check=True, cwd=ROOT)
    with open(os.path.join(out, "results.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    with open(os.path.join(out, "machine.json")) as f:
        info = json.load(f)["frameworks"].get("dlib") or {}
    return records, info.get("blas") or {}


def describe(b):
    if b.get("kind") == "OpenBLAS":
        return f"OpenBLAS ({b.get('openblas_core', '?')}, {b.get('threads', '?')} threads)"
    if b.get("dlib_uses_blas") is False:
        return "no BLAS: dlib's own matrix multiply"
    return b.get("kind") or b.get("library") or "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small,medium")
    parser.add_argument("--scenario", default="conv")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--out", default=os.path.join(ROOT, "out", "dlib-blas"))
    args = parser.parse_args(argv)
    if os.path.exists(args.out):
        print(f"{args.out} exists: choose another --out or remove it", file=sys.stderr)
        return 2

    rows, notes = [], []
    for choice in CHOICES:
        build = bridge_path.BUILD_DIRS["builtin" if choice == "builtin" else "debian"]
        if not os.path.exists(bridge_path.module_file(build)):
            notes.append(f"{choice}: not built ({'make dlib-builtin' if choice == 'builtin' else 'make dlib'})")
            continue
        records, b = run_choice(choice, args, os.path.join(args.out, choice))
        for r in records:
            rows.append(
                (
                    r["scenario"],
                    r["phase"],
                    r["size"],
                    choice,
                    describe(b),
                    r["status"],
                    r.get("median"),
                    r.get("gflops"),
                    r.get("reason"),
                )
            )

    base = {(s, p, z): med for s, p, z, c, _, st, med, _, _ in rows if c == "openblas" and st == "ok"}
    print(f"{'cell':<22} {'BLAS':<44} {'median ms':>10} {'GFLOP/s':>9} {'vs OpenBLAS':>12}")
    for s, p, z, choice, what, status, med, gflops, reason in rows:
        cell = f"{s}/{p}/{z}"
        if status != "ok":
            print(f"{cell:<22} {choice + ': ' + what:<44} {status}: {reason}")
            continue
        ref = base.get((s, p, z))
        slower = f"{med / ref:.1f}x slower" if ref and choice != "openblas" else ""
        print(f"{cell:<22} {choice + ': ' + what:<44} {med * 1e3:>10.3f} {gflops:>9.2f} {slower:>12}")
    for note in notes:
        print(f"skipped {note}")
    print(f"results: {args.out}/<choice>/results.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main())
