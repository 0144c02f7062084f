"""Autolock on the memory store: the key format, a restarted manager locked until the right key,
and autolock turned on, off and rotated with the node key and the data key following."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockyard.cluster.autolock import (
    LOCKED,
    LOCKED_LEAVE,
    InvalidUnlockKey,
    NotLocked,
    new_unlock_key,
    parse_unlock_key,
)
from dockyard.cluster.datakey import DataKey
from dockyard.cluster.objects import ClusterSpec, EncryptionConfig
from dockyard.cluster.rpc import SequenceConflict
from dockyard.cluster.store import MemoryStore
from dockyard.cluster.swarm import EngineDescription, InitRequest, SwarmService
from dockyard.errors import InvalidParameter, Unavailable

ENGINE = EngineDescription("host1", "0.1.0", "x86_64", "linux", 2_000_000_000, 1 << 30)


class Member:
    def __init__(self) -> None:
        self.running = False

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


def _service(root: Path, store: MemoryStore, member: Member | None = None) -> SwarmService:
    member = member or Member()
    return SwarmService(root, ENGINE, open_store=lambda url: store, make_member=lambda state, root: member)


def _locked_init(root: Path, store: MemoryStore) -> SwarmService:
    swarm = _service(root, store)
    spec = ClusterSpec(encryption_config=EncryptionConfig(auto_lock_managers=True))
    swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1", spec=spec))
    return swarm


def _node_key(root: Path) -> bytes:
    return (root / "certificates" / "swarm-node.key").read_bytes()


def test_unlock_keys_are_swarmkits_format() -> None:
    key = new_unlock_key()
    assert re.fullmatch(r"SWMKEY-1-[A-Za-z0-9+/]{43}", key)
    assert len(parse_unlock_key(key)) == 32
    for bad in ("", "garbage", "SWMKEY-1-", "SWMKEY-1-%%%", "SWMKEY-2-" + key[9:], key + "="):
        with pytest.raises(InvalidParameter, match="^invalid key string$"):
            parse_unlock_key(bad)


def test_a_restarted_manager_is_locked_until_the_right_key(tmp_path: Path) -> None:
    store = MemoryStore()
    first = _locked_init(tmp_path, store)
    key = first.autolock.unlock_key()
    assert key.startswith("SWMKEY-1-") and _node_key(tmp_path).startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")
    sealed = DataKey(store, first.kek).get()  # a secret's data key, wrapped by the unlock key
    first.shutdown()

    member = Member()
    again = _service(tmp_path, store, member)
    again.load()
    assert not member.running  # a locked manager keeps its store member stopped
    info = again.info()
    assert (info.local_node_state, info.node_id, info.error, info.control_available) == ("locked", "", LOCKED, False)
    for call in (again.inspect, again.nodes, again.store):
        with pytest.raises(Unavailable, match=re.escape(LOCKED)):
            call()
    with pytest.raises(Unavailable, match=re.escape(LOCKED_LEAVE)):
        again.leave(force=False)
    with pytest.raises(InvalidParameter, match="^invalid key string$"):
        again.unlock("garbage")
    with pytest.raises(InvalidUnlockKey) as wrong:
        again.unlock(new_unlock_key())
    assert (str(wrong.value), wrong.value.status) == ("swarm could not be unlocked: invalid key provided", 401)
    assert again.info().local_node_state == "locked" and not member.running

    again.unlock(key)
    assert member.running and again.info().local_node_state == "active"
    assert DataKey(store, again.kek).get() == sealed
    with pytest.raises(NotLocked, match="swarm is not locked") as twice:
        again.unlock(key)
    assert twice.value.status == 409


def test_autolock_off_on_and_rotated(tmp_path: Path) -> None:
    store = MemoryStore()
    swarm = _locked_init(tmp_path, store)
    data_key = DataKey(store, swarm.kek).get()
    first = swarm.autolock.unlock_key()
    with pytest.raises(Unavailable, match=re.escape(LOCKED)):
        DataKey(store).get()  # wrapped: no key, no data

    def update(locking: bool, rotate: bool = False) -> None:
        cluster = swarm.inspect()
        cluster.spec.encryption_config.auto_lock_managers = locking
        swarm.update(cluster.version.index, cluster.spec, rotate_unlock_key=rotate)

    update(True, rotate=True)
    rotated = swarm.autolock.unlock_key()
    assert rotated != first and DataKey(store, swarm.kek).get() == data_key

    update(False)
    assert swarm.autolock.unlock_key() == "" and swarm.kek() is None
    assert _node_key(tmp_path).startswith(b"-----BEGIN PRIVATE KEY") and DataKey(store).get() == data_key
    update(False, rotate=True)  # nothing to rotate without autolock
    assert swarm.autolock.unlock_key() == ""

    update(True)
    again = swarm.autolock.unlock_key()
    assert again not in ("", first, rotated) and DataKey(store, swarm.kek).get() == data_key

    stale = swarm.inspect()
    update(True, rotate=True)
    stale.spec.encryption_config.auto_lock_managers = False
    latest = swarm.autolock.unlock_key()
    with pytest.raises(SequenceConflict):
        swarm.update(stale.version.index, stale.spec)
    assert swarm.autolock.unlock_key() == latest and DataKey(store, swarm.kek).get() == data_key

    swarm.leave(force=True)
    assert swarm.autolock.unlock_key() == "" and not swarm.autolock.locked()


def test_a_locked_manager_can_leave_with_force(tmp_path: Path) -> None:
    store = MemoryStore()
    first = _locked_init(tmp_path, store)
    first.shutdown()
    again = _service(tmp_path, store)
    again.load()
    assert again.info().local_node_state == "locked"
    again.leave(force=True)
    assert again.info().local_node_state == "inactive" and not again.autolock.locked()
    assert not (tmp_path / "certificates").exists() and not (tmp_path / "run" / "tls").exists()
