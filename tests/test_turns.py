"""dlbench run's lockstep turns (harness.turns, harness.rounds), the paired ratios they feed
(harness.paired), the drift sentinel (harness.sentinel) and --precision."""

import math
import random
from types import SimpleNamespace

import pytest

from harness import paired, sentinel
from harness.turns import Lane, conduct
from tests.conftest import FAST, by_cell, dlbench, read_results


class FakeServer:
    """A TurnServer that answers in-process: logs each `sample` it is asked for into `log`,
    and can end (crash) or go silent (hang) at a given sample."""

    def __init__(self, name, log, crash_at=None, hang_at=None, loops=3):
        self.name, self.log = name, log
        self.crash_at, self.hang_at, self.loops = crash_at, hang_at, loops
        self.alive = True
        self.proc = SimpleNamespace(pid=-1)  # nothing to pin
        self.guard = SimpleNamespace(check=lambda: False)
        self.samples, self.pending = [], None
        self.paused = False

    def begin(self, spec):
        self.pending = "ready"
        return True

    def pause(self):
        self.paused = True

    def resume(self):
        self.paused = False

    def send(self, what):
        if not self.alive:
            return False
        assert not self.paused, f"{what!r} sent to a stopped worker"
        if what == "sample":
            n = len(self.samples)
            if n == self.crash_at:
                self.alive, self.pending = False, None
                return True
            if n == self.hang_at:
                self.pending = TimeoutError
                return True
            self.log.append(self.name)
            self.samples.append(0.001 * (1 + n % 3))
            self.pending = "ok"
        elif what == "calibrate":
            self.pending = f"ok {self.loops}"
        elif what == "stop":
            self.pending = "done"
        else:
            self.pending = "ok"
        return True

    def expect(self, deadline, watched=()):
        answer, self.pending = self.pending, None
        if answer is TimeoutError:
            raise TimeoutError
        return answer if self.alive else None

    def result(self):
        return {"status": "ok", "reason": "", "samples": list(self.samples), "loops": self.loops}

    def ended(self):
        self.alive = False
        return {"status": "error", "reason": "worker crashed (killed by SIGSEGV) during sample"}

    def timed_out(self, timeout):
        self.alive = False
        return {"status": "timeout", "reason": f"worker exceeded --timeout {timeout:g}s during sample"}

    def close(self, kill=False):
        self.alive = False


OPTIONS = SimpleNamespace(samples=20, min_samples=3, max_time=60.0, timeout=5.0, threads=1)


def _lanes(servers):
    return [Lane(cell=s.name, server=s, spec={}) for s in servers]


def test_every_implementation_times_the_same_turns_in_shuffled_order():
    log = []
    servers = [FakeServer(n, log) for n in ("a", "b", "c")]
    results = conduct(_lanes(servers), OPTIONS, random.Random(1))
    assert [r["status"] for r in results] == ["ok"] * 3
    for r in results:
        assert r["turns"] == list(range(20)) and len(r["samples"]) == 20
    turns = [tuple(log[i : i + 3]) for i in range(0, len(log), 3)]
    assert all(sorted(t) == ["a", "b", "c"] for t in turns)  # each once per turn
    assert len(set(turns)) > 1  # the order changes from turn to turn
    assert {t[0] for t in turns} == {"a", "b", "c"}  # every one goes first sometimes


@pytest.mark.parametrize("failure", ["crash_at", "hang_at"])
def test_a_failing_worker_leaves_the_others_samples_whole(failure):
    log = []
    servers = [FakeServer("a", log), FakeServer("b", log, **{failure: 4}), FakeServer("c", log)]
    results = conduct(_lanes(servers), OPTIONS, random.Random(2))
    assert results[1]["status"] == ("error" if failure == "crash_at" else "timeout")
    for r in (results[0], results[2]):
        assert r["status"] == "ok" and r["turns"] == list(range(20)) and len(r["samples"]) == 20


def test_a_worker_that_fails_before_its_turns_is_settled_and_the_rest_run():
    log = []
    broken = FakeServer("b", log)
    broken.begin = lambda spec: (setattr(broken, "pending", "done"), True)[1]  # invalid: `done` at once
    broken.result = lambda: {"status": "invalid", "reason": "y differs"}
    results = conduct(_lanes([FakeServer("a", log), broken]), OPTIONS, random.Random(3))
    assert results[1]["status"] == "invalid" and "turns" not in results[1]
    assert results[0]["turns"] == list(range(20))


