"""The shape of the code: imports run one way, down the layers (scenarios and the other
foundations <- impls <- harness <- reports <- cli), never up and never in a cycle (lazy
imports inside functions counted too), and the worker side imports nothing only the
parent needs (statically, every import it could reach; tests/test_runner.py checks a
real worker's modules)."""

import ast
import os
import re
import sys

from tests.conftest import PARENT_ONLY

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Each package's layer: a module may import its own layer's packages and those below.
LAYERS = {"scenarios": 0, "records": 0, "timing": 0, "impls": 1, "harness": 2, "reports": 3, "cli": 4}
PACKAGES = tuple(LAYERS)


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


def upward_imports(inside):
    """['a.b -> c.d'] for every import of a package from a higher layer than the importer's."""
    layer = lambda module: LAYERS[module.split(".")[0]]  # noqa: E731
    return sorted(f"{m} -> {t}" for m, targets in inside.items() for t in targets if layer(t) > layer(m))


def test_the_checker_finds_an_upward_import(tmp_path):
    for pkg in ("impls", "harness"):
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "impls" / "a.py").write_text("def f():\n    from harness.x import y\n")
    (tmp_path / "harness" / "x.py").write_text("import impls.a\ny = 1\n")
    inside, _ = import_graph(project_modules(tmp_path))
    assert upward_imports(inside) == ["impls.a -> harness.x"]


def test_imports_run_down_the_layers():
    """scenarios <- impls <- harness <- reports <- cli: the CLI alone joins harness and
    reports, an adapter never reaches into the harness, the harness never into a report."""
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
        packaged = set(re.findall(r'"(\w+)\*"', next(line for line in f if line.startswith("include"))))
    assert packaged == {p for p in LAYERS if os.path.isdir(os.path.join(ROOT, p))}  # each package has its layer
    inside, _ = import_graph(project_modules())
    assert upward_imports(inside) == []


def test_worker_side_imports_no_parent_only_module():
    """harness.worker and everything it imports, lazy imports included: NumPy, not pandas,
    rich, psutil, scipy or a framework (a worker of another environment has none of them)."""
    mods = project_modules()
    inside, outside = import_graph(mods)
    side = reachable(inside, "harness.worker")
    assert "harness.worker" in side and "harness.validate" in side
    assert not side & {"harness.runner", "harness.processes"} and not any(
        m.startswith("cli") for m in side
    )  # the parent's own
    used = {m: sorted(outside[m] & set(PARENT_ONLY)) for m in side}
    assert {m: u for m, u in used.items() if u} == {}
