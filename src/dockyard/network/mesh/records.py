"""What the embedded DNS answers for swarm services (libnetwork's service records): on a network
a service is attached to, its name and its network aliases answer with its virtual IP (endpoint
mode vip, the default) or with its tasks' addresses (dnsrr), and `tasks.<name>` /
`tasks.<alias>` with every task's address, as libnetwork's addServiceBinding registers them.

The records come through a narrow seam, ``RecordSource``: the swarm side (services, tasks and
their network attachments in the cluster store) implements it; ``MemoryRecords`` is the
in-memory one the daemon holds until a swarm fills it, and the one tests fill.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from dockyard.errors import InvalidParameter
from dockyard.network.mesh.model import Backend

ENDPOINT_MODES = ("vip", "dnsrr")


@dataclass(frozen=True)
class ServiceRecord:
    """One service on one network: what its names resolve to there."""

    name: str
    endpoint_mode: str = "vip"
    vip: str = ""  # the service's virtual IP on this network (endpoint mode vip)
    tasks: tuple[Backend, ...] = ()  # its tasks' addresses on this network
    aliases: tuple[str, ...] = ()  # the service's network aliases on this network

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        object.__setattr__(self, "aliases", tuple(self.aliases))
        if self.endpoint_mode not in ENDPOINT_MODES:
            raise InvalidParameter(f"invalid endpoint mode {self.endpoint_mode!r} for service {self.name}: "
                                   "use vip or dnsrr")
        if self.endpoint_mode == "vip" and not self.vip:
            raise InvalidParameter(f"service {self.name} has endpoint mode vip but no virtual IP on this network")

    @property
    def names(self) -> set[str]:
        return {self.name.lower(), *(a.lower() for a in self.aliases)}

    def task_addresses(self) -> list[str]:
        """The running, healthy tasks' addresses, in a new order each time (libnetwork shuffles
        them too, so clients that take the first answer spread over the tasks)."""
        found = [t.address for t in self.tasks if t.healthy]
        return random.sample(found, len(found))


class RecordSource(Protocol):
    def services(self, network: str) -> Iterable[ServiceRecord]:
        """The services attached to ``network`` (a network's ID or name: both are asked)."""
        ...


def resolve(source: RecordSource, networks: Iterable[str], name: str) -> list[str] | None:
    """The addresses ``name`` has on any of ``networks`` (each given as its keys: ID and name),
    None when no service there has that name."""
    wanted = name.lower().rstrip(".")
    tasks_of = wanted[len("tasks."):] if wanted.startswith("tasks.") else None
    found: list[str] = []
    matched = False
    for network in networks:
        for record in source.services(network):
            if tasks_of is not None and tasks_of in record.names:
                matched = True
                found += record.task_addresses()
            elif wanted in record.names:
                matched = True
                found += [record.vip] if record.endpoint_mode == "vip" else record.task_addresses()
    return list(dict.fromkeys(found)) if matched else None


@dataclass
class MemoryRecords:
    """Records held in memory, by network (ID or name, as the filler chooses)."""

    _by_network: dict[str, dict[str, ServiceRecord]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def put(self, network: str, record: ServiceRecord) -> None:
        with self._lock:
            self._by_network.setdefault(network, {})[record.name] = record

    def remove(self, network: str, service: str) -> None:
        with self._lock:
            self._by_network.get(network, {}).pop(service, None)

    def services(self, network: str) -> list[ServiceRecord]:
        with self._lock:
            return list(self._by_network.get(network, {}).values())
