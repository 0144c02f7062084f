"""What a cluster agent needs of the engine to run its tasks' containers: moby's
daemon/cluster/executor/backend.go, in the engine's types. The agent creates, starts, stops, waits
for and removes managed containers, attaches them to networks and gives them secret and config
files; every call goes to the same container and network services the Engine API uses, so a
task's container keeps every rule of the engine (restart, auto-remove, exec bookkeeping, events).

ClusterBackend is the seam the agent is written against; EngineBackend implements it on the
engine's services (tests/unit/test_backend.py runs it on in-memory fakes)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Protocol

from dockyard.engine import taskfiles
from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService
from dockyard.engine.specs.codec import to_json
from dockyard.engine.specs.containers import ContainerCreate
from dockyard.engine.specs.networks import EndpointSettings
from dockyard.errors import Conflict, InvalidParameter, NotFound, SystemError_

SECRETS_DIR = "/run/secrets"  # where a secret with a relative target appears, as in swarm


@dataclass(frozen=True)
class TaskFile:
    """A secret or a config given to a task's container: its bytes, the file it appears as, and
    that file's owner and mode (swarm's SecretReference/ConfigReference file target)."""

    name: str
    data: bytes
    target: str = ""  # absolute, or relative to /run/secrets (a secret) or / (a config); the name when empty
    uid: int = 0
    gid: int = 0
    mode: int = 0o444
    kind: str = "secret"  # or "config"

    def path_in_container(self) -> str:
        target = self.target or self.name
        if posixpath.isabs(target):
            return posixpath.normpath(target)
        return posixpath.normpath(posixpath.join(SECRETS_DIR if self.kind == "secret" else "/", target))


class NetworkAttacher(Protocol):
    """The network service's connect and disconnect (engine/networks)."""

    async def connect(self, ref: str, c: Container, endpoint_config: dict | None, *, task: bool = False) -> None: ...
    async def disconnect(self, ref: str, c: Container, force: bool = False) -> None: ...


class ClusterBackend(Protocol):
    def create_managed_container(self, spec: ContainerCreate, name: str | None = None) -> Container:
        """Create (not start) a task's container; the create request's rules and errors apply."""
        ...

    def set_task_files(self, ref: str, files: list[TaskFile]) -> None:
        """Give a created container its secrets and configs (before its first start)."""
        ...

    async def start_container(self, ref: str) -> None: ...
    async def stop_container(self, ref: str, timeout: int | None = None) -> None: ...
    async def kill_container(self, ref: str, signal: int) -> None: ...

    async def wait_container(self, ref: str, condition: str = "not-running") -> int:
        """The exit code once the condition holds (not-running, next-exit, removed)."""
        ...

    async def wait_health(self, ref: str, current: str) -> str:
        """A running container's health status once it is no longer `current` ("starting": until the
        check decides, "healthy": until it fails); "" for a container without a health check, or once
        the container is not running."""
        ...

    async def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> None: ...
    def inspect_container(self, ref: str) -> Container: ...

    def managed_containers(self, labels: dict[str, str]) -> list[Container]:
        """The containers carrying all these labels (a task's, a service's)."""
        ...

    async def connect_to_network(self, ref: str, network: str, endpoint: EndpointSettings | None = None) -> None: ...
    async def disconnect_from_network(self, ref: str, network: str, force: bool = False) -> None: ...


class EngineBackend:
    """ClusterBackend on the engine's container and network services."""

    def __init__(self, containers: ContainerService, networks: NetworkAttacher) -> None:
        self.containers = containers
        self.networks = networks

    def create_managed_container(self, spec: ContainerCreate, name: str | None = None) -> Container:
        container, _warnings = self.containers.create(spec, name)
        return container

    def set_task_files(self, ref: str, files: list[TaskFile]) -> None:
        c = self.containers.get(ref)
        if c.state.status != "created":
            raise Conflict(f"cannot set the secrets and configs of container {c.id[:12]}: it has been started; "
                           "they are given before the first start")
        targets = [f.path_in_container() for f in files]
        if len(set(targets)) != len(targets):
            raise InvalidParameter(f"two secrets or configs of container {c.id[:12]} have the same target")
        # In a tmpfs of the container's own (engine/taskfiles.py): a secret never reaches a disk, as in swarm.
        idmap = self.containers.idmap if (c.host_config.userns_mode or "") != "host" else None
        in_memory = [taskfiles.FileInMemory(f"{i}-{f.kind}-{os.path.basename(f.name) or 'file'}", f.data,
                                            idmap.host_uid(f.uid) if idmap else f.uid,
                                            idmap.host_gid(f.gid) if idmap else f.gid, f.mode)
                     for i, f in enumerate(files)]
        state_dir = self.containers.state_dir(c.id)
        try:
            sources = taskfiles.write(state_dir, in_memory) if files else []
        except OSError as exc:
            raise SystemError_(f"could not give container {c.id[:12]} its secrets and configs in memory: "
                               f"{exc.strerror or exc}") from None
        if not files:
            taskfiles.release(state_dir)
        c.task_files = [{"Kind": f.kind, "Source": source, "Target": target}
                        for f, source, target in zip(files, sources, targets, strict=True)]
        self.containers.save(c)

    async def start_container(self, ref: str) -> None:
        await self.containers.start(self.containers.get(ref))

    async def stop_container(self, ref: str, timeout: int | None = None) -> None:
        await self.containers.stop(self.containers.get(ref), timeout)

    async def kill_container(self, ref: str, signal: int) -> None:
        await self.containers.kill_and_wait(self.containers.get(ref), signal)

    async def wait_container(self, ref: str, condition: str = "not-running") -> int:
        return await self.containers.wait(self.containers.get(ref), condition)

    async def wait_health(self, ref: str, current: str) -> str:
        # Woken by the container's events (a health status changes, the container dies), not polled.
        subscription = self.containers.events.subscribe()
        try:
            while True:
                try:
                    c = self.containers.get(ref)
                except NotFound:
                    return ""
                status = (c.state.health or {}).get("Status") if c.state.running else None
                if status != current:
                    return status or ""
                await subscription.ready.wait()
                subscription.take()
        finally:
            self.containers.events.unsubscribe(subscription)

    async def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        await self.containers.remove(self.containers.get(ref), force=force, volumes=volumes)

    def inspect_container(self, ref: str) -> Container:
        return self.containers.get(ref)

    def managed_containers(self, labels: dict[str, str]) -> list[Container]:
        return [c for c in self.containers.list()
                if all((c.config.labels or {}).get(k) == v for k, v in labels.items())]

    async def connect_to_network(self, ref: str, network: str, endpoint: EndpointSettings | None = None) -> None:
        # A task's container: it joins its service's swarm networks, --attachable or not (moby's
        # managed containers).
        await self.networks.connect(network, self.containers.get(ref),
                                    to_json(endpoint) if endpoint is not None else None, task=True)

    async def disconnect_from_network(self, ref: str, network: str, force: bool = False) -> None:
        await self.networks.disconnect(network, self.containers.get(ref), force)
