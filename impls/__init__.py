"""Implementations: one package per framework, discovered from this folder.

Adding a framework is adding a package here: `__init__.py` with `MANIFEST =
Manifest(...)` and an `adapter.py` answering `impls.base.Adapter`. Nothing else names
the frameworks. Discovery checks both (without importing any framework): a package
that does not answer the contract is listed by `malformed()` with one line saying
what is wrong, and is not run.
"""

import importlib
import os
import pkgutil

from impls.base import MalformedImplementation, Manifest, adapter_names, check_adapter_module, missing_functions

_NOT_IMPLS = {"base"}

# Extra folders of implementation packages (tests' deliberately faulty ones, a user's
# own adapter): they join this package, so the harness and its workers treat them alike.
__path__.extend(p for p in os.environ.get("DLBENCH_EXTRA_IMPLS", "").split(os.pathsep) if p)


class Implementation:
    """A discovered package: its manifest and the names its adapter defines, or why it is malformed."""

    def __init__(self, name, folder):
        self.name, self.folder = name, folder
        self.manifest, self.functions, self.problem = None, frozenset(), None
        try:
            self.manifest, self.functions = _read(name, folder)
        except MalformedImplementation as exc:
            self.problem = f"{_shown(folder)}: {exc}"


def _read(name, folder):
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except MalformedImplementation:
        raise
    except Exception as exc:  # a broken manifest is that implementation's problem, not the harness's
        raise MalformedImplementation(f"__init__.py does not import ({type(exc).__name__}: {exc})") from None
    manifest = getattr(module, "MANIFEST", None)
    if not isinstance(manifest, Manifest):
        raise MalformedImplementation("__init__.py defines no MANIFEST = impls.base.Manifest(...)")
    if manifest.name != name:
        raise MalformedImplementation(f"MANIFEST.name is {manifest.name!r}, not the package's name {name!r}")
    path = os.path.join(folder, "adapter.py")
    try:
        with open(path, encoding="utf-8") as f:
            functions = adapter_names(f.read())
    except OSError:
        raise MalformedImplementation("no adapter.py") from None
    except SyntaxError as exc:
        raise MalformedImplementation(f"adapter.py line {exc.lineno}: {exc.msg}") from None
    missing = missing_functions(functions)
    if missing:
        raise MalformedImplementation(
            f"adapter.py defines no {', '.join(f + '()' for f in missing)} (the contract: impls/base.py, Adapter)"
        )
    return manifest, frozenset(functions)


def _shown(folder):
    """impls/NAME for this checkout's own packages; the full path for an extra folder's."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.relpath(folder, here) if folder.startswith(here + os.sep) else folder


_found = {}  # tuple(__path__) -> {name: Implementation}: discovery reads each package once


def discover():
    """{name: Implementation} of every package on the path, the reference first
    (everything else is compared against it), then by name."""
    key = tuple(__path__)
    if key not in _found:
        found = {
            m.name: os.path.join(m.module_finder.path, m.name)
            for m in pkgutil.iter_modules(__path__)
            if m.ispkg and m.name not in _NOT_IMPLS
        }
        _found[key] = {n: Implementation(n, found[n]) for n in sorted(found, key=lambda n: (n != "reference", n))}
    return _found[key]


def names():
    """The implementations that answer the contract (see malformed() for the others)."""
    return [n for n, impl in discover().items() if impl.manifest]


def malformed():
    """{name: what is wrong} for packages that do not answer the contract."""
    return {n: impl.problem for n, impl in discover().items() if impl.problem}


def manifest(name) -> Manifest:
    impl = discover().get(name)
    if impl is None:
        raise KeyError(f"unknown implementation {name!r} (known: {', '.join(names())})")
    if impl.problem:
        raise MalformedImplementation(impl.problem)
    return impl.manifest


def adapter_defines(name, attr):
    """Whether an implementation's adapter defines `attr` at top level (read from its
    source at discovery: asking does not import the framework)."""
    manifest(name)
    return attr in discover()[name].functions


def adapter(name):
    """Import the adapter itself (only inside that implementation's worker), checked
    against the contract: MalformedImplementation says what does not answer it."""
    manifest(name)
    module = importlib.import_module(f"{__name__}.{name}.adapter")
    import scenarios  # here, not at the top: the manifest side stays free of scenario imports

    problem = check_adapter_module(module, scenarios.names())
    if problem:
        raise MalformedImplementation(f"{_shown(discover()[name].folder)}/adapter.py: {problem}")
    return module
