"""qgemm at gemmlowp's edges, for any implementation, in its own interpreter.

    python -m tests.qgemm_edges IMPL MODE...    (the repository root on PYTHONPATH)

prints one JSON object, per case, phase and mode: whether each output equals the
reference's bit for bit, or why the phase is unsupported. The cases: zero points 0 and
255 with accumulators just inside int32 (gemm, full), and the output stage (requantize)
on given accumulators at the int32 extremes, every value of a range wide enough to
cross hundreds of rounding boundaries, and random int32 values, with output zero
points 0, 255 and 128. Imports NumPy, the scenario and the reference only, so MXNet's
environment runs it as well. `check(impl, modes)` runs it and returns that object.
"""

import json
import subprocess
import sys

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
EDGE_K = 33025  # 33025 * 255 * 255 = 2147450625 < 2^31: accumulators just inside int32


def _product_cases(np):
    k = EDGE_K
    return {
        "extreme": (
            dict(m=2, k=k, n=3, za=0, zb=255, zc=128),
            np.full((2, k), 255, np.uint8),
            np.zeros((k, 3), np.uint8),
        ),
        "random": (
            dict(m=3, k=k, n=2, za=255, zb=0, zc=7),
            np.random.default_rng(1).integers(0, 256, (3, k), dtype=np.uint8),
            np.random.default_rng(2).integers(0, 256, (k, 2), dtype=np.uint8),
        ),
    }


def _accumulators(np):
    specials = [
        INT32_MIN,
        INT32_MIN + 1,
        -(1 << 30) - 1,
        -(1 << 30),
        -65536,
        -1,
        0,
        1,
        65536,
        1 << 30,
        (1 << 30) + 1,
        INT32_MAX - 1,
        INT32_MAX,
    ]
    return np.concatenate(
        [
            np.array(specials, dtype=np.int64),
            np.arange(-(1 << 17), 1 << 17),  # every value: each rounding boundary of the k=64 constants
            np.random.default_rng(3).integers(INT32_MIN, INT32_MAX, 4000, endpoint=True),
        ]
    ).astype(np.int32)


def _requantize_cases(np):
    acc = _accumulators(np)
    n = acc.size
    # k selects the output stage's constants (scenarios.qgemm.output_stage): 64 is the tiny
    # size's, EDGE_K the edge product's; zc = 0 and 255 clamp one whole side
    return {
        f"k{k}-zc{zc}": (dict(m=1, k=k, n=n, za=128, zb=128, zc=zc), acc.reshape(1, n))
        for k, zc in ((64, 0), (64, 255), (64, 128), (EDGE_K, 128))
    }


def run(impl, modes):
    import numpy as np

    import impls
    import scenarios
    from impls.base import Unsupported
    from scenarios.base import Problem

    adapter, reference = impls.adapter(impl), impls.adapter("reference")
    adapter.configure(1)
    scenario = scenarios.get("qgemm")
    problems = [
        (name, "gemm", Problem(scenario, "edge", p, 0, {"a": a, "b": b}))
        for name, (p, a, b) in _product_cases(np).items()
    ]
    problems += [(name, "full", problem) for name, _, problem in problems]
    problems += [
        (name, "requantize", Problem(scenario, "edge", p, 0, {"acc": acc}))
        for name, (p, acc) in _requantize_cases(np).items()
    ]
    report = {}
    for name, phase, problem in problems:
        expected = reference.qgemm(problem, phase, "cpu", "eager")
        expected.run()
        want = expected.outputs()
        for mode in modes:
            key = f"{name}/{phase}/{mode}"
            try:
                step = adapter.qgemm(problem, phase, "cpu", mode)
            except Unsupported as exc:
                report[key] = {"unsupported": str(exc)}
                continue
            step.run()
            got = step.outputs()
            report[key] = {
                out: {
                    "equal": bool(got[out].shape == w.shape and np.array_equal(got[out], w)),
                    "dtype": str(got[out].dtype),
                    "max_abs_expected": int(np.abs(w.astype(np.int64)).max()),
                    "levels": int(np.unique(w).size),
                }
                for out, w in want.items()
            }
    return report


def check(impl, modes, timeout=900):
    """Run this module for `impl` in that implementation's worker interpreter and environment."""
    import impls
    from harness import environments
    from harness.processes import worker_env

    manifest = impls.manifest(impl)
    python, reason = environments.interpreter(manifest)
    assert python, reason
    proc = subprocess.run(
        [python, "-m", "tests.qgemm_edges", impl, *modes],
        cwd=environments.REPO_ROOT,
        env=worker_env(1, manifest),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_exact(report, unsupported=()):
    """Every output of every case equal to the reference's; only phases in `unsupported`
    (phase, mode) may be unsupported, and those must be."""
    for key, result in report.items():
        name, phase, mode = key.split("/")
        if (phase, mode) in unsupported:
            assert "unsupported" in result, (key, result)
            continue
        assert "unsupported" not in result, (key, result)
        for out, r in result.items():
            assert r["equal"], (key, out, r)
            assert r["dtype"] == ("int32" if out == "acc" else "uint8"), (key, out, r)
        if name.startswith("k64"):
            assert result["out"]["levels"] > 100, (key, result)  # rounding exercised, not just clamping
        elif name == "extreme":
            assert result["acc"]["max_abs_expected"] > INT32_MAX - (1 << 16), (key, result)


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2:])))
