"""This node's part in a swarm: init, inspect, update, leave, and the nodes, on the cluster store.

A manager runs an etcd member (store/member.py) holding the cluster's objects; what the node must
know before it can reach the store (its ID, addresses, the member's URLs) is in
`<data-root>/swarm/state.json`, written last on init and removed first on leave, so a crash in
between leaves either no swarm or a whole one. Heavy imports (etcd's client, cryptography) happen
only once a swarm exists: a daemon outside swarm mode loads none of them.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import logging
import os
import secrets
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dockyard.cluster import codec
from dockyard.cluster.autolock import LOCKED, LOCKED_LEAVE, Autolock, new_unlock_key
from dockyard.cluster.channel import Caller, Handlers
from dockyard.cluster.keys import AUTOLOCK_KEY, CA_KEY, CLUSTER_KEY
from dockyard.cluster.membership import MEMBERS_PREFIX
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
from dockyard.cluster.rpc import InvalidArgument, SequenceConflict
from dockyard.cluster.store.api import Compare, Put, Store
from dockyard.cluster.tokens import base36
from dockyard.errors import InvalidParameter, NotFound, Unavailable

if TYPE_CHECKING:
    from dockyard.cluster.channel import ManagerChannel
    from dockyard.cluster.joining import Grant
    from dockyard.cluster.membership import Membership
    from dockyard.cluster.store.member import EtcdMember
    from dockyard.cluster.swarmport import SwarmPort

log = logging.getLogger(__name__)

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this '
               "node to swarm and try again.")
ALREADY_IN_SWARM = ('This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join '
                    "another one.")
NOT_IN_SWARM = "This node is not part of a swarm"
LAST_MANAGER = ("You are attempting to leave the swarm on a node that is participating as a manager. Removing the "
                "last manager erases all current state of the swarm. Use `--force` to ignore this message.")
WORKER_NOT_MANAGER = ("This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. "
                      "Please run this command on a manager node or promote the current node to a manager.")
JOIN_TIMEOUT = ('Timeout was reached before node joined. The attempt to join the swarm will continue in the '
                'background. Use the "docker info" command to see the current swarm status of your node.')

# The members' Raft heartbeat and election timeout (ms): the spec's ticks (1 and 10) at 200 ms,
# twice etcd's defaults, so that a busy machine does not call elections for nothing; a dead
# leader is replaced within a few seconds (swarmkit's 1 s ticks take over 10).
RAFT_TIMING = (200, 2000)
# How long a request waits for an election before answering that the swarm has no leader: a
# leader's member restarting (a new trust root) hands over or is replaced within this.
ELECTION_WAIT = 3.0
RELOAD_TURN = "/swarm/tls-reload"  # held (with a lease) by the manager whose member restarts now



class SwarmListener(Protocol):
    """Something that runs while this node is in a swarm (heartbeats, certificate renewal)."""

    def swarm_started(self, swarm: SwarmService) -> None: ...

    def swarm_stopping(self) -> None: ...


def key_fingerprint(unlock_key: str | None) -> str:
    """What the store keeps of the unlock key in force, so every manager can tell that its own is
    stale ("" without autolock). A hash of 256 random bits: it gives nothing away."""
    import hashlib

    if not unlock_key:
        return ""
    return hashlib.sha256(b"dockyard autolock " + unlock_key.encode()).hexdigest()


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
    data_path_addr: str = ""


@dataclass(frozen=True)
class LocalState:
    """What this node keeps outside the store (state.json)."""

    node_id: str
    cluster_id: str
    advertise_addr: str  # host:port
    listen_addr: str  # host:port
    client_url: str  # a manager's etcd member: its client URL (loopback) and peer URL ("" on a worker)
    peer_url: str
    role: str = "manager"  # the role this node joined with, which decides what it runs at boot
    managers: list[str] = field(default_factory=list)  # the managers' swarm addresses, as last known
    data_path_addr: str = ""  # --data-path-addr: this node's VXLAN address ("": its advertise address)


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


BAD_DATA_PATH_ADDR = ("data path address must be a non-zero IP address or network interface (without a port "
                      "number)")


def _interface_ipv4(name: str) -> str | None:
    """The IPv4 address of the interface ``name`` (SIOCGIFADDR), None when it has none."""
    import fcntl
    import struct

    if not name or len(name) > 15 or "/" in name:
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            packed = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name.encode()))  # SIOCGIFADDR
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def data_path_address(text: str) -> str:
    """moby's resolveDataPathAddr: an IP address or an interface's, without a port; "" for none."""
    if not text:
        return ""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        found = _interface_ipv4(text)
        if found is None:
            raise InvalidParameter(BAD_DATA_PATH_ADDR) from None
        return found
    if ip.is_unspecified:
        raise InvalidParameter(BAD_DATA_PATH_ADDR)
    return str(ip)


def check_data_path_port(port: int) -> None:
    """moby's getDataPathPort: 0 is the default (4789), else a registered port (1024-49151)."""
    if port and not 1024 <= port <= 49151:
        raise InvalidParameter(f"Datapath port number is not in valid range (1024-49151) : {port}")


