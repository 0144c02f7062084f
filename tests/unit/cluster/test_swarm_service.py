"""SwarmService's rules on the in-memory store, with a member that records what it was asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.cluster.rpc import SequenceConflict
from dockyard.cluster.store import MemoryStore, StoreUnavailable
from dockyard.cluster.swarm import (
    ALREADY_IN_SWARM,
    LAST_MANAGER,
    NOT_IN_SWARM,
    NOT_MANAGER,
    EngineDescription,
    InitRequest,
    SwarmService,
)
from dockyard.errors import InvalidParameter, NotFound, Unavailable

ENGINE = EngineDescription("host1", "0.1.0", "x86_64", "linux", 2_000_000_000, 1 << 30)


class RecordingMember:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.running = False

    def start(self) -> None:
        if self.fail:
            raise StoreUnavailable("etcd exited with 1 on start")
        self.running = True

    def stop(self) -> None:
        self.running = False


def _service(root: Path, member: RecordingMember, store: MemoryStore) -> SwarmService:
    return SwarmService(root, ENGINE, open_store=lambda url: store, make_member=lambda state, root: member)


def test_init_inspect_leave(tmp_path: Path) -> None:
    member, store = RecordingMember(), MemoryStore()
    swarm = _service(tmp_path, member, store)
    with pytest.raises(Unavailable, match="not a swarm manager"):
        swarm.inspect()
    node_id = swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    assert member.running
    state = json.loads((tmp_path / "state.json").read_text())
    assert (state["node_id"], state["advertise_addr"], state["role"]) == (node_id, "127.0.0.1:4000", "manager")
    # The member's peer URL is on the advertise address, its client URL on loopback, both TLS.
    assert state["peer_url"].startswith("https://127.0.0.1:") and state["client_url"].startswith("https://127.0.0.1:")
    with pytest.raises(Unavailable) as again:
        swarm.init(InitRequest(listen_addr="127.0.0.1:4001"))
    assert str(again.value) == ALREADY_IN_SWARM
    node = swarm.node(node_id[:5])
    assert node.manager_status is not None and node.manager_status.leader
    assert swarm.node("host1").id == node_id
    with pytest.raises(NotFound):
        swarm.node("zzz")
    info = swarm.info()
    assert (info.local_node_state, info.nodes, info.managers) == ("active", 1, 1)

    cluster = swarm.inspect()
    with pytest.raises(SequenceConflict, match="update out of sequence"):
        swarm.update(cluster.version.index - 1, cluster.spec)
    swarm.update(cluster.version.index, cluster.spec, rotate_worker_token=True)
    after = swarm.inspect()
    assert after.join_tokens.worker != cluster.join_tokens.worker
    assert after.join_tokens.manager == cluster.join_tokens.manager

    with pytest.raises(Unavailable) as last:
        swarm.leave(force=False)
    assert str(last.value) == LAST_MANAGER
    swarm.leave(force=True)
    assert not member.running and not (tmp_path / "state.json").exists()
    assert not (tmp_path / "certificates").exists()
    with pytest.raises(Unavailable) as gone:
        swarm.leave(force=True)
    assert str(gone.value) == NOT_IN_SWARM
    assert swarm.info().local_node_state == "inactive"


def test_bad_addresses_change_nothing(tmp_path: Path) -> None:
    member = RecordingMember()
    swarm = _service(tmp_path, member, MemoryStore())
    for request in (InitRequest(listen_addr="127.0.0.1:99999"), InitRequest(listen_addr="127.0.0.1:x"),
                    InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="not-an-ip")):
        with pytest.raises(InvalidParameter):
            swarm.init(request)
    assert not member.running and not (tmp_path / "state.json").exists()


def test_data_path_port_and_address_as_docker_checks_them(tmp_path: Path) -> None:
    member = RecordingMember()
    swarm = _service(tmp_path, member, MemoryStore())
    for port in (80, 1023, 49152, 65535):
        with pytest.raises(InvalidParameter) as refused:
            swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1", data_path_port=port))
        assert str(refused.value) == f"Datapath port number is not in valid range (1024-49151) : {port}"
    for addr in ("0.0.0.0", "10.0.0.1:4789", "no-such-interface0"):
        with pytest.raises(InvalidParameter, match="^data path address must be a non-zero IP address or network "
                                                   r"interface \(without a port number\)$"):
            swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1", data_path_addr=addr))
    assert not member.running and not (tmp_path / "state.json").exists()
    assert swarm.data_path_addr() == ""

    swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1", data_path_port=49151,
                           data_path_addr="lo"))  # an interface: its address
    assert swarm.inspect().data_path_port == 49151
    assert swarm.data_path_addr() == "127.0.0.1"
    assert json.loads((tmp_path / "state.json").read_text())["data_path_addr"] == "127.0.0.1"
    swarm.leave(force=True)
    plain = _service(tmp_path / "plain", RecordingMember(), MemoryStore())
    plain.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    assert plain.data_path_addr() == "127.0.0.1" and plain.inspect().data_path_port == 4789


def test_a_member_that_does_not_come_back_keeps_the_swarm(tmp_path: Path) -> None:
    store = MemoryStore()
    first = _service(tmp_path, RecordingMember(), store)
    node_id = first.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    first.shutdown()

    broken = _service(tmp_path, RecordingMember(fail=True), store)
    with pytest.raises(StoreUnavailable):
        broken.load()
    with pytest.raises(Unavailable) as refused:
        broken.init(InitRequest(listen_addr="127.0.0.1:4001", advertise_addr="127.0.0.1"))
    assert str(refused.value) == ALREADY_IN_SWARM
    assert broken.info().local_node_state == "error"
    with pytest.raises(Unavailable, match=NOT_MANAGER[:30]):
        broken.nodes()

    back = _service(tmp_path, RecordingMember(), store)
    back.load()
    assert [n.id for n in back.nodes()] == [node_id]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again once the socket goes: connections are refused


def test_a_join_to_an_unreachable_manager_goes_on_in_the_background(tmp_path: Path) -> None:
    from dockyard.cluster.ca import RootCA
    from dockyard.cluster.swarm import JOIN_TIMEOUT, JoinRequest
    from dockyard.cluster.tokens import generate_join_token

    swarm = SwarmService(tmp_path, ENGINE, open_store=lambda url: MemoryStore(),
                         make_member=lambda state, root, **_: RecordingMember(), join_timeout=0.3)
    token = generate_join_token(RootCA.generate().cert_pem)
    with pytest.raises(Unavailable) as timed_out:
        swarm.join(JoinRequest([f"127.0.0.1:{_closed_port()}"], token))
    assert str(timed_out.value) == JOIN_TIMEOUT
    assert swarm.info().local_node_state == "pending"
    with pytest.raises(Unavailable) as busy:
        swarm.join(JoinRequest(["127.0.0.1:1"], token))
    assert str(busy.value) == ALREADY_IN_SWARM
    swarm.leave(force=False)  # cancels the attempt
    assert swarm.info().local_node_state == "inactive"
    assert not (tmp_path / "state.json").exists()


def test_join_requests_are_checked_before_anything_is_tried(tmp_path: Path) -> None:
    from dockyard.cluster.swarm import JoinRequest

    swarm = _service(tmp_path, RecordingMember(), MemoryStore())
    with pytest.raises(InvalidParameter, match="at least 1 RemoteAddr is required to join"):
        swarm.join(JoinRequest([], "SWMTKN-1-x"))
    with pytest.raises(InvalidParameter, match="invalid join token"):
        swarm.join(JoinRequest(["10.0.0.1"], "SWMTKN-1-nonsense"))
    from dockyard.cluster.rpc import InvalidArgument

    with pytest.raises(InvalidArgument, match="A valid join token is necessary"):
        swarm.join(JoinRequest(["10.0.0.1"], ""))
    assert swarm.info().local_node_state == "inactive"
    swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    with pytest.raises(Unavailable) as again:
        swarm.join(JoinRequest(["10.0.0.1"], "SWMTKN-1-x"))
    assert str(again.value) == ALREADY_IN_SWARM


def test_a_worker_is_not_a_manager_and_cannot_force_a_new_cluster(tmp_path: Path) -> None:
    from dockyard.cluster.swarm import WORKER_NOT_MANAGER, LocalState

    state = LocalState("w1", "c1", "10.0.0.4:2377", "0.0.0.0:2377", "", "", "worker", ["10.0.0.1:2377"])
    (tmp_path / "state.json").write_text(json.dumps(state.__dict__))
    member = RecordingMember()
    swarm = _service(tmp_path, member, MemoryStore())
    swarm.load()
    assert not member.running  # a worker runs no store member
    for call in (swarm.nodes, swarm.inspect):
        with pytest.raises(Unavailable) as refused:
            call()
        assert str(refused.value) == WORKER_NOT_MANAGER
    with pytest.raises(Unavailable) as forced:
        swarm.init(InitRequest(force_new_cluster=True))
    assert str(forced.value) == WORKER_NOT_MANAGER
    info = swarm.info()  # no manager answers: the one it last knew
    assert (info.local_node_state, info.control_available, info.remote_managers) == (
        "active", False, [("", "10.0.0.1:2377")])
    swarm.leave(force=False)  # a worker leaves without --force
    assert not (tmp_path / "state.json").exists()


def test_force_new_cluster_restarts_the_member_alone(tmp_path: Path) -> None:
    store = MemoryStore()
    starts: list[dict] = []

    def make_member(state, root, **options):
        starts.append(options)
        return RecordingMember()

    swarm = SwarmService(tmp_path, ENGINE, open_store=lambda url: store, make_member=make_member)
    node_id = swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    store.put("/swarm/members/gone", b'{"peer_url": "https://10.0.0.9:2380"}')
    with pytest.raises(InvalidParameter, match="keeps this manager's address"):
        swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.2", force_new_cluster=True))
    assert swarm.init(InitRequest(advertise_addr="127.0.0.1:4000", force_new_cluster=True)) == node_id
    assert starts == [{}, {"force_new_cluster": True}]
    assert [kv.key for kv in store.range("/swarm/members/")] == [f"/swarm/members/{node_id}"]


class ThreeMembers:
    """The store's membership as the leader (member 1, this node) sees it."""

    def __init__(self) -> None:
        from dockyard.cluster.membership import Member

        self.list = [Member(1, "me", "https://10.0.0.1:2380"), Member(2, "n2", "https://10.0.0.2:2380"),
                     Member(3, "n3", "https://10.0.0.3:2380")]
        self.up = {1, 2, 3}
        self.removed: list[int] = []

    def members(self):
        return list(self.list)

    def leader(self) -> int:
        return 1

    def local_id(self) -> int:
        return 1

    def reachable(self, members) -> set[int]:
        return {m.id for m in members if m.id in self.up}

    def remove(self, member_id: int) -> None:
        self.removed.append(member_id)
        self.list = [m for m in self.list if m.id != member_id]


