"""The dependency graph of a project's services: start order, stop order, cycles."""

from __future__ import annotations

from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Project


def dependencies(project: Project) -> dict[str, set[str]]:
    """Each service's dependencies that are part of the project."""
    return {name: {d for d in service.links_to if d in project.services} for name, service in project.services.items()}


def check_cycles(project: Project) -> None:
    graph = dependencies(project)
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep] if dep in path else [name, dep]
                raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}", exit_code=15)
            if state.get(dep) is None:
                visit(dep, path + [dep])
        state[name] = 2

    for name in sorted(graph):
        if state.get(name) is None:
            visit(name, [name])


def with_dependencies(project: Project, names: list[str]) -> list[str]:
    """The named services and everything they need, transitively (all services when none is named)."""
    if not names:
        return list(project.services)
    graph = dependencies(project)
    wanted: list[str] = []
    stack = list(names)
    while stack:
        name = stack.pop()
        project.service(name)
        if name not in wanted:
            wanted.append(name)
            stack.extend(graph[name])
    return [n for n in project.services if n in wanted]


def dependents(project: Project, names: list[str]) -> list[str]:
    """The named services and everything that needs them, transitively (for stop order)."""
    graph = dependencies(project)
    wanted = set(names)
    changed = True
    while changed:
        changed = False
        for name, deps in graph.items():
            if name not in wanted and deps & wanted:
                wanted.add(name)
                changed = True
    return [n for n in project.services if n in wanted]
