"""A manager admitting a node that presents a join token (swarmkit's ca/server.go
IssueNodeCertificate and the raft join, in one step).

The token is checked against the cluster's current tokens in constant time; which one matched is
the node's role. The manager writes the Node object, signs the node's CSR (CN node ID, OU role,
O cluster ID) and, for a manager, adds its etcd member as a learner first, so that the member list
the node starts with already names it. A failure after the member was added removes it again.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dockyard.cluster import codec
from dockyard.cluster.joining import Grant
from dockyard.cluster.keys import CA_KEY, CLUSTER_KEY
from dockyard.cluster.membership import MEMBERS_PREFIX, Member, Membership
from dockyard.cluster.nodes import NODES_PREFIX
from dockyard.cluster.objects import (
    Availability,
    Cluster,
    ManagerStatus,
    Node,
    NodeDescription,
    NodeRole,
    NodeSpec,
    NodeState,
    NodeStatus,
    Platform,
    Resources,
)
from dockyard.cluster.rpc import FailedPrecondition, InvalidArgument
from dockyard.cluster.store.api import Compare, Put, Store
from dockyard.cluster.tokens import ca_digest, ca_digest_from_token, tokens_match
from dockyard.errors import InvalidParameter

if TYPE_CHECKING:
    from dockyard.cluster.ca import RootCA

TOKEN_REFUSED = "A valid join token is necessary to join this cluster"


@dataclass(frozen=True)
class JoinRequest:
    """What a joining node sends (its JSON at the swarm port, typed)."""

    token: str
    csr: bytes
    hostname: str
    engine_version: str
    architecture: str
    os: str
    nano_cpus: int
    memory_bytes: int
    advertise_addr: str  # host:port, or "" to use the address the manager saw
    listen_port: int
    availability: Availability
    peer_port: int  # where its etcd member would listen, should it be a manager

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> JoinRequest:
        try:
            return cls(str(raw["Token"]), str(raw["CSR"]).encode(), str(raw["Hostname"]), str(raw["EngineVersion"]),
                       str(raw["Architecture"]), str(raw["OS"]), int(raw["NanoCPUs"]), int(raw["MemoryBytes"]),
                       str(raw.get("AdvertiseAddr") or ""), int(raw["ListenPort"]),
                       Availability(raw.get("Availability") or "active"), int(raw["PeerPort"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameter(f"invalid join request: {exc}") from None


def role_of(token: str, cluster: Cluster) -> NodeRole:
    """The role the token grants, or Docker's refusal. Both tokens are compared, whatever the first
    comparison says, so the time taken does not tell which one nearly matched."""
    if not token:
        raise InvalidArgument(TOKEN_REFUSED)
    # "invalid join token" for a malformed one; a token of another swarm's CA matches neither
    if ca_digest_from_token(token) != ca_digest(cluster.tls_info.trust_root.encode()):
        raise InvalidArgument(TOKEN_REFUSED)
    worker = tokens_match(token, cluster.join_tokens.worker)
    manager = tokens_match(token, cluster.join_tokens.manager)
    if manager:
        return NodeRole.MANAGER
    if worker:
        return NodeRole.WORKER
    raise InvalidArgument(TOKEN_REFUSED)


def _host(addr: str) -> str:
    return addr.rpartition(":")[0].strip("[]")


class Admission:
    def __init__(self, store: Store, membership: Callable[[], Membership], new_id: Callable[[], str],
                 now: Callable[[], datetime.datetime]) -> None:
        self._store = store
        self._membership = membership
        self._new_id = new_id
        self._now = now

    def admit(self, request: JoinRequest, seen_from: str) -> Grant:
        cluster, ca = self._cluster_and_ca()
        role = role_of(request.token, cluster)
        advertise = request.advertise_addr or f"{seen_from}:{request.listen_port}"
        host = _ip(advertise)
        node_id = self._new_id()
        certificate = self._certificate(ca, cluster, request.csr, node_id, role, host)
        now = self._now()
        node = Node(
            id=node_id, created_at=now, updated_at=now,
            spec=NodeSpec(role=role, availability=request.availability),
            description=NodeDescription(request.hostname, Platform(request.architecture, request.os),
                                        Resources(request.nano_cpus, request.memory_bytes), request.engine_version),
            status=NodeStatus(NodeState.READY, addr=host),
        )
        writes: list[Put] = []
        members: list[tuple[str, str]] = []
        added = None
        if role == NodeRole.MANAGER:
            node.manager_status = ManagerStatus(advertise)
            added, members, record = self._learner(node_id, host, request.peer_port)
            writes.append(record)
        writes.append(Put(NODES_PREFIX + node_id, codec.encode(node)))
        self._commit([Compare(NODES_PREFIX + node_id, 0)], writes, added, f"node ID {node_id} is taken")
        return Grant(node_id, cluster.id, role.value, certificate, members, self._managers())

    def enrol_manager(self, node_id: str, csr: bytes, advertise: str, peer_port: int) -> Grant:
        """A node whose spec was promoted to manager (`docker node promote`) asks to become one: as a
        manager join, without a token (the caller is known by its certificate), for its own node."""
        cluster, ca = self._cluster_and_ca()
        kv = self._store.get(NODES_PREFIX + node_id)
        if kv is None:
            raise InvalidParameter(f"node {node_id} not found")
        node = codec.decode(Node, kv.value, kv.mod_revision)
        if node.spec.role != NodeRole.MANAGER:
            raise FailedPrecondition(f"node {node_id} is not promoted to a manager")
        if self._store.get(MEMBERS_PREFIX + node_id) is not None:
            raise FailedPrecondition(f"node {node_id} is already a member of the raft cluster")
        host = _ip(advertise)
        certificate = self._certificate(ca, cluster, csr, node_id, NodeRole.MANAGER, host)
        added, members, record = self._learner(node_id, host, peer_port)
        node.manager_status = ManagerStatus(advertise)
        node.updated_at = self._now()
        self._commit([Compare(NODES_PREFIX + node_id, node.version.index)],
                     [record, Put(NODES_PREFIX + node_id, codec.encode(node))], added, "update out of sequence")
        return Grant(node_id, cluster.id, NodeRole.MANAGER.value, certificate, members, self._managers())

    def _cluster_and_ca(self) -> tuple[Cluster, RootCA]:
        from dockyard.cluster.ca import RootCA

        kv = self._store.get(CLUSTER_KEY)
        ca_kv = self._store.get(CA_KEY)
        if kv is None or ca_kv is None:
            raise InvalidParameter("this manager's swarm has no cluster object")
        record = json.loads(ca_kv.value)
        return codec.decode(Cluster, kv.value, kv.mod_revision), RootCA(record["cert"].encode(),
                                                                        record["key"].encode())

    def _certificate(self, ca: RootCA, cluster: Cluster, csr: bytes, node_id: str, role: NodeRole,
                     host: str) -> bytes:
        expiry = datetime.timedelta(microseconds=cluster.spec.ca_config.node_cert_expiry // 1000)
        addresses = [host, "127.0.0.1"] if role == NodeRole.MANAGER else [host]
        try:
            return ca.sign_request(csr, node_id, role.value, cluster.id, expiry, addresses)
        except ValueError as exc:
            raise InvalidParameter(f"invalid join request: {exc}") from None

    def _learner(self, node_id: str, host: str, peer_port: int) -> tuple[Member, list[tuple[str, str]], Put]:
        """The node's etcd member, added as a learner; the member list it starts with (itself by its
        node ID; a learner of an earlier join that never started by a name of its own); its record."""
        peer_url = f"https://{host}:{peer_port}"
        added, after = self._membership().add_learner(peer_url)
        members = [(m.name or (node_id if m.id == added.id else f"pending-{m.id:x}"), m.peer_url) for m in after]
        return added, members, Put(MEMBERS_PREFIX + node_id, json.dumps({"peer_url": peer_url}).encode())

    def _commit(self, compares: list[Compare], writes: list[Put], added: Member | None, conflict: str) -> None:
        """Write the node's records; a failure takes the member added for it back out."""
        try:
            if not self._store.txn(compares, writes):
                raise InvalidParameter(conflict)
        except BaseException:
            if added is not None:
                self._membership().remove(added.id)
            raise

    def _managers(self) -> list[str]:
        return [n.manager_status.addr for n in self._nodes() if n.manager_status is not None]

    def _nodes(self) -> list[Node]:
        return [codec.decode(Node, kv.value, kv.mod_revision) for kv in self._store.range(NODES_PREFIX)]


def _ip(advertise: str) -> str:
    host = _host(advertise)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InvalidParameter(f"advertise address must be a non-zero IP address, got {host!r}") from None
    return host
