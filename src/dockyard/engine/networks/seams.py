"""What the network service needs from the rest of the engine, named: the container records
(whose NetworkSettings hold every endpoint, so they survive a daemon restart) and the event bus.
engine/containers.py's ContainerService and engine/events.py's EventBus are the real ones;
tests pass in-memory fakes."""

from __future__ import annotations

import builtins
from typing import Protocol

from dockyard.engine.container import Container
from dockyard.network.records import Network


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


class ClusterNetworks(Protocol):
    """The swarm's networks (scope "swarm"), kept in the cluster store by its managers: records,
    addresses and VNIs handed out once for the whole cluster. cluster/swarmnetworks.py's SwarmNetworks
    is the real one; without a swarm every call but ``list`` refuses with Docker's "This node is
    not a swarm manager"."""

    def list(self) -> list[Network]:
        """Every swarm network this node can see ([] outside a swarm)."""
        ...

    def require_manager(self) -> None: ...

    def subnet(self, taken: builtins.list[str], ingress: bool = False) -> str:
        """A free subnet from the swarm's default address pool (CIDR), none of ``taken``; its first
        is kept for the ingress network."""
        ...

    def create(self, network: Network, wanted_vnis: builtins.list[int]) -> builtins.list[int]:
        """Store ``network`` with its VNIs (``wanted_vnis`` or allocated); Conflict on a taken name or
        VNI, swarmkit's refusals of a second or attachable ingress network."""
        ...

    def delete(self, network: Network) -> None:
        """The record, its VNIs, addresses and peers."""
        ...

    def in_use(self, network: Network) -> bool:
        """Has the network an endpoint on any node?"""
        ...

    def allocate_address(self, network: Network, wanted: str) -> str: ...

    def release_address(self, network_id: str, address: str) -> None: ...