def test_the_leader_removes_the_member_of_a_manager_demoted_while_down(tmp_path: Path) -> None:
    import datetime

    from dockyard.cluster import codec
    from dockyard.cluster.membership import MEMBERS_PREFIX
    from dockyard.cluster.nodes import NODES_PREFIX
    from dockyard.cluster.objects import (
        ManagerStatus,
        Node,
        NodeDescription,
        NodeRole,
        NodeSpec,
        NodeStatus,
        Platform,
        Resources,
    )

    store, membership = MemoryStore(), ThreeMembers()
    swarm = SwarmService(tmp_path, ENGINE, open_store=lambda url: store,
                         make_member=lambda state, root: RecordingMember(), membership=lambda state: membership)
    me = swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1"))
    now = datetime.datetime.now(datetime.UTC)
    store.put(MEMBERS_PREFIX + me, json.dumps({"peer_url": "https://10.0.0.1:2380"}).encode())
    for n, role in ((2, NodeRole.WORKER), (3, NodeRole.MANAGER)):  # n2 demoted, n3 still a manager
        node = Node(f"n{n}", now, now, NodeSpec(role=role), NodeDescription(f"n{n}", Platform("x86_64", "linux"),
                                                                            Resources(1, 1), "0.1.0"),
                    NodeStatus(addr=f"10.0.0.{n}"), manager_status=ManagerStatus(f"10.0.0.{n}:2377"))
        store.put(NODES_PREFIX + node.id, codec.encode(node))
        store.put(MEMBERS_PREFIX + node.id, json.dumps({"peer_url": f"https://10.0.0.{n}:2380"}).encode())

    swarm.follow_role()  # n2 is up: it takes itself out
    assert membership.removed == [] and store.get(MEMBERS_PREFIX + "n2") is not None
    membership.up = {1, 3}  # n2 is down
    swarm.follow_role()
    assert membership.removed == [2] and store.get(MEMBERS_PREFIX + "n2") is None
    assert codec.decode(Node, store.get(NODES_PREFIX + "n2").value).manager_status is None
    assert store.get(MEMBERS_PREFIX + "n3") is not None and store.get(MEMBERS_PREFIX + me) is not None
    membership.up = {1}  # n3 is down too, but a manager still: kept
    swarm.follow_role()
    assert membership.removed == [2]
