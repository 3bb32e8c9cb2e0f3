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


def test_credentials_are_read_only_by_app_auth_credentials() -> None:
    """Authorization and X-Restaurant-Id are looked up in one module (issue #14: one reader)."""
    headers = {"authorization", "x-restaurant-id"}
    readers = set()
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get" and node.args:
                key = node.args[0]
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                key = node.slice
            if isinstance(key, ast.Constant) and str(key.value).lower() in headers:
                readers.add(name)
    assert readers == {"app.auth.credentials"}


def test_conversations_are_narrowed_to_a_bot_only_by_scope() -> None:
    """ "Rows this caller may see" is `conversations.scope`: no module compares a row's bot with the
    caller's bot by hand (`row.bot_id != tenant.bot_id`, `Conversation.bot_id == bot_id`)."""

    def is_bot_id(side: ast.expr) -> bool:
        return (isinstance(side, ast.Attribute) and side.attr == "bot_id") or (
            isinstance(side, ast.Name) and side.id == "bot_id"
        )

    found = [
        f"{name}: {ast.unparse(node)}"
        for name, tree in _modules().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and isinstance(node.ops[0], ast.Eq | ast.NotEq)
        and is_bot_id(node.left)
        and is_bot_id(node.comparators[0])
    ]
    assert found == []


def test_app_auth_writes_no_sql() -> None:
    """app.auth decides what credentials are worth; the statements it needs are app.services.tokens'."""
    found = {
        f"{name}: {node.module}"
        for name, tree in _modules().items()
        if name.startswith("app.auth")
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("sqlalchemy")
        and node.module != "sqlalchemy.ext.asyncio"
    }
    assert found == set()


def test_tests_are_laid_out_like_the_code() -> None:
    """A newcomer finds a module's tests by its path: the test files at the top of tests/ are only those
    of top-level modules (app/cli.py, app/errors.py, app/settings.py, app/spool.py) or ones that cross
    modules by design."""
    crossing = {
        "test_isolation_property",
        "test_layout",
        "test_multiprocess",
        "test_reliability",
        "test_tenancy",
    }
    top_modules = {f"test_{path.stem}" for path in APP.glob("*.py")}
    tests = APP.parent / "tests"
    stray = sorted(path.stem for path in tests.glob("test_*.py") if path.stem not in crossing | top_modules)
    assert stray == []
