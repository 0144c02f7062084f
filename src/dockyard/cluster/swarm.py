"""This node's part in a swarm: init, inspect, update, leave, and the nodes, on the cluster store.

A manager runs an etcd member (store/member.py) holding the cluster's objects; what the node must
know before it can reach the store (its ID, addresses, the member's URLs) is in
`<data-root>/swarm/state.json`, written last on init and removed first on leave, so a crash in
between leaves either no swarm or a whole one. Heavy imports (etcd's client, cryptography) happen
only once a swarm exists: a daemon outside swarm mode loads none of them.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import logging
import os
import secrets
import shutil
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dockyard.cluster import codec
from dockyard.cluster.autolock import LOCKED, LOCKED_LEAVE, Autolock, new_unlock_key
from dockyard.cluster.nodes import NODES_PREFIX, find_node
from dockyard.cluster.objects import (
    DEFAULT_LISTEN_PORT,
    Cluster,
    ClusterSpec,
    JoinTokens,
    ManagerStatus,
    Node,
    NodeDescription,
    NodeRole,
    NodeSpec,
    NodeState,
    NodeStatus,
    Platform,
    Resources,
    TLSInfo,
)
from dockyard.cluster.rpc import SequenceConflict
from dockyard.cluster.store.api import Compare, Put, Store
from dockyard.cluster.tokens import base36
from dockyard.errors import InvalidParameter, Unavailable

if TYPE_CHECKING:
    from dockyard.cluster.store.member import EtcdMember

log = logging.getLogger(__name__)

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
               "node to swarm and try again.")
ALREADY_IN_SWARM = ('This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join '
                    "another one.")
NOT_IN_SWARM = "This node is not part of a swarm"
LAST_MANAGER = ("You are attempting to leave the swarm on a node that is participating as a manager. Removing the "
                "last manager erases all current state of the swarm. Use `--force` to ignore this message.")

CLUSTER_KEY = "/swarm/cluster"
CA_KEY = "/swarm/ca"


class SwarmListener(Protocol):
    """Something that runs while this node is in a swarm (heartbeats, certificate renewal)."""

    def swarm_started(self, swarm: SwarmService) -> None: ...

    def swarm_stopping(self) -> None: ...


def new_id() -> str:
    """swarmkit's identity.NewID: 128 random bits in base 36, 25 characters."""
    return base36(int.from_bytes(secrets.token_bytes(16), "big"), 25)


@dataclass(frozen=True)
class EngineDescription:
    """What a node tells the swarm about its engine (swarmkit's NodeDescription, from the daemon)."""

    hostname: str
    engine_version: str
    architecture: str
    os: str
    nano_cpus: int
    memory_bytes: int


@dataclass
class InitRequest:
    listen_addr: str = f"0.0.0.0:{DEFAULT_LISTEN_PORT}"
    advertise_addr: str = ""
    force_new_cluster: bool = False
    spec: ClusterSpec = field(default_factory=ClusterSpec)
    default_addr_pool: list[str] = field(default_factory=list)
    subnet_size: int = 0
    data_path_port: int = 0


@dataclass(frozen=True)
class LocalState:
    """What this node keeps outside the store (state.json)."""

    node_id: str
    cluster_id: str
    advertise_addr: str  # host:port
    listen_addr: str  # host:port
    client_url: str
    peer_url: str


@dataclass(frozen=True)
class SwarmInfo:
    """The `Swarm` block of /info, typed."""

    node_id: str = ""
    node_addr: str = ""
    local_node_state: str = "inactive"
    control_available: bool = False
    remote_managers: list[tuple[str, str]] = field(default_factory=list)  # (node ID, addr)
    nodes: int = 0
    managers: int = 0
    cluster: Cluster | None = None
    error: str = ""


def _split_host_port(text: str, default_port: int) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port or (host.count(":") and not host.startswith("[")):
        host, port = text, ""
    host = host.strip("[]")
    try:
        number = int(port) if port else default_port
    except ValueError:
        raise InvalidParameter(f"invalid listen address {text!r}: the port must be a number") from None
    if not 0 < number < 65536:
        raise InvalidParameter(f"invalid port {number} in {text!r}")
    return host, number


