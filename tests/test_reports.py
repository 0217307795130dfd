"""Reports from a real tiny run: tables, % of peak, merging sources, formats, bad files."""

import json
import math
import os
import re
import shutil

import pandas as pd
import pytest

import scenarios
from cli.main import main
from reports import LoadError, load, load_sources
from reports.load import device_peaks
from reports.machines import peak_lines
from reports.metrics import add_metrics, best_pct_of_peak
from reports.side_by_side import side_by_side
from tests.conftest import SLOWER, read_results


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_load_keeps_one_row_per_cell_with_samples_and_peaks(tiny_run):
    records = read_results(tiny_run)
    df = load([tiny_run])
    assert len(df) == len(records) == 24
    ok = df[df["status"] == "ok"]
    assert len(ok) == 12 and all(len(s) == 3 for s in ok["samples"])
    assert set(df[df["status"] != "ok"]["device"]) == {"cuda"}
    cpu = df[df["device"] == "cpu"]
    assert (cpu["peak_fp32_gflops"] > 0).all() and (cpu["peak_memory_gbs"] > 0).all()
    assert (cpu["peak_int8_gops"] > 0).all()  # torch has an int8 kernel
    assert df[df["device"] == "cuda"]["peak_fp32_gflops"].isna().all()  # no GPU: no cuda peak, not a zero


def test_metrics_speedups_and_percent_of_peak(tiny_run):
    """On a real run every ok cell gets its ratios and a ceiling of its kind; the arithmetic
    of each is held to hand-worked cells below (test_peak_choice_follows_the_roofline,
    test_memory_bound_cells_are_held_to_the_level_..., test_ratio_intervals_on_a_constructed_example)."""
    m = add_metrics(load([tiny_run]))
    ok = m[m["status"] == "ok"]
    for _, g in ok.groupby(["scenario", "phase", "size"]):
        assert g["vs_fastest"].max() == pytest.approx(1.0)
        assert (g["vs_fastest"] <= 1.0 + 1e-12).all()
        ref = g[g["impl"] == "reference"]
        assert ref["vs_reference"].iloc[0] == pytest.approx(1.0)
        assert g[g["impl"] == "torch"]["vs_reference"].iloc[0] > 0
    for _, cell in ok.iterrows():
        assert cell["working_set_bytes"] == scenarios.get(cell["scenario"]).working_set(cell["params"], cell["phase"])
        if cell["bound"] == "memory":
            assert cell["peak_of"] in ("L2 bandwidth", "L3 bandwidth", "DRAM bandwidth")
            assert cell["rate_unit"] == "GB/s" and cell["rate"] == cell["gbs"]
        else:
            assert cell["bound"] == "compute"
            assert (cell["peak_of"], cell["rate_unit"]) == (
                ("int8 GEMM", "GOP/s") if cell["scenario"] == "qgemm" else ("fp32 GEMM", "GFLOP/s")
            )
            assert cell["rate"] == cell["gflops"]
        # flagged only when even the slow end of its interval beats the ceiling
        slow_end = cell["pct_of_peak"] * cell["median"] / max(cell["ci_high"], cell["median"])
        assert cell["pct_of_peak"] > 0 and cell["ceiling_low"] == (slow_end > 100)
    failed = m[m["status"] != "ok"]
    for column in ("median", "rate", "vs_reference", "vs_fastest", "pct_of_peak"):
        assert failed[column].isna().all(), column
    torch_version = ok[ok["impl"] == "torch"]["impl_version"].iloc[0]
    assert failed.groupby("impl")["reason"].agg(set).to_dict() == {
        "reference": {"reference does not run on cuda (devices: cpu)"},
        "torch": {f"no CUDA device: torch {torch_version} is a CPU-only build"},
    }


def _cell(**kw):
    row = dict(
        source="m",
        source_order=0,
        scenario="s",
        phase="p",
        size="tiny",
        device="cpu",
        threads=1,
        seed=0,  # a loaded row has the record's whole key (records.KEY_FIELDS)
        ranks=1,
        scaling="",
        impl="i",
        mode="eager",
        status="ok",
        reason="",
        median=1.0,
        rel_iqr=0.01,
        samples=[1.0],
        work_unit="FLOP",
        memory_bound=False,
        peak_fp32_gflops=100.0,
        peak_int8_gops=400.0,
        peak_memory_gbs=10.0,
    )
    row.update(kw)
    row["gflops"] = row["flops"] / row["median"] / 1e9
    row["gbs"] = row["bytes"] / row["median"] / 1e9
    return row


