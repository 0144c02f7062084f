"""Node heartbeats on store leases, and the leader's dispatcher that turns them into node states.

swarmkit's dispatcher expects a heartbeat from every node each period (the cluster's
Dispatcher.HeartbeatPeriod, 5 s) and declares a node down after the period times a grace
multiplier (3) without one. Here the store does the counting: a node holds a lease of that TTL on
`/swarm/heartbeats/<node ID>` and refreshes it every period; when the node stops, the lease expires
and the key goes with it. The dispatcher, on the leader, watches that prefix: a delete marks the
node Down ("heartbeat failure"), a put marks it Ready again. Nothing here sleeps: `Heartbeat.beat`
and `Dispatcher.step` do one round each, a thread (`Pacer`) calls them, and the unit tests call
them directly with the memory store's clock moved instead.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dockyard.cluster import codec
from dockyard.cluster.nodes import NODES_PREFIX
from dockyard.cluster.objects import SECOND_NS, Node, NodeState, NodeStatus
from dockyard.cluster.store.api import Compare, Event, Put, Store, Watch

if TYPE_CHECKING:
    from dockyard.cluster.swarm import SwarmService

log = logging.getLogger(__name__)

HEARTBEATS_PREFIX = "/swarm/heartbeats/"
GRACE_MULTIPLIER = 3  # swarmkit's dispatcher: DefaultGracePeriodMultiplier
DOWN_MESSAGE = "heartbeat failure"


def lease_ttl(period_ns: int) -> int:
    """The lease a node holds: the heartbeat period times the grace multiplier, in whole seconds."""
    return max(1, math.ceil(period_ns * GRACE_MULTIPLIER / SECOND_NS))


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Heartbeat:
    """A node's side: one lease, refreshed each period; a new one when it has expired meanwhile."""

    def __init__(self, store: Callable[[], Store], node_id: str, ttl: int) -> None:
        self._store = store
        self._key = HEARTBEATS_PREFIX + node_id
        self.ttl = ttl
        self._lease = 0

    def beat(self) -> None:
        store = self._store()
        if self._lease and store.refresh_lease(self._lease) > 0:
            return
        # First beat, or the lease expired (the node was away): the key's return marks it Ready.
        lease = store.grant_lease(self.ttl)
        store.put(self._key, b"", lease)
        self._lease = lease

    def stop(self) -> None:
        """Stop beating; the lease runs out by itself, as a stopped node's would (Docker shows it Down
        after the grace period, not at once)."""
        self._lease = 0


class Dispatcher:
    """The leader's side: node states from heartbeat keys."""

    def __init__(self, store: Callable[[], Store], ttl: int, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], datetime.datetime] = _now) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._wall_clock = wall_clock
        self._watch: Watch | None = None
        # Nodes without a heartbeat when this dispatcher took over, and when their grace ends.
        self._pending: dict[str, float] = {}

    def start(self) -> None:
        """Take over: nodes with a heartbeat are Ready; the others get one grace period to send one
        (a new leader has not heard from anyone yet), then they are Down."""
        store = self._store()
        revision = store.revision()
        beating = {kv.key.removeprefix(HEARTBEATS_PREFIX) for kv in store.range(HEARTBEATS_PREFIX)}
        deadline = self._clock() + self._ttl
        for kv in store.range(NODES_PREFIX):
            node_id = kv.key.removeprefix(NODES_PREFIX)
            if node_id in beating:
                self._mark(node_id, NodeState.READY)
            else:
                self._pending[node_id] = deadline
        self._watch = store.watch(HEARTBEATS_PREFIX, start_revision=revision + 1)

    def step(self, timeout: float) -> None:
        """Handle the heartbeat changes (waiting up to `timeout` seconds for the first), then the
        grace periods that ended."""
        watch = self._watch
        if watch is None:
            return  # stopped
        event = watch.next(timeout)
        while event is not None:
            self._handle(event)
            event = watch.next(0)
        now = self._clock()
        for node_id, deadline in list(self._pending.items()):
            if deadline <= now:
                del self._pending[node_id]
                self._mark(node_id, NodeState.DOWN, DOWN_MESSAGE)

    def _handle(self, event: Event) -> None:
        node_id = event.key.removeprefix(HEARTBEATS_PREFIX)
        self._pending.pop(node_id, None)
        if event.kind == "put":
            self._mark(node_id, NodeState.READY)
        else:
            self._mark(node_id, NodeState.DOWN, DOWN_MESSAGE)

    def _mark(self, node_id: str, state: NodeState, message: str = "") -> None:
        """Write the node's state if it changed; an update racing ours (a spec change) is read again."""
        store = self._store()
        for _ in range(10):
            kv = store.get(NODES_PREFIX + node_id)
            if kv is None:
                return  # removed meanwhile
            node = codec.decode(Node, kv.value, kv.mod_revision)
            if node.status.state == state and node.status.message == message:
                return
            node.status = NodeStatus(state, message, node.status.addr)
            node.updated_at = self._wall_clock()
            if store.txn([Compare(kv.key, kv.mod_revision)], [Put(kv.key, codec.encode(node))]):
                log.info("node %s is %s%s", node_id, state.value, f" ({message})" if message else "")
                return
        log.warning("node %s: its state stayed unwritten after 10 conflicting updates", node_id)

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        self._pending.clear()


