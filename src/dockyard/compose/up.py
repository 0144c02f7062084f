"""`up` and `create` as one operation: images, then networks and volumes, then each service's plan
along the dependency graph. On failure everything this run created is removed again, so an error
(a port already allocated, a missing image) leaves the project as it was."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.client.engine import Engine
from dockyard.client.transport import APIError
from dockyard.compose import graph, images, resources, state
from dockyard.compose.convergence import Converger, Options
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Project
from dockyard.compose.parallel import Once, run_all, run_graph
from dockyard.compose.progress import Progress


@dataclass
class UpRequest:
    services: list[str] = field(default_factory=list)
    no_deps: bool = False
    build: str = ""  # "always" (--build), "never" (--no-build), "" (when missing)
    options: Options = field(default_factory=Options)
    scale: dict[str, int] = field(default_factory=dict)
    remove_orphans: bool = False


def converge(engine: Engine, project: Project, request: UpRequest, progress: Progress) -> list[str]:
    """Bring the services to their configuration; returns the names of the services touched."""
    for name in request.scale:
        project.service(name)
    names = list(request.services) if request.no_deps else graph.with_dependencies(project, request.services)
    for name in names:
        project.service(name)
    existing = state.project_containers(engine, project.name)
    by_service = state.by_service(existing)
    _orphans(engine, project, existing, request, progress)

    # images first: a missing image or a failed build creates nothing
    once = Once()
    image_ids = dict(zip(names, run_all(names, lambda n: once.run(
        project.services[n].image,
        lambda: images.ensure(engine, project, project.services[n], progress, policy_build=request.build))),
        strict=True))

    created: list[tuple[str, str]] = []
    converger = Converger(engine, project, progress)
    converger.names.update(state.running_names(existing))
    deps = graph.dependencies(project)
    try:
        networks, volumes = resources.used_by(project, names)
        resources.ensure_networks(engine, project, networks, progress, created)
        resources.ensure_volumes(engine, project, volumes, progress, created)

        def one(name: str) -> None:
            service = project.services[name]
            if not request.options.no_start:
                for dep, spec in service.depends_on.items():
                    if dep in names and spec.condition != "service_started":
                        dep_containers = [c for c in state.project_containers(engine, project.name,
                                                                              services=[dep])]
                        converger.wait_for(service, dep, spec.condition, dep_containers)
            options = request.options
            if name in request.scale:
                options = Options(options.force_recreate, options.no_recreate, options.no_start,
                                  request.scale[name], options.timeout)
            converger.converge(service, by_service.get(name, []), image_ids[name], options)

        run_graph(names, deps, one)
    except BaseException:
        converger.rollback()
        _remove_created(engine, created)
        raise
    return names


def _remove_created(engine: Engine, created: list[tuple[str, str]]) -> None:
    for kind, name in reversed(created):
        try:
            if kind == "network":
                engine.remove_network(name)
            elif kind == "volume":
                engine.remove_volume(name)
        except APIError:
            pass


def _orphans(engine: Engine, project: Project, existing, request: UpRequest, progress: Progress) -> None:
    from dockyard.compose.service import LABEL_SERVICE

    orphans = [c for c in existing if c.labels.get(LABEL_SERVICE) not in project.services
               and c.labels.get(LABEL_SERVICE) not in project.disabled]
    if not orphans:
        return
    if request.remove_orphans:
        converger = Converger(engine, project, progress)
        run_all(orphans, lambda c: converger.stop_and_remove(None, c, request.options.timeout))
        return
    import sys

    sys.stderr.write(f"WARN[0000] Found orphan containers ([{' '.join(c.name for c in orphans)}]) for this project. "
                     "If you removed or renamed this service in your compose file, you can run this command with "
                     "the --remove-orphans flag to clean it up.\n")


__all__ = ["UpRequest", "converge", "ComposeError"]
