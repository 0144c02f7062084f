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
