"""Where every task of the swarm can be reached, for every node's service discovery and
balancing: /mesh/endpoints/<task ID> -> the task's service, node, address on each swarm network
it joined and whether it takes connections (running and not unhealthy).

The node running the task writes its record (its containers are where the addresses and health
are known: the engine hands out a task's overlay addresses when it joins) and removes it when the
container stops, so a killed or unhealthy task leaves the balancing of every node at their next
read. swarmkit keeps the same facts in the task object (Task.Networks[].Addresses) and spreads
health changes by gossip; readers here also drop the record of a task the store no longer has
running (a node that crashed before it could remove its records).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from dockyard.cluster.store.api import Store

PREFIX = "/mesh/endpoints/"


@dataclass(frozen=True)
class TaskEndpoint:
    task: str
    service: str  # the service's ID
    node: str  # the node's ID
    addresses: dict[str, str] = field(default_factory=dict)  # network ID -> the task's IPv4 address on it
    healthy: bool = True

    def encode(self) -> bytes:
        return json.dumps({"service": self.service, "node": self.node, "addresses": self.addresses,
                           "healthy": self.healthy}, sort_keys=True).encode()

    @classmethod
    def decode(cls, task: str, raw: bytes) -> TaskEndpoint:
        doc = json.loads(raw)
        return cls(task, doc.get("service", ""), doc.get("node", ""), dict(doc.get("addresses") or {}),
                   bool(doc.get("healthy", True)))


class StoreEndpoints:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._published: dict[str, TaskEndpoint] | None = None  # this node's, as last written

    def all(self) -> list[TaskEndpoint]:
        found = []
        for kv in self.store.range(PREFIX):
            try:
                found.append(TaskEndpoint.decode(kv.key[len(PREFIX):], kv.value))
            except (ValueError, AttributeError):  # a torn or foreign value: not an endpoint
                continue
        return found

    def publish(self, node: str, wanted: dict[str, TaskEndpoint]) -> None:
        """This node's records become ``wanted``: changed ones written, the rest of this node's
        removed (also those a previous run of the daemon left)."""
        if self._published is None:
            self._published = {e.task: e for e in self.all() if e.node == node}
        for task, endpoint in wanted.items():
            if self._published.get(task) != endpoint:
                self.store.put(PREFIX + task, endpoint.encode())
                self._published[task] = endpoint
        for task in [t for t in self._published if t not in wanted]:
            self.store.delete(PREFIX + task)
            del self._published[task]
