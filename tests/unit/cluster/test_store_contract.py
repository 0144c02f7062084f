"""One contract for the cluster store, run against the in-memory store and a real etcd member."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockyard.cluster.store import Compare, Delete, LeaseNotFound, MemoryStore, Put, Store
from dockyard.cluster.store.member import EtcdMember, MemberConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Subject:
    store: Store
    # Let `seconds` pass for the store's leases: the fake's clock moves, etcd is waited for.
    elapse: Callable[[float], None]


def _free_ports(count: int) -> list[int]:
    """Ports the kernel hands out now, all held until every one is chosen so they differ."""
    socks = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture(scope="module")
def etcd_member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdMember]:
    if shutil.which("etcd") is None:
        pytest.fail("etcd is not installed: `make test-packages` installs etcd-server")
    root = tmp_path_factory.mktemp("swarm")
    client, peer = _free_ports(2)
    member = EtcdMember(MemberConfig("contract", root / "swarm" / "etcd", f"http://127.0.0.1:{client}",
                                     f"http://127.0.0.1:{peer}"))
    member.start()
    try:
        yield member
    finally:
        member.stop()
        assert member.pid() is None


@pytest.fixture(params=["memory", "etcd"])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "memory":
        clock = FakeClock()

        def advance(seconds: float) -> None:
            clock.now += seconds

        yield Subject(MemoryStore(clock), advance)
        return
    from dockyard.cluster.store.etcd import EtcdStore

    member: EtcdMember = request.getfixturevalue("etcd_member")
    store = EtcdStore(member.config.client_url)
    for kv in store.range(""):  # each test starts from an empty key space on the shared member
        store.delete(kv.key)
    yield Subject(store, time.sleep)
    store.close()


def test_put_get_delete_and_revisions(subject: Subject) -> None:
    store = subject.store
    assert store.get("/a") is None
    first = store.put("/a", b"one")
    kv = store.get("/a")
    assert kv is not None and kv.value == b"one" and kv.mod_revision == first == kv.create_revision
    second = store.put("/a", b"two")
    kv = store.get("/a")
    assert kv is not None and kv.value == b"two" and kv.mod_revision == second > first
    assert kv.create_revision == first
    assert store.revision() == second
    assert store.delete("/a") is True
    assert store.get("/a") is None
    assert store.delete("/a") is False
    assert store.revision() == second + 1


def test_range_is_by_prefix_and_sorted(subject: Subject) -> None:
    store = subject.store
    for key in ["/nodes/b", "/nodes/a", "/nodesx", "/tasks/a"]:
        store.put(key, key.encode())
    assert [kv.key for kv in store.range("/nodes/")] == ["/nodes/a", "/nodes/b"]
    assert [kv.key for kv in store.range("/nodes")] == ["/nodes/a", "/nodes/b", "/nodesx"]
    assert [kv.key for kv in store.range("")] == ["/nodes/a", "/nodes/b", "/nodesx", "/tasks/a"]
    assert store.range("/none/") == []


def test_txn_compares_mod_revisions(subject: Subject) -> None:
    store = subject.store
    # 0 means "must not exist": the create succeeds once only.
    assert store.txn([Compare("/n", 0)], [Put("/n", b"v1"), Put("/index/n", b"x")]) is True
    assert store.txn([Compare("/n", 0)], [Put("/n", b"other")]) is False
    kv = store.get("/n")
    assert kv is not None and kv.value == b"v1"
    index = store.get("/index/n")
    assert index is not None and index.mod_revision == kv.mod_revision  # one revision for the whole txn
    # A stale revision is refused and changes nothing; the current one wins.
    assert store.txn([Compare("/n", kv.mod_revision - 1)], [Put("/n", b"stale")]) is False
    assert store.txn([Compare("/n", kv.mod_revision)], [Put("/n", b"v2"), Delete("/index/n")]) is True
    after = store.get("/n")
    assert after is not None and after.value == b"v2" and store.get("/index/n") is None


def test_watch_from_now_and_from_a_revision(subject: Subject) -> None:
    store = subject.store
    before = store.put("/w/old", b"0")
    watch = store.watch("/w/")
    try:
        store.put("/other", b"ignored")
        store.put("/w/a", b"1")
        store.delete("/w/a")
        put = watch.next(10)
        assert put is not None and (put.kind, put.key, put.value) == ("put", "/w/a", b"1")
        deleted = watch.next(10)
        assert deleted is not None and (deleted.kind, deleted.key, deleted.value) == ("delete", "/w/a", b"")
        assert deleted.mod_revision == put.mod_revision + 1
    finally:
        watch.cancel()
    replay = store.watch("/w/", start_revision=before)
    try:
        first = replay.next(10)
        assert first is not None and (first.key, first.mod_revision) == ("/w/old", before)
        second = replay.next(10)
        assert second is not None and second.key == "/w/a"
    finally:
        replay.cancel()


def test_leases_revoke_and_expire(subject: Subject) -> None:
    store = subject.store
    lease = store.grant_lease(2)
    store.put("/hb/n1", b"alive", lease=lease)
    store.put("/kept", b"x")
    assert store.refresh_lease(lease) == 2
    kv = store.get("/hb/n1")
    assert kv is not None and kv.lease == lease
    store.revoke_lease(lease)
    assert store.get("/hb/n1") is None and store.get("/kept") is not None
    assert store.refresh_lease(lease) == 0

    expiring = store.grant_lease(2)
    store.put("/hb/n2", b"alive", lease=expiring)
    # etcd expires a lease on its own clock; give it well past the TTL and then the key must be gone.
    subject.elapse(2.5)
    for _ in range(100):
        if store.get("/hb/n2") is None:
            break
        subject.elapse(0.1)
    assert store.get("/hb/n2") is None
    assert store.refresh_lease(expiring) == 0


def test_put_with_an_unknown_lease_is_refused(subject: Subject) -> None:
    with pytest.raises(LeaseNotFound):
        subject.store.put("/x", b"y", lease=0x7777)
    assert subject.store.get("/x") is None


def test_member_restart_keeps_the_data(tmp_path: Path) -> None:
    client, peer = _free_ports(2)
    config = MemberConfig("restart", tmp_path / "swarm" / "etcd", f"http://127.0.0.1:{client}",
                          f"http://127.0.0.1:{peer}")
    from dockyard.cluster.store.etcd import EtcdStore

    member = EtcdMember(config)
    member.start()
    try:
        pid = member.pid()
        assert pid is not None and config.pid_file.read_text().strip() == str(pid)
        EtcdStore(config.client_url).put("/cluster", b"kept")
        # A new runner (a restarted daemon) finds the old member by its PID file, stops it, starts anew.
        again = EtcdMember(config)
        again.start()
        assert again.pid() not in (None, pid)
        kv = EtcdStore(config.client_url).get("/cluster")
        assert kv is not None and kv.value == b"kept"
    finally:
        EtcdMember(config).stop()
    assert not config.pid_file.exists()
