"""Network endpoints: list, inspect, create, remove, prune, connect, disconnect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dockyard.api.codec import from_json, to_json
from dockyard.api.filters import Filters, until_ns
from dockyard.api.http import Request, Response
from dockyard.engine.specs.networks import NetworkConnect, NetworkCreate, NetworkDisconnect
from dockyard.errors import Forbidden, InvalidParameter, NotFound
from dockyard.network.records import Network
from dockyard.util.timefmt import parse_rfc3339

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.cluster.services.control import ServiceControl
    from dockyard.engine.daemon import Daemon

LIST_FILTERS = {"dangling", "driver", "id", "label", "name", "scope", "type"}
PRUNE_FILTERS = {"until", "label", "label!"}


def network_view(daemon: Daemon, network: Network, containers: bool = True) -> dict:
    view = network.to_json()
    view["Containers"] = daemon.networks.endpoints(network) if containers else {}
    return view


def _matches(daemon: Daemon, network: Network, filters: Filters) -> bool:
    if filters.get("name") and not any(n in network.name for n in filters.get("name")):
        return False
    if filters.get("id") and not any(network.id.startswith(i) for i in filters.get("id")):
        return False
    if filters.get("driver") and network.driver not in filters.get("driver"):
        return False
    if filters.get("scope") and network.scope not in filters.get("scope"):
        return False
    for kind in filters.get("type"):
        if kind not in ("custom", "builtin"):
            raise InvalidParameter(f"invalid filter: 'type'='{kind}'")
        if (kind == "custom") != network.user_defined:
            return False
    for value in filters.get("dangling"):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidParameter(f"invalid filter 'dangling={value}'")
        dangling = network.user_defined and not daemon.networks.endpoints(network)
        if dangling != (value.lower() in ("true", "1")):
            return False
    return filters.match_labels(network.labels)


# A swarm network whose services are gone still has their tasks' containers on it for as long as
# they take to stop. swarmkit deletes the network then (it refuses only while a service or a task
# meant to run uses it) and each node tears its copy down once they have left; here the removal
# waits for them to leave, so `stack rm`, which removes the networks right after the services,
# succeeds as against Docker.
DRAIN_SECONDS = 30.0


def _only_leaving_tasks(control: ServiceControl, network: Network) -> bool:
    """Tasks use the network, and none of them is meant to run on: their service is gone or
    no longer wants them."""
    from dockyard.cluster.services.task import TaskState

    def uses(networks) -> bool:
        return any(n.target in (network.id, network.name) for n in networks or [])

    services = control.services({})
    if any(uses(s.spec.task().networks) or uses(s.spec.networks) for s in services):
        return False
    live = {s.id for s in services}
    users = [t for t in control.tasks({}) if uses(t.spec.networks)]
    return bool(users) and all(t.desired_state > TaskState.RUNNING or t.service_id not in live for t in users)


def register(router: Router, daemon: Daemon,
             control_of: Callable[[], ServiceControl | None] = lambda: None) -> None:
    service = daemon.networks

    async def list_(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), LIST_FILTERS)
        return Response(200, [network_view(daemon, r, containers=False) for r in service.list()
                              if _matches(daemon, r, filters)])

    async def inspect(req: Request) -> Response:
        network = service.get(req.params["id"])
        scope = req.arg("scope")
        if scope and network.scope != scope:  # as dockerd: another scope's network is not found
            raise NotFound(f"network {req.params['id']} not found")
        return Response(200, network_view(daemon, network))

    async def create(req: Request) -> Response:
        network = service.create(from_json(NetworkCreate, await req.json()))
        return Response(201, {"Id": network.id, "Warning": ""})

    async def remove(req: Request) -> Response:
        try:
            service.remove(req.params["id"])
        except Forbidden:
            network, control = service.get(req.params["id"]), control_of()
            if network.scope != "swarm" or control is None or \
                    not await asyncio.to_thread(_only_leaving_tasks, control, network):
                raise
            deadline = time.monotonic() + DRAIN_SECONDS
            while True:
                await asyncio.sleep(0.2)
                try:
                    service.remove(network.id)
                    break
                except Forbidden:
                    if time.monotonic() > deadline:
                        raise
        return Response(204)

    async def prune(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), PRUNE_FILTERS)
        until = None
        for value in filters.get("until"):
            until = until_ns(value)

        def keep(network: Network) -> bool:
            if until is not None and parse_rfc3339(network.created) >= until:
                return True
            return not filters.match_labels(network.labels)

        deleted = service.prune(keep)
        return Response(200, {"NetworksDeleted": deleted or None})

    async def connect(req: Request) -> Response:
        body = from_json(NetworkConnect, await req.json())
        c = daemon.containers.get(body.container or "")
        endpoint = to_json(body.endpoint_config) if body.endpoint_config is not None else None
        await service.connect(req.params["id"], c, endpoint)
        return Response(200)

    async def disconnect(req: Request) -> Response:
        body = from_json(NetworkDisconnect, await req.json())
        c = daemon.containers.get(body.container or "")
        await service.disconnect(req.params["id"], c, bool(body.force))
        return Response(200)

    router.add("GET", "/networks", list_)
    router.add("POST", "/networks/create", create)
    router.add("POST", "/networks/prune", prune)
    router.add("GET", "/networks/{id}", inspect)
    router.add("DELETE", "/networks/{id}", remove)
    router.add("POST", "/networks/{id}/connect", connect)
    router.add("POST", "/networks/{id}/disconnect", disconnect)
