"""The shape of app/ that the code relies on (issue #14): no import cycle, one context variable, the
fast path imported only where it is installed."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in APP.rglob("*.py"):
        name = ".".join(path.relative_to(APP.parent).with_suffix("").parts).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text())
    return found


def _imports(tree: ast.Module, known: set[str]) -> set[str]:
    """Every module of app/ this one imports, anywhere in it (TYPE_CHECKING and function bodies too)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names & known


def test_app_has_no_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(tree, set(modules)) - {name} for name, tree in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_only_context_variable_is_the_fast_path_sink() -> None:
    found = [
        name
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", None)) == "ContextVar"
    ]
    assert found == ["app.graphql.fast.frames"]


def test_only_the_view_imports_the_fast_path() -> None:
    modules = _modules()
    importers = {
        name
        for name, tree in modules.items()
        if not name.startswith("app.graphql.fast")
        and any(i.startswith("app.graphql.fast") for i in _imports(tree, set(modules)))
    }
    assert importers == {"app.graphql.view"}