def test_peak_choice_follows_the_roofline():
    rows = [
        _cell(impl="compute", flops=50e9, bytes=1e9),  # 50 FLOP/B > ridge 10: fp32 GEMM
        _cell(impl="memory", flops=5e9, bytes=1e9),  # 5 FLOP/B < ridge 10: bandwidth
        _cell(impl="int8", flops=100e9, bytes=1e9, work_unit="OP"),  # 100 OP/B > int8 ridge 40: int8 GEMM
        _cell(impl="no-int8", flops=100e9, bytes=1e9, work_unit="OP", peak_int8_gops=math.nan),
    ]
    m = add_metrics(pd.DataFrame(rows)).set_index("impl")
    assert m.loc["compute", "peak_of"] == "fp32 GEMM" and m.loc["compute", "pct_of_peak"] == pytest.approx(50.0)
    assert m.loc["memory", "peak_of"] == "memory bandwidth" and m.loc["memory", "pct_of_peak"] == pytest.approx(10.0)
    assert m.loc["int8", "peak_of"] == "int8 GEMM" and m.loc["int8", "pct_of_peak"] == pytest.approx(25.0)
    assert math.isnan(m.loc["no-int8", "pct_of_peak"]) and "no int8 GEMM peak" in m.loc["no-int8", "peak_note"]
    best = best_pct_of_peak(add_metrics(pd.DataFrame(rows)))
    assert set(best["impl"]) == {"compute", "memory", "int8"}


MIB = 1 << 20
# L2 1 MiB per core, one 32 MiB L3; bandwidth 200 GB/s in L2, 50 in L3, 10 from DRAM
LEVELED = {
    "caches": {"L2": MIB, "L2_per_core": True, "L3": 32 * MIB, "L3_instances": 1},
    "peaks": {
        "cpu": {
            "threads": 2,
            "best": {
                "fp32_gemm_gflops": {"value": 100.0},
                "int8_gemm_gops": {"value": 400.0},
                "memory_gbs_l2": {"value": 200.0, "working_set_bytes": MIB},
                "memory_gbs_l3": {"value": 50.0, "working_set_bytes": 16 * MIB},
                "memory_gbs": {"value": 10.0, "working_set_bytes": 128 * MIB},
            },
        }
    },
}


def _leveled(machine=LEVELED, threads=2, working_set=MIB, intensity=0.25, gbs=1.0, **kw):
    """A cell on `machine`'s CPU: `working_set` bytes, `intensity` FLOP per byte, at `gbs` GB/s."""
    peaks = device_peaks(machine, "cpu", threads)
    return _cell(
        threads=threads,
        flops=intensity * working_set,
        bytes=working_set,
        working_set_bytes=working_set,
        median=working_set / gbs / 1e9,
        **{**peaks, **kw},
    )


def test_memory_bound_cells_are_held_to_the_level_their_working_set_fits_in():
    rows = [
        _leveled(impl="under L2", working_set=2 * MIB - 1),  # two threads: two cores' L2
        _leveled(impl="over L2", working_set=2 * MIB + 1),
        _leveled(impl="one thread", threads=1, working_set=2 * MIB - 1),  # one core's L2 does not hold it
        _leveled(impl="under L3", working_set=32 * MIB),
        _leveled(impl="over L3", working_set=32 * MIB + 1),
    ]
    m = add_metrics(pd.DataFrame(rows)).set_index("impl")
    assert m["peak_of"].to_dict() == {
        "under L2": "L2 bandwidth",
        "over L2": "L3 bandwidth",
        "one thread": "L3 bandwidth",
        "under L3": "L3 bandwidth",
        "over L3": "DRAM bandwidth",
    }
    assert m["peak_value"].to_dict() == {
        "under L2": 200.0,
        "over L2": 50.0,
        "one thread": 50.0,
        "under L3": 50.0,
        "over L3": 10.0,
    }
    assert (m["bound"] == "memory").all() and (m["rate_unit"] == "GB/s").all()
    assert m["pct_of_peak"].to_list() == pytest.approx([0.5, 2.0, 2.0, 2.0, 10.0])
    # no level measured (an older machine.json): the one figure, under its old name
    old = {
        "peaks": {"cpu": {"threads": 2, "best": {"fp32_gemm_gflops": {"value": 100.0}, "memory_gbs": {"value": 10.0}}}}
    }
    row = _leveled(machine=old)
    del row["working_set_bytes"]  # a record from before working sets: its bytes moved count
    m = add_metrics(pd.DataFrame([row]))
    assert m["peak_of"][0] == "memory bandwidth" and m["pct_of_peak"][0] == pytest.approx(10.0)


