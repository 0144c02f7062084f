"""Swarm mode's part of the composition root, made when it is first needed: at boot when this node
is in a swarm (`<data-root>/swarm/state.json` exists), otherwise with the first request that
needs it (`/swarm`, `/nodes`, `/services`, ..., or an overlay network). A daemon outside swarm
mode thus starts without the cluster's modules, the routing mesh, the overlay driver and what they
import (http.client, urllib.request, the email package): every machine's create waits for that
start-up."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard import __version__

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService
    from dockyard.engine.daemon import Daemon

log = logging.getLogger("dockyardd")


def in_swarm(data_root: str) -> bool:
    """Is this node in a swarm (or joined one before a crash)? state.json is written last on init
    and join and removed first on leave (cluster/swarm.py)."""
    return os.path.exists(os.path.join(data_root, "swarm", "state.json"))


class SwarmWiring:
    """The swarm service and everything that hangs on it, made once (``make``), from any thread."""

    def __init__(self, daemon: Daemon, exec_root: str, loop: asyncio.AbstractEventLoop) -> None:
        self.daemon = daemon
        self.exec_root = exec_root
        self.loop = loop
        self._lock = threading.Lock()
        self._swarm: SwarmService | None = None

    def built(self) -> SwarmService | None:
        """The swarm service if it was made; None means this node has never been in a swarm since
        the daemon started (so /info's block is "inactive")."""
        return self._swarm

    async def ready(self) -> SwarmService:
        """``make`` on a thread: the imports and the member's start must not hold the event loop."""
        swarm = self._swarm
        return swarm if swarm is not None else await asyncio.to_thread(self.make)

    def make(self) -> SwarmService:
        with self._lock:
            if self._swarm is None:
                self._swarm = self._build()
            return self._swarm

    def _build(self) -> SwarmService:
        from dockyard.cluster.delivery import register as register_task_files
        from dockyard.cluster.meshrpc import register as register_mesh
        from dockyard.cluster.swarmnetworks import attach_overlay

        daemon = self.daemon
        swarm = _swarm_service(daemon.options.data_root, self.exec_root)
        swarm.add_listener(self._roles())
        register_task_files(swarm)  # a worker's agent asks a manager for its tasks' secrets and configs
        register_mesh(swarm)  # a worker's routing mesh reads its records through a manager
        if daemon.options.network.iptables and daemon.options.network.bridge != "none":
            swarm.add_listener(self._local_ingress())
        try:
            swarm.load()  # a manager's etcd member comes back with its daemon
        except Exception:  # noqa: BLE001 - the engine serves without its swarm rather than not at all
            log.exception("the swarm's store did not come back; swarm commands answer unavailable")
        attach_overlay(daemon.networks, swarm, os.path.join(daemon.options.exec_root, "overlay"),
                       daemon.options.network.mtu)
        return swarm

    def _roles(self):
        """The manager's loops and the agent, run by this node while it is in a swarm; the agent runs
        tasks through the engine's backend (moby's executor/backend.go)."""
        from dockyard.cluster.agent.images import puller
        from dockyard.cluster.roles import NodeRoles
        from dockyard.engine.backend import EngineBackend

        daemon = self.daemon
        backend = EngineBackend(daemon.containers, daemon.networks)
        return NodeRoles(backend, self.loop, puller(daemon.image_store, daemon.distribution), daemon.containers)

    def _local_ingress(self):
        """Ingress published ports of the swarm's services, balanced by this node over its task
        containers on the default bridge (cluster/ingress.py); chains named after the bridge as the
        daemon's own are, so test daemons side by side never share them."""
        from dockyard.cluster.ingress import LocalIngress
        from dockyard.cluster.ingressbox import IngressBox
        from dockyard.engine.backend import EngineBackend
        from dockyard.engine.networks import gateway
        from dockyard.errors import NotFound
        from dockyard.network.mesh.model import LocalBridge

        daemon = self.daemon
        bridge = daemon.options.network.bridge
        prefix = "DYMESH" if bridge == "dockyard0" else f"DYMESH-{bridge}"

        def bridges() -> tuple[LocalBridge, ...]:
            found = []
            for network, name in (("bridge", bridge), (gateway.NAME, gateway.link_name(bridge))):
                try:
                    ipv4 = daemon.networks.get(network).ipv4
                except NotFound:  # docker_gwbridge is made for the first container on an overlay
                    continue
                found.append(LocalBridge(name, ipv4.subnet if ipv4 is not None else ""))
            return tuple(found)

        return LocalIngress(EngineBackend(daemon.containers, daemon.networks), daemon.events, self.loop, prefix,
                            bridges, daemon.networks.get, daemon.networks.use_service_records,
                            IngressBox(daemon.networks, daemon.networks.netns_dir))

    def shutdown(self) -> None:
        with self._lock:
            if self._swarm is not None:
                self._swarm.shutdown()


def _swarm_service(data_root: str, exec_root: str) -> SwarmService:
    """Swarm mode's service, on <data-root>/swarm; it imports etcd's client only once a swarm exists.
    The node key's plain copy for TLS lives in <exec-root>/swarm (a tmpfs), never beside the data."""
    from dockyard.cluster import carotation
    from dockyard.cluster.autolock import Autolock
    from dockyard.cluster.carotation import CAService
    from dockyard.cluster.heartbeat import HeartbeatService
    from dockyard.cluster.rolefollow import RoleFollower
    from dockyard.cluster.swarm import EngineDescription, SwarmService

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    engine = EngineDescription(platform.node(), __version__, platform.machine(), "linux",
                               (os.cpu_count() or 1) * 1_000_000_000, memory)
    root = Path(data_root) / "swarm"
    swarm = SwarmService(root, engine, autolock=Autolock(root / "certificates", Path(exec_root) / "swarm"))
    swarm.add_listener(HeartbeatService())  # Down/Ready from heartbeats while the node is in a swarm
    swarm.add_listener(CAService())  # node certificates renewed, root rotations carried through
    carotation.register(swarm)  # workers renew through a manager
    swarm.add_listener(RoleFollower())  # promote/demote: the node becomes what its spec says
    return swarm
