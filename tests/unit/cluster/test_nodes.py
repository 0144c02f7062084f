"""Node updates on a version, removal, promote/demote and the list filters, on the memory store."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from dockyard.cluster import codec
from dockyard.cluster.nodes import NODES_PREFIX, REMOVED_PREFIX, NodeFilters, NodeService
from dockyard.cluster.objects import (
    Availability,
    ManagerStatus,
    Node,
    NodeDescription,
    NodeRole,
    NodeSpec,
    NodeState,
    NodeStatus,
    Platform,
    Reachability,
    Resources,
)
from dockyard.cluster.rpc import FailedPrecondition, SequenceConflict
from dockyard.cluster.store import MemoryStore
from dockyard.cluster.swarm import EngineDescription, InitRequest, SwarmService
from dockyard.errors import InvalidParameter, NotFound

ENGINE = EngineDescription("host1", "0.1.0", "x86_64", "linux", 2_000_000_000, 1 << 30)
NOW = datetime.datetime(2026, 12, 6, 5, 0, tzinfo=datetime.UTC)


class Member:
    def start(self) -> None: ...

    def stop(self) -> None: ...


@pytest.fixture
def swarm(tmp_path: Path) -> tuple[SwarmService, MemoryStore]:
    store = MemoryStore()
    service = SwarmService(tmp_path, ENGINE, open_store=lambda url: store, make_member=lambda state, root: Member())
    service.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    return service, store


def _add(store: MemoryStore, node_id: str, hostname: str, role: NodeRole = NodeRole.WORKER,
         state: NodeState = NodeState.READY, reachable: bool = True, labels: dict[str, str] | None = None) -> None:
    node = Node(node_id, NOW, NOW, NodeSpec(role=role, labels=labels or {}),
                NodeDescription(hostname, Platform("x86_64", "linux"), Resources(1, 1), "0.1.0",
                                engine_labels={"zone": hostname}),
                NodeStatus(state, addr="10.0.0.9"))
    if role == NodeRole.MANAGER:
        node.manager_status = ManagerStatus("10.0.0.9:2377", reachability=Reachability.REACHABLE if reachable
                                            else Reachability.UNREACHABLE)
    store.put(NODES_PREFIX + node_id, codec.encode(node))


def test_update_needs_the_version_it_read(swarm) -> None:
    service, store = swarm
    nodes = NodeService(service.store, service.local_node_id)
    me = nodes.get(service.local_node_id())
    spec = NodeSpec(role=NodeRole.MANAGER, availability=Availability.DRAIN, name="n1", labels={"a": "b"})
    nodes.update(me.id, me.version.index, spec)
    after = nodes.get("host1")
    assert (after.spec, after.version.index > me.version.index) == (spec, True)
    with pytest.raises(SequenceConflict) as stale:
        nodes.update(me.id, me.version.index, NodeSpec(role=NodeRole.MANAGER))
    assert (str(stale.value), stale.value.status) == ("rpc error: code = Unknown desc = update out of sequence", 500)
    assert nodes.get(me.id).spec == spec  # nothing changed


def test_the_last_manager_cannot_be_demoted_or_removed(swarm) -> None:
    service, store = swarm
    nodes = NodeService(service.store, service.local_node_id)
    me = nodes.get(service.local_node_id())
    with pytest.raises(FailedPrecondition) as demote:
        nodes.update(me.id, me.version.index, NodeSpec(role=NodeRole.WORKER))
    assert str(demote.value) == ("rpc error: code = FailedPrecondition desc = attempting to demote the last manager "
                                 "of the swarm") and demote.value.status == 400
    for force in (False, True):
        with pytest.raises(FailedPrecondition, match=f"node {me.id} is a cluster manager and is a member of the raft "
                                                     "cluster. It must be demoted to worker before removal"):
            nodes.remove(me.id, force)
    with pytest.raises(NotFound, match="node foobar01 not found"):
        nodes.remove("foobar01", True)
    assert nodes.get(me.id).version == me.version


def test_demote_keeps_a_quorum_of_reachable_managers(swarm) -> None:
    service, store = swarm
    nodes = NodeService(service.store, service.local_node_id)
    _add(store, "m2", "host2", NodeRole.MANAGER, reachable=False)
    _add(store, "m3", "host3", NodeRole.MANAGER, reachable=True)
    # Three managers, one unreachable: demoting the reachable other one leaves 1 of a quorum of 2.
    m3 = nodes.get("m3")
    with pytest.raises(FailedPrecondition, match="would result in a loss of quorum"):
        nodes.update("m3", m3.version.index, NodeSpec(role=NodeRole.WORKER))
    m2 = nodes.get("m2")
    nodes.update("m2", m2.version.index, NodeSpec(role=NodeRole.WORKER))
    assert nodes.get("m2").spec.role == NodeRole.WORKER


def test_a_worker_is_removed_when_down_or_forced(swarm) -> None:
    service, store = swarm
    nodes = NodeService(service.store, service.local_node_id)
    _add(store, "w1", "host2")
    _add(store, "w2", "host3", state=NodeState.DOWN)
    with pytest.raises(FailedPrecondition, match="node w1 is not down and can't be removed"):
        nodes.remove("host2", False)
    nodes.remove("w2", False)
    nodes.remove("w1", True)
    assert [n.id for n in nodes.list()] == [service.local_node_id()]
    assert store.get(REMOVED_PREFIX + "w1") is not None and store.get(REMOVED_PREFIX + "w2") is not None


def test_promote_is_a_role_in_the_spec(swarm) -> None:
    service, store = swarm
    nodes = NodeService(service.store, service.local_node_id)
    _add(store, "w1", "host2")
    w1 = nodes.get("w1")
    nodes.update("w1", w1.version.index, NodeSpec(role=NodeRole.MANAGER))
    promoted = nodes.get("w1")
    # Asked for, not yet a member: the role filter sees the role it has (swarmkit's Node.Role).
    assert promoted.spec.role == NodeRole.MANAGER and promoted.manager_status is None
    assert [n.id for n in nodes.list(NodeFilters(roles=[NodeRole.WORKER]))] == ["w1"]


def test_filters(swarm) -> None:
    service, store = swarm
    nodes = NodeService(service.store, service.local_node_id)
    me = service.local_node_id()
    _add(store, "w1abc", "host2", labels={"disk": "ssd", "rack": ""})
    _add(store, "w2abc", "other")

    def ids(**values: list[str]) -> list[str]:
        return sorted(n.id for n in nodes.list(NodeFilters.from_values({k.replace("_", "."): v
                                                                          for k, v in values.items()})))

    assert ids(role=["manager"]) == [me]
    assert ids(role=["worker"]) == ["w1abc", "w2abc"]
    assert ids(id=["w1"]) == ["w1abc"]
    assert ids(name=["host"]) == sorted([me, "w1abc"])
    assert ids(node_label=["disk=ssd"]) == ["w1abc"]
    assert ids(node_label=["rack"]) == ["w1abc"]
    assert ids(node_label=["disk=hdd"]) == []
    assert ids(label=["zone=other"]) == ["w2abc"]
    assert ids(membership=["accepted"]) == sorted([me, "w1abc", "w2abc"])
    assert ids(membership=["pending"]) == []
    with pytest.raises(InvalidParameter, match="Invalid role filter: 'bogus'"):
        NodeFilters.from_values({"role": ["bogus"]})
    with pytest.raises(InvalidParameter, match="Invalid membership filter: 'x'"):
        NodeFilters.from_values({"membership": ["x"]})