def test_the_bound_is_decided_once_for_rate_and_percent_of_peak():
    rows = [  # the scenario's own memory_bound flag says the opposite each time: the roofline decides
        _leveled(
            impl="qgemm above the ridge", work_unit="OP", intensity=64.0, working_set=64 * MIB, memory_bound=True
        ),  # 64 OP/B x 10 GB/s > 400 GOP/s
        _leveled(impl="qgemm below the ridge", work_unit="OP", intensity=16.0, working_set=64 * MIB),
        _leveled(impl="sigmoid", intensity=0.375, working_set=8 * MIB),  # 0.375 x 50 GB/s < 100 GFLOP/s
    ]
    m = add_metrics(pd.DataFrame(rows)).set_index("impl")
    assert m["bound"].to_list() == ["compute", "memory", "memory"]
    assert m["rate_unit"].to_list() == ["GOP/s", "GB/s", "GB/s"]
    assert m["peak_of"].to_list() == ["int8 GEMM", "DRAM bandwidth", "L3 bandwidth"]
    for _, cell in m.iterrows():
        assert cell["rate"] == (cell["gbs"] if cell["bound"] == "memory" else cell["gflops"])
        assert cell["pct_of_peak"] == pytest.approx(100 * cell["rate"] / cell["peak_value"])


def test_a_cell_above_its_ceiling_keeps_its_figure_and_is_flagged():
    rows = [
        _leveled(impl="sigmoid", intensity=0.375, working_set=8 * MIB, gbs=71.0),  # 142% of L3's 50 GB/s
        _leveled(impl="conv", intensity=50.0, working_set=8 * MIB, gbs=2.4),  # 120 GFLOP/s of 100
        _leveled(impl="fine", intensity=0.375, working_set=8 * MIB, gbs=25.0),
    ]
    m = add_metrics(pd.DataFrame(rows)).set_index("impl")
    assert m.loc["sigmoid", "pct_of_peak"] == pytest.approx(142.0)  # not capped
    assert m["ceiling_low"].to_list() == [True, True, False]
    assert m.loc["sigmoid", "peak_note"] == "above the L3 bandwidth ceiling: the ceiling read low"
    assert m.loc["conv", "peak_note"] == "above the fp32 GEMM ceiling: the ceiling read low"
    assert m.loc["fine", "peak_note"] == ""
    failed = add_metrics(pd.DataFrame([{**rows[0], "status": "error"}]))  # a failed cell gets no figures
    assert not failed["ceiling_low"][0] and math.isnan(failed["pct_of_peak"][0])


def test_a_cell_above_its_ceiling_only_within_its_noise_is_not_flagged():
    """142% of the ceiling with an interval whose slow end reads 95%: at the ceiling, within
    the cell's noise, shown as measured; with a tight interval the same figure is flagged."""
    row = _leveled(impl="sigmoid", intensity=0.375, working_set=8 * MIB, gbs=71.0)
    median = row["median"]
    wide = add_metrics(pd.DataFrame([{**row, "ci_low": median * 0.9, "ci_high": median * 142 / 95}]))
    assert wide["pct_of_peak"][0] == pytest.approx(142.0) and not wide["ceiling_low"][0]
    assert wide["peak_note"][0] == "at the L3 bandwidth ceiling, within the cell's noise"
    tight = add_metrics(pd.DataFrame([{**row, "ci_low": median * 0.99, "ci_high": median * 1.01}]))
    assert tight["ceiling_low"][0]


def test_a_ceiling_marked_invalid_gives_a_dash_and_one_reason():
    rows = [
        _leveled(impl="sigmoid", intensity=0.375, working_set=8 * MIB, gbs=71.0, invalid_peaks="peak_l3_gbs"),
        _leveled(impl="conv", intensity=50.0, working_set=8 * MIB, gbs=1.6, invalid_peaks="peak_l3_gbs"),
    ]
    m = add_metrics(pd.DataFrame(rows)).set_index("impl")
    assert math.isnan(m.loc["sigmoid", "pct_of_peak"]) and not m.loc["sigmoid", "ceiling_low"]
    assert m.loc["sigmoid", "peak_note"] == "L3 bandwidth ceiling invalid for this run (machine header)"
    assert m.loc["conv", "pct_of_peak"] == pytest.approx(80.0)  # held to fp32 GEMM: still a figure


def test_machine_lines_name_each_bandwidth_level_with_its_working_set():
    lines = {what: (value, how) for _, what, value, how in peak_lines(LEVELED)}
    assert list(lines) == ["fp32 GEMM", "int8 GEMM", "L2 bandwidth", "L3 bandwidth", "DRAM bandwidth"]
    assert lines["L3 bandwidth"][0] == "50.0 GB/s" and "16 MiB working set" in lines["L3 bandwidth"][1]
    old = {"peaks": {"cpu": {"threads": 2, "best": {"memory_gbs": {"value": 10.0}}}}}
    assert [what for _, what, _, _ in peak_lines(old)] == ["fp32 GEMM", "int8 GEMM", "memory bandwidth"]