def _default_address() -> str:
    """The address of the interface the default route leaves by (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing is resolved, nothing goes out
        except OSError:
            raise InvalidParameter("could not choose an IP address to advertise since this system does not have "
                                   "a default route; use --advertise-addr") from None
        return str(probe.getsockname()[0])


def _free_port(host: str) -> int:
    """A port free now on `host` (the kernel's choice), for a member's peer or client URL."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _timed(step: Callable[[], None], what: str) -> None:
    """A step of a stop, logged when it is slow: a leave or a daemon stop should take well under a second."""
    began = time.monotonic()
    step()
    took = time.monotonic() - began
    if took > 0.5:
        log.info("%s took %.1f s to stop", what, took)


def _leave_refusal(reachable: int, unreachable: int, active: bool) -> str:
    """moby's Cluster.Leave for a manager without --force: always a refusal, saying what leaving
    would cost. `active`: this manager's store has a leader (else the counts are not known)."""
    msg = "You are attempting to leave the swarm on a node that is participating as a manager. "
    if active:
        if reachable - 2 <= unreachable:  # removingManagerCausesLossOfQuorum
            if reachable == 1 and unreachable == 0:  # isLastManager
                return LAST_MANAGER
            msg += (f"Removing this node leaves {reachable - 1} managers out of {reachable + unreachable}. Without "
                    "a Raft quorum your swarm will be inaccessible. ")
    else:
        msg += "Doing so may lose the consensus of your cluster. "
    return msg + ("The only way to restore a swarm that has lost consensus is to reinitialize it with "
                  "`--force-new-cluster`. Use `--force` to suppress this message.")


@dataclass
class JoinRequest:
    """`POST /swarm/join`, typed."""

    remote_addrs: list[str]
    token: str
    listen_addr: str = f"0.0.0.0:{DEFAULT_LISTEN_PORT}"
    advertise_addr: str = ""
    availability: str = "active"
    data_path_addr: str = ""


class _PendingJoin:
    """A join under way: it retries while the managers cannot be reached, until it succeeds, meets
    a refusal, or `swarm leave` cancels it (Docker's "will continue in the background")."""

    def __init__(self) -> None:
        self.cancelled = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.done.set()


def _no_port(state: LocalState, port: SwarmPort) -> Callable[[], None]:
    return lambda: None


class SwarmService:
    def __init__(self, root: Path, engine: EngineDescription,
                 open_store: Callable[[str], Store] | None = None,
                 make_member: Callable[..., EtcdMember] | None = None,
                 membership: Callable[[LocalState], Membership] | None = None,
                 serve_port: Callable[[LocalState, SwarmPort], Callable[[], None]] | None = None,
                 join_timeout: float = 20.0, autolock: Autolock | None = None) -> None:
        self._root = root  # <data-root>/swarm
        self._engine = engine
        # Unit tests give a store of their own: then nothing real (membership, swarm port) is made
        # unless they give that too.
        real = open_store is None
        self._open_store = open_store or self._etcd_store
        self._make_member = make_member or self._etcd_member
        self._membership_of = membership or (self._etcd_membership if real else None)
        self._serve_port = serve_port or (self._port_server if real else _no_port)
        self._join_timeout = join_timeout  # swarmConnectTimeout
        self._lock = threading.RLock()  # one lifecycle change at a time
        self._state: LocalState | None = None
        self._member: EtcdMember | None = None
        self._store: Store | None = None
        self._listeners: list[SwarmListener] = []
        # The unlock key and the node key's plain copy for TLS: the daemon gives its exec root (a
        # tmpfs) for the copy; unit tests keep it beside the data.
        self.autolock = autolock or Autolock(self._certs, root / "run")
        self._paused = False  # the member restarts for a new trust root: requests wait for it
        self._reloads = 0  # how many such restarts began (a read that met one is tried again)
        self._close_port: Callable[[], None] | None = None
        self._listening = False
        self._pending: _PendingJoin | None = None
        # The manager/worker channel's calls this manager answers; other parts (the dispatcher,
        # the agent's task watch) register theirs here: see docs/design/swarm.md.
        self.handlers = Handlers()
        self.handlers.add_call("swarm.managers", self._managers_call)
        self.handlers.add_call("swarm.promote", self._promote_call, roles=("manager",))
        self.handlers.add_call("swarm.role", self._role_call)
        self.handlers.add_call("swarm.enrol", self._enrol_call)
        self.handlers.add_call("swarm.unlockkey", self._unlock_key_call, roles=("manager",))

    def add_listener(self, listener: SwarmListener) -> None:
        self._listeners.append(listener)

    def _started(self) -> None:
        self._listening = True  # a worker has no store: this says its listeners run (shutdown stops them)
        for listener in self._listeners:
            try:
                listener.swarm_started(self)
            except Exception:  # noqa: BLE001 - the swarm serves without a helper rather than not at all
                log.exception("%s did not start with the swarm", type(listener).__name__)

    # -- wiring of the real store, member, membership and port (unit tests pass their own)

    @property
    def _certs(self) -> Path:
        return self._root / "certificates"

    def _tls_files(self) -> tuple[str, str, str]:
        cert, key = self.autolock.tls_pair()  # a plain copy of the key, swapped with its certificate
        return str(self._certs / "swarm-root-ca.crt"), str(cert), str(key)

    def _etcd_store(self, client_url: str) -> Store:
        from dockyard.cluster.store.etcd import EtcdStore

        return EtcdStore(client_url, tls=self._tls_files() if client_url.startswith("https:") else None)

    def _etcd_member(self, state: LocalState, root: Path, initial_cluster: str = "", initial_state: str = "new",
                     force_new_cluster: bool = False) -> EtcdMember:
        from dockyard.cluster.store.member import EtcdMember, MemberConfig, MemberTLS

        ca, cert, key = self._tls_files()
        tls = MemberTLS(Path(ca), Path(cert), Path(key)) if state.client_url.startswith("https:") else None
        return EtcdMember(MemberConfig(state.node_id, root / "etcd", state.client_url, state.peer_url, tls,
                                       initial_cluster, initial_state, force_new_cluster, *RAFT_TIMING))

    def _etcd_membership(self, state: LocalState) -> Membership:
        from dockyard.cluster.channel import client_context
        from dockyard.cluster.membership import EtcdMembership

        return EtcdMembership(state.client_url, client_context(*self._tls_files()))

    def _port_server(self, state: LocalState, port: SwarmPort) -> Callable[[], None]:
        from dockyard.cluster.swarmport import PortServer, server_context

        ca, cert, key = self._tls_files()
        server = PortServer(port, server_context(ca, cert, key))
        host, number = _split_host_port(state.listen_addr, DEFAULT_LISTEN_PORT)
        try:
            server.start(host, number)
        except OSError as exc:
            raise InvalidParameter(f"could not listen on the swarm port {state.listen_addr}: {exc.strerror or exc}; "
                                   "use --listen-addr to choose another") from None
        return server.close

    def _channel(self) -> ManagerChannel:
        """This node's channel to the swarm's managers (a worker's agent uses it: see swarm.md)."""
        from dockyard.cluster.channel import ManagerChannel, client_context

        state = self._state
        if state is None:
            raise Unavailable(NOT_IN_SWARM)
        return ManagerChannel(lambda: self._state.managers if self._state else [], client_context(*self._tls_files()))

    def channel(self) -> ManagerChannel:
        return self._channel()

    @property
    def _state_file(self) -> Path:
        return self._root / "state.json"

    def _write_state(self, state: LocalState) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(state)))
        os.replace(tmp, self._state_file)  # the swarm exists from here on

    # -- lifecycle

    def load(self) -> None:
        """At daemon start: bring back the member, store and swarm port of a swarm this node is in."""
        with self._lock:
            try:
                raw = json.loads(self._state_file.read_text())
            except FileNotFoundError:
                return
            # The node is in a swarm even when its member does not come back: init must then refuse
            # (not erase the swarm's data), /info says "error", and leave --force still works.
            self._state = LocalState(**raw)
            if self.autolock.locked():
                log.info("the swarm is locked: this manager's store member starts after `swarm unlock`")
                return
            if self._state.role == NodeRole.MANAGER.value and not self._serve_as_manager(self._state):
                return
            self._started()

    def unlock(self, unlock_key: str) -> None:
        """A locked manager given the key that opens its node key: its member starts, it serves."""
        with self._lock:
            state = self._state
            if state is None:
                raise Unavailable(NOT_MANAGER)
            self.autolock.unlock(unlock_key)
            if not self._serve_as_manager(state):
                return
            self._started()

    def _serve_as_manager(self, state: LocalState) -> bool:
        """A manager coming back: its store member, then its swarm port. A manager demoted while it
        was down finds its member removed by the leader (etcd ends it at once): it goes on as a
        worker when the other managers say so (False: it did)."""
        try:
            self._connect(state)
        except Unavailable:
            if self._demoted_while_away(state):
                self._demote_self(state, member_removed=True)
                return False
            raise
        self._open_port(state)
        return True

    def _connect(self, state: LocalState, **member_options: Any) -> None:
        member = self._make_member(state, self._root, **member_options)
        member.start()
        self._member, self._store, self._state = member, self._open_store(state.client_url), state

    def _open_port(self, state: LocalState) -> None:
        """Serve the swarm port. It needs no store read (the root is this node's own file), so a
        manager coming back while its swarm has no quorum still serves it."""
        from dockyard.cluster.swarmport import SwarmPort

        root_pem = (self._certs / "swarm-root-ca.crt").read_bytes()
        self._close_port = self._serve_port(state, SwarmPort(root_pem, self._admit, self.handlers))

    def shutdown(self) -> None:
        """At daemon stop: the member stops with its daemon and comes back with it."""
        with self._lock:
            if self._pending is not None:
                self._pending.cancelled.set()
            if self._close_port is not None:
                self._close_port()
            self._stop_listeners()
            if self._store is not None:
                self._store.close()
            if self._member is not None:
                _timed(self._member.stop, "the store member")
            self._store = self._member = self._close_port = None

    def _stop_listeners(self) -> None:
        if self._listening:
            self._listening = False
            for listener in self._listeners:
                _timed(listener.swarm_stopping, type(listener).__name__)

    def _addresses(self, listen_addr: str, advertise_addr: str) -> tuple[str, int, str, int]:
        listen_host, listen_port = _split_host_port(listen_addr, DEFAULT_LISTEN_PORT)
        if advertise_addr:
            advertise_host, advertise_port = _split_host_port(advertise_addr, listen_port)
        else:
            advertise_host = listen_host if listen_host not in ("0.0.0.0", "::", "") else _default_address()
            advertise_port = listen_port
        try:
            ipaddress.ip_address(advertise_host)
        except ValueError:
            raise InvalidParameter(f"advertise address must be a non-zero IP address or network interface "
                                   f"(with optional port number), got {advertise_host!r}") from None
        return listen_host, listen_port, advertise_host, advertise_port

    def _write_certificates(self, root_pem: bytes, cert_pem: bytes, key_pem: bytes) -> None:
        self.autolock.forget()  # a new swarm's key: no unlock key yet, no copy of an older key
        certs = self._certs
        certs.mkdir(mode=0o700, parents=True, exist_ok=True)
        (certs / "swarm-root-ca.crt").write_bytes(root_pem)
        (certs / "swarm-node.crt").write_bytes(cert_pem)
        key_file = certs / "swarm-node.key"
        key_file.touch(mode=0o600)
        key_file.write_bytes(key_pem)

    def leaving(self) -> bool:
        """True while this node leaves its swarm (or a failed init is undone): the state file goes
        first, so a listener's swarm_stopping can tell a leave from a daemon stop."""
        return self._state is not None and not self._state_file.exists()

    def init(self, request: InitRequest) -> str:
        check_data_path_port(request.data_path_port)
        with self._lock:
            if self._state is not None and request.force_new_cluster:
                return self._force_new_cluster(request)
            if self._state is not None or self._pending is not None:
                raise Unavailable(ALREADY_IN_SWARM)
            listen_host, listen_port, advertise_host, advertise_port = self._addresses(request.listen_addr,
                                                                                     request.advertise_addr)
            data_path_addr = data_path_address(request.data_path_addr)
            from dockyard.cluster.ca import RootCA  # cryptography: only on the swarm path
            from dockyard.cluster.tokens import generate_join_token

            node_id, cluster_id = new_id(), new_id()
            state = LocalState(node_id, cluster_id, f"{advertise_host}:{advertise_port}",
                               f"{listen_host}:{listen_port}", f"https://127.0.0.1:{_free_port('127.0.0.1')}",
                               f"https://{advertise_host}:{_free_port(advertise_host)}",
                               managers=[f"{advertise_host}:{advertise_port}"], data_path_addr=data_path_addr)
            self._root.mkdir(parents=True, exist_ok=True)
            for part in ("etcd", "certificates"):  # a half-made swarm of a crashed init
                shutil.rmtree(self._root / part, ignore_errors=True)
            try:
                ca = RootCA.generate()
                expiry = datetime.timedelta(microseconds=request.spec.ca_config.node_cert_expiry // 1000)
                issued = ca.issue(node_id, "manager", cluster_id, expiry, [advertise_host, "127.0.0.1"])
                self._write_certificates(ca.cert_pem, issued.cert_pem, issued.key_pem)
                if request.spec.encryption_config.auto_lock_managers:
                    self.autolock.relock(new_unlock_key())
                self._connect(state)
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
                node = self._describe(node_id, NodeRole.MANAGER, advertise_host, now)
                node.manager_status = ManagerStatus(state.advertise_addr, leader=True)
                node.description.tls_info = cluster.tls_info  # what its certificate is issued by
                ca_record = {"cert": ca.cert_pem.decode(), "key": (ca.key_pem or b"").decode()}
                self._require_store().txn([Compare(CLUSTER_KEY, 0)], [
                    Put(CLUSTER_KEY, codec.encode(cluster)),
                    Put(CA_KEY, json.dumps(ca_record).encode()),
                    Put(NODES_PREFIX + node_id, codec.encode(node)),
                    Put(MEMBERS_PREFIX + node_id, json.dumps({"peer_url": state.peer_url}).encode()),
                    Put(AUTOLOCK_KEY, key_fingerprint(self.autolock.unlock_key()).encode()),
                ])
                self._open_port(state)
                self._write_state(state)
            except BaseException:
                self._abandon()
                raise
            self._started()
            return node_id

    def _force_new_cluster(self, request: InitRequest) -> str:
        """`swarm init --force-new-cluster` on a manager: its member restarts as the only member of
        the store, with the data it has (etcd's --force-new-cluster), so a swarm that lost its
        quorum (or a restored backup) is a one-manager swarm again; the other managers' members
        are forgotten (their nodes show Unreachable until they are demoted or removed)."""
        state = self._state
        assert state is not None
        if state.role != NodeRole.MANAGER.value:
            raise Unavailable(WORKER_NOT_MANAGER)
        _, _, advertise_host, advertise_port = self._addresses(request.listen_addr or state.listen_addr,
                                                               request.advertise_addr or state.advertise_addr)
        if f"{advertise_host}:{advertise_port}" != state.advertise_addr:
            raise InvalidParameter(f"--force-new-cluster keeps this manager's address {state.advertise_addr}: its "
                                   "certificate and store member are for that address (Dockyard does not move them)")
        self.shutdown()
        self._connect(state, force_new_cluster=True)
        self._open_port(state)
        store = self._require_store()
        for kv in store.range(MEMBERS_PREFIX):
            if kv.key != MEMBERS_PREFIX + state.node_id:
                store.delete(kv.key)
        self._started()
        return state.node_id

    def _describe(self, node_id: str, role: NodeRole, addr: str, now: datetime.datetime) -> Node:
        e = self._engine
        return Node(
            id=node_id, created_at=now, updated_at=now, spec=NodeSpec(role=role),
            description=NodeDescription(e.hostname, Platform(e.architecture, e.os),
                                        Resources(e.nano_cpus, e.memory_bytes), e.engine_version),
            status=NodeStatus(NodeState.READY, addr=addr),
        )

    def _abandon(self) -> None:
        """Forget this node's swarm: stop the member and port, remove their data and the local state."""
        self._state_file.unlink(missing_ok=True)
        self.shutdown()
        self._state = None
        self.autolock.forget()
        for part in ("etcd", "certificates"):
            shutil.rmtree(self._root / part, ignore_errors=True)

    # -- join (the joining node's side; the manager's is admission.py behind the swarm port)

    def join(self, request: JoinRequest) -> None:
        from dockyard.cluster.admission import TOKEN_REFUSED
        from dockyard.cluster.joining import validate_remote
        from dockyard.cluster.tokens import ca_digest_from_token

        with self._lock:
            if self._state is not None or self._pending is not None:
                raise Unavailable(ALREADY_IN_SWARM)
            _split_host_port(request.listen_addr, DEFAULT_LISTEN_PORT)
            if not request.remote_addrs:
                raise InvalidParameter("at least 1 RemoteAddr is required to join")
            remotes = [validate_remote(a, DEFAULT_LISTEN_PORT) for a in request.remote_addrs]
            if not request.token:
                raise InvalidArgument(TOKEN_REFUSED)
            ca_digest_from_token(request.token)
            if request.availability not in ("active", "pause", "drain"):
                raise InvalidParameter(f"invalid Availability: {request.availability!r}")
            data_path_address(request.data_path_addr)
            pending = self._pending = _PendingJoin()
        threading.Thread(target=self._join_until_done, args=(pending, request, remotes), name="swarm-join",
                         daemon=True).start()
        if not pending.done.wait(self._join_timeout):
            raise Unavailable(JOIN_TIMEOUT)
        if pending.error is not None:
            raise pending.error

    def _join_until_done(self, pending: _PendingJoin, request: JoinRequest, remotes: list[str]) -> None:
        from dockyard.cluster.joining import Unreachable

        while not pending.cancelled.is_set():
            for remote in remotes:
                try:
                    self._join_once(pending, request, remote)
                except Unreachable:
                    continue
                except BaseException as exc:  # noqa: BLE001 - a refusal ends the attempt, and is the answer
                    with self._lock:
                        if self._pending is pending:
                            self._pending = None
                    pending.finish(exc)
                    return
                pending.finish(None)
                return
            pending.cancelled.wait(1.0)
        pending.finish(Unavailable(NOT_IN_SWARM))

    def _join_once(self, pending: _PendingJoin, request: JoinRequest, remote: str) -> None:
        from dockyard.cluster.ca import new_key_and_request
        from dockyard.cluster.joining import fetch_root, request_join

        root_pem, local_ip = fetch_root(remote, request.token, timeout=5)
        listen_host, listen_port = _split_host_port(request.listen_addr, DEFAULT_LISTEN_PORT)
        if request.advertise_addr:
            advertise_host, advertise_port = _split_host_port(request.advertise_addr, listen_port)
        else:  # the address this node reached the manager from: the one the swarm can reach it at
            advertise_host = listen_host if listen_host not in ("0.0.0.0", "::", "") else local_ip
            advertise_port = listen_port
        key_pem, csr = new_key_and_request()
        e = self._engine
        body = {"Token": request.token, "CSR": csr.decode(), "Hostname": e.hostname, "EngineVersion": e.engine_version,
                "Architecture": e.architecture, "OS": e.os, "NanoCPUs": e.nano_cpus, "MemoryBytes": e.memory_bytes,
                "AdvertiseAddr": f"{advertise_host}:{advertise_port}", "ListenPort": listen_port,
                "Availability": request.availability, "PeerPort": _free_port(advertise_host)}
        context = ssl.create_default_context(cadata=root_pem.decode())
        grant = request_join(remote, context, body, timeout=30)
        with self._lock:
            if pending.cancelled.is_set() or self._pending is not pending:
                return  # left while the manager answered: the node it made shows Down, as Docker's
            self._root.mkdir(parents=True, exist_ok=True)
            for part in ("etcd", "certificates"):
                shutil.rmtree(self._root / part, ignore_errors=True)
            self._write_certificates(root_pem, grant.certificate, key_pem)
            if grant.unlock_key:  # an autolocked swarm: this manager's key is locked as the others'
                self.autolock.relock(grant.unlock_key)
            managers = list(dict.fromkeys([remote, *grant.managers]))
            if grant.role == NodeRole.MANAGER.value:
                peer_url = f"https://{advertise_host}:{body['PeerPort']}"
                state = LocalState(grant.node_id, grant.cluster_id, f"{advertise_host}:{advertise_port}",
                                   f"{listen_host}:{listen_port}", f"https://127.0.0.1:{_free_port('127.0.0.1')}",
                                   peer_url, NodeRole.MANAGER.value, managers,
                                   data_path_address(request.data_path_addr))
            else:
                state = LocalState(grant.node_id, grant.cluster_id, f"{advertise_host}:{advertise_port}",
                                   f"{listen_host}:{listen_port}", "", "", NodeRole.WORKER.value, managers,
                                   data_path_address(request.data_path_addr))
            try:
                self._state = state
                if grant.role == NodeRole.MANAGER.value:
                    self._start_member(state, grant)
                self._write_state(state)
            except BaseException:
                self._abandon()
                raise
            self._pending = None
            self._started()

    def _start_member(self, state: LocalState, grant: Grant) -> None:
        """A new manager's member: started into the member list the grant names, then promoted from
        learner to voter by a manager once it has caught up; then this node serves its swarm port."""
        cluster = ",".join(f"{name}={url}" for name, url in grant.members)
        self._connect(state, initial_cluster=cluster, initial_state="existing")
        self._channel().call("swarm.promote", {}, timeout=45)
        self._open_port(state)

    # -- following the role the node's spec asks for (`docker node promote/demote`)

    def follow_role(self) -> None:
        """One step of the role follower (rolefollow.py): a manager whose spec now says worker leaves
        the store's membership and goes on as a worker; a worker whose spec says manager becomes one."""
        state = self._state
        if state is None or self.leaving():
            return
        if state.role == NodeRole.MANAGER.value:
            store = self._store
            if store is None:
                return
            try:
                kv = store.get(NODES_PREFIX + state.node_id)
            except Unavailable:
                # A manager demoted while it was down comes back with a member the leader removed
                # (etcd ends it): the other managers tell it that it is a worker now.
                if self._member is not None and self._member.pid() is None and self._demoted_while_away(state):
                    self._demote_self(state, member_removed=True)
                return
            if kv is not None and codec.decode(Node, kv.value).spec.role == NodeRole.WORKER:
                self._demote_self(state)
            else:
                self._remove_demoted_members(state, store)
                self._follow_unlock_key(state, store)
        else:
            answer = self._channel().call("swarm.role", {}, timeout=5)
            if answer.get("Role") == NodeRole.MANAGER.value:
                self._promote_self(state)

    def _others(self, state: LocalState) -> ManagerChannel:
        """The channel to the swarm's other managers (this node's own port would answer from its own
        store)."""
        from dockyard.cluster.channel import ManagerChannel, client_context

        others = [a for a in state.managers if a != state.advertise_addr]
        return ManagerChannel(lambda: others, client_context(*self._tls_files()))

    def _demoted_while_away(self, state: LocalState) -> bool:
        try:
            return self._others(state).call("swarm.role", {}, timeout=5).get("Role") == NodeRole.WORKER.value
        except Exception as exc:  # noqa: BLE001 - nobody answers (no quorum): it stays as it is
            log.info("this manager's store member does not serve, and no other manager says why: %s", exc)
            return False

    def _unlock_key_call(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        """Another manager's request for the unlock key in force (autolock turned on or its key
        rotated through this manager): it travels only in this mutual-TLS answer, to managers."""
        return {"UnlockKey": self.autolock.unlock_key()}

    def _follow_unlock_key(self, state: LocalState, store: Store) -> None:
        """A manager whose unlock key is not the one in force (the store keeps its fingerprint) asks
        the other managers for it and locks its node key with it, or unlocks it (autolock off)."""
        kv = store.get(AUTOLOCK_KEY)
        if kv is None:
            return
        wanted = kv.value.decode()
        if wanted == key_fingerprint(self.autolock.unlock_key()):
            return
        found: str | None = None
        if wanted:
            from dockyard.cluster.channel import ManagerChannel, client_context

            context = client_context(*self._tls_files())
            nodes = [codec.decode(Node, n.value) for n in store.range(NODES_PREFIX)]
            managers = [n.manager_status.addr for n in nodes if n.manager_status is not None and n.id != state.node_id]
            for addr in managers:
                one = [addr]  # each manager asked on its own: the first to answer may not have it yet
                try:
                    answer = ManagerChannel(one.copy, context).call("swarm.unlockkey", {}, timeout=5)
                    key = str(answer.get("UnlockKey") or "")
                except Exception:  # noqa: BLE001 - that manager does not answer: ask the next
                    continue
                if key_fingerprint(key) == wanted:
                    found = key
                    break
            if found is None:
                return  # no manager has it yet: the next step asks again
        with self._lock:
            if self._state is state:
                self.autolock.relock(found)
                log.info("the swarm's unlock key changed: this manager's node key is %s",
                         "locked with the new key" if found else "no longer locked")

    def _remove_demoted_members(self, state: LocalState, store: Store) -> None:
        """On the leader: the store members of nodes demoted while they were down (their node's spec
        says worker, their member does not answer) are removed, as swarmkit's role manager removes a
        demoted manager's raft member; the node learns it when it comes back."""
        demoted = {}
        for kv in store.range(MEMBERS_PREFIX):
            node_id = kv.key[len(MEMBERS_PREFIX):]
            node_kv = store.get(NODES_PREFIX + node_id) if node_id != state.node_id else None
            if node_kv is not None and codec.decode(Node, node_kv.value).spec.role == NodeRole.WORKER:
                demoted[node_id] = json.loads(kv.value)["peer_url"]
        if not demoted:
            return
        membership = self._membership()
        if membership.leader() != membership.local_id():
            return
        members = {m.peer_url: m for m in membership.members()}
        present = [members[url] for url in demoted.values() if url in members]
        up = membership.reachable(present)
        for node_id, peer_url in demoted.items():
            member = members.get(peer_url)
            if member is not None and member.id in up:
                continue  # it is up: it leaves by itself (follow_role on that node)
            if member is not None:
                membership.remove(member.id)
            store.delete(MEMBERS_PREFIX + node_id)
            self._clear_manager_status(store, node_id)
            log.info("node %s was demoted while down: its store member is removed", node_id)

    @staticmethod
    def _clear_manager_status(store: Store, node_id: str) -> None:
        for _ in range(10):
            kv = store.get(NODES_PREFIX + node_id)
            if kv is None:
                return
            node = codec.decode(Node, kv.value, kv.mod_revision)
            if node.manager_status is None:
                return
            node.manager_status = None
            if store.txn([Compare(kv.key, kv.mod_revision)], [Put(kv.key, codec.encode(node))]):
                return

    def _demote_self(self, state: LocalState, member_removed: bool = False) -> None:
        """Out of the store's membership (this node's member ends itself), and on as a worker with
        the managers it knew; its certificate is renewed with the worker's OU (carotation's
        WorkerRenewer). ``member_removed``: the leader removed the member while this node was down."""
        with self._lock:
            if self._state is not state:
                return
            if member_removed:
                managers = [a for a in state.managers if a != state.advertise_addr]
            else:
                membership = self._membership()
                local = membership.local_id()
                store = self._require_store()
                managers = [n.manager_status.addr for n in self.nodes()
                            if n.manager_status is not None and n.id != state.node_id]
                self._clear_manager_status(store, state.node_id)
                store.delete(MEMBERS_PREFIX + state.node_id)
                membership.remove(local)
            self.shutdown()
            shutil.rmtree(self._root / "etcd", ignore_errors=True)
            self.autolock.relock(None)  # autolock is for managers: a worker's key is not locked
            worker = dataclasses.replace(state, role=NodeRole.WORKER.value, client_url="", peer_url="",
                                         managers=managers)
            self._write_state(worker)
            self._state = worker
            log.info("demoted: this node left the store's membership and goes on as a worker")
            self._started()

    def _promote_self(self, state: LocalState) -> None:
        from dockyard.cluster.ca import new_key_and_request
        from dockyard.cluster.joining import Grant

        host, _ = _split_host_port(state.advertise_addr, DEFAULT_LISTEN_PORT)
        key_pem, csr = new_key_and_request()
        body = {"CSR": csr.decode(), "AdvertiseAddr": state.advertise_addr, "PeerPort": _free_port(host)}
        grant = Grant.from_json(self._channel().call("swarm.enrol", body, timeout=30))
        with self._lock:
            if self._state is not state:
                return
            # The worker's helpers stop first (its certificate renewer would renew the manager's
            # certificate as a worker's); they start again as a manager's below.
            self._stop_listeners()
            if grant.unlock_key:  # an autolocked swarm: the node key is locked from now on
                self.autolock.relock(grant.unlock_key)
            self.autolock.install(grant.certificate, key_pem)  # kept as the node key is (encrypted if locked)
            manager = dataclasses.replace(state, role=NodeRole.MANAGER.value,
                                          client_url=f"https://127.0.0.1:{_free_port('127.0.0.1')}",
                                          peer_url=f"https://{host}:{body['PeerPort']}",
                                          managers=list(dict.fromkeys([*state.managers, *grant.managers])))
            self._state = manager
            try:
                self._start_member(manager, grant)
            except BaseException:
                self.shutdown()
                self._state = state  # still a worker: the follower tries again
                self._started()
                raise
            self._write_state(manager)
            log.info("promoted: this node's store member serves; it is a manager")
            self._started()

    # -- the channel's calls this manager answers

    def _admit(self, body: dict[str, Any], seen_from: str) -> dict[str, Any]:
        from dockyard.cluster.admission import Admission
        from dockyard.cluster.admission import JoinRequest as AdmissionRequest

        state = self._state
        if state is None or self._store is None:
            raise Unavailable(NOT_MANAGER)
        self._require_leader()
        membership_of = self._membership_of
        if membership_of is None:
            raise Unavailable("this manager has no store membership to admit nodes with")
        admission = Admission(self._store, lambda: membership_of(state), new_id, _now)
        return self._with_unlock_key(admission.admit(AdmissionRequest.from_json(body), seen_from)).to_json()

    def _with_unlock_key(self, grant: Grant) -> Grant:
        """A new manager of an autolocked swarm gets the unlock key with its certificate, so that it
        locks its node key as the others do (swarmkit's managers share the KEK through raft)."""
        if grant.role != NodeRole.MANAGER.value:
            return grant
        return dataclasses.replace(grant, unlock_key=self.autolock.unlock_key())

    def _role_call(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        """The role the caller's node spec asks for (a worker's follower polls it)."""
        kv = self._require_store().get(NODES_PREFIX + caller.node_id)
        if kv is None:
            raise NotFound(f"node {caller.node_id} not found")
        return {"Role": codec.decode(Node, kv.value).spec.role.value}

    def _enrol_call(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        """A node promoted in its spec asks for its member and a manager's certificate."""
        from dockyard.cluster.admission import Admission

        state, membership_of = self._state, self._membership_of
        if state is None or self._store is None or membership_of is None:
            raise Unavailable(NOT_MANAGER)
        self._require_leader()
        try:
            csr, advertise, peer_port = str(body["CSR"]).encode(), str(body["AdvertiseAddr"]), int(body["PeerPort"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameter(f"invalid enrolment: {exc}") from None
        admission = Admission(self._store, lambda: membership_of(state), new_id, _now)
        return self._with_unlock_key(admission.enrol_manager(caller.node_id, csr, advertise, peer_port)).to_json()

    def _managers_call(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        nodes = self.nodes()
        return {"Managers": [{"NodeID": n.id, "Addr": n.manager_status.addr}
                             for n in nodes if n.manager_status is not None]}

    def _promote_call(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        """A manager that just joined asks for its learner member to become a voter."""
        from dockyard.cluster.membership import promote_when_ready

        state = self._state
        store = self._require_store()
        assert state is not None
        kv = store.get(MEMBERS_PREFIX + caller.node_id)
        if kv is None:
            raise NotFound(f"node {caller.node_id} has no store member")
        peer_url = json.loads(kv.value)["peer_url"]
        membership = self._membership()
        member = next((m for m in membership.members() if m.peer_url == peer_url), None)
        if member is None:
            raise NotFound(f"node {caller.node_id}'s store member is not in the member list")
        if member.learner:
            promote_when_ready(membership, member.id)
        return {}

    # -- leave

    def leave(self, force: bool) -> None:
        with self._lock:
            if self._pending is not None:
                self._pending.cancelled.set()
                self._pending = None
                if self._state is None:
                    return
            if self._state is None:
                raise Unavailable(NOT_IN_SWARM)
            if not force and self.autolock.locked():
                raise Unavailable(LOCKED_LEAVE)
            if self._state.role == NodeRole.MANAGER.value:
                self._leave_as_manager(force)
            self._abandon()

    def _leave_as_manager(self, force: bool) -> None:
        """Refuse as Docker does without --force; with it, take this node's member out of the
        store's membership first (whatever that answers: the swarm may have lost its quorum)."""
        from dockyard.cluster.store.api import NoLeader

        state = self._state
        assert state is not None
        try:
            managers = [n for n in self.nodes() if n.manager_status is not None]
        except NoLeader:
            managers = None
        except Unavailable:
            if not force:
                raise
            return
        reachable = sum(1 for n in managers or [] if n.manager_status and n.manager_status.reachability == "reachable")
        if not force:
            raise Unavailable(_leave_refusal(reachable, len(managers or []) - reachable, managers is not None))
        if managers is not None and len(managers) > 1:
            try:
                membership = self._membership()
                local = membership.local_id()
                self._require_store().delete(MEMBERS_PREFIX + state.node_id)
                membership.remove(local)
            except Unavailable:
                log.warning("leaving without taking this manager out of the store's membership", exc_info=True)

    # -- reads and updates (a manager's)

    def store(self) -> Store:
        """The cluster store of this manager; Docker's "not a swarm manager" (503) on any other node."""
        return self._require_store()

    def _require_store(self) -> Store:
        if self._paused:
            with self._lock:  # _reload_tls holds it until the new member serves
                pass
        if self._store is None and self._state is not None and self.autolock.locked():
            raise Unavailable(LOCKED)
        if self._store is None:
            if self._state is not None and self._state.role == NodeRole.WORKER.value:
                raise Unavailable(WORKER_NOT_MANAGER)
            raise Unavailable(NOT_MANAGER)
        return self._store

    def _membership(self) -> Membership:
        if self._state is None or self._membership_of is None:
            raise Unavailable(NOT_MANAGER)
        return self._membership_of(self._state)

    def _require_leader(self) -> None:
        """Without a leader the store would answer only after its request timeout: say so at once."""
        from dockyard.cluster.store.api import NoLeader

        state = self._state
        if state is None or self._member is None or self._membership_of is None:
            return
        membership = self._membership_of(state)
        deadline = time.monotonic() + ELECTION_WAIT
        while True:
            try:
                leader = membership.leader()
            except NoLeader:
                leader = None
            except Unavailable:
                return  # the member does not answer now (a restart for a new root): the store call says so
            if leader is not None:
                return
            if time.monotonic() >= deadline:
                raise NoLeader()
            time.sleep(0.2)  # an election under way (a member restarting) ends within its timeout

    def _role(self) -> NodeRole:
        assert self._state is not None
        return self.node(self._state.node_id).spec.role

    def _manager_count(self) -> int:
        return sum(1 for n in self.nodes() if n.spec.role == NodeRole.MANAGER)

    def through_reload(self, read: Callable[..., Any], *args: Any) -> Any:
        """`read(*args)`, once more when the store member restarted under it (reload_tls): a read
        that was under way as the member stopped meets a closed connection, not a refusal."""
        reloads = self._reloads
        try:
            return read(*args)
        except Unavailable:
            if self._reloads == reloads and not self._paused:
                raise
            with self._lock:  # held by _reload_tls until the new member serves
                pass
            return read(*args)

    def inspect(self) -> Cluster:
        return self.through_reload(self._inspect)

    def _inspect(self) -> Cluster:
        store = self._require_store()
        self._require_leader()
        kv = store.get(CLUSTER_KEY)
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
        rotation = self._rotation(store, cluster, spec)
        cluster.spec = spec
        cluster.updated_at = _now()
        if rotate_worker_token or rotate_manager_token:
            from dockyard.cluster.tokens import generate_join_token

            pem = cluster.tls_info.trust_root.encode()
            if rotate_worker_token:
                cluster.join_tokens.worker = generate_join_token(pem)
            if rotate_manager_token:
                cluster.join_tokens.manager = generate_join_token(pem)
        changes = [Put(CLUSTER_KEY, codec.encode(cluster)), *rotation]
        if rekey:
            new_key = new_unlock_key() if locking else None
            self._rekey(store, new_key)
            changes.append(Put(AUTOLOCK_KEY, key_fingerprint(new_key).encode()))  # the others follow it
        if not store.txn([Compare(CLUSTER_KEY, version)], changes):
            if rekey:
                self._rekey(store, old_key)  # the spec did not change: neither do the keys
            raise SequenceConflict()

    @staticmethod
    def _rotation(store: Store, cluster: Cluster, spec: ClusterSpec) -> list[Put]:
        """A root CA rotation when the spec asks for one (ForceRotate changed, or a root given that is
        not the current one); `cluster` is updated for it. The signing key is never kept in the spec."""
        from dockyard.cluster import carotation

        ca = spec.ca_config
        given_cert, given_key = ca.signing_ca_cert.strip(), ca.signing_ca_key
        ca.signing_ca_key = ""
        rotating = carotation.rotation_of(store)
        known = {cluster.tls_info.trust_root.strip(), rotating.cert_pem.decode().strip() if rotating else ""}
        given = None
        if given_cert and given_cert not in known:
            if not given_key:
                raise InvalidArgument("rotating to a new root CA certificate needs its key (--ca-key): Dockyard "
                                      "signs node certificates itself and does not use external CAs")
            given = (given_cert.encode() + b"\n", given_key.encode())
        if given is None and ca.force_rotate == cluster.spec.ca_config.force_rotate:
            return []
        return carotation.begin(store, cluster, given)

    def reload_tls(self) -> None:
        """The trust root changed (a root rotation ended): the store member and the swarm port start
        again with it, as etcd reads its CA file only when it starts; the helpers restart with them.
        It runs on a thread of its own, as it stops the helper that asks for it."""
        threading.Thread(target=self._reload_tls, name="swarm-tls-reload", daemon=True).start()

    def _reload_tls(self) -> None:
        with self._lock:
            state = self._state
            if state is None or state.role != NodeRole.MANAGER.value or self._member is None or self.leaving():
                return
            turn = self._reload_turn(state)  # one member restarts at a time: the store keeps its quorum
            for listener in self._listeners:  # the helpers first, while the store still serves them
                listener.swarm_stopping()
            listeners, self._listeners = self._listeners, []
            self._reloads += 1
            self._paused = True  # from here until the new member serves, requests wait (_require_store)
            try:
                self.shutdown()
                self._connect(state)
                self._open_port(state)
            finally:
                self._paused = False
                self._listeners = listeners
            if turn:
                self._end_turn(turn)
            self._started()

    def _reload_turn(self, state: LocalState) -> int:
        """Wait (up to a minute) until no other manager's member restarts for the new root, then hold
        the turn: a lease-bound key, gone by itself if this node dies meanwhile. 0: taken without it."""
        store = self._store
        if store is None:
            return 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                lease = store.grant_lease(30)
                if store.txn([Compare(RELOAD_TURN, 0)], [Put(RELOAD_TURN, state.node_id.encode(), lease)]):
                    return lease
                store.revoke_lease(lease)
            except Unavailable:
                pass
            time.sleep(0.5)
        log.warning("another manager's restart for the new root did not end: restarting anyway")
        return 0

    def _end_turn(self, lease: int) -> None:
        try:
            self._require_store().revoke_lease(lease)  # the same lease in the same store, reopened
        except Unavailable:
            log.info("the restart turn ends with its lease")

    def certificates_dir(self) -> Path:
        """This node's TLS files: swarm-root-ca.crt, swarm-node.crt, swarm-node.key (Docker's names)."""
        return self._certs

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

    def observe_managers(self, nodes: list[Node]) -> list[Node]:
        """The nodes with their ManagerStatus as the store's membership shows it now (Leader,
        Reachable, Unreachable); the nodes API passes its lists through this."""
        from dockyard.cluster.membership import manager_statuses

        state = self._state
        if state is None or self._member is None or self._membership_of is None:
            return nodes
        membership = self._membership_of(state)
        members = membership.members()
        node_members = {kv.key[len(MEMBERS_PREFIX):]: json.loads(kv.value)["peer_url"]
                        for kv in self._require_store().range(MEMBERS_PREFIX)}
        return manager_statuses(nodes, members, node_members, membership.leader(), membership.reachable(members))

    def nodes(self) -> list[Node]:
        store = self._require_store()
        self._require_leader()
        return self.observe_managers([codec.decode(Node, kv.value, kv.mod_revision)
                                      for kv in store.range(NODES_PREFIX)])

    def node(self, ref: str) -> Node:
        """A node by ID, unique ID prefix or hostname, as Docker finds them."""
        return find_node(self.nodes(), ref)

    def info(self) -> SwarmInfo:
        state = self._state
        if state is None:
            return SwarmInfo(local_node_state="pending") if self._pending is not None else SwarmInfo()
        host = state.advertise_addr.rpartition(":")[0]
        if self.autolock.locked():
            return SwarmInfo("", host, "locked", False, error=LOCKED)
        if state.role == NodeRole.WORKER.value:
            return self._worker_info(state, host)
        try:
            nodes = self.nodes()
            cluster = self.inspect()
        except Unavailable as exc:
            if self._member is None:
                return SwarmInfo(state.node_id, host, "error", False, error=str(exc))
            return SwarmInfo(state.node_id, host, "active", True, [(state.node_id, state.advertise_addr)],
                             error=str(exc))
        managers = [n for n in nodes if n.manager_status is not None]
        return SwarmInfo(state.node_id, host, "active", True,
                         [(n.id, n.manager_status.addr) for n in managers if n.manager_status],
                         len(nodes), len(managers), cluster)

    def remember_managers(self, managers: list[str]) -> None:
        """A worker told of the swarm's managers (by `swarm.managers`, or its agent's task watch, as
        swarmkit's session carries them) keeps them, so its channel finds one after a leader change."""
        with self._lock:
            state = self._state
            if state is None or state.role != NodeRole.WORKER.value or not managers or managers == state.managers:
                return
            if self.leaving():
                return
            self._state = dataclasses.replace(state, managers=list(managers))
            self._write_state(self._state)

    def _worker_info(self, state: LocalState, host: str) -> SwarmInfo:
        """A worker's block: its managers as the swarm last told it (refreshed when one answers)."""
        from dockyard.cluster.channel import ChannelError

        remote = [("", a) for a in state.managers]
        try:
            answer = self._channel().call("swarm.managers", {}, timeout=2)
            remote = [(str(m["NodeID"]), str(m["Addr"])) for m in answer.get("Managers") or []] or remote
            self.remember_managers([addr for _, addr in remote])
        except (ChannelError, OSError, KeyError, TypeError):
            pass  # no manager answers (or the node's certificates are gone): the ones it last knew, by address
        return SwarmInfo(state.node_id, host, "active", False, remote)

    def local_node_id(self) -> str:
        return self._state.node_id if self._state else ""

    def data_path_addr(self) -> str:
        """The address this node's overlay traffic (VXLAN) uses: --data-path-addr, else the advertise
        address's host; "" outside a swarm."""
        state = self._state
        if state is None:
            return ""
        return state.data_path_addr or state.advertise_addr.rpartition(":")[0]

    def local_role(self) -> str:
        """"manager" or "worker" (this node's part now), "" outside a swarm."""
        return self._state.role if self._state else ""

    def is_leader(self) -> bool:
        """This manager's store member leads the store (one manager without membership always does)."""
        state = self._state
        if state is None or self._member is None:
            return False
        if self._membership_of is None:
            return True
        membership = self._membership_of(state)
        return membership.leader() == membership.local_id()
