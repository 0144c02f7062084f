"""The routing mesh on a worker, which keeps no store: the records its loop reads (services,
tasks, the swarm's networks, VIPs, every node's task endpoints, the ingress network's peers) and
the one thing it writes (its own tasks' endpoint records) reached through the managers' channel
(cluster/channel.py, mutual TLS).

``ChannelStore`` is the part of the store's interface the mesh's loop uses (get, range, put,
delete) on two calls: `mesh.range` reads only the prefixes listed here, and `mesh.endpoint.put` /
`mesh.endpoint.delete` write only /mesh/endpoints/<task> records naming the calling node (so a
worker cannot take another node's tasks out of the balancing). Everything else the loop would do
to the store (allocating VIPs) is a manager's: Discovery runs with ``allocate=False`` here.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from dockyard.cluster.channel import Caller, ChannelError, ManagerChannel
from dockyard.cluster.overlay import NETWORKS_PREFIX, PEERS_PREFIX
from dockyard.cluster.publishedports import PORTS_PREFIX
from dockyard.cluster.services.records import SERVICES_PREFIX, TASKS_PREFIX
from dockyard.cluster.store.api import KeyValue
from dockyard.cluster.taskendpoints import PREFIX as ENDPOINTS_PREFIX
from dockyard.cluster.taskendpoints import TaskEndpoint
from dockyard.errors import Forbidden, InvalidParameter, Unavailable

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

VIPS_PREFIX = "/mesh/vips/"  # cluster/discovery.py's
READABLE = (SERVICES_PREFIX, TASKS_PREFIX, NETWORKS_PREFIX, PEERS_PREFIX, ENDPOINTS_PREFIX, VIPS_PREFIX, PORTS_PREFIX)


def _readable(prefix: str) -> str:
    if not any(prefix.startswith(p) for p in READABLE):
        raise Forbidden(f"the routing mesh reads no records under {prefix!r}")
    return prefix


def register(swarm: SwarmService) -> None:
    """The calls a manager answers (added to the swarm's handlers once, at daemon start)."""

    def read(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        found = swarm.store().range(_readable(str(body.get("Prefix") or "")))
        return {"KVs": [{"Key": kv.key, "Value": base64.b64encode(kv.value).decode(), "Rev": kv.mod_revision}
                        for kv in found]}

    def own(caller: Caller, task: str) -> str:
        if not task or "/" in task:
            raise InvalidParameter(f"invalid task ID {task!r}")
        kv = swarm.store().get(ENDPOINTS_PREFIX + task)
        if kv is not None and TaskEndpoint.decode(task, kv.value).node != caller.node_id:
            raise Forbidden(f"task {task} runs on another node than {caller.node_id}")
        return ENDPOINTS_PREFIX + task

    def put(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        task = str(body.get("Task") or "")
        value = base64.b64decode(str(body.get("Value") or ""))
        if TaskEndpoint.decode(task, value).node != caller.node_id:
            raise Forbidden(f"node {caller.node_id} may publish only its own tasks' endpoints")
        swarm.store().put(own(caller, task), value)
        return {}

    def delete(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        swarm.store().delete(own(caller, str(body.get("Task") or "")))
        return {}

    swarm.handlers.add_call("mesh.range", read)
    swarm.handlers.add_call("mesh.endpoint.put", put)
    swarm.handlers.add_call("mesh.endpoint.delete", delete)


class ChannelStore:
    """The store calls of the mesh's loop, through a manager."""

    def __init__(self, channel: ManagerChannel) -> None:
        self.channel = channel

    def _call(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.channel.call(name, body)
        except ChannelError as exc:
            raise Unavailable(f"the routing mesh's records through a manager: {exc}") from exc

    def range(self, prefix: str) -> list[KeyValue]:
        found = self._call("mesh.range", {"Prefix": prefix})["KVs"]
        return [KeyValue(kv["Key"], base64.b64decode(kv["Value"]), int(kv.get("Rev") or 0), int(kv.get("Rev") or 0))
                for kv in found]

    def get(self, key: str) -> KeyValue | None:
        return next((kv for kv in self.range(key) if kv.key == key), None)

    def put(self, key: str, value: bytes) -> None:
        if not key.startswith(ENDPOINTS_PREFIX):
            raise Forbidden(f"a worker's routing mesh writes no record {key!r}")
        self._call("mesh.endpoint.put", {"Task": key[len(ENDPOINTS_PREFIX):],
                                         "Value": base64.b64encode(value).decode()})

    def delete(self, key: str) -> None:
        if not key.startswith(ENDPOINTS_PREFIX):
            raise Forbidden(f"a worker's routing mesh deletes no record {key!r}")
        self._call("mesh.endpoint.delete", {"Task": key[len(ENDPOINTS_PREFIX):]})