def test_report_table_markdown_json_csv(capsys, mixed_run, tmp_path):
    records = read_results(mixed_run)
    code, out, err = run_cli(capsys, "report", mixed_run)
    assert code == 0 and not err
    assert "fp32 GEMM" in out and "DRAM bandwidth" in out  # the machine's peaks head the table
    for status in ("ok", "unsupported", "invalid", "error", "timeout"):
        assert status in out
    assert "no CUDA device" in out and "best % of peak" in out

    code, out, _ = run_cli(capsys, "report", mixed_run, "--format", "markdown")
    assert code == 0 and "## conv" in out and "| phase |" in out

    csv_path = tmp_path / "cells.csv"
    code, out, err = run_cli(capsys, "report", mixed_run, "--format", "json", "--csv", str(csv_path))
    assert code == 0 and "csv:" in err  # notes go to stderr: stdout stays JSON
    doc = json.loads(out)
    assert len(doc["cells"]) == len(records)
    by_status = {}
    for cell in doc["cells"]:
        by_status.setdefault(cell["status"], []).append(cell)
    for cell in by_status["ok"]:
        assert cell["median_ms"] > 0 and cell["rate"] > 0 and len(cell["samples_s"]) == 3
    for status in ("unsupported", "invalid", "error", "timeout"):
        for cell in by_status[status]:
            assert cell["median_ms"] is None and cell["rate"] is None and cell["pct_of_peak"] is None
            assert cell["reason"] and cell["samples_s"] == []
    assert doc["machines"][0]["peaks"]["cpu"]["best"]["fp32_gemm_gflops"]["value"] > 0
    csv = pd.read_csv(csv_path)
    assert len(csv) == len(records) and {"median_ms", "pct_of_peak", "reason", "source"} <= set(csv.columns)


def test_two_machines_side_by_side_with_ratio(capsys, tiny_run, other_machine):
    df, sources = load_sources([tiny_run, other_machine])
    assert [s.label for s in sources] == [sources[0].machine["hostname"], "other-box"]
    table, labels = side_by_side(df)
    assert labels == [s.label for s in sources]
    ratio = table[f"other-box vs {labels[0]}"]
    ok = table[f"{labels[0]} status"] == "ok"
    assert ok.sum() == 12
    assert ratio[ok].to_list() == pytest.approx([1 / SLOWER] * 12)
    assert ratio[~ok].isna().all()
    code, out, _ = run_cli(capsys, "report", tiny_run, other_machine)
    assert code == 0 and "side by side" in out and "other-box" in out and "0.50x" in out


def test_one_machine_at_two_versions_is_told_apart_by_directory(tiny_run, tmp_path):
    from tests.conftest import copy_results

    newer = copy_results(
        tiny_run, tmp_path / "torch-next", lambda r: dict(r, impl_version="9.9") if r["impl"] == "torch" else r
    )
    _, sources = load_sources([tiny_run, newer])
    assert sources[0].machine["machine_id"] == sources[1].machine["machine_id"]
    assert sources[1].label.endswith("(torch-next)") and sources[0].label != sources[1].label


def test_two_machines_of_one_host_name_are_told_apart_by_id_or_their_given_name(tiny_run, tmp_path):
    from tests.conftest import copy_results

    def other(m):
        return dict(m, machine_id="0ther1d0000")

    twin = copy_results(tiny_run, tmp_path / "twin", lambda r: dict(r, machine_id="0ther1d0000"), other)
    _, sources = load_sources([tiny_run, twin])
    host, first_id = sources[0].machine["hostname"], sources[0].machine["machine_id"]
    assert [s.label for s in sources] == [f"{host} [{first_id[:6]}]", f"{host} [0ther1]"]
    named = copy_results(tiny_run, tmp_path / "named", edit_machine=lambda m: dict(other(m), machine_name="lab-b"))
    _, sources = load_sources([tiny_run, named])
    assert [s.label for s in sources] == [host, "lab-b"]  # `dlbench run --machine` names it


def _nasty(text):
    """The fabricated strings, whichever way they appear, must not be live markup."""
    return re.search(r"<script|<img|<svg onload|<b>impl", text)


