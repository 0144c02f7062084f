"""What exists in the engine for a project, read back from labels (compose keeps no state of its own)."""

from __future__ import annotations

from dockyard.client.engine import ContainerSummary, Engine
from dockyard.compose.errors import ComposeError
from dockyard.compose.service import LABEL_NUMBER, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE


def number_of(container: ContainerSummary) -> int:
    try:
        return int(container.labels.get(LABEL_NUMBER, "0"))
    except ValueError:
        return 0


def project_containers(engine: Engine, project: str, *, oneoff: bool | None = False, all: bool = True,
                       services: list[str] | None = None) -> list[ContainerSummary]:
    labels: dict[str, str | None] = {LABEL_PROJECT: project}
    if oneoff is not None:
        labels[LABEL_ONEOFF] = "True" if oneoff else "False"
    found = engine.containers(labels, all=all)
    if services:
        found = [c for c in found if c.labels.get(LABEL_SERVICE) in services]
    return sorted(found, key=lambda c: (c.labels.get(LABEL_SERVICE, ""), number_of(c), c.name))


def by_service(containers: list[ContainerSummary]) -> dict[str, list[ContainerSummary]]:
    grouped: dict[str, list[ContainerSummary]] = {}
    for container in containers:
        grouped.setdefault(container.labels.get(LABEL_SERVICE, ""), []).append(container)
    return grouped


def running_names(containers: list[ContainerSummary]) -> dict[str, str]:
    """service -> the name of its first running (or else first) container, for links and volumes_from."""
    names: dict[str, str] = {}
    for container in sorted(containers, key=lambda c: (c.state != "running", number_of(c))):
        names.setdefault(container.labels.get(LABEL_SERVICE, ""), container.name)
    return names


def service_container(engine: Engine, project: str, service: str, index: int = 0) -> ContainerSummary:
    """The running container a per-container command (exec, attach, commit, export) acts on, as Compose
    v2 picks it: number ``index`` when given, else the lowest number, one-off containers last."""
    found = [c for c in engine.containers({LABEL_PROJECT: project, LABEL_SERVICE: service}, all=False)]
    if index:
        found = [c for c in found if number_of(c) == index]
    if not found:
        suffix = f" container #{index}" if index else ""
        raise ComposeError(f'service "{service}" is not running{suffix}')
    return min(found, key=lambda c: (c.labels.get(LABEL_ONEOFF) == "True", number_of(c)))
