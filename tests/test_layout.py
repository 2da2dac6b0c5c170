"""The layout keeps its arrows: cli -> api -> waiting -> providers -> http, reporting beside them on
the model alone, and no import cycle. Read from the source (every import, lazy and typing-only ones
included), so a new import that points the wrong way fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "deployer"

#: Each part of the package and how high it stands: a module imports only parts at its level or below.
LEVELS = {
    "deployer": 0,  # the version (the package root's lazy re-exports are checked apart)
    "deployer.errors": 0,
    "deployer.exit_codes": 0,
    "deployer.safe_text": 0,
    "deployer.model": 1,
    "deployer.events": 2,
    "deployer.http": 3,
    "deployer.log_socket": 3,
    "deployer.retry": 3,
    "deployer.config": 4,
    "deployer.providers": 5,
    "deployer.waiting": 6,
    "deployer.api": 7,
    "deployer.plan": 8,
    "deployer.dry_run": 8,
    "deployer.github_deployments": 8,
    "deployer.cli": 9,
    "deployer.entrypoint": 10,
    "deployer.__main__": 10,
}
#: What rendering may know: the model, the events, and how to make text safe. Never HTTP.
REPORTING_MAY_IMPORT = {"deployer.model", "deployer.events", "deployer.safe_text", "deployer.reporting"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name.startswith("deployer.simulator"):
            continue  # the fake servers: stdlib only, checked by their own tests
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[name] = {m for m in found if m.startswith("deployer")}
    modules = set(graph)
    return {name: {m for m in deps if m in modules or m == "deployer"} - {name} for name, deps in graph.items()}


def _part(module: str) -> str:
    if module == "deployer":
        return module
    return ".".join(module.split(".")[:2])


def test_every_import_points_down_the_layers():
    wrong = []
    for module, deps in _imports().items():
        if module == "deployer" or _part(module) == "deployer.reporting":
            continue
        for dep in deps:
            if _part(dep) == "deployer.reporting" or _part(dep) == "deployer.simulator":
                continue  # rendering and the demo servers: used from the CLI only (checked below)
            if LEVELS[_part(dep)] > LEVELS[_part(module)]:
                wrong.append(f"{module} -> {dep}")
    assert wrong == []


def test_reporting_knows_the_model_and_events_alone():
    wrong = [
        f"{module} -> {dep}"
        for module, deps in _imports().items()
        if _part(module) == "deployer.reporting"
        for dep in deps
        if _part(dep) not in REPORTING_MAY_IMPORT and dep != "deployer"
    ]
    assert wrong == []
    users = {_part(m) for m, deps in _imports().items() if any(_part(d) == "deployer.reporting" for d in deps)}
    assert users <= {"deployer.reporting", "deployer.cli", "deployer.dry_run"}


def test_no_import_cycle():
    graph = _imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1 and dep != "deployer":
                cycles.append(path[path.index(dep) :] + [dep] if dep in path else [module, dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_every_part_has_a_level():
    assert {_part(m) for m in _imports()} - {"deployer.reporting"} <= set(LEVELS)
