"""Implementations: one package per framework, discovered from this folder.

Adding a framework is adding a package here: a manifest `__init__.py` and an
`adapter.py` (see `impls.base`). Nothing else names the frameworks.
"""
import importlib
import importlib.util
import os
import pkgutil

_NOT_IMPLS = {"base"}

# Extra folders of implementation packages (tests' deliberately faulty ones, a user's
# own adapter): they join this package, so the harness and its workers treat them alike.
__path__.extend(p for p in os.environ.get("DLBENCH_EXTRA_IMPLS", "").split(os.pathsep) if p)


def names():
    found = [m.name for m in pkgutil.iter_modules(__path__) if m.ispkg and m.name not in _NOT_IMPLS]
    # the reference first: everything else is compared against it
    return sorted(found, key=lambda n: (n != "reference", n))


def manifest(name):
    if name not in names():
        raise KeyError(f"unknown implementation {name!r} (known: {', '.join(names())})")
    return importlib.import_module(f"{__name__}.{name}")


def adapter(name):
    """Import the adapter itself: only inside that implementation's worker."""
    manifest(name)
    return importlib.import_module(f"{__name__}.{name}.adapter")


def adapter_defines(name, attr):
    """Whether an adapter has a top-level `attr`, read from its source without importing
    it (which would import the framework). True when the source cannot be read: the
    worker then finds out."""
    import ast
    spec = importlib.util.find_spec(f"{__name__}.{name}.adapter")
    try:
        with open(spec.origin, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (AttributeError, OSError, SyntaxError, ValueError):
        return True
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == attr:
            return True
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any((a.asname or a.name) == attr for a in node.names):
            return True
    return False
