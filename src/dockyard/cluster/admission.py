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
from typing import Any

from dockyard.cluster import codec
from dockyard.cluster.joining import Grant
from dockyard.cluster.keys import CA_KEY, CLUSTER_KEY
from dockyard.cluster.membership import MEMBERS_PREFIX, Membership
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
from dockyard.cluster.rpc import InvalidArgument
from dockyard.cluster.store.api import Compare, Put, Store
from dockyard.cluster.tokens import ca_digest, ca_digest_from_token, tokens_match
from dockyard.errors import InvalidParameter

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
        from dockyard.cluster.ca import RootCA

        kv = self._store.get(CLUSTER_KEY)
        ca_kv = self._store.get(CA_KEY)
        if kv is None or ca_kv is None:
            raise InvalidParameter("this manager's swarm has no cluster object")
        cluster = codec.decode(Cluster, kv.value, kv.mod_revision)
        role = role_of(request.token, cluster)
        advertise = request.advertise_addr or f"{seen_from}:{request.listen_port}"
        host = _host(advertise)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise InvalidParameter(f"advertise address must be a non-zero IP address, got {host!r}") from None
        node_id = self._new_id()
        record = json.loads(ca_kv.value)
        ca = RootCA(record["cert"].encode(), record["key"].encode())
        expiry = datetime.timedelta(microseconds=cluster.spec.ca_config.node_cert_expiry // 1000)
        addresses = [host, "127.0.0.1"] if role == NodeRole.MANAGER else [host]
        try:
            certificate = ca.sign_request(request.csr, node_id, role.value, cluster.id, expiry, addresses)
        except ValueError as exc:
            raise InvalidParameter(f"invalid join request: {exc}") from None
        now = self._now()
        node = Node(
            id=node_id, created_at=now, updated_at=now,
            spec=NodeSpec(role=role, availability=request.availability),
            description=NodeDescription(request.hostname, Platform(request.architecture, request.os),
                                        Resources(request.nano_cpus, request.memory_bytes), request.engine_version),
            status=NodeStatus(NodeState.READY, addr=host),
        )
        writes = [Put(NODES_PREFIX + node_id, codec.encode(node))]
        members: list[tuple[str, str]] = []
        added = None
        if role == NodeRole.MANAGER:
            node.manager_status = ManagerStatus(advertise)
            writes[0] = Put(NODES_PREFIX + node_id, codec.encode(node))
            peer_url = f"https://{host}:{request.peer_port}"
            membership = self._membership()
            added, after = membership.add_learner(peer_url)
            members = [(m.name or node_id, m.peer_url) for m in after]
            writes.append(Put(MEMBERS_PREFIX + node_id, json.dumps({"peer_url": peer_url}).encode()))
        try:
            if not self._store.txn([Compare(NODES_PREFIX + node_id, 0)], writes):
                raise InvalidParameter(f"node ID {node_id} is taken")
        except BaseException:
            if added is not None:
                self._membership().remove(added.id)
            raise
        managers = [n.manager_status.addr for n in self._nodes() if n.manager_status is not None]
        return Grant(node_id, cluster.id, role.value, certificate, members, managers)

    def _nodes(self) -> list[Node]:
        return [codec.decode(Node, kv.value, kv.mod_revision) for kv in self._store.range(NODES_PREFIX)]
