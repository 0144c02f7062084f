"""Bringing a service's containers to its configuration: compose 1.x's ConvergencePlan.

For each container the plan is one of create, recreate, start or noop; containers past the scale
are removed. A container is up to date when its config-hash label matches the service's hash and
its image label matches the image ID; recreation keeps the old container's volumes (anonymous ones
included) by handing them to the new container.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dockyard.client.engine import ContainerSummary, Engine
from dockyard.client.transport import APIError
from dockyard.compose import service as svc
from dockyard.compose.errors import ComposeError
from dockyard.compose.model import Project, Service
from dockyard.compose.progress import Progress
from dockyard.compose.state import number_of


@dataclass(frozen=True)
class Action:
    kind: str  # create, recreate, start, noop, remove
    number: int
    container: ContainerSummary | None = None


@dataclass(frozen=True)
class Options:
    force_recreate: bool = False
    no_recreate: bool = False
    no_start: bool = False
    scale: int | None = None
    timeout: int | None = None


def plan(service: Service, existing: list[ContainerSummary], image_id: str, options: Options) -> list[Action]:
    scale = service.scale if options.scale is None else options.scale
    want_hash = svc.config_hash(service)
    actions: list[Action] = []
    ordered = sorted(existing, key=number_of)
    keep, extra = ordered[:scale], ordered[scale:]
    for container in keep:
        stale = (container.labels.get(svc.LABEL_CONFIG_HASH) != want_hash
                 or (image_id and container.labels.get(svc.LABEL_IMAGE, image_id) != image_id))
        if options.force_recreate or (stale and not options.no_recreate):
            actions.append(Action("recreate", number_of(container), container))
        elif container.state not in ("running", "paused", "restarting") and not options.no_start:
            actions.append(Action("start", number_of(container), container))
        else:
            actions.append(Action("noop", number_of(container), container))
    used = {number_of(c) for c in keep}
    number = 1
    for _ in range(scale - len(keep)):
        while number in used:
            number += 1
        used.add(number)
        actions.append(Action("create", number))
    actions += [Action("remove", number_of(c), c) for c in reversed(extra)]
    return actions


class Converger:
    """Carries out plans against the engine, reporting progress and remembering what it created."""

    def __init__(self, engine: Engine, project: Project, progress: Progress) -> None:
        self.engine = engine
        self.project = project
        self.progress = progress
        self.created: list[tuple[str, str]] = []  # ("container", id) made by this run, for rollback
        self.names: dict[str, str] = {}  # service -> a container name, for links / volumes_from

    def network_name(self, key: str) -> str:
        return self.project.networks[key].name

    def create(self, service: Service, number: int, image_id: str, *, name: str | None = None,
               previous: ContainerSummary | None = None, oneoff: str = "", overrides: dict | None = None,
               report: bool = True) -> str:
        final = svc.container_name(self.project, service, number, oneoff)
        name = name or final
        previous_volumes = {}
        if previous is not None:
            details = self.engine.inspect_container(previous.id)
            previous_volumes = {m.destination: m.name for m in details.mounts if m.type == "volume" and m.name}
        body = svc.create_body(self.project, service, number, image_id=image_id, oneoff=bool(oneoff),
                               names=self.names, previous_volumes=previous_volumes,
                               network_name_of=self.network_name, overrides=overrides)
        if report:
            self.progress.event("Container", final, "Creating")
        try:
            cid = self.engine.create_container(name, body)
        except APIError as exc:
            if report:
                self.progress.event("Container", final, "Error", failed=True)
            raise ComposeError(f"service {service.name}: Error response from daemon: {exc.message}") from None
        self.created.append(("container", cid))
        if service.networks and not service.network_mode:
            primary = svc.primary_network(service)
            for key in sorted(service.networks):
                if key != primary:
                    self.engine.connect(self.network_name(key), cid,
                                        svc.endpoint_body(service, key, number, bool(oneoff)))
        self._inject_sources(service, cid)
        if report:
            self.progress.event("Container", final, "Created")
        return cid

    def _inject_sources(self, service: Service, cid: str) -> None:
        """Secrets and configs from the environment or inline content are copied in as files."""
        import io
        import tarfile

        entries = []
        for ref in service.secrets + service.configs:
            pool = self.project.secrets if ref in service.secrets else self.project.configs
            source = pool.get(ref.source)
            if source is None or source.file:
                continue
            content = source.content if source.content is not None else self.project.environment.get(
                source.environment, "")
            entries.append((ref, content.encode()))
        if not entries:
            return
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for ref, data in entries:
                info = tarfile.TarInfo(ref.target.lstrip("/"))
                info.size = len(data)
                info.mode = ref.mode if ref.mode is not None else 0o444
                info.uid = int(ref.uid or 0)
                info.gid = int(ref.gid or 0)
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))
        self.engine.put_archive(cid, "/", buffer.getvalue())

    def start(self, service: Service, cid: str, name: str) -> None:
        self.progress.event("Container", name, "Starting")
        try:
            self.engine.start(cid)
        except APIError as exc:
            self.progress.event("Container", name, "Error", failed=True)
            where = f"services.{service.name}.ports" if "port is already allocated" in exc.message else \
                f"service {service.name}"
            raise ComposeError(f"{where}: Error response from daemon: {exc.message}") from None
        self.progress.event("Container", name, "Started")

    def recreate(self, service: Service, old: ContainerSummary, image_id: str, options: Options) -> str:
        number = number_of(old)
        final = svc.container_name(self.project, service, number)
        self.progress.event("Container", final, "Recreate")
        temporary = f"{old.id[:12]}_{final}"
        cid = self.create(service, number, image_id, name=temporary, previous=old, report=False)
        try:
            self.engine.stop(old.id, options.timeout if options.timeout is not None else
                             _grace(service))
            self.engine.remove_container(old.id, force=True)
            self.engine.rename(cid, final)
        except APIError as exc:
            self.progress.event("Container", final, "Error", failed=True)
            raise ComposeError(f"service {service.name}: Error response from daemon: {exc.message}") from None
        self.created.remove(("container", cid))  # replaces a container: not ours to roll back
        self.progress.event("Container", final, "Recreated")
        return cid

    def converge(self, service: Service, existing: list[ContainerSummary], image_id: str, options: Options) -> None:
        to_start: list[tuple[str, str]] = []
        for action in plan(service, existing, image_id, options):
            name = svc.container_name(self.project, service, action.number)
            if action.kind == "create":
                cid = self.create(service, action.number, image_id)
                to_start.append((cid, name))
                self.names.setdefault(service.name, name)
                continue
            container = action.container
            assert container is not None  # every action but create is about an existing container
            if action.kind == "recreate":
                cid = self.recreate(service, container, image_id, options)
                to_start.append((cid, name))
            elif action.kind == "start":
                to_start.append((container.id, container.name))
            elif action.kind == "noop":
                self.progress.event("Container", container.name, "Running", done=True)
            elif action.kind == "remove":
                self.stop_and_remove(service, container, options.timeout)
            if action.kind != "remove":
                self.names.setdefault(service.name, container.name)
        if not options.no_start:
            for cid, name in to_start:
                self.start(service, cid, name)

    def stop_and_remove(self, service: Service | None, container: ContainerSummary, timeout: int | None,
                        volumes: bool = False) -> None:
        if container.state in ("running", "paused", "restarting"):
            self.progress.event("Container", container.name, "Stopping")
            try:
                self.engine.stop(container.id, timeout if timeout is not None else _grace(service))
            except APIError as exc:
                if exc.status != 404:
                    raise ComposeError(f"Error response from daemon: {exc.message}") from None
            self.progress.event("Container", container.name, "Stopped")
        self.progress.event("Container", container.name, "Removing")
        try:
            self.engine.remove_container(container.id, force=True, volumes=volumes)
        except APIError as exc:
            if exc.status != 404:
                raise ComposeError(f"Error response from daemon: {exc.message}") from None
        self.progress.event("Container", container.name, "Removed")

    def wait_for(self, service: Service, dependency: str, condition: str, containers: list[ContainerSummary],
                 timeout: float = 600) -> None:
        """Block until the dependency meets `condition` (service_healthy / service_completed_successfully)."""
        if condition == "service_started":
            return
        deadline = time.monotonic() + timeout
        for container in containers:
            self.progress.event("Container", container.name, "Waiting")
            while True:
                details = self.engine.inspect_container(container.id)
                if condition == "service_healthy":
                    if details.health == "healthy":
                        self.progress.event("Container", container.name, "Healthy")
                        break
                    if details.health == "unhealthy":
                        self.progress.event("Container", container.name, "Error", failed=True)
                        raise ComposeError(f"dependency failed to start: container {container.name} is unhealthy")
                    if not details.health:
                        raise ComposeError(f"container {container.name} has no healthcheck configured")
                    if not details.running:
                        raise ComposeError(f"dependency failed to start: container {container.name} exited "
                                           f"({details.exit_code})")
                elif condition == "service_completed_successfully":
                    if not details.running and details.status in ("exited", "dead"):
                        if details.exit_code != 0:
                            self.progress.event("Container", container.name, "Error", failed=True)
                            raise ComposeError(f"service \"{dependency}\" didn't complete successfully: exit "
                                               f"{details.exit_code}")
                        self.progress.event("Container", container.name, "Exited")
                        break
                if time.monotonic() > deadline:
                    raise ComposeError(f"timed out waiting for {dependency} to be "
                                       f"{condition.removeprefix('service_').replace('_', ' ')}")
                time.sleep(0.2)

    def rollback(self) -> None:
        """Remove the containers this run created (newest first), after a failure."""
        for kind, ident in reversed(self.created):
            if kind == "container":
                try:
                    self.engine.remove_container(ident, force=True, volumes=True)
                except APIError:
                    pass
        self.created.clear()


def _grace(service: Service | None) -> int | None:
    if service is None or service.stop_grace_period is None:
        return None
    return int(service.stop_grace_period)
