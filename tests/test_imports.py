"""The import graph of the costmodel package: no cycles, and no library module imports the CLI.

The graph is read from the source with ``ast`` (nothing is imported): one node per module under
``costmodel/`` (a package is its ``__init__.py``), one edge per import statement anywhere in a
module, at module level or inside a function or class.  An edge goes to the module the statement
names: ``import a.b.c`` and ``from a.b import c`` (``c`` a module) -> ``a.b.c``; ``from a.b import
name`` (``name`` not a module: something ``a/b/__init__.py`` defines or re-exports) -> ``a.b``.
``importlib.import_module("a.b")`` with a constant string counts too; a computed name cannot be
read and does not.  The parents Python imports on the way (``a`` and ``a.b`` for ``import
a.b.c``) are not edges: a package's ``__init__`` importing its own submodules is how packages
work, not a cycle.
"""
import ast
import os
from typing import Dict, List, Set


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "costmodel")

def modules(package_dir: str) -> Dict[str, str]:
    """Module name -> file, for every ``.py`` file under ``package_dir``."""
    root = os.path.dirname(package_dir)
    out = {}
    for d, _, files in os.walk(package_dir):
        for f in files:
            if f.endswith(".py"):
                parts = os.path.relpath(os.path.join(d, f), root)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                out[".".join(parts)] = os.path.join(d, f)
    return out


def _base_of(node: ast.ImportFrom, module: str, path: str) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.endswith("__init__.py") else module.split(".")[:-1]
    package = package[:len(package) - node.level + 1]
    return ".".join(package + ([node.module] if node.module else []))


def imports_of(module: str, path: str, known: Dict[str, str]) -> Set[str]:
    """The modules of ``known`` that ``module`` (in ``path``) imports, anywhere in the file."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = _base_of(node, module, path)
            for a in node.names:
                if f"{base}.{a.name}" in known:
                    out.add(f"{base}.{a.name}")
                elif base in known:
                    out.add(base)
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str) and node.args[0].value in known
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id in ("import_module",
                                                                          "__import__")))):
            out.add(node.args[0].value)
    return out


def import_graph(package_dir: str = PACKAGE) -> Dict[str, Set[str]]:
    known = modules(package_dir)
    return {m: imports_of(m, p, known) for m, p in known.items()}


def cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[Set[str]] = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                components.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, comp) for comp in components]


def _cycle_in(graph, comp: Set[str]) -> List[str]:
    """A path that starts and ends at the component's first module and stays inside it."""
    start = min(comp)
    path, seen = [start], {start}

    def walk(v):
        for w in sorted(graph[v] & comp):
            if w == start:
                path.append(w)
                return True
            if w not in seen:
                seen.add(w)
                path.append(w)
                if walk(w):
                    return True
                path.pop()
        return False

    walk(start)
    return path


def _show(found: List[List[str]]) -> str:
    return "\n".join(" -> ".join(c) for c in found)


# ------------------------------------------------------------------ the graph reader itself
def test_graph_reader_on_a_toy_package(tmp_path):
    """Re-exports, relative imports, function-level imports and import_module are edges."""
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from toy.a import helper\n")
    (pkg / "a.py").write_text("def helper():\n    from . import b\n")
    (pkg / "b.py").write_text("import importlib\nimportlib.import_module('toy.sub.c')\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from toy import helper\nfrom ..a import helper as h\n")
    (pkg / "d.py").write_text("import toy.sub\nfrom toy.sub import c\n")
    graph = import_graph(str(pkg))
    assert graph == {"toy": {"toy.a"}, "toy.a": {"toy.b"}, "toy.b": {"toy.sub.c"},
                     "toy.sub": set(), "toy.sub.c": {"toy", "toy.a"},
                     "toy.d": {"toy.sub", "toy.sub.c"}}
    assert sorted(map(tuple, cycles(graph))) == [("toy", "toy.a", "toy.b", "toy.sub.c", "toy")]


def test_graph_reader_sees_the_package():
    graph = import_graph()
    assert len(graph) > 80
    assert "costmodel.plots.layer_bars" in graph["costmodel.report"]
    assert "costmodel.cli.common" in graph["costmodel.cli.report"]
    # a function-level import
    assert "costmodel.analysis" in graph["costmodel.cli.report"]


# ------------------------------------------------------------------ the rules
def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + _show(found)


def test_library_modules_never_import_the_cli():
    graph = import_graph()
    offenders = sorted(f"{m} imports {t}" for m, targets in graph.items()
                       if not (m == "costmodel.cli" or m.startswith("costmodel.cli."))
                       for t in targets if t == "costmodel.cli" or t.startswith("costmodel.cli."))
    assert not offenders, "\n".join(offenders)
