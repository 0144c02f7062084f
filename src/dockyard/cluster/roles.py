"""What this node runs for its swarm, started and stopped with it (a SwarmListener): on a manager
the manager's loops (on a thread) and the handlers the workers' agents call; on every node the
agent (on the daemon's event loop), reading the store on a manager and a manager's channel on a
worker. A promotion or demotion starts the node's part again in its new role (the agent adopts the
running tasks' containers, as after a daemon restart). When the node leaves its
swarm the tasks' containers go, as moby's Cluster.Leave removes them; at a daemon stop they keep
running and the next start adopts them.

SwarmService calls its listeners on a worker thread (its calls run in asyncio.to_thread), so the
agent is started and stopped on the event loop while this thread waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from dockyard.cluster.agent import dispatch
from dockyard.cluster.agent.agent import Agent
from dockyard.cluster.agent.channel import StoreChannel, TaskChannel
from dockyard.cluster.agent.controller import Pull
from dockyard.cluster.agent.logbroker import PUBLISH, SUBSCRIPTIONS, subscriptions_for
from dockyard.cluster.agent.logs import LogPublisher
from dockyard.cluster.agent.remote import IDLE, RemoteChannel
from dockyard.cluster.delivery import SwarmTaskFiles
from dockyard.cluster.manager.runner import Manager
from dockyard.engine.backend import ClusterBackend
from dockyard.engine.containers import ContainerService

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

log = logging.getLogger("dockyard.cluster")
STOP_TIMEOUT = 60.0


class NodeRoles:
    def __init__(self, backend: ClusterBackend, loop: asyncio.AbstractEventLoop, pull: Pull | None = None,
                 containers: ContainerService | None = None) -> None:
        self._swarm: SwarmService | None = None
        self._backend = backend
        self._loop = loop
        self._pull = pull
        self._lock = threading.Lock()
        self._manager: Manager | None = None
        self._agent: Agent | None = None
        self._containers = containers  # whose logs the node publishes for `service logs` elsewhere
        self._publisher: LogPublisher | None = None
        self._role = ""  # the role the running parts were started for

    def swarm_started(self, swarm: SwarmService) -> None:
        with self._lock:
            self._swarm = swarm
            self._up(swarm)

    def swarm_stopping(self) -> None:
        with self._lock:
            self._down(remove_containers=self._swarm is not None and self._swarm.leaving())

    def _run(self, work: Callable[[], object]) -> None:
        async def call() -> None:
            result = work()
            if asyncio.iscoroutine(result):
                await result

        future = asyncio.run_coroutine_threadsafe(call(), self._loop)
        future.result(STOP_TIMEOUT)

    def _up(self, swarm: SwarmService) -> None:
        role = swarm.local_role()
        if self._agent is not None and role == self._role:
            return
        self._down(remove_containers=False)
        channel: TaskChannel
        if role == "manager":
            store = swarm.store()
            dispatch.register(swarm.handlers, swarm.store)
            self._manager = Manager(store, swarm.is_leader)
            self._manager.start()
            channel = StoreChannel(store)
        else:
            channel = RemoteChannel(swarm.channel, managers=swarm.remember_managers)
        self._role = role
        self._agent = Agent(swarm.local_node_id(), channel, self._backend, self._pull, SwarmTaskFiles(swarm))
        self._run(self._agent.start)
        if self._containers is not None:
            self._publisher = self._log_publisher(swarm, role)
            self._publisher.start()

    def _log_publisher(self, swarm: SwarmService, role: str) -> LogPublisher:
        assert self._containers is not None
        node_id = swarm.local_node_id()
        if role == "manager":
            def subscriptions() -> Iterator[dict[str, Any]]:
                return subscriptions_for(swarm.store(), node_id)
        else:
            def subscriptions() -> Iterator[dict[str, Any]]:
                return swarm.channel().watch(SUBSCRIPTIONS, {}, idle=IDLE)

        def publish(addr: str, body: dict[str, Any]) -> None:
            swarm.channel().to(addr).call(PUBLISH, body)

        return LogPublisher(node_id, subscriptions, publish, self._containers, self._loop)

    def _down(self, remove_containers: bool) -> None:
        self._role = ""
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.stop()
        agent, self._agent = self._agent, None
        if agent is not None:
            try:
                self._run(lambda: agent.stop(remove_containers))
            except Exception:  # noqa: BLE001 - the swarm still stops
                log.exception("the agent did not stop cleanly")
        manager, self._manager = self._manager, None
        if manager is not None:
            manager.stop()
