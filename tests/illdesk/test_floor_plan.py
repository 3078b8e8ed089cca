"""The floor plan: every import points down, and no two modules import each other round a
circle (docs/decisions.md, "The floor plan").

From the bottom up:

0. ``core``: helpers every app uses; it imports no app.
1. the domain: each app's models, workflow, services, selectors and jobs. Apps stand on one
   another in one order, ``members`` under ``lenders`` under ``requests_app``; a lower app
   never imports a higher one.
2. the doors: pages, forms, the API, the admin, reports, Celery tasks, template tags and
   management commands, of any app.
3. ``illdesk``: settings, URLs, the Celery app.

The graph is read from the source with ``ast`` (imports inside functions count too), so
a circle cannot hide behind an import placed late.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "members", "lenders", "requests_app", "illdesk")
#: The domain apps, from the bottom up.
DOMAIN_ORDER = ("members", "lenders", "requests_app")
#: A module with one of these in its dotted path is a door (floor 2).
DOORS = {
    "web",
    "api",
    "reports",
    "views",
    "auth_views",
    "api_auth",
    "authentication",
    "forms",
    "serializers",
    "filters",
    "admin",
    "urls",
    "tasks",
    "templatetags",
    "management",
    "apps",
}


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages, migrations left out, by dotted name."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports, wherever in the file the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            # ``from x import y`` names module x.y when there is one, else a name in x.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def floor(module: str) -> tuple[int, int]:
    """(floor, the app's place among the domain apps)."""
    top = module.split(".")[0]
    if top == "core":
        return (0, 0)
    if top == "illdesk":
        return (3, 0)
    if DOORS & set(module.split(".")[1:]):
        return (2, 0)
    return (1, DOMAIN_ORDER.index(top))


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read():
    edges = graph()
    assert "requests_app.services" in edges["requests_app.web.views"]
    assert "core.errors" in edges["requests_app.workflow"]
    assert "requests_app.models" in edges["requests_app.flags"]


def test_no_module_imports_itself_round_a_circle():
    assert circles(graph()) == []


def test_every_import_points_down():
    upward = [
        f"{source} (floor {floor(source)}) imports {target} (floor {floor(target)})"
        for source, targets in sorted(graph().items())
        for target in sorted(targets)
        if floor(target) > floor(source)
    ]
    assert upward == []


def test_the_checks_would_catch_a_circle_and_an_upward_import():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert circles(edges) == [["a", "b", "c"]]
    assert floor("requests_app.workflow") > floor("members.models")
    assert floor("requests_app.web.views") > floor("requests_app.workflow")
    assert floor("illdesk.urls") > floor("requests_app.api.views") > floor("core.api")
