"""Ingress published ports of the swarm's services on this node, while it is in a swarm (a
SwarmListener): `docker service create -p 8080:80` answers on this node's addresses and spreads
connections over the service's running, healthy tasks, with the client's own address visible to
them.

Tasks run as containers on the node's default bridge until they join an ingress overlay, so the
node balances itself (network/mesh: NodeMesh.local_bridge, iptables' nth round robin) rather than
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
from dockyard.cluster.services.records import Records
from dockyard.cluster.store.api import Store, StoreUnavailable
from dockyard.engine.backend import ClusterBackend
from dockyard.engine.events import EventBus
from dockyard.errors import DockyardError
from dockyard.network.mesh.model import Backend, IngressService, NodeMesh, PublishedPort
from dockyard.network.mesh.programmer import Mesh
from dockyard.network.rulekeeper import RuleKeeper

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

log = logging.getLogger("dockyard.cluster.ingress")
POLL = 2.0
STOP_TIMEOUT = 60.0
DEFAULT_NETWORK = "bridge"


def wanted(services: list, containers: list, bridge: str, subnet: str = "") -> NodeMesh:
    """The node's ingress: every service's ingress-mode ports that have a published port, over
    its task containers on the default bridge that run and are not unhealthy (a health check
    still starting does not take connections either, as in Docker)."""
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
            address = (((c.network_settings or {}).get("Networks") or {}).get(DEFAULT_NETWORK) or {}).get("IPAddress")
            if not address:
                continue
            health = (c.state.health or {}).get("Status")
            backends.append(Backend(address, c.state.running and health in (None, "healthy"), c.id[:12]))
        ingress.append(IngressService(svc.name(), ports, tuple(backends)))
    return NodeMesh(ingress=ingress, local_bridge=bridge, local_subnet=subnet)


class LocalIngress:
    def __init__(self, backend: ClusterBackend, events: EventBus, loop: asyncio.AbstractEventLoop, prefix: str,
                 bridge: str, subnet: Callable[[], str] = lambda: "") -> None:
        self._backend = backend
        self._subnet = subnet  # the default bridge's subnet (it can change with a daemon restart only)
        self._events = events
        self._loop = loop
        self._bridge = bridge  # the default bridge's Linux name, where task containers are
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
        try:
            while True:
                try:
                    services = await asyncio.to_thread(records.services)
                    now = wanted(services, self._backend.managed_containers({}), self._bridge, self._subnet())
                    if now != programmed:
                        await asyncio.to_thread(self.mesh.program_node, now, None)
                        programmed = now
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
            if keeping is not None:
                keeping.cancel()  # before the teardown, which the keeper would undo
                with contextlib.suppress(asyncio.CancelledError):
                    await keeping
            if programmed is not None:
                await asyncio.to_thread(self.mesh.teardown)
