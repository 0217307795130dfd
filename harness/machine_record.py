"""What this machine and its frameworks are, for one results directory's machine.json:
each implementation's framework facts (asked of its own worker), the machine's
fingerprint and the name the user gives it, and later the drift sentinel of the run or
`dlbench machine`'s noise floor. The ceilings (harness.ceilings) go into the same file.
"""

from __future__ import annotations

import tempfile
import time

import impls
from harness import fingerprint, sentinel
from harness.processes import Side, run_worker, worker_env
from harness.results import read_machine, write_machine
from harness.results_dir import RunError


def framework_facts(impl_names, threads, workdir=None, timeout=300, side=None):
    """Ask each implementation's own interpreter what it is: installed, version, devices
    (the worker's `probe` request, which calls the adapter's probe())."""
    workdir = workdir or tempfile.mkdtemp(prefix="dlbench-")
    side = side or Side()
    facts = {}
    for name in impl_names:
        manifest = impls.manifest(name)
        if name in side.unbuilt:
            facts[name] = {"installed": False, "reason": side.unbuilt[name]}
            continue
        python, reason = side.interpreter(manifest)
        if python is None:
            facts[name] = {"installed": False, "reason": reason}
            continue
        res = run_worker(
            python,
            {"impl": name, "probe": True},
            worker_env(threads, manifest, side.repo_root),
            timeout,
            workdir,
            side.repo_root,
        )
        if res.get("status") in ("error", "timeout"):
            # a broken environment (its worker cannot even start) is fixed by the same command
            res = {
                "installed": False,
                "reason": f"{name}'s worker failed under {python}: {res['reason']}; fix: {manifest.install_hint}",
                "python": python,
            }
        elif not res.get("installed") and not res.get("malformed"):  # malformed: its reason says what is wrong
            res["reason"] = f"{name} is not installed for {python} ({res.get('reason')}); fix: {manifest.install_hint}"
        facts[name] = res
    return facts


class MachineRecord:
    """machine.json of OUT for one command. timeout: seconds a worker's probe may take;
    machine_name: --machine, kept in machine.json."""

    def __init__(self, out_dir, threads, workdir, side, timeout=300, machine_name=None):
        self.out_dir, self.threads, self.workdir, self.side = out_dir, threads, workdir, side
        self.timeout, self.machine_name = timeout, machine_name
        self.facts = {}  # impl -> framework_facts()
        self.machine = None  # machine.json's contents once written

    def framework_facts(self, impl_names):
        """framework_facts() of the implementations not asked yet, kept in self.facts."""
        self.facts.update(
            framework_facts(
                [n for n in impl_names if n not in self.facts], self.threads, self.workdir, self.timeout, self.side
            )
        )
        return self.facts

    def write(self):
        """machine.json with the facts asked so far; a resumed directory keeps what its first
        part recorded, and one of another machine is refused."""
        frameworks = {
            n: p.get("info") if p.get("installed") else {"installed": False, "reason": p.get("reason")}
            for n, p in self.facts.items()
        }
        machine = fingerprint.collect(frameworks, self.side.repo_root)
        old = read_machine(self.out_dir)
        if old and old.get("machine_id") != machine["machine_id"]:
            raise RunError(
                f"{self.out_dir} holds results from machine {old.get('machine_id')} "
                f"({old.get('hostname')}); resume it there, or choose another --out"
            )
        if old:  # resuming: keep what the first part recorded, add any newly probed framework
            old.setdefault("frameworks", {}).update(frameworks)
            old.setdefault("caches", machine.get("caches"))
            machine = old
        if self.machine_name:
            machine["machine_name"] = self.machine_name
        write_machine(self.out_dir, machine)
        self.machine = machine
        return machine

    def save(self):
        write_machine(self.out_dir, self.machine)

    def record_sentinel(self, summary):
        """The run's drift sentinel (harness.sentinel.summarize) into machine.json."""
        if summary and self.machine is not None:
            self.machine["sentinel"] = summary
            self.save()

    def measure_noise_floor(self, readings=40, gap=0.05):
        """`dlbench machine`: the drift sentinel read `readings` times, `gap` seconds apart,
        into machine.json's `noise_floor`; returns its summary (harness.sentinel)."""
        from harness.lockstep import shared_cpus

        cpus = shared_cpus(self.threads)
        start, points = time.monotonic(), []
        for _ in range(readings):
            points.append(dict(sentinel.measure(max(cpus) if cpus else None), t=round(time.monotonic() - start, 3)))
            time.sleep(gap)
        summary = sentinel.summarize(points)
        self.machine["noise_floor"] = summary
        self.save()
        return summary