def _record(samples, turns, processes):
    return {"samples": samples, "sample_turn": turns, "sample_process": processes}


def test_paired_ratio_cancels_drift_that_unpaired_medians_keep():
    # the machine slows 2x halfway through each process; b is always 1.5x a's time in the same turn
    rng = random.Random(0)
    a, b, turns, procs = [], [], [], []
    for p in range(5):
        for t in range(10):
            speed = (1.0 if t < 5 else 2.0) * (1 + 0.01 * rng.random())
            a.append(0.010 * speed)
            b.append(0.015 * speed * (1 + 0.002 * rng.random()))
            turns.append(t)
            procs.append(p)
    r = paired.ratio(_record(b, turns, procs), _record(a, turns, procs))
    assert r["units"] == "processes" and r["n"] == 5
    assert r["ratio"] == pytest.approx(1.5, rel=0.01)
    assert 1.5 <= r["low"] <= r["high"] <= 1.5 * 1.002  # the true ratio, times the 0-0.2% noise b carries
    assert r["level"] == pytest.approx(0.9375)  # 5 processes: the most a signed-rank interval reaches
    assert paired.half_width(r) < 0.01
    # a cell without turns (an older record) has no pairs
    assert paired.ratio({"samples": b}, _record(a, turns, procs)) is None


def test_sentinel_flags_only_rounds_beyond_its_own_noise():
    points = [{"median": 0.010 * (1 + 0.005 * (i % 3))} for i in range(30)]
    summary = sentinel.summarize(points)
    assert summary["median"] == pytest.approx(0.01005, rel=0.01)
    assert summary["p5"] <= summary["median"] <= summary["p95"]
    assert summary["slow_bound"] == pytest.approx(max(sentinel.SIGMAS * summary["noise"], sentinel.FLOOR))
    assert sentinel.drift_reason([0.0100, 0.0101], summary) == ""
    assert sentinel.drift_reason([0.0100, 0.0125, 0.0101], summary) == ""  # one slow round of three: no figure moved
    why = sentinel.drift_reason([0.0125, 0.0100, 0.0124], summary)
    assert "24% slower" in why and "round 1, 3 of 3" in why
    assert sentinel.summarize([]) is None


def test_sentinel_reads_a_positive_time():
    reading = sentinel.measure()
    assert reading["median"] > 0 and math.isfinite(reading["rel_iqr"])


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_run_pairs_every_implementation_turn_by_turn(tmp_path):
    out = str(tmp_path / "out")
    assert dlbench(f"run --impl reference,torch --scenario sigmoid --size tiny --processes 2 --out {out}", *FAST) == 0
    cells = by_cell(read_results(out))
    ref, torch_eager = (
        cells[("sigmoid", "forward", "reference", "eager")],
        cells[("sigmoid", "forward", "torch", "eager")],
    )
    for rec in cells.values():
        assert (
            rec["status"] == "ok" and rec["sample_turn"] == [0, 1, 2] * 2 and rec["sample_process"] == [0] * 3 + [1] * 3
        )
        assert rec["turns"]["order"] == "shuffled each turn" and len(rec["sentinel"]) == 2
        assert isinstance(rec["drift"], bool)
    assert set(torch_eager["turns"]["with"]) == {"reference:eager", "torch:graph"}
    r = paired.ratio(ref, torch_eager)
    assert r["n"] == 2 and r["units"] == "processes" and r["ratio"] > 0
    assert ref["options"]["lockstep"] is True