class RemoteHeartbeat:
    """A worker's side: it keeps no store, so it beats through a manager (the `swarm.heartbeat`
    call on the manager channel), which holds the lease for it and answers the period to keep."""

    def __init__(self, call: Callable[[str, dict], dict], pacer_period: Callable[[float], None]) -> None:
        self._call = call
        self._set_period = pacer_period

    def beat(self) -> None:
        answer = self._call("swarm.heartbeat", {})
        period = answer.get("Period")
        if isinstance(period, int) and period > 0:
            self._set_period(period / SECOND_NS)

    def stop(self) -> None:
        pass  # the manager's lease for this node runs out by itself


class Pacer:
    """A thread that runs a node's heartbeat and, while this manager leads, the dispatcher."""

    def __init__(self, heartbeat: Heartbeat | RemoteHeartbeat, dispatcher: Dispatcher | None, period: float,
                 is_leader: Callable[[], bool] = lambda: True) -> None:
        self._heartbeat = heartbeat
        self._dispatcher = dispatcher
        self._period = period
        self._is_leader = is_leader
        self._stopped = threading.Event()
        self._threads: list[threading.Thread] = []

    def set_period(self, period: float) -> None:
        self._period = period

    def start(self) -> None:
        try:
            self._heartbeat.beat()  # Ready from the first moment, before the threads run
        except Exception:  # noqa: BLE001 - a manager that is away now is tried again each period
            log.warning("first heartbeat failed; trying again in %.1fs", self._period, exc_info=True)
        self._threads.append(threading.Thread(target=self._beat, name="swarm-heartbeat", daemon=True))
        if self._dispatcher is not None:
            self._threads.append(threading.Thread(target=self._dispatch, name="swarm-dispatcher", daemon=True))
        for thread in self._threads:
            thread.start()

    def _beat(self) -> None:
        while not self._stopped.wait(self._period):
            try:
                self._heartbeat.beat()
            except Exception:  # noqa: BLE001 - a store that is away now may be back next period
                log.warning("heartbeat failed; trying again in %.1fs", self._period, exc_info=True)

    def _dispatch(self) -> None:
        """The dispatcher runs on the store's leader only: it starts when this manager becomes the
        leader (every node gets a grace period then) and stops when another one does."""
        dispatcher = self._dispatcher
        assert dispatcher is not None
        leading = False
        while not self._stopped.is_set():
            try:
                if self._is_leader() != leading:
                    leading = not leading
                    if leading:
                        dispatcher.start()
                    else:
                        dispatcher.stop()
                if leading:
                    dispatcher.step(min(self._period, 1.0))
                else:
                    self._stopped.wait(self._period)
            except Exception:  # noqa: BLE001 - the dispatcher outlives a store hiccup
                log.warning("dispatcher step failed", exc_info=True)
                leading = False
                dispatcher.stop()
                self._stopped.wait(self._period)

    def stop(self) -> None:
        self._stopped.set()
        if self._dispatcher is not None:
            self._dispatcher.stop()  # wakes the watch
        for thread in self._threads:
            thread.join(timeout=5)
        self._heartbeat.stop()


class HeartbeatService:
    """Runs this node's heartbeat while it is in a swarm (a SwarmService listener, wired in the
    composition root): a manager beats on its own store, runs the dispatcher while it leads and
    holds the leases of the workers that beat through it; a worker beats through a manager."""

    def __init__(self) -> None:
        self._pacer: Pacer | None = None
        self._remote: dict[str, Heartbeat] = {}  # the workers' leases this manager holds
        self._lock = threading.Lock()

    def swarm_started(self, swarm: SwarmService) -> None:
        if swarm.local_role() != "manager":
            pacer = Pacer(RemoteHeartbeat(lambda name, body: swarm.channel().call(name, body, timeout=5),
                                          lambda period: pacer.set_period(period)), None, 5.0)
            self._pacer = pacer
            pacer.start()
            return
        period_ns = swarm.inspect().spec.dispatcher.heartbeat_period
        ttl = lease_ttl(period_ns)
        heartbeat = Heartbeat(swarm.store, swarm.local_node_id(), ttl)
        self._remote.clear()

        def beat_for(caller, _body: dict) -> dict:
            """A worker's heartbeat: its lease refreshed (or taken) here; the period it keeps."""
            current_ns = swarm.inspect().spec.dispatcher.heartbeat_period
            ttl = lease_ttl(current_ns)
            with self._lock:
                beat = self._remote.get(caller.node_id)
                if beat is None or beat.ttl != ttl:  # new, or the period changed: a lease of the new length
                    beat = self._remote[caller.node_id] = Heartbeat(swarm.store, caller.node_id, ttl)
            beat.beat()
            return {"Period": current_ns}

        swarm.handlers.add_call("swarm.heartbeat", beat_for)
        self._pacer = Pacer(heartbeat, Dispatcher(swarm.store, ttl), period_ns / SECOND_NS, swarm.is_leader)
        self._pacer.start()

    def swarm_stopping(self) -> None:
        if self._pacer is not None:
            self._pacer.stop()
            self._pacer = None
