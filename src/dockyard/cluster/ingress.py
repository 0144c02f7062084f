"""Ingress published ports of the swarm's services on this node, while it is in a swarm (a
SwarmListener): `docker service create -p 8080:80` answers on this node's addresses and spreads
connections over the service's running, healthy tasks, with the client's own address visible to
them.

Tasks run as containers on the node's default bridge, or on overlays with a leg on the node's
docker_gwbridge, until they join an ingress overlay, so the node balances itself to those local
addresses (network/mesh: NodeMesh.local_bridges, iptables' nth round robin) rather than
through an ingress sandbox; the wider mesh (ingress sandbox, VIPs, return routes across nodes) is
network/mesh's MeshController, for when tasks have overlay addresses (docs/design/mesh.md).

What is wanted is recomputed from the store's services and this node's task containers whenever
a container event may change it (start, die, health) and every POLL seconds, and programmed when
it changed: one iptables-restore. A RuleKeeper keeps the rules; leaving the swarm removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from dockyard.cluster.agent.container import SERVICE_ID_LABEL
from dockyard.cluster.discovery import Discovery
from dockyard.cluster.services.records import Records
from dockyard.cluster.store.api import Store, StoreUnavailable
from dockyard.engine.backend import ClusterBackend
from dockyard.engine.container import Container
from dockyard.engine.events import EventBus
from dockyard.errors import DockyardError
from dockyard.network.mesh.controller import MeshController
from dockyard.network.mesh.model import Backend, IngressService, LocalBridge, NodeMesh, PublishedPort
from dockyard.network.mesh.programmer import Mesh
from dockyard.network.mesh.records import RecordSource
from dockyard.network.records import Network
from dockyard.network.rulekeeper import RuleKeeper

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

log = logging.getLogger("dockyard.cluster.ingress")
POLL = 2.0
STOP_TIMEOUT = 60.0
DEFAULT_NETWORK = "bridge"
GATEWAY_ENDPOINT = "GatewayEndpoint"  # engine/networks/gateway.py's SETTINGS_KEY: the docker_gwbridge leg


def local_address(c: Container) -> str:
    """Where the node reaches a task container: its default bridge address, else (a task on
    overlays) its docker_gwbridge address; "" when it has neither."""
    settings = c.network_settings or {}
    on_bridge = ((settings.get("Networks") or {}).get(DEFAULT_NETWORK) or {}).get("IPAddress")
    return on_bridge or (settings.get(GATEWAY_ENDPOINT) or {}).get("IPAddress") or ""


def wanted(services: list, containers: list[Container], bridges: tuple[LocalBridge, ...]) -> NodeMesh:
    """The node's ingress: every service's ingress-mode ports that have a published port, over
    its task containers that run and are not unhealthy (a health check still starting does not
    take connections either, as in Docker)."""
    ingress = []
    for svc in sorted(services, key=lambda s: s.name()):
        endpoint = svc.spec.endpoint_spec
        ports = tuple(PublishedPort(p.published_port, p.target_port, p.protocol or "tcp")
                      for p in (endpoint.ports or [] if endpoint is not None else [])
                      if (p.publish_mode or "ingress") == "ingress" and p.published_port and p.target_port)
        if not ports:
            continue
        backends = []
        for c in sorted(containers, key=lambda c: c.id):
            if (c.config.labels or {}).get(SERVICE_ID_LABEL) != svc.id:
                continue
            address = local_address(c)
            if not address:
                continue
            health = (c.state.health or {}).get("Status")
            backends.append(Backend(address, c.state.running and health in (None, "healthy"), c.id[:12]))
        ingress.append(IngressService(svc.name(), ports, tuple(backends)))
    return NodeMesh(ingress=ingress, local_bridges=bridges)


class LocalIngress:
    def __init__(self, backend: ClusterBackend, events: EventBus, loop: asyncio.AbstractEventLoop, prefix: str,
                 bridges: Callable[[], tuple[LocalBridge, ...]], network: Callable[[str], Network] | None = None,
                 use_records: Callable[[RecordSource | None], None] | None = None) -> None:
        self._backend = backend
        # Service discovery and VIPs (cluster/discovery.py) ride on the same loop when given
        # how to find networks and where the embedded DNS takes its service records from.
        self._network = network
        self._use_records = use_records
        self._bridges = bridges  # the default bridge and docker_gwbridge (made when first needed)
        self._events = events
        self._loop = loop
        self.mesh = Mesh(prefix)
        self._running: asyncio.Task | None = None

    # -- SwarmListener (called on a worker thread) -------------------------------------------
    def swarm_started(self, swarm: SwarmService) -> None:
        try:
            store = swarm.store()
        except DockyardError as exc:  # a worker keeps no store: its ingress comes with the overlay's
            log.info("no ingress ports on this node: %s", exc)
            return
        asyncio.run_coroutine_threadsafe(self._start(store), self._loop).result(STOP_TIMEOUT)

    def swarm_stopping(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(STOP_TIMEOUT)

    async def _start(self, store: Store) -> None:
        if self._running is None:
            self._running = asyncio.ensure_future(self._run(store))

    async def _stop(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    # -- the loop ------------------------------------------------------------------------------
    async def _run(self, store: Store) -> None:
        subscription = self._events.subscribe()
        keeper = RuleKeeper(self.mesh, generation=self.mesh.generation)
        keeping: asyncio.Task | None = None
        programmed: NodeMesh | None = None
        records = Records(store)
        discovery = None
        if self._network is not None:
            discovery = Discovery(store, MeshController(self.mesh, "", node_rules=False), self._network)
            if self._use_records is not None:
                self._use_records(discovery.controller.records)
        try:
            while True:
                try:
                    services = await asyncio.to_thread(records.services)
                    containers = self._backend.managed_containers({})
                    now = wanted(services, containers, self._bridges())
                    if now != programmed:
                        await asyncio.to_thread(self.mesh.program_node, now, None)
                        programmed = now
                    if discovery is not None:
                        await asyncio.to_thread(discovery.sync, services, containers)
                    if keeping is None:
                        keeping = asyncio.ensure_future(keeper.run())
                    keeper.changed()
                except (StoreUnavailable, DockyardError, OSError) as exc:  # the next round tries again
                    log.warning("ingress ports of the swarm's services: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscription.ready.wait(), POLL)
                subscription.take()
        finally:
            self._events.unsubscribe(subscription)
            if discovery is not None and self._use_records is not None:
                self._use_records(None)
            if keeping is not None:
                keeping.cancel()  # before the teardown, which the keeper would undo
                with contextlib.suppress(asyncio.CancelledError):
                    await keeping
            await asyncio.to_thread(self.mesh.teardown)  # node chains and every sandbox's table
