"""Ingress published ports of the swarm's services on this node, while it is in a swarm (a
SwarmListener): `docker service create -p 8080:80` answers on this node's addresses and spreads
connections over the service's running, healthy tasks, with the client's own address visible to
them.

With the swarm's ingress network (made at `swarm init`), a service publishing an ingress port
brings up this node's ingress sandbox (cluster/ingressbox.py) and joins the node's tasks of such
services to the ingress overlay: the node DNATs the port to its sandbox, which balances over every
task of the service on any node (their addresses from every node's endpoint records,
cluster/taskendpoints.py), and each task routes its replies back to the sandbox that balanced the
connection (network/mesh's return path), so the client's address stays visible across nodes.
Without an ingress network (removed by the user) the node balances over its own tasks on its
bridges (NodeMesh.local_bridges, iptables' nth round robin), as before the overlay existed.

What is wanted is recomputed from the store's services and this node's task containers whenever
a container event may change it (start, die, health) and every POLL seconds, and programmed when
it changed: one iptables-restore. A RuleKeeper keeps the rules; leaving the swarm removes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from dockyard.cluster import publishedports
from dockyard.cluster.agent.container import SERVICE_ID_LABEL
from dockyard.cluster.discovery import Discovery, ingress_ports
from dockyard.cluster.ingressbox import IngressBox, ingress_peers
from dockyard.cluster.meshrpc import ChannelStore
from dockyard.cluster.overlay import StorePeerTable, stored_networks
from dockyard.cluster.services.records import Records
from dockyard.cluster.store.api import Store, StoreUnavailable
from dockyard.engine.backend import ClusterBackend
from dockyard.engine.container import Container
from dockyard.engine.events import EventBus
from dockyard.errors import DockyardError
from dockyard.network.mesh.controller import Ingress, MeshController
from dockyard.network.mesh.model import Backend, IngressService, LocalBridge, NodeMesh
from dockyard.network.mesh.programmer import Mesh
from dockyard.network.mesh.records import RecordSource
from dockyard.network.records import Network
from dockyard.network.rulekeeper import RuleKeeper

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

log = logging.getLogger("dockyard.cluster.ingress")
POLL = 2.0
WATCHED = ("/mesh/", "/swarm/services/")  # task endpoints, VIPs, chosen ports; services
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
        ports = ingress_ports(svc)
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
                 use_records: Callable[[RecordSource | None], None] | None = None,
                 box: IngressBox | None = None) -> None:
        self._backend = backend
        self._box = box  # this node's ingress sandbox (needs the swarm's ingress network)
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
        manager = swarm.local_role() == "manager"
        # A worker keeps no store: it reads the mesh's records through a manager (cluster/meshrpc.py).
        store = swarm.store() if manager else cast(Store, ChannelStore(swarm.channel()))
        asyncio.run_coroutine_threadsafe(self._start(store, swarm.local_node_id(), manager),
                                         self._loop).result(STOP_TIMEOUT)

    def swarm_stopping(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(STOP_TIMEOUT)

    async def _start(self, store: Store, node: str, manager: bool) -> None:
        if self._running is None:
            self._running = asyncio.ensure_future(self._run(store, node, manager))

    async def _stop(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running

    # -- the loop ------------------------------------------------------------------------------
    async def _ingress(self, store: Store, services: list, containers: list[Container]) -> Ingress | None:
        """With the swarm's ingress network and a service publishing an ingress port: this node's
        ingress sandbox up, this node's tasks of such services joined to the ingress network,
        and every node's sandbox as the peers; None otherwise (the node balances locally)."""
        if self._box is None:
            return None
        network = next((n for n in await asyncio.to_thread(stored_networks, store) if n.ingress), None)
        publishing = {svc.id for svc in services if ingress_ports(svc)}
        if network is None or not publishing:
            return None
        sandbox = await self._box.up(network)
        for c in containers:
            settings = c.network_settings or {}
            if (c.state.running and (c.config.labels or {}).get(SERVICE_ID_LABEL) in publishing
                    and network.name not in (settings.get("Networks") or {})):
                try:  # swarmkit's allocator gives such a task an ingress attachment from the start
                    await self._backend.connect_to_network(c.id, network.name)
                except DockyardError as exc:
                    log.warning("task container %s could not join the ingress network: %s", c.id[:12], exc)
        peers = ingress_peers(await asyncio.to_thread(StorePeerTable(store).peers, network.id))
        return Ingress(network.name, sandbox, peers)

    def _follow(self, store: Store, wake: Callable[[], None], stop: threading.Event) -> None:
        """Wake the loop when another node's tasks, a service or the mesh's records change (a
        manager's store watch; a worker polls), so a task killed elsewhere leaves at once."""
        watches = [store.watch(prefix) for prefix in WATCHED]
        try:
            while not stop.is_set():
                if any(w.next(0.25) is not None for w in watches):
                    wake()
        except (StoreUnavailable, DockyardError, OSError) as exc:
            log.info("routing mesh: store watch ended (%s); polling every %s s", exc, POLL)
        finally:
            for w in watches:
                w.cancel()

    async def _run(self, store: Store, node: str, manager: bool) -> None:
        subscription = self._events.subscribe()
        stop = threading.Event()
        if manager:
            def wake() -> None:
                self._loop.call_soon_threadsafe(subscription.ready.set)

            threading.Thread(target=self._follow, args=(store, wake, stop), name="mesh-watch", daemon=True).start()
        inflight: list[asyncio.Future] = []

        async def off_loop(work: Callable[..., Any], *args: Any) -> Any:
            # A thread's work is not cancelled with the loop: the teardown waits for it first, or
            # a sync finishing late would program the rules the teardown removed.
            future = asyncio.ensure_future(asyncio.to_thread(work, *args))
            inflight[:] = [future]
            return await asyncio.shield(future)

        keeper = RuleKeeper(self.mesh, generation=self.mesh.generation)
        keeping: asyncio.Task | None = None
        programmed: NodeMesh | None = None
        records = Records(store)
        discovery = None
        if self._network is not None:
            discovery = Discovery(store, MeshController(self.mesh, node, node_rules=False), self._network,
                                  allocate=manager)
            if self._use_records is not None:
                self._use_records(discovery.controller.records)
        try:
            while True:
                try:
                    services = await off_loop(records.services)
                    # Ports published without a number: chosen by a manager (30000-32767), read by all.
                    chosen = await off_loop(publishedports.allocate if manager else publishedports.stored,
                                                     *((store, services) if manager else (store,)))
                    services = publishedports.fill(services, chosen)
                    containers = self._backend.managed_containers({})
                    ingress = await self._ingress(store, services, containers) if discovery is not None else None
                    if ingress is not None:
                        containers = self._backend.managed_containers({})  # with their ingress legs
                        programmed = None  # the controller has the node's ports
                    else:
                        now = wanted(services, containers, self._bridges())
                        if now != programmed:
                            if discovery is not None:
                                await off_loop(discovery.controller.set_node_rules, False)
                            await off_loop(self.mesh.program_node, now, None)
                            programmed = now
                    if discovery is not None:
                        tasks = await off_loop(records.tasks)
                        await off_loop(discovery.sync, services, containers, tasks, node, ingress)
                    if keeping is None:
                        keeping = asyncio.ensure_future(keeper.run())
                    keeper.changed()
                except (StoreUnavailable, DockyardError, OSError) as exc:  # the next round tries again
                    log.warning("ingress ports of the swarm's services: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscription.ready.wait(), POLL)
                subscription.take()
        finally:
            stop.set()
            self._events.unsubscribe(subscription)
            if discovery is not None and self._use_records is not None:
                self._use_records(None)
            for future in inflight:
                with contextlib.suppress(BaseException):
                    await future
            if keeping is not None:
                keeping.cancel()  # before the teardown, which the keeper would undo
                with contextlib.suppress(asyncio.CancelledError):
                    await keeping
            await asyncio.to_thread(self.mesh.teardown)  # node chains and every sandbox's table
            if discovery is not None:
                with contextlib.suppress(StoreUnavailable, DockyardError, OSError):
                    await asyncio.to_thread(discovery.endpoints.publish, node, {})
            if self._box is not None:
                await self._box.down()