def test_html_is_self_contained_escaped_and_complete(capsys, mixed_run, tmp_path):
    page_path = tmp_path / "report.html"
    code, out, _ = run_cli(capsys, "report", mixed_run, "--html", str(page_path))
    assert code == 0 and f"html report: {page_path}" in out
    page = page_path.read_text()
    assert not _nasty(page), "a string from results reached the page unescaped"
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "evil&lt;b&gt;impl&lt;/b&gt;" in page
    # nothing fetched from anywhere: no scripts, no external links, fonts, images or stylesheets
    tags = re.findall(r"<[^>]+>", page)
    assert not [t for t in tags if re.match(r"<(script|link|img|iframe|object|embed|image|use)\b", t, re.I)]
    names = [re.sub(r'="[^"]*"', '=""', t) for t in tags]  # attribute names; values are escaped text
    assert not [t for t in names if re.search(r"\s(src|srcset|xlink:href)=", t, re.I)]
    assert not [t for t in tags if re.search(r"""\shref=["'](?!#)""", t, re.I)]
    style = page[page.index("<style>") : page.index("</style>")]
    assert "url(" not in style and "@import" not in style and "@font-face" not in style
    assert "Content-Security-Policy" in page
    records = read_results(mixed_run)
    rows = re.findall(r'<tr class="cell[^"]*" data-cell="([^"]+)" data-status="([^"]+)"', page)
    assert len(rows) == len(records) and len(set(rows)) == len(records)
    assert sorted(s for _, s in rows) == sorted(r["status"] for r in records)
    groups = {(r["scenario"], r["phase"], r["size"]) for r in records}
    assert page.count('data-chart="bars"') == len(groups)
    assert page.count('data-chart="distribution"') == len(groups)  # every group has an ok cell here
    assert page.count('data-chart="roofline"') == 1  # cpu only: no cuda cell ran
    assert page.count('class="bar"') == sum(r["status"] == "ok" for r in records)
    assert page.count('class="sample"') == sum(len(r["samples"]) for r in records)


def test_html_for_two_machines_has_ratio_chart(capsys, tiny_run, other_machine, tmp_path):
    page_path = tmp_path / "two.html"
    assert run_cli(capsys, "report", tiny_run, other_machine, "--html", str(page_path))[0] == 0
    page = page_path.read_text()
    assert 'id="side-by-side"' in page and page.count('data-chart="ratios"') == 1
    assert page.count('data-chart="roofline"') == 2 and page.count('class="ratio"') == 12


