"""What each source ran on: machine facts and measured peaks, for every report format."""

from __future__ import annotations

PEAKS = [
    ("fp32_gemm_gflops", "fp32 GEMM", "GFLOP/s"),
    ("int8_gemm_gops", "int8 GEMM", "GOP/s"),
    ("memory_gbs_l2", "L2 bandwidth", "GB/s"),
    ("memory_gbs_l3", "L3 bandwidth", "GB/s"),
    ("memory_gbs", "memory bandwidth", "GB/s"),
]  # "DRAM bandwidth" beside the cache levels
LEVELS = ("memory_gbs_l2", "memory_gbs_l3")


def _gib(n):
    return f"{n / (1 << 30):.1f} GiB" if isinstance(n, (int, float)) else "?"


def framework_versions(machine):
    out = {}
    for name, info in sorted((machine.get("frameworks") or {}).items()):
        if not isinstance(info, dict):
            continue
        out[name] = str(info.get("version")) if info.get("version") else "not installed"
    return out


def peak_lines(machine):
    """[(device, what, 'value unit', by whom and how)] of the measured peaks."""
    lines = []
    for device, entry in sorted((machine.get("peaks") or {}).items()):
        best = entry.get("best") if isinstance(entry, dict) else None
        if not best:  # nothing ran there: one line with each implementation's reason
            why = "; ".join(
                f"{name}: {' '.join(str(v) for v in e.values())}"
                for name, e in ((entry or {}).get("by_impl") or {}).items()
                if isinstance(e, dict)
            )
            lines.append((device, "all", "not measured", why))
            continue
        if isinstance(entry, dict) and entry.get("warning"):
            lines.append((device, "warning", "", str(entry["warning"])))
        known = [m for m, _, _ in PEAKS]
        extra = [(m, m.replace("_", " "), "") for m in (best or {}) if m not in known]
        levels = any(m in best for m in LEVELS)
        for metric, what, unit in PEAKS + extra:
            b = (best or {}).get(metric)
            if metric in LEVELS and not levels:
                continue  # one bandwidth figure (an older machine.json, or a GPU)
            if metric == "memory_gbs" and levels:
                what = "DRAM bandwidth"
            if isinstance(b, dict) and isinstance(b.get("value"), (int, float)):
                size = b.get("working_set_bytes")
                where = f"{size / (1 << 20):.4g} MiB working set, " if isinstance(size, int) else ""
                lines.append(
                    (
                        device,
                        what,
                        f"{b['value']:.1f} {unit}".strip(),
                        f"{b.get('impl', '?')}: {where}{b.get('how', '')} ({entry.get('threads', '?')} threads)",
                    )
                )
            elif metric in (entry.get("merged") or {}):  # why is in the warning, said once
                measured = (entry["merged"][metric] or {}).get("value")
                got = f"{measured:.1f} {unit} measured; " if isinstance(measured, (int, float)) else ""
                lines.append((device, what, "merged into the next level", f"{got}its cells are held to that one"))
            else:
                lines.append((device, what, "not measured", ""))
        for metric, reason in sorted((entry.get("invalid") or {}).items()):
            what = dict((m, w) for m, w, _ in PEAKS).get(metric, metric.replace("_", " "))
            lines.append((device, what, "invalid for this run", f"% of it shows a dash: {reason}"))
        if entry.get("reprobes"):
            whys = "; ".join(f"{p.get('measured', '?')}: {p.get('why', '')}" for p in entry["reprobes"])
            lines.append((device, "probed again", "", whys))
    return lines


def speed_line(machine):
    """The machine's speed over the run from its drift sentinel (harness.sentinel), one line;
    '' for a run without one (older results, --no-lockstep)."""
    s = machine.get("sentinel")
    if not isinstance(s, dict) or not isinstance(s.get("median"), (int, float)) or s["median"] <= 0:
        return ""
    med = s["median"]
    p5, p95 = s.get("p5", med), s.get("p95", med)
    return (
        f"speed over the run (drift sentinel, {len(s.get('points') or [])} readings): {med * 1e3:.3g} ms median, "
        f"p5-p95 {p5 * 1e3:.3g}-{p95 * 1e3:.3g} ms ({p5 / med - 1:+.0%} to {p95 / med - 1:+.0%}); noise "
        f"{s.get('noise', 0):.1%}, cells timed beyond {s.get('slow_bound', 0):.0%} slower are flagged drift"
    )


def summary(source):
    """{field: text} of one source's machine, in display order."""
    m = source.machine
    cpu = m.get("cpu") or {}
    gpus = ", ".join(f"{g.get('name')} ({g.get('memory')})" for g in (m.get("gpus") or []) if isinstance(g, dict))
    return {
        "source": source.label,
        "results": source.results_dir,
        "host": str(m.get("hostname", "?")),
        "machine id": str(m.get("machine_id", "?")),
        "CPU": f"{cpu.get('model', '?')} ({m.get('cores_physical', '?')} cores, {m.get('cores_logical', '?')} "
        f"threads, {m.get('cpu_affinity', '?')} usable)",
        "memory": _gib(m.get("memory_bytes")),
        "GPUs": gpus or "none",
        "OS": str(m.get("os", "?")),
        "Python": str(m.get("python", "?")),
        "dlbench": f"{m.get('dlbench_version', '?')} ({m.get('git_commit') or 'no git commit'})",
        "frameworks": ", ".join(f"{k} {v}" for k, v in framework_versions(m).items()) or "?",
        "speed over the run": speed_line(m) or "not measured (no drift sentinel in this run)",
    }


def machine_lines(sources):
    """Terminal lines: one block per source, its peaks included."""
    lines = []
    for source in sources:
        s = summary(source)
        lines.append(f"{s['source']}: {s['CPU']}, {s['memory']}, GPUs: {s['GPUs']}; {s['frameworks']}")
        if speed_line(source.machine):
            lines.append(f"  {speed_line(source.machine)}")
        peaks = peak_lines(source.machine)
        if not peaks:
            lines.append("  no peaks measured: `dlbench machine --out DIR` adds them; % of peak stays empty")
        for device, what, value, how in peaks:
            if what == "warning":
                lines.append(f"  {device} WARNING: {how}")
            else:
                lines.append(f"  {device} {what}: {value}" + (f"  ({how})" if how else ""))
    return lines