def _default_address() -> str:
    """The address of the interface the default route leaves by (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing is resolved, nothing goes out
        except OSError:
            raise InvalidParameter("could not choose an IP address to advertise since this system does not have "
                                   "a default route; use --advertise-addr") from None
        return str(probe.getsockname()[0])


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class SwarmService:
    def __init__(self, root: Path, engine: EngineDescription,
                 open_store: Callable[[str], Store] | None = None,
                 make_member: Callable[[LocalState, Path], EtcdMember] | None = None,
                 autolock: Autolock | None = None) -> None:
        self._root = root  # <data-root>/swarm
        self._engine = engine
        self._open_store = open_store or self._etcd_store
        self._make_member = make_member or self._etcd_member
        self.autolock = autolock or Autolock(root / "certificates")
        self._lock = threading.RLock()  # one lifecycle change at a time
        self._state: LocalState | None = None
        self._member: EtcdMember | None = None
        self._store: Store | None = None
        self._listeners: list[SwarmListener] = []

    def add_listener(self, listener: SwarmListener) -> None:
        self._listeners.append(listener)

    def _started(self) -> None:
        for listener in self._listeners:
            try:
                listener.swarm_started(self)
            except Exception:  # noqa: BLE001 - the swarm serves without a helper rather than not at all
                log.exception("%s did not start with the swarm", type(listener).__name__)

    # -- wiring of the real store (the defaults; unit tests pass a memory store and no member)

    @staticmethod
    def _etcd_store(client_url: str) -> Store:
        from dockyard.cluster.store.etcd import EtcdStore

        return EtcdStore(client_url)

    @staticmethod
    def _etcd_member(state: LocalState, root: Path) -> EtcdMember:
        from dockyard.cluster.store.member import EtcdMember, MemberConfig

        return EtcdMember(MemberConfig(state.node_id, root / "etcd", state.client_url, state.peer_url))

    @property
    def _state_file(self) -> Path:
        return self._root / "state.json"

    # -- lifecycle

    def load(self) -> None:
        """At daemon start: bring back the member and the store of a swarm this node is in."""
        with self._lock:
            try:
                raw = json.loads(self._state_file.read_text())
            except FileNotFoundError:
                return
            # The node is in a swarm even when its member does not come back: init must then refuse
            # (not erase the swarm's data), /info says "error", and leave --force still works.
            self._state = LocalState(**raw)
            if self.autolock.locked():
                log.info("the swarm is locked: its store member starts after `swarm unlock`")
                return
            self._connect(self._state)
            self._started()

    def unlock(self, unlock_key: str) -> None:
        """A locked manager given the key that opens its node key: its member starts, it serves."""
        with self._lock:
            if self._state is None:
                raise Unavailable(NOT_MANAGER)
            self.autolock.unlock(unlock_key)
            self._connect(self._state)
            self._started()

    def _connect(self, state: LocalState) -> None:
        member = self._make_member(state, self._root)
        member.start()
        self._member, self._store, self._state = member, self._open_store(state.client_url), state

    def shutdown(self) -> None:
        """At daemon stop: the member stops with its daemon and comes back with it."""
        with self._lock:
            if self._store is not None:
                for listener in self._listeners:
                    listener.swarm_stopping()
                self._store.close()
            if self._member is not None:
                self._member.stop()
            self._store = self._member = None

    def init(self, request: InitRequest) -> str:
        with self._lock:
            if self._state is not None and not request.force_new_cluster:
                raise Unavailable(ALREADY_IN_SWARM)
            if self._state is not None:
                # TODO(next session): recover the old cluster's objects on a surviving manager.
                raise InvalidParameter("--force-new-cluster on a manager is not supported yet by Dockyard")
            listen_host, listen_port = _split_host_port(request.listen_addr, DEFAULT_LISTEN_PORT)
            advertise = request.advertise_addr or ""
            if advertise:
                advertise_host, advertise_port = _split_host_port(advertise, listen_port)
            else:
                advertise_host = listen_host if listen_host not in ("0.0.0.0", "::", "") else _default_address()
                advertise_port = listen_port
            try:
                ipaddress.ip_address(advertise_host)
            except ValueError:
                raise InvalidParameter(f"advertise address must be a non-zero IP address or network interface "
                                       f"(with optional port number), got {advertise_host!r}") from None
            from dockyard.cluster.ca import RootCA  # cryptography: only on the swarm path
            from dockyard.cluster.tokens import generate_join_token

            node_id, cluster_id = new_id(), new_id()
            state = LocalState(node_id, cluster_id, f"{advertise_host}:{advertise_port}",
                               f"{listen_host}:{listen_port}", f"http://127.0.0.1:{_free_loopback_port()}",
                               f"http://{advertise_host}:{advertise_port}")
            self._root.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self._root / "etcd", ignore_errors=True)  # a half-made swarm of a crashed init
            self._connect(state)
            try:
                ca = RootCA.generate()
                now = _now()
                cluster = Cluster(
                    id=cluster_id, created_at=now, updated_at=now, spec=request.spec,
                    join_tokens=JoinTokens(generate_join_token(ca.cert_pem), generate_join_token(ca.cert_pem)),
                    tls_info=TLSInfo(ca.cert_pem.decode(), ca.issuer_subject_der(), ca.issuer_public_key_der()),
                )
                if request.default_addr_pool:
                    cluster.default_addr_pool = list(request.default_addr_pool)
                if request.subnet_size:
                    cluster.subnet_size = request.subnet_size
                if request.data_path_port:
                    cluster.data_path_port = request.data_path_port
                expiry = datetime.timedelta(microseconds=request.spec.ca_config.node_cert_expiry // 1000)
                issued = ca.issue(node_id, "manager", cluster_id, expiry)
                certs = self._root / "certificates"
                certs.mkdir(mode=0o700, exist_ok=True)
                (certs / "swarm-root-ca.crt").write_bytes(ca.cert_pem)
                (certs / "swarm-node.crt").write_bytes(issued.cert_pem)
                key_file = certs / "swarm-node.key"
                key_file.write_bytes(issued.key_pem)
                key_file.chmod(0o600)
                if request.spec.encryption_config.auto_lock_managers:
                    self.autolock.relock(new_unlock_key())
                node = self._describe(node_id, NodeRole.MANAGER, advertise_host, now)
                node.manager_status = ManagerStatus(state.advertise_addr, leader=True)
                ca_record = {"cert": ca.cert_pem.decode(), "key": (ca.key_pem or b"").decode()}
                self._require_store().txn([Compare(CLUSTER_KEY, 0)], [
                    Put(CLUSTER_KEY, codec.encode(cluster)),
                    Put(CA_KEY, json.dumps(ca_record).encode()),
                    Put(NODES_PREFIX + node_id, codec.encode(node)),
                ])
                tmp = self._state_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(state.__dict__))
                os.replace(tmp, self._state_file)  # the swarm exists from here on
            except BaseException:
                self._abandon()
                raise
            self._started()
            return node_id

    def _describe(self, node_id: str, role: NodeRole, addr: str, now: datetime.datetime) -> Node:
        e = self._engine
        return Node(
            id=node_id, created_at=now, updated_at=now, spec=NodeSpec(role=role),
            description=NodeDescription(e.hostname, Platform(e.architecture, e.os),
                                        Resources(e.nano_cpus, e.memory_bytes), e.engine_version),
            status=NodeStatus(NodeState.READY, addr=addr),
        )

    def _abandon(self) -> None:
        """Forget this node's swarm: stop the member, remove its data and the local state."""
        self._state_file.unlink(missing_ok=True)
        self.shutdown()
        self._state = None
        self.autolock.forget()
        for part in ("etcd", "certificates"):
            shutil.rmtree(self._root / part, ignore_errors=True)

    def leave(self, force: bool) -> None:
        with self._lock:
            if self._state is None:
                raise Unavailable(NOT_IN_SWARM)
            if not force and self.autolock.locked():
                raise Unavailable(LOCKED_LEAVE)
            if not force and self._role() == NodeRole.MANAGER and self._manager_count() <= 1:
                raise Unavailable(LAST_MANAGER)
            self._abandon()

    # -- reads and updates (a manager's)

    def store(self) -> Store:
        """The cluster store of this manager; Docker's "not a swarm manager" (503) on any other node."""
        return self._require_store()

    def _require_store(self) -> Store:
        if self._store is None and self._state is not None and self.autolock.locked():
            raise Unavailable(LOCKED)
        if self._store is None:
            raise Unavailable(NOT_MANAGER)
        return self._store

    def _role(self) -> NodeRole:
        assert self._state is not None
        return self.node(self._state.node_id).spec.role

    def _manager_count(self) -> int:
        return sum(1 for n in self.nodes() if n.spec.role == NodeRole.MANAGER)

    def inspect(self) -> Cluster:
        kv = self._require_store().get(CLUSTER_KEY)
        if kv is None:
            raise Unavailable(NOT_MANAGER)
        return codec.decode(Cluster, kv.value, kv.mod_revision)

    def update(self, version: int, spec: ClusterSpec, rotate_worker_token: bool = False,
               rotate_manager_token: bool = False, rotate_unlock_key: bool = False) -> None:
        store = self._require_store()
        cluster = self.inspect()
        if version != cluster.version.index:
            raise SequenceConflict()
        locking = spec.encryption_config.auto_lock_managers
        old_key = self.autolock.unlock_key() or None
        rekey = locking != cluster.spec.encryption_config.auto_lock_managers or (locking and rotate_unlock_key)
        cluster.spec = spec
        cluster.updated_at = _now()
        if rotate_worker_token or rotate_manager_token:
            from dockyard.cluster.tokens import generate_join_token

            pem = cluster.tls_info.trust_root.encode()
            if rotate_worker_token:
                cluster.join_tokens.worker = generate_join_token(pem)
            if rotate_manager_token:
                cluster.join_tokens.manager = generate_join_token(pem)
        if rekey:
            self._rekey(store, new_unlock_key() if locking else None)
        if not store.txn([Compare(CLUSTER_KEY, version)], [Put(CLUSTER_KEY, codec.encode(cluster))]):
            if rekey:
                self._rekey(store, old_key)  # the spec did not change: neither do the keys
            raise SequenceConflict()

    def _rekey(self, store: Store, new_key: str | None) -> None:
        """Autolock on, off or rotated: the data key re-wrapped, then the node key re-encrypted."""
        from dockyard.cluster.autolock import parse_unlock_key
        from dockyard.cluster.datakey import DataKey

        old_kek = self.autolock.kek()
        new_kek = parse_unlock_key(new_key) if new_key else None
        DataKey(store).rewrap(old_kek, new_kek)
        try:
            self.autolock.relock(new_key)
        except BaseException:
            DataKey(store).rewrap(new_kek, old_kek)
            raise

    def kek(self) -> bytes | None:
        """The key-encryption key that wraps the swarm's data key while autolock is on."""
        return self.autolock.kek()

    def nodes(self) -> list[Node]:
        return [codec.decode(Node, kv.value, kv.mod_revision) for kv in self._require_store().range(NODES_PREFIX)]

    def node(self, ref: str) -> Node:
        """A node by ID, unique ID prefix or hostname, as Docker finds them."""
        return find_node(self.nodes(), ref)

    def info(self) -> SwarmInfo:
        state = self._state
        if state is None:
            return SwarmInfo()
        host = state.advertise_addr.rpartition(":")[0]
        if self.autolock.locked():
            return SwarmInfo("", host, "locked", False, error=LOCKED)
        try:
            nodes = self.nodes()
            cluster = self.inspect()
        except Unavailable:
            return SwarmInfo(state.node_id, host, "error", False)
        managers = [n for n in nodes if n.manager_status is not None]
        return SwarmInfo(state.node_id, host, "active", True,
                         [(n.id, n.manager_status.addr) for n in managers if n.manager_status],
                         len(nodes), len(managers), cluster)

    def local_node_id(self) -> str:
        return self._state.node_id if self._state else ""