@pytest.mark.parametrize(
    "name, results, machine, needle",
    [
        ("corrupt", "GOOD\n{not json\nGOOD\n", None, "results.jsonl line 2: not valid JSON"),
        # a cut line WITHOUT its newline is a torn last line, skipped (tests/test_results_safety.py)
        ("cut, then newline", "GOOD\nGOOD_CUT\n", None, "results.jsonl line 2: not valid JSON"),
        ("empty", "", None, "results.jsonl: empty, no results to report"),
        ("blank lines", "\n\n", None, "results.jsonl: empty, no results to report"),
        ("foreign JSON", '{"name": "test_x", "stats": {"mean": 1}}\n', None, "line 1: not a dlbench record"),
        ("foreign text", "time,value\n1,2\n", None, "line 1: not valid JSON"),
        ("binary", "\x00\x01\x02garbage\n", None, "line 1: not valid JSON"),
        ("incomplete record", '{"schema": 1, "scenario": "conv"}\n', None, "line 1: not a complete dlbench record"),
        ("unknown status", "GOOD_BADSTATUS\n", None, "line 1: unknown status 'fine'"),
        ("ok without median", "GOOD_NOMEDIAN\n", None, "line 1: status ok without a positive median"),
        ("machine corrupt", "GOOD\n", '{\n "machine_id": ,\n "x": 1}\n', "machine.json line 2: not valid JSON"),
        ("machine foreign", "GOOD\n", "[1, 2]\n", "machine.json line 1: not a dlbench machine fingerprint"),
    ],
)
def test_bad_results_files_give_one_line_naming_file_and_line(
    capsys, tiny_run, tmp_path, name, results, machine, needle
):
    good = next(r for r in read_results(tiny_run) if r["status"] == "ok")
    line = json.dumps(good)
    text = (
        results.replace("GOOD_CUT", line[: len(line) // 2])
        .replace("GOOD_BADSTATUS", json.dumps(dict(good, status="fine")))
        .replace("GOOD_NOMEDIAN", json.dumps(dict(good, median=None)))
        .replace("GOOD", line)
    )
    d = tmp_path / "bad"
    d.mkdir()
    (d / "results.jsonl").write_text(text)
    if machine is not None:
        (d / "machine.json").write_text(machine)
    for argv in (["report", str(d)], ["report", tiny_run, str(d), "--html", str(tmp_path / "x.html")]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2, name
        assert needle in err and str(d) in err, (name, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err + out
    assert not (tmp_path / "x.html").exists()
    with pytest.raises(LoadError):
        load([str(d)])


def test_report_paths_that_are_not_results(capsys, tiny_run, tmp_path):
    cases = [
        ([str(tmp_path / "missing")], "no such results directory"),
        ([os.path.join(tiny_run, "results.jsonl")], "not a results directory"),
        ([str(tmp_path)], "no results.jsonl here"),
        ([tiny_run, "--html", str(tmp_path / "no" / "such" / "dir" / "r.html")], "cannot write"),
        ([tiny_run, "--csv", str(tmp_path)], "cannot write"),
        ([tiny_run, "--format", "xml"], "invalid choice: 'xml'"),
    ]
    for argv, needle in cases:
        code, out, err = run_cli(capsys, "report", *argv)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, (argv, err)
        assert "Traceback" not in err + out


def test_peaks_measured_on_a_busy_machine_carry_a_warning(capsys, tiny_run, tmp_path):
    from tests.conftest import copy_results

    def busy(m):
        m["peaks"]["cpu"]["warning"] = "machine busy while measuring (load average 3.0 on 2 cores)"
        return m

    d = copy_results(tiny_run, tmp_path / "busy", edit_machine=busy)
    code, out, _ = run_cli(capsys, "report", d, "--html", str(tmp_path / "busy.html"))
    assert code == 0 and "cpu WARNING: machine busy while measuring" in out
    assert "machine busy while measuring" in (tmp_path / "busy.html").read_text()


def test_report_without_peaks_says_how_to_get_them(capsys, tiny_run, tmp_path):
    from tests.conftest import copy_results

    bare = copy_results(
        tiny_run, tmp_path / "bare", edit_machine=lambda m: {k: v for k, v in m.items() if k != "peaks"}
    )
    code, out, _ = run_cli(capsys, "report", bare, "--format", "json")
    doc = json.loads(out)
    ok = [c for c in doc["cells"] if c["status"] == "ok"]
    assert ok and all(c["pct_of_peak"] is None and "dlbench machine" in c["reason"] for c in ok)
    code, out, _ = run_cli(capsys, "report", bare)
    assert code == 0 and "no peaks measured" in out
    shutil.rmtree(bare)


# --- precision and flags (issue 13): intervals, digits the spread supports, contended / noisy / ceiling-low ---

from reports.precision import FLAGS, median_text, ratio_interval, ratio_text, spread_decimals, with_spread  # noqa: E402
from reports.summary import FLAG_MARKS  # noqa: E402
from tests.conftest import cell_of, copy_results, strip_precision  # noqa: E402


@pytest.mark.parametrize(
    "value, half, shown",
    [
        (12.345, 0.4, "12.3"),
        (12.345, 0.04, "12.35"),
        (12.345, 4, "12"),
        (1234.5, 60, "1230"),
        (1234.5, 600, "1200"),
        (0.0503, 0.0002, "0.0503"),
        (0.0503, 0.01, "0.05"),
        (0.19, 3.0, "0.2"),  # a spread wider than the value still shows one digit of it
        (5.0, 1e-12, "5.00000"),  # never more than 6 significant digits
        (9.96, 0.3, "10.0"),  # rounding up across a power of ten keeps the place
        (0.5, 0.1, "0.5"),
        (0.5, 0.099, "0.50"),
        (3.0, 0.0, "3"),
        (3.0, None, "3"),
        (3.0, math.nan, "3"),
        (3.0, -1.0, "3"),  # no spread: 4 digits
        (math.nan, 0.1, ""),
        (None, 0.1, ""),
    ],
)
def test_with_spread_edge_cases(value, half, shown):
    assert with_spread(value, half) == shown


def test_median_and_ratio_text():
    assert median_text(12.3456, 11.9, 12.8, 0.75) == "12.3 [11.9-12.8] 75%"
    assert median_text(12.3456, 11.9, 12.8, 0.9375) == "12.3 [11.9-12.8] 93.7%"  # never rounded up
    assert median_text(12.3456, iqr=0.04) == "12.35"  # no interval: the IQR sets the digits
    assert median_text(12.3456) == "12.35" and median_text(math.nan, 1, 2, 0.9) == ""
    assert ratio_text(0.523, 0.41, 0.66) == "0.5x [0.4-0.7]" and ratio_text(0.523) == "0.52x"
    assert spread_decimals(100.0, 0.0) is None


def _precise(**kw):
    row = _cell(flops=1e9, bytes=1e9, **{k: v for k, v in kw.items() if not k.startswith("ci")})
    row.update({k: v for k, v in kw.items() if k.startswith("ci")})
    return row


def test_ratio_intervals_on_a_constructed_example():
    rows = [
        _precise(impl="reference", median=4.0, ci_low=3.8, ci_high=4.4, ci_level=0.75),
        _precise(impl="fast", median=1.0, ci_low=0.9, ci_high=1.2, ci_level=0.75),
        _precise(impl="mid", median=2.0, ci_low=1.6, ci_high=2.5, ci_level=0.9375),
        _precise(impl="old", median=3.0),
    ]  # no interval: no ratio interval either
    m = add_metrics(pd.DataFrame(rows)).set_index("impl")
    # vs_fastest = fastest / this: [lo_fast / hi_this, hi_fast / lo_this]
    assert m.loc["mid", "vs_fastest"] == pytest.approx(0.5)
    # vs_reference = reference / this: 4.0 / 1.0, 4.0 / 2.0, 4.0 / 3.0
    assert m["vs_reference"].to_dict() == pytest.approx({"reference": 1.0, "fast": 4.0, "mid": 2.0, "old": 4 / 3})
    assert (m.loc["mid", "vs_fastest_low"], m.loc["mid", "vs_fastest_high"]) == pytest.approx((0.9 / 2.5, 1.2 / 1.6))
    assert (m.loc["reference", "vs_fastest_low"], m.loc["reference", "vs_fastest_high"]) == pytest.approx(
        (0.9 / 4.4, 1.2 / 3.8)
    )
    assert (m.loc["fast", "vs_reference_low"], m.loc["fast", "vs_reference_high"]) == pytest.approx(
        (3.8 / 1.2, 4.4 / 0.9)
    )
    assert math.isnan(m.loc["fast", "vs_fastest_low"])  # a cell against itself is exactly 1
    assert math.isnan(m.loc["old", "vs_fastest_low"]) and math.isnan(m.loc["old", "vs_reference_high"])
    assert ratio_interval(1.0, 2.0, None, 4.0) == (None, None)
    # side by side: the base's interval over the other's, the same rule
    other = [
        dict(
            r,
            source="n",
            source_order=1,
            median=r["median"] * 2,
            **({"ci_low": r["ci_low"] * 2.5, "ci_high": r["ci_high"] * 1.5} if "ci_low" in r else {}),
        )
        for r in rows
    ]
    table, labels = side_by_side(pd.DataFrame(rows + other))
    mid = table.set_index("impl").loc["mid"]
    assert mid["n vs m"] == pytest.approx(0.5)
    assert (mid["n vs m low"], mid["n vs m high"]) == pytest.approx((1.6 / (2.5 * 1.5), 2.5 / (1.6 * 2.5)))
    assert math.isnan(table.set_index("impl").loc["old", "n vs m low"])


NOTE = re.compile(r"^(- )?\[(\d+)\] (.*)")  # a numbered reason under a table
LEGEND = re.compile(r"^(  \S  |- `\S` )")  # a mark's meaning under a summary


def _flag_lines(text, flag):
    """The table rows that carry `flag` (not the notes and the legends under the tables)."""
    return [
        line
        for line in text.splitlines()
        if not NOTE.match(line) and not LEGEND.match(line) and re.search(rf"(^|[\s|]){flag}($|[\s|:])", line)
    ]


def _notes_of(section):
    """{number: reason} of the notes under the first table of a section."""
    return {int(m.group(2)): m.group(3) for m in map(NOTE.match, section.splitlines()) if m}


def _row_matches(line, cell):
    scenario, phase, impl, mode, device = cell
    return all(re.search(rf"(^|[\s|]){re.escape(w)}($|[\s|])", line) for w in (phase, impl, mode, device))


def test_flags_show_on_exactly_the_flagged_cells_in_every_format(capsys, flagged_run, tmp_path):
    d, expected = flagged_run
    code, text, _ = run_cli(capsys, "report", d)
    assert code == 0
    for fmt, out in (("table", text), ("markdown", run_cli(capsys, "report", d, "--format", "markdown")[1])):
        for cell, flag in expected.items():
            lines = _flag_lines(out, flag)
            assert len(lines) == 1 and _row_matches(lines[0], cell), (fmt, flag, lines)
            section = out.split(f"\n{cell[0]}\n" if fmt == "table" else f"## {cell[0]}\n", 1)[1]
            section = section.split("\n\n")[0] if fmt == "table" else section.split("\n## ")[0]
            assert lines[0] in section, (fmt, flag)
            # the row's note (its last column) is the flag's reason, written once under the table
            number = int(lines[0].strip(" |").split()[-1])
            assert _notes_of(section)[number].startswith(flag), (fmt, flag)
    assert "other processes used 1.37 cores (> 0.25)" in text and "noisy: processes spread 40%" in text
    assert "the ceiling read low" in text
    assert "reason" not in text.split("\n\n")[2]  # no reason column: the notes under each table

    csv_path = tmp_path / "cells.csv"
    code, out, _ = run_cli(capsys, "report", d, "--format", "json", "--csv", str(csv_path))
    doc = json.loads(out)
    shown = {(c["scenario"], c["phase"], c["impl"], c["mode"], c["device"]): c["flags"] for c in doc["cells"]}
    assert {k: v for k, v in shown.items() if v} == expected
    csv = pd.read_csv(csv_path, keep_default_na=False)
    shown = {(r["scenario"], r["phase"], r["impl"], r["mode"], r["device"]): r["flags"] for _, r in csv.iterrows()}
    assert {k: v for k, v in shown.items() if v} == expected
    for column in (
        "ci_low_ms",
        "ci_high_ms",
        "ci_level",
        "vs_fastest_low",
        "vs_fastest_high",
        "vs_reference_low",
        "vs_reference_high",
        "flags",
        "other_cpu",
        "n_processes",
    ):
        assert column in csv.columns and column in doc["cells"][0], column
    cells = {cell_of(c): c for c in doc["cells"]}
    busy = cells[next(k for k, v in expected.items() if v == "contended")]
    assert busy["ci_level"] == 0.75 and busy["ci_low_ms"] < busy["median_ms"] < busy["ci_high_ms"]
    assert busy["other_cpu"] == 1.37 and len(busy["process_medians_ms"]) == 3
    assert all(c["ci_low_ms"] is None and c["flags"] == "" for c in doc["cells"] if c["status"] != "ok")
    old = [c for c in doc["cells"] if c["status"] == "ok" and c["scenario"] == "qgemm" and c["impl"] == "torch"]
    assert old and all(c["ci_low_ms"] is None and c["vs_fastest_low"] is None for c in old)

    page_path = tmp_path / "flags.html"
    assert run_cli(capsys, "report", d, "--html", str(page_path))[0] == 0
    page = page_path.read_text()
    rows = re.findall(
        r'<tr class="([^"]*)" data-cell="([^"]+)" data-status="[^"]+" data-flags="([^"]*)">(.*?)</tr>', page
    )
    assert len(rows) == len(read_results(d))
    flagged = {}
    for cls, key, flags, html in rows:
        source, scenario, phase, size, impl, device, mode, threads, ranks, scaling, seed = key.split("|")
        words = [f for f in FLAGS if f'class="flag flag-{f}" title="{f}">{FLAG_MARKS[f]}<' in html]
        assert words == flags.split() and ("flagged" in cls.split()) == bool(words)
        assert all(f"flag-{w}" in cls.split() for w in words)
        if words:
            flagged[(scenario, phase, impl, mode, device)] = " ".join(words)
            # its badge is followed by the number of its note, under its table: the flag's reason
            note = re.search(r'<a class="note-ref" href="#([^"]+)">', html).group(1)
            assert re.search(rf'<li id="{note}"><span class="flag flag-{words[0]}">[^<]+</span> {words[0]}', page)
    assert flagged == expected
    legend = page[page.index('id="flags-legend"') :]
    legend = legend[: legend.index("</ul>")]
    assert "other processes &gt; 0.25 cores" in legend and "processes spread of the median &gt; 20%" in legend
    assert "100% of the ceiling" in legend
    assert "tr.flagged td{background" in page
    # the throughput bars: a whisker over every interval, the flags as words beside the bar
    assert page.count('class="ci-whisker"') == sum(c["ci_low_ms"] is not None for c in doc["cells"])
    assert sorted(re.findall(r'class="flag-text"[^>]*>([^<]+)<', page)) == sorted(expected.values())


def _significant(text):
    return len(text.split()[0].replace(".", "").lstrip("0"))


def test_digits_follow_the_spread(flagged_run):
    from reports.table import results_table

    d, expected = flagged_run
    table = results_table(load([d]))
    shown = {}
    for cell, flag in expected.items():
        row = table[
            (table["scenario"] == cell[0])
            & (table["phase"] == cell[1])
            & (table["impl"] == cell[2])
            & (table["mode"] == cell[3])
            & (table["device"] == cell[4])
        ]
        shown[flag] = row["median ms"].iloc[0]
    tight, wide = shown["contended"], shown["noisy"]  # +-0.4% and +-20% around their medians
    for text in (tight, wide):
        assert re.fullmatch(r"[\d.]+ \[[\d.]+-[\d.]+\] 75%", text), text
    assert _significant(tight) >= 3 and _significant(wide) <= 2, (tight, wide)


def test_records_without_the_new_fields_still_render(capsys, tiny_run, tmp_path):
    old = copy_results(tiny_run, tmp_path / "old", strip_precision)
    code, out, _ = run_cli(capsys, "report", old, "--html", str(tmp_path / "old.html"))
    assert code == 0 and "flags" in out
    for flag in ("contended", "noisy"):  # record fields: absent, so never set
        assert not _flag_lines(out, flag)
    assert not re.search(r"\d \[[\d.]+-[\d.]+\]", out)  # no interval anywhere
    code, js, _ = run_cli(capsys, "report", old, "--format", "json")
    doc = json.loads(js)
    assert all(c["ci_low_ms"] is None and c["vs_fastest_low"] is None for c in doc["cells"])
    # ceiling-low is the report's own finding: on exactly the cells past 100% of their ceiling
    high = [c for c in doc["cells"] if (c["pct_of_peak"] or 0) > 100]
    assert all(c["flags"] == ("ceiling-low" if c in high else "") for c in doc["cells"])
    assert len(_flag_lines(out, "ceiling-low")) == len(high)
    page = (tmp_path / "old.html").read_text()
    assert page.count('data-flags=""') == len(doc["cells"]) - len(high)
    committed = os.path.join(os.path.dirname(os.path.dirname(__file__)), "results", "cpu-vm-2core", "small")
    if os.path.isdir(committed):
        assert run_cli(capsys, "report", committed, "--format", "markdown")[0] == 0
