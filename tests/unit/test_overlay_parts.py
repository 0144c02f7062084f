"""The overlay's parts without a kernel: the plan of forwarding and neighbour entries from a peer
set, the change between two plans, and the control-plane seams (peer table, VNI allocation) in
memory and on the cluster store's memory implementation."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest

from dockyard.cluster.overlay import StorePeerTable, StoreVniAllocator
from dockyard.cluster.store.memory import MemoryStore
from dockyard.errors import Conflict, InvalidParameter
from dockyard.network.overlay.control import VNI_FIRST, MemoryPeerTable, MemoryVniAllocator, parse_vni_list
from dockyard.network.overlay.peers import Changes, Entries, Fdb, Neighbour, Peer, changes, entries

HERE, THERE, ELSEWHERE = "192.168.1.1", "192.168.1.2", "192.168.1.3"
A = Peer("10.0.0.2", "02:42:0a:00:00:02", HERE)
B = Peer("10.0.0.3", "02:42:0a:00:00:03", THERE)
C = Peer("10.0.0.4", "02:42:0a:00:00:04", ELSEWHERE)


def test_entries_are_for_remote_peers_only():
    planned = entries([A, B, C], HERE)
    assert planned.fdb == {Fdb(B.mac, THERE), Fdb(C.mac, ELSEWHERE)}
    assert planned.neighbours == {Neighbour(B.ip, B.mac), Neighbour(C.ip, C.mac)}
    assert entries([A], HERE) == Entries()


def test_a_claimed_ip_or_mac_resolves_the_same_on_every_node():
    stale = Peer(B.ip, "02:42:0a:00:00:99", ELSEWHERE)
    one, other = entries([B, stale], HERE), entries([stale, B], HERE)
    assert one == other
    assert len(one.neighbours) == 1


def test_changes_add_what_is_new_and_remove_what_went():
    before = entries([B, C], HERE)
    after = entries([B], HERE)
    assert changes(before, after) == Changes(remove_fdb=(Fdb(C.mac, ELSEWHERE),),
                                             remove_neighbours=(Neighbour(C.ip, C.mac),))
    assert changes(after, before) == Changes(add_fdb=(Fdb(C.mac, ELSEWHERE),), add_neighbours=(Neighbour(C.ip, C.mac),))
    assert not changes(before, before)


def test_a_peer_that_moved_node_is_replaced_not_removed():
    moved = Peer(B.ip, B.mac, ELSEWHERE)
    todo = changes(entries([B], HERE), entries([moved], HERE))
    assert todo.remove_fdb == () and todo.remove_neighbours == ()
    assert todo.add_fdb == (Fdb(B.mac, ELSEWHERE),)


def test_peer_round_trips_through_its_encoding():
    assert Peer.decode(B.encode()) == B


@pytest.mark.parametrize("table_factory", [MemoryPeerTable, lambda: StorePeerTable(MemoryStore())],
                         ids=["memory", "store"])
def test_peer_table_publish_withdraw_and_watch(table_factory):
    table = table_factory()
    watch = table.watch("net1")
    assert not watch.changed(0.01)
    table.publish("net1", "veth1", B)
    table.publish("net2", "veth9", C)
    assert watch.changed(1.0)
    assert table.peers("net1") == [B]
    seen = threading.Event()

    def wait() -> None:
        if watch.changed(5.0):
            seen.set()

    waiter = threading.Thread(target=wait)
    waiter.start()
    table.withdraw("net1", THERE, "veth1")
    waiter.join()
    assert seen.is_set()
    assert table.peers("net1") == []
    watch.cancel()
    assert not watch.changed(0.01)


@pytest.mark.parametrize("allocator_factory", [MemoryVniAllocator, lambda: StoreVniAllocator(MemoryStore())],
                         ids=["memory", "store"])
def test_vni_allocation(allocator_factory):
    vnis = allocator_factory()
    assert vnis.allocate("n1", []) == [VNI_FIRST]
    assert vnis.allocate("n2", []) == [VNI_FIRST + 1]
    assert vnis.allocate("n3", [5000]) == [5000]
    with pytest.raises(Conflict, match="vxlan id 5000 is already used"):
        vnis.allocate("n4", [5000])
    with pytest.raises(Conflict):
        vnis.allocate("n4", [VNI_FIRST])
    with pytest.raises(InvalidParameter):
        vnis.allocate("n4", [6000, 6000])
    vnis.release("n1")
    assert vnis.allocate("n5", []) == [VNI_FIRST]
    vnis.release("n3")
    assert vnis.allocate("n6", [5000]) == [5000]


def test_vni_list_option():
    assert parse_vni_list("4097, 4098") == [4097, 4098]
    with pytest.raises(InvalidParameter, match="invalid vxlan id value 'x'"):
        parse_vni_list("x")
    with pytest.raises(InvalidParameter, match="out of range"):
        parse_vni_list(str(1 << 24))


class _Swarm:
    """What cluster/overlayrpc.py's calls need of a manager's SwarmService: its store and nodes."""

    def __init__(self) -> None:
        from dockyard.cluster.channel import Handlers

        self.handlers = Handlers()
        self._store = MemoryStore()
        self.addrs = {"worker1": THERE}

    def store(self) -> MemoryStore:
        return self._store

    def node(self, ref: str):
        return SimpleNamespace(status=SimpleNamespace(addr=self.addrs[ref]))

    def inspect(self):
        return SimpleNamespace(data_path_port=4790)


class _Channel:
    """The worker's channel, answered in-process by the manager's handlers (no TLS)."""

    def __init__(self, swarm: _Swarm, node_id: str) -> None:
        from dockyard.cluster.channel import Caller

        self.swarm = swarm
        self.caller = Caller(node_id, "worker")

    def call(self, name, body=None, timeout=None):
        return self.swarm.handlers.call(name, self.caller, body or {})

    def watch(self, name, body=None):
        return self.swarm.handlers.stream(name, self.caller, body or {})


def test_a_worker_reaches_networks_addresses_and_peers_through_the_channel():
    from dockyard.cluster.overlay import NETWORKS_PREFIX
    from dockyard.cluster.overlayrpc import KEEPALIVE, WorkerSide, register
    from dockyard.errors import Forbidden
    from dockyard.network.records import IPAMConfig, Network

    swarm = _Swarm()
    register(swarm)  # type: ignore[arg-type]
    network = Network(name="ov", id="n" * 64, driver="overlay", scope="swarm")
    network.ipam.config = [IPAMConfig("10.9.0.0/24", "10.9.0.1")]
    swarm.store().put(NETWORKS_PREFIX + network.id, json.dumps(network.to_json()).encode())
    worker = WorkerSide(_Channel(swarm, "worker1"))  # type: ignore[arg-type]
    assert [n.name for n in worker.networks()] == ["ov"]
    assert worker.data_path_port() == 4790
    assert worker.allocate_address(network, "") == "10.9.0.2"
    assert worker.allocate_address(network, "") == "10.9.0.3"
    worker.release_address(network.id, "10.9.0.2")
    assert worker.allocate_address(network, "") == "10.9.0.2"

    peers = worker.peers()
    watch = peers.watch(network.id)
    peers.publish(network.id, "veth1", B)  # B is at THERE, the worker's own address
    assert watch.changed(KEEPALIVE + 5)
    assert peers.peers(network.id) == [B] and peers.endpoints(network.id, THERE) == {"veth1": B}
    with pytest.raises(Forbidden, match="only at its own address"):
        peers.publish(network.id, "veth2", C)  # C claims another node's address
    peers.withdraw(network.id, THERE, "veth1")
    assert peers.peers(network.id) == []
    watch.cancel()
    assert not watch.changed(0.01)
