"""What the network service needs from the rest of the engine, named: the container records
(whose NetworkSettings hold every endpoint, so they survive a daemon restart) and the event bus.
engine/containers.py's ContainerService and engine/events.py's EventBus are the real ones;
tests pass in-memory fakes."""

from __future__ import annotations

from typing import Protocol

from dockyard.engine.container import Container


class ContainerRecords(Protocol):
    def list(self) -> list[Container]: ...

    def get(self, ref: str) -> Container:
        """Full ID, name or unique ID prefix; NotFound otherwise."""
        ...

    def save(self, c: Container) -> None:
        """Write the record (its NetworkSettings changed)."""
        ...

    def container_dir(self, cid: str) -> str:
        """The container's own directory, where its hosts, resolv.conf and hostname files live."""
        ...


class EventSink(Protocol):
    def publish(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> dict: ...
