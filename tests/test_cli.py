"""Bad input: one clear line on stderr, exit status 2, never a traceback."""

import json
import os

import pytest

from cli.main import main
from tests.conftest import FAST


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "--scenario", "nope"], "unknown scenario 'nope'"),
        (["run", "--impl", "tensorflw"], "unknown implementation 'tensorflw'"),
        (["run", "--size", "huge"], "unknown size 'huge'"),
        (["run", "--device", "tpu"], "unknown device 'tpu'"),
        (["run", "--mode", "jit"], "unknown mode 'jit'"),
        (["run", "--threads", "zero"], "is not a whole number"),
        (["run", "--threads", "0"], "must be at least 1"),
        (["run", "--timeout", "-1"], "must be greater than 0"),
        (["run", "--bogus"], "unrecognized arguments: --bogus"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["report", "/nonexistent/dir"], "no such results directory"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


def test_unwritable_output_directory(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, _, err = run_cli(capsys, "run", "--size", "tiny", "--out", str(blocker / "sub"))
    assert code == 2
    assert "cannot write to output directory" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "content, needle",
    [
        ('{"schema": 1, "scenario": "conv"\n', "line 1: not valid JSON"),
        ("\n[1, 2, 3]\n", "line 2: not a dlbench record"),
        ('{"schema": 99}\n', "line 1: schema 99"),
        ("", "empty, no results"),
    ],
)
def test_corrupt_results_file(capsys, tmp_path, content, needle):
    (tmp_path / "results.jsonl").write_text(content)
    code, _, err = run_cli(capsys, "report", str(tmp_path))
    assert code == 2
    assert needle in err and str(tmp_path) in err
    assert len(err.strip().splitlines()) == 1


def test_run_refuses_to_mix_into_existing_results_and_keeps_them(capsys, tmp_path):
    out = tmp_path / "out"
    code, _, _ = run_cli(
        capsys, "run", "--scenario", "sigmoid", "--impl", "reference", "--size", "tiny", "--out", str(out), *FAST
    )
    assert code == 0
    before = (out / "results.jsonl").read_text()
    assert len(before.splitlines()) == 2
    code, _, err = run_cli(
        capsys, "run", "--scenario", "sigmoid", "--impl", "reference", "--size", "tiny", "--out", str(out), *FAST
    )
    assert code == 2 and "--resume" in err
    assert (out / "results.jsonl").read_text() == before


def test_run_over_corrupt_results_does_not_touch_them(capsys, tmp_path):
    (tmp_path / "results.jsonl").write_text("garbage\n")
    code, _, err = run_cli(capsys, "run", "--size", "tiny", "--out", str(tmp_path), "--resume")
    assert code == 2 and "line 1: not valid JSON" in err
    assert (tmp_path / "results.jsonl").read_text() == "garbage\n"


@pytest.mark.slow  # probes every framework
def test_list_shows_scenarios_and_implementations(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    for name in ("conv", "sigmoid", "qgemm", "classifier", "gan"):
        assert name in out
    assert "reference   installed" in out
    assert "torch" in out


def test_record_fields(capsys, tmp_path):
    out = tmp_path / "out"
    code, stdout, _ = run_cli(
        capsys,
        "run",
        "--scenario",
        "conv",
        "--impl",
        "reference",
        "--size",
        "tiny",
        "--threads",
        "1",
        "--out",
        str(out),
        *FAST,
    )
    assert code == 0
    assert "conv" in stdout and "results:" in stdout
    rec = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    for field in (
        "schema",
        "run_id",
        "timestamp",
        "dlbench_version",
        "git_commit",
        "scenario",
        "phase",
        "size",
        "params",
        "impl",
        "impl_version",
        "device",
        "mode",
        "threads",
        "status",
        "reason",
        "errors",
        "samples",
        "sample_process",
        "median",
        "iqr",
        "min",
        "first_call_s",
        "peak_rss_bytes",
        "flops",
        "bytes",
        "gflops",
        "gbs",
        "machine_id",
    ):
        assert field in rec, field
    assert rec["status"] == "ok" and rec["threads"] == 1
    assert rec["params"]["kernel"] == 3 and rec["params"]["stride"] == 2
    assert len(rec["samples"]) == 3 and rec["sample_process"] == [0, 0, 0]
    # conv at tiny, worked by hand: 2x3x9x9 input, 4 3x3 filters, stride 2, pad 1 -> 2x4x5x5 output;
    # 2 FLOP per useful multiply-add plus the bias. Only taps that land on the input count: along each
    # axis the 5 output positions see 2, 3, 3, 3, 2 input rows (the rest is zero padding), so 13*13
    # taps per (image, filter, input channel) rather than 25*9; fp32 input, weights, bias, output
    assert rec["flops"] == 2 * (2 * 4 * 3) * (13 * 13) + 2 * 4 * 25 == 8312
    assert rec["bytes"] == 4 * (2 * 3 * 81 + 4 * 3 * 9 + 4 + 2 * 4 * 25) == 3192
    assert rec["min"] <= rec["median"] and rec["gflops"] == pytest.approx(8312 / rec["median"] / 1e9)
    assert rec["peak_rss_bytes"] > 0
    machine = json.loads((out / "machine.json").read_text())
    assert machine["cores_logical"] >= 1 and machine["cpu"]["model"]
    assert machine["frameworks"]["reference"]["version"]
    assert os.path.isdir(out)


@pytest.mark.parametrize(
    "argv, line",
    [
        (
            ["compare", "/nonexistent/a", "/nonexistent/b"],
            "dlbench compare: /nonexistent/b: neither a results directory nor a saved baseline name",
        ),
        (
            ["export", "/nonexistent/dir", "--out", "x.json"],
            "dlbench export: /nonexistent/dir: no such results directory",
        ),
        (["machine", "--impl", "nosuch"], "dlbench machine: unknown implementation 'nosuch'"),
        (["run", "--save", "bad name!"], "dlbench run: baseline name 'bad name!' must be"),
    ],
)
def test_module_errors_are_named_once_by_the_command(capsys, argv, line):
    """Every module's error (history, results, plan) reaches the user through one mapping:
    `dlbench COMMAND: message`, exit 2, nothing else on stderr."""
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.startswith(line) and err.count("dlbench ") == 1
    assert len(err.strip().splitlines()) == 1


def test_every_module_error_is_a_dlbench_error():
    from cli.commands.bisect import BisectError
    from harness.db.errors import DatabaseError, DatabaseLocked, DatabaseMissing, SchemaNewer, UnknownRun
    from harness.errors import DlbenchError
    from harness.history import HistoryError
    from harness.lockstep import LockstepUnsupported
    from harness.outlock import DirectoryBusy
    from harness.plan import PlanError
    from harness.results import ResultsError
    from harness.runner import RunError
    from harness.side_work import SideWorkError
    from harness.sides import SideError
    from reports.load import LoadError
    from reports.pytest_benchmark import ConvertError

    errors = (
        BisectError,
        HistoryError,
        LockstepUnsupported,
        DirectoryBusy,
        PlanError,
        ResultsError,
        RunError,
        SideWorkError,
        SideError,
        LoadError,
        ConvertError,
        DatabaseError,
        DatabaseLocked,
        DatabaseMissing,
        SchemaNewer,
        UnknownRun,
    )
    assert all(issubclass(e, DlbenchError) for e in errors)
    assert issubclass(PlanError, ValueError) and issubclass(RunError, RuntimeError)  # callers catching these still do
