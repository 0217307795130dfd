"""The scenario set: one module per scenario, each exporting SCENARIO.

Discovered from this package, so adding a scenario is adding a module here (plus one
function per implementation).
"""

import importlib
import pkgutil

from .base import SIZES, Problem, Scenario, Tolerance

_NOT_SCENARIOS = {"base", "datasets", "layers", "nn_work"}


def names():
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_SCENARIOS)


def get(name):
    if name not in names():
        raise KeyError(f"unknown scenario {name!r} (known: {', '.join(names())})")
    return importlib.import_module(f"{__name__}.{name}").SCENARIO


def all_scenarios():
    return [get(n) for n in names()]


__all__ = ["SIZES", "Problem", "Scenario", "Tolerance", "names", "get", "all_scenarios"]
