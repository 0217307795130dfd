"""The machine's ceilings around a run, into machine.json (harness.machine_record): the
first probe before the cells (harness.machine_peaks), and after them the recheck, which
probes again and marks invalid a ceiling that validated cells still beat."""

from __future__ import annotations

import sys

from harness import machine_peaks


class Ceilings:
    def __init__(self, record):
        self.record = record  # harness.machine_record.MachineRecord: the facts, machine.json, where workers run

    def probe(self, impl_names, seconds=None, devices=None, keep_existing=False, hint=""):
        """Measure the machine's ceilings (harness.machine_peaks) into machine.json; says on
        stderr what it measures (hint: how to skip it). devices: default every usable one.

        keep_existing: a resumed run keeps the ceilings its first part measured, so all
        its cells are compared against the same ones.
        """
        seconds = seconds or machine_peaks.DEFAULT_SECONDS
        record = self.record
        facts = record.framework_facts(impl_names)
        machine = record.machine
        devices = devices or machine_peaks.usable_devices(impl_names, facts)
        print(
            f"measuring this machine's peaks on {', '.join(devices)} ({', '.join(impl_names)}){hint}", file=sys.stderr
        )
        have = machine.setdefault("peaks", {})
        todo = [d for d in devices if not (keep_existing and (have.get(d) or {}).get("threads") == record.threads)]
        have.update(
            machine_peaks.measure_ceilings(
                todo, impl_names, facts, record.threads, seconds, record.workdir, record.side, machine
            )
        )
        record.save()
        return {d: have[d] for d in devices if d in have}

    def recheck(self, impl_names, devices, beaten):
        """After the cells: each device's ceilings probed again in new processes, minutes
        after the first probe, by the implementations that set them and those whose cells
        beat them (the best of both probes stays); a ceiling that validated cells still
        beat beyond their noise is then marked invalid for the run. beaten(out_dir):
        reports.ceiling_check.beaten, handed in (harness does not read reports)."""
        record = self.record
        peaks = record.machine.get("peaks") or {}
        hits = beaten(record.out_dir)
        for device in devices:
            entry = peaks.get(device)
            if not isinstance(entry, dict) or not isinstance(entry.get("by_impl"), dict):
                continue
            setters = {b.get("impl") for b in (entry.get("best") or {}).values() if isinstance(b, dict)}
            beaters = {h["impl"] for found in hits.get(device, {}).values() for h in found}
            who = [n for n in impl_names if n in setters | beaters]
            if not who:
                continue
            why = "second probe, after the cells"
            if hits.get(device):
                why += f"; cells beat {', '.join(sorted(hits[device]))} beyond their noise"
            print(f"probing {device} peaks again ({', '.join(who)}): {why}", file=sys.stderr)
            machine_peaks.reprobe(entry, why, device, who, record.facts, record.workdir, record.side, record.timeout)
            record.save()
        for device, metrics in beaten(record.out_dir).items():
            for metric, found in metrics.items():
                machine_peaks.invalidate(peaks[device], metric, found)
                print(
                    f"{device} {metric} ceiling invalid for this run: {peaks[device]['invalid'][metric]}",
                    file=sys.stderr,
                )
        record.save()
