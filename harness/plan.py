"""What to run: the cells of (scenario, size, phase) x (implementation, device, mode)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import impls
import records
import scenarios
from harness.errors import DlbenchError
from impls.base import KNOWN_DEVICES
from scenarios.base import SCALINGS

DEVICE_ALIASES = {"gpu": "cuda"}


@dataclass(frozen=True)
class Cell:
    scenario: str
    phase: str
    size: str
    impl: str
    device: str
    mode: str
    threads: int
    seed: int = 0
    ranks: int = 1  # data-parallel worker processes (--ranks): each its own threads
    scaling: str = ""  # a training step's batch over the ranks (scenarios.SCALINGS); "": nothing split

    def key(self):
        return records.key(self)  # a record of this cell has the same key

    def label(self):
        ranks = f" x{self.ranks} ranks" if self.ranks != 1 else ""
        ranks += f" ({self.scaling})" if self.scaling else ""
        return f"{self.scenario}/{self.phase}/{self.size} {self.impl}:{self.mode}@{self.device}{ranks}"

    def as_dict(self):
        return asdict(self)


def single_process_phases(scenario_names):
    """'scenario/phase' of the chosen scenarios that run in one process only (--ranks N > 1
    leaves them at one rank)."""
    names, phases = split_phases(scenario_names)
    chosen = _pick(names, scenarios.names(), "scenario")
    return [
        f"{n}/{p}"
        for n in chosen
        for p in phases.get(n) or scenarios.get(n).phases
        if p not in scenarios.get(n).parallel_phases
    ]


def split_phases(requested):
    """--scenario's names, each a scenario or 'scenario/phase' (task/generate): (the
    scenario names, in order and once each, {scenario: [phases]} for those narrowed)."""
    names, phases = [], {}
    for item in requested or []:
        name, _, phase = item.partition("/")
        if name not in names:
            names.append(name)
        if phase:
            if name in scenarios.names() and phase not in scenarios.get(name).phases:
                known = ", ".join(scenarios.get(name).phases)
                raise PlanError(f"unknown phase {phase!r} of scenario {name!r} (its phases: {known})")
            phases.setdefault(name, []).append(phase)
    return (names or requested), phases


class PlanError(DlbenchError, ValueError):
    """A selection that names something unknown: one line for the user."""


def _pick(requested, known, what):
    if not requested or requested == ["all"]:
        return list(known)
    unknown = [r for r in requested if r not in known]
    if unknown:
        raise PlanError(f"unknown {what} {', '.join(map(repr, unknown))} (known: {', '.join(known)})")
    return list(dict.fromkeys(requested))


def normalize_devices(devices):
    out = [DEVICE_ALIASES.get(d, d) for d in devices or ["cpu"]]
    return _pick(out, KNOWN_DEVICES, "device")


def pick_impls(requested):
    """Implementation names from a --impl list; all of them when none is given. A
    malformed one named in --impl is an error saying what is wrong with it (`dlbench
    list` shows every one); by default the well-formed ones run."""
    broken = impls.malformed()
    named = [r for r in requested or [] if r in broken]
    if named:
        raise PlanError("; ".join(f"implementation {n!r} cannot run: {broken[n]}" for n in named))
    return _pick(requested, impls.names(), "implementation")


def all_modes():
    seen = []
    for name in impls.names():
        for m in impls.manifest(name).modes:
            if m not in seen:
                seen.append(m)
    return seen


def _rank_forms(scenario, phase, ranks, scalings):
    """(ranks, scaling) of a phase's cells: one rank as it is; over several, only a phase
    with a data-parallel form, at each scaling where it splits a batch."""
    for n in ranks:
        if n == 1:
            yield n, ""
        elif phase in scenario.parallel_phases:
            yield from ((n, s) for s in (scalings if scenario.split else [""]))


def plan(
    scenario_names=None,
    impl_names=None,
    devices=None,
    modes=None,
    sizes=None,
    threads=1,
    seed=0,
    ranks=(1,),
    scalings=SCALINGS,
):
    scenario_names, chosen_phases = split_phases(scenario_names)
    chosen_scenarios = _pick(scenario_names, scenarios.names(), "scenario")
    if not scenario_names:  # the task layer's minutes-long trials run only when named (or with "all")
        chosen_scenarios = [n for n in chosen_scenarios if not scenarios.get(n).trials]
    chosen_devices = normalize_devices(devices)
    chosen_impls = pick_impls(impl_names)
    if not impl_names or impl_names == ["all"]:
        # by default, only implementations that run on a chosen device (no CuPy cells on a CPU run);
        # one that is not installed still gets cells, whose reason says how to install it
        chosen_impls = [i for i in chosen_impls if set(impls.manifest(i).devices) & set(chosen_devices)]
    explicit_modes = None if not modes or modes == ["all"] else _pick(modes, all_modes(), "mode")
    all_sizes = sorted({s for n in chosen_scenarios for s in scenarios.get(n).sizes})
    chosen_sizes = _pick(sizes or ["medium"], all_sizes, "size")
    cells = []
    for sname in chosen_scenarios:
        scenario = scenarios.get(sname)
        for size in chosen_sizes:
            if size not in scenario.sizes:
                continue  # a preset some scenarios lack (qgemm's "skinny")
            for phase in [ph for ph in scenario.phases if ph in chosen_phases.get(sname, scenario.phases)]:
                # over several ranks only what has a data-parallel form (single_process_phases says which not)
                for n, scaling in _rank_forms(scenario, phase, ranks, scalings):
                    for impl in chosen_impls:
                        # without --mode, each implementation runs every mode it has
                        impl_modes = explicit_modes or impls.manifest(impl).modes
                        for device in chosen_devices:
                            for mode in impl_modes:
                                cells.append(Cell(sname, phase, size, impl, device, mode, threads, seed, n, scaling))
    if not cells and 1 not in ranks:
        parallel = [n for n in scenarios.names() if scenarios.get(n).parallel_phases]
        raise PlanError(
            f"no scenario among {', '.join(chosen_scenarios)} runs over several ranks "
            f"(--ranks {','.join(map(str, ranks))}): those that do are {', '.join(parallel)}"
        )
    if not cells:
        raise PlanError(f"no scenario among {', '.join(chosen_scenarios)} has size {', '.join(chosen_sizes)}")
    return cells
