"""Heartbeats on leases and the dispatcher's Down/Ready, with the memory store's clock moved by hand."""

from __future__ import annotations

import datetime

from dockyard.cluster import codec
from dockyard.cluster.heartbeat import DOWN_MESSAGE, HEARTBEATS_PREFIX, Dispatcher, Heartbeat, lease_ttl
from dockyard.cluster.nodes import NODES_PREFIX, NodeService
from dockyard.cluster.objects import (
    Node,
    NodeDescription,
    NodeRole,
    NodeSpec,
    NodeState,
    NodeStatus,
    Platform,
    Resources,
)
from dockyard.cluster.store import MemoryStore

NOW = datetime.datetime(2026, 12, 6, 5, 0, tzinfo=datetime.UTC)
PERIOD_NS = 5_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _node(store: MemoryStore, node_id: str, state: NodeState = NodeState.UNKNOWN) -> None:
    node = Node(node_id, NOW, NOW, NodeSpec(role=NodeRole.WORKER),
                NodeDescription(node_id, Platform("x86_64", "linux"), Resources(1, 1), "0.1.0"),
                NodeStatus(state, addr="10.0.0.2"))
    store.put(NODES_PREFIX + node_id, codec.encode(node))


def _state(store: MemoryStore, node_id: str) -> tuple[NodeState, str]:
    kv = store.get(NODES_PREFIX + node_id)
    assert kv is not None
    node = codec.decode(Node, kv.value, kv.mod_revision)
    return node.status.state, node.status.message


def test_lease_is_the_period_times_the_grace() -> None:
    assert lease_ttl(PERIOD_NS) == 15
    assert lease_ttl(1_500_000_000) == 5  # 4.5 s rounds up: a node is never declared down early
    assert lease_ttl(1) == 1


def test_down_after_missed_heartbeats_and_ready_when_back() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    _node(store, "a")
    _node(store, "b")
    ttl = lease_ttl(PERIOD_NS)
    a, b = Heartbeat(lambda: store, "a", ttl), Heartbeat(lambda: store, "b", ttl)
    a.beat()
    dispatcher = Dispatcher(lambda: store, ttl, clock, lambda: NOW)
    dispatcher.start()
    b.beat()
    dispatcher.step(0)
    dispatcher.step(0)
    assert _state(store, "a") == (NodeState.READY, "") and _state(store, "b") == (NodeState.READY, "")

    # a keeps beating every period, b stops: b's lease runs out one grace period after its last beat.
    for _ in range(2):
        clock.now += 5
        a.beat()
        dispatcher.step(0)
    clock.now += 4.9
    a.beat()
    dispatcher.step(0)
    assert _state(store, "b") == (NodeState.READY, "")  # within its 15 s of grace
    clock.now += 0.1
    a.beat()
    dispatcher.step(0)
    assert _state(store, "b") == (NodeState.DOWN, DOWN_MESSAGE)
    assert _state(store, "a") == (NodeState.READY, "")
    assert store.get(HEARTBEATS_PREFIX + "b") is None

    b.beat()  # back: its old lease is gone, it takes a new one
    dispatcher.step(0)
    assert _state(store, "b") == (NodeState.READY, "")


def test_a_new_dispatcher_gives_silent_nodes_one_grace_period() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    _node(store, "quiet", NodeState.READY)
    _node(store, "late", NodeState.READY)
    dispatcher = Dispatcher(lambda: store, 15, clock, lambda: NOW)
    dispatcher.start()
    clock.now += 10
    Heartbeat(lambda: store, "late", 15).beat()
    dispatcher.step(0)
    assert _state(store, "quiet") == (NodeState.READY, "")  # still within its grace
    clock.now += 5
    dispatcher.step(0)
    assert _state(store, "quiet") == (NodeState.DOWN, DOWN_MESSAGE)
    assert _state(store, "late") == (NodeState.READY, "")


def test_a_down_node_can_be_removed_and_the_dispatcher_does_not_bring_it_back() -> None:
    clock = Clock()
    store = MemoryStore(clock)
    _node(store, "gone", NodeState.READY)
    beat = Heartbeat(lambda: store, "gone", 15)
    beat.beat()
    dispatcher = Dispatcher(lambda: store, 15, clock, lambda: NOW)
    dispatcher.start()
    clock.now += 16
    dispatcher.step(0)
    assert _state(store, "gone")[0] == NodeState.DOWN
    NodeService(lambda: store, lambda: "other").remove("gone", force=False)
    clock.now += 1
    dispatcher.step(0)
    assert store.get(NODES_PREFIX + "gone") is None
    dispatcher.stop()
    dispatcher.step(0)  # a stopped dispatcher's step is a no-op, as the pacing thread may call it once more


def test_workers_beat_through_a_manager_that_holds_their_lease(tmp_path) -> None:
    from dockyard.cluster.channel import Caller
    from dockyard.cluster.heartbeat import HeartbeatService, RemoteHeartbeat
    from dockyard.cluster.swarm import EngineDescription, InitRequest, SwarmService

    class Member:
        def start(self) -> None: ...

        def stop(self) -> None: ...

    store = MemoryStore()
    swarm = SwarmService(tmp_path, EngineDescription("h", "0.1.0", "x86_64", "linux", 1, 1),
                         open_store=lambda url: store, make_member=lambda state, root: Member())
    swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    service = HeartbeatService()
    service.swarm_started(swarm)
    try:
        assert store.get(HEARTBEATS_PREFIX + swarm.local_node_id()) is not None  # its own, at once
        periods: list[float] = []
        worker = RemoteHeartbeat(lambda name, body: swarm.handlers.call(name, Caller("w1", "worker"), body),
                                 periods.append)
        worker.beat()
        assert store.get(HEARTBEATS_PREFIX + "w1") is not None and periods == [5.0]
        lease = store.get(HEARTBEATS_PREFIX + "w1").lease
        worker.beat()
        assert store.get(HEARTBEATS_PREFIX + "w1").lease == lease  # refreshed, not taken anew
        cluster = swarm.inspect()
        cluster.spec.dispatcher.heartbeat_period = 1_000_000_000
        swarm.update(cluster.version.index, cluster.spec)
        worker.beat()  # the period changed: a lease of the new length (3 periods), the key kept
        kv = store.get(HEARTBEATS_PREFIX + "w1")
        assert kv.lease != lease and periods[-1] == 1.0
    finally:
        service.swarm_stopping()
