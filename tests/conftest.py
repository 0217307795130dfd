import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_IMPLS = os.path.join(HERE, "fake_impls")

# Fast measurement settings: tests check behaviour, not speed.
FAST = ["--samples", "3", "--min-time", "0.001", "--warmup", "0.001"]

# `dlbench run` measures the machine's peaks first (a few seconds); tests of runs skip
# that unless they pass --machine-probe (tests/test_machine.py does, with tiny probes).
os.environ.setdefault("DLBENCH_MACHINE_PROBE", "0")


@pytest.fixture
def fake_impls(monkeypatch):
    """Make the test-only implementations visible to the harness and its workers."""
    import impls
    monkeypatch.setenv("DLBENCH_EXTRA_IMPLS", FAKE_IMPLS)
    if FAKE_IMPLS not in impls.__path__:
        impls.__path__.append(FAKE_IMPLS)
    yield
    if FAKE_IMPLS in impls.__path__:
        impls.__path__.remove(FAKE_IMPLS)


def read_results(out):
    with open(os.path.join(out, "results.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def by_cell(records):
    return {(r["scenario"], r["phase"], r["impl"], r["mode"]): r for r in records}