@pytest.mark.usefixtures("fake_impls")
def test_run_pairs_two_implementations_turn_by_turn_in_the_edit_loop(tmp_path):
    """The fast lane's lockstep run: the reference and a fake implementation, no framework."""
    out = str(tmp_path / "out")
    assert dlbench(f"run --impl reference,slowdown --scenario sigmoid --size tiny --out {out}", *FAST) == 0
    cells = by_cell(read_results(out))
    ref, fake = cells[("sigmoid", "forward", "reference", "eager")], cells[("sigmoid", "forward", "slowdown", "eager")]
    for rec in (ref, fake):
        assert rec["status"] == "ok" and rec["sample_turn"] == [0, 1, 2] and rec["options"]["lockstep"] is True
    assert fake["turns"]["with"] == ["reference:eager"] and ref["turns"]["with"] == ["slowdown:eager"]
    r = paired.ratio(ref, fake)
    assert r["n"] == 3 and r["units"] == "turns" and r["ratio"] > 0


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
@pytest.mark.usefixtures("fake_impls")
def test_a_worker_that_hangs_or_crashes_mid_turns_keeps_the_others_samples(tmp_path):
    out = str(tmp_path / "out")
    code = dlbench(
        f"run --impl reference,midway --scenario sigmoid --size tiny --timeout 4 --out {out}",
        "--samples",
        "6",
        "--min-time",
        "0.001",
        "--warmup",
        "0.001",
    )
    assert code == 0
    cells = by_cell(read_results(out))
    hang, crash = cells[("sigmoid", "forward", "midway", "eager")], cells[("sigmoid", "backward", "midway", "eager")]
    assert hang["status"] == "timeout" and "sample" in hang["reason"]
    assert crash["status"] == "error" and "SIGSEGV" in crash["reason"] and "sample" in crash["reason"]
    for phase in ("forward", "backward"):
        ref = cells[("sigmoid", phase, "reference", "eager")]
        assert ref["status"] == "ok" and ref["n_samples"] == 6 and ref["sample_turn"] == list(range(6))


@pytest.mark.slow  # seconds of real runs: make test, not the edit loop
def test_precision_adds_rounds_until_the_target_or_the_budget(tmp_path):
    out = str(tmp_path / "loose")
    assert (
        dlbench(f"run --impl reference --scenario sigmoid --size tiny --processes 2 --precision 90% --out {out}", *FAST)
        == 0
    )
    for rec in read_results(out):
        assert rec["processes"] == 2 and rec["precision"]["met"] and rec["precision"]["rounds"] == 2
        assert rec["precision"]["of"] == "interval of the median"
    out = str(tmp_path / "tight")
    code = dlbench(
        f"run --impl reference --scenario sigmoid --size tiny --processes 2 --precision 0.01% --budget 8 --out {out}",
        *FAST,
    )
    assert code == 0
    for rec in read_results(out):
        assert rec["processes"] > 2 and rec["precision"]["rounds"] == rec["processes"]
        assert rec["precision"]["met"] is False and rec["precision"]["target"] == pytest.approx(0.0001)


def test_an_interrupted_rounds_journal_needs_resume(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "rounds.jsonl").write_text("")
    code = dlbench(f"run --impl reference --scenario sigmoid --size tiny --out {out}", *FAST)
    assert code == 2


def test_workers_that_would_not_fit_together_take_turns_in_sequential_groups():
    from harness.rounds import _State

    cells = ["a", "b", "c"]

    def split(each, limit):
        state = SimpleNamespace(
            opts=SimpleNamespace(memory_limit=limit), results={c: [{"peak_rss_bytes": each}] for c in cells}
        )
        return _State.memory_split(state, cells)

    assert split(30 << 20, 100 << 20) == ([cells], "")
    groups, why = split(40 << 20, 100 << 20)
    assert groups == [["a", "b"], ["c"]] and "sequential groups of 2, 1" in why and "120 MiB" in why
    groups, _ = split(200 << 20, 100 << 20)  # one alone over the budget still runs, alone
    assert groups == [["a"], ["b"], ["c"]]


def test_vs_fastest_never_above_one_when_pairs_disagree_with_medians():
    """Paired turns can show a cell faster than the one with the smallest median: it is then
    the fastest, and every ratio of the group is relative to it."""
    import statistics

    import pandas as pd

    from reports.precision import add_precision

    a = [1.0] * 4 + [9.0] * 3  # median 1.0: the smallest
    b = [0.9] * 3 + [1.2] + [8.0] * 3  # median 1.2, yet faster than a in 6 of its 7 turns
    rows = [
        {
            "impl": impl,
            "status": "ok",
            "run_id": "r",
            "source": "x",
            "scenario": "s",
            "median": statistics.median(s),
            "samples": s * 2,
            "sample_process": [0] * 7 + [1] * 7,
            "sample_turn": list(range(7)) * 2,
            "ci_low": None,
            "ci_high": None,
            "ci_level": None,
        }
        for impl, s in (("a", a), ("b", b))
    ]
    df = add_precision(pd.DataFrame(rows), ["source", "scenario"]).set_index("impl")
    assert df.loc["b", "vs_fastest"] == 1.0 and pd.isna(df.loc["b", "vs_fastest_low"])
    slower = df.loc["a"]
    assert slower["vs_fastest"] == pytest.approx(0.9) and slower["vs_fastest_level"] == pytest.approx(0.5)
