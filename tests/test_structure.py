"""The shape of the code: data flows one way (no import cycle, lazy imports inside
functions counted too), the harness does not reach into the reports (the CLI alone
joins them), and the worker side imports nothing only the parent needs (statically,
every import it could reach; tests/test_runner.py checks a real worker's modules)."""

import ast
import os
import sys

from tests.conftest import PARENT_ONLY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("harness", "impls", "scenarios", "reports")


def project_modules(root=ROOT):
    """{dotted module name: path} of every module in the project's packages."""
    mods = {}
    for pkg in PACKAGES:
        for folder, _, files in os.walk(os.path.join(root, pkg)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    dotted = os.path.relpath(path, root)[:-3].replace(os.sep, ".")
                    mods[dotted.removesuffix(".__init__")] = path
    return mods


def imported_names(module, path):
    """Every name an import statement in the file names, anywhere in it (a lazy import too);
    `from a import b` names both a and a.b (b may be a module)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, up level-1 more
                package = module.split(".") if path.endswith("__init__.py") else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    return names


def import_graph(mods):
    """(module -> project modules it imports, module -> outside top-level packages it imports)."""
    inside, outside = {}, {}
    for module, path in mods.items():
        inside[module], outside[module] = set(), set()
        for name in imported_names(module, path):
            target = name
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target:
                if target != module:
                    inside[module].add(target)
            elif name.split(".")[0] not in PACKAGES:
                outside[module].add(name.split(".")[0])
    return inside, outside


def cycles(graph):
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))
    try:
        for v in graph:
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo += graph[v]
    return seen


def test_the_checker_finds_a_cycle_and_a_lazy_import(tmp_path):
    """The checks below mean something: a cycle closed by an import inside a function is found."""
    (tmp_path / "harness").mkdir()
    (tmp_path / "harness" / "__init__.py").write_text("")
    (tmp_path / "harness" / "a.py").write_text("from harness.b import thing\n")
    (tmp_path / "harness" / "b.py").write_text("def thing():\n    from . import a\n    import numpy\n")
    (tmp_path / "harness" / "c.py").write_text("from harness import b\n")
    inside, outside = import_graph(project_modules(tmp_path))
    assert cycles(inside) == [["harness.a", "harness.b"]]
    assert outside["harness.b"] == {"numpy"}
    assert reachable(inside, "harness.c") == {"harness.c", "harness", "harness.b", "harness.a"}


def test_no_import_cycle():
    inside, _ = import_graph(project_modules())
    assert len(inside) > 50  # the whole project was read
    found = cycles(inside)
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_only_the_cli_joins_harness_and_reports():
    """reports read stored results (harness.results, history); the harness never imports a report."""
    inside, _ = import_graph(project_modules())
    reaching = {
        m: sorted(t for t in targets if t.split(".")[0] == "reports")
        for m, targets in inside.items()
        if m.startswith("harness")
    }
    assert {m: t for m, t in reaching.items() if t and m != "harness.cli"} == {}
    assert reaching["harness.cli"]  # the CLI does call them


def test_worker_side_imports_no_parent_only_module():
    """harness.worker and everything it imports, lazy imports included: NumPy, not pandas,
    rich, psutil, scipy or a framework (a worker of another environment has none of them)."""
    mods = project_modules()
    inside, outside = import_graph(mods)
    side = reachable(inside, "harness.worker")
    assert "harness.worker" in side and "harness.validate" in side
    assert not side & {"harness.runner", "harness.cli", "harness.processes"}  # the parent's own
    used = {m: sorted(outside[m] & set(PARENT_ONLY)) for m in side}
    assert {m: u for m, u in used.items() if u} == {}
