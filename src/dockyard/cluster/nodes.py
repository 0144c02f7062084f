"""Nodes as a manager changes them: list filters, update on the version read, remove, and the
role changes behind promote/demote. The rules are swarmkit's controlapi/node.go (and moby's
daemon/cluster/filters.go for the filters), with its refusal texts.

A role change is written to the node's spec here; making the node a store member (or removing it)
follows from that spec in the membership code, as swarmkit's role manager follows DesiredRole.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from dockyard.cluster import codec
from dockyard.cluster.objects import Node, NodeRole, NodeSpec, NodeState, Reachability
from dockyard.cluster.rpc import FailedPrecondition, RpcError, SequenceConflict
from dockyard.cluster.store.api import Compare, Delete, Put, Store
from dockyard.errors import InvalidParameter, NotFound

NODES_PREFIX = "/swarm/nodes/"
# Removed nodes, kept until their certificate would have expired: a manager refuses a connection
# from a node listed here (swarmkit's Cluster.BlacklistedCertificates).
REMOVED_PREFIX = "/swarm/removed/"

ACCEPTED_FILTERS = {"name", "id", "label", "role", "membership", "node.label"}
MEMBERSHIPS = ("pending", "accepted")  # swarmkit's NodeSpec_Membership; every joined node is accepted


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class NotFoundRpc(RpcError):
    code = "NotFound"
    status = 404


def _kv_map(entries: list[str]) -> dict[str, str]:
    """moby's convertKVStringsToMap: "k=v" and a bare "k" (any value)."""
    out = {}
    for entry in entries:
        key, _, value = entry.partition("=")
        out[key] = value
    return out


def _labels_match(have: dict[str, str], want: dict[str, str]) -> bool:
    return all(k in have and (not v or have[k] == v) for k, v in want.items())


def observed_role(node: Node) -> NodeRole:
    """The role a node has now (swarmkit's Node.Role), not the one asked for: a manager is a store
    member, shown by its manager status."""
    return NodeRole.MANAGER if node.manager_status is not None else NodeRole.WORKER


@dataclass(frozen=True)
class NodeFilters:
    name_prefixes: list[str] = field(default_factory=list)
    id_prefixes: list[str] = field(default_factory=list)
    engine_labels: dict[str, str] = field(default_factory=dict)
    node_labels: dict[str, str] = field(default_factory=dict)
    roles: list[NodeRole] = field(default_factory=list)
    memberships: list[str] = field(default_factory=list)

    @classmethod
    def from_values(cls, values: dict[str, list[str]]) -> NodeFilters:
        """From Docker's filters (already checked against ACCEPTED_FILTERS), with moby's refusals."""
        roles = []
        for role in values.get("role", []):
            if role.lower() in (r.value for r in NodeRole):
                roles.append(NodeRole(role.lower()))
            elif role:
                raise InvalidParameter(f"Invalid role filter: '{role}'")
        memberships = []
        for membership in values.get("membership", []):
            if membership.lower() in MEMBERSHIPS:
                memberships.append(membership.lower())
            elif membership:
                raise InvalidParameter(f"Invalid membership filter: '{membership}'")
        return cls(list(values.get("name", [])), list(values.get("id", [])), _kv_map(values.get("label", [])),
                   _kv_map(values.get("node.label", [])), roles, memberships)

    def match(self, node: Node) -> bool:
        return ((not self.name_prefixes or any(node.description.hostname.startswith(p) for p in self.name_prefixes))
                and (not self.id_prefixes or any(node.id.startswith(p) for p in self.id_prefixes))
                and _labels_match(node.description.engine_labels, self.engine_labels)
                and _labels_match(node.spec.labels, self.node_labels)
                and (not self.roles or observed_role(node) in self.roles)
                and (not self.memberships or "accepted" in self.memberships))


def find_node(nodes: list[Node], ref: str) -> Node:
    """A node by ID, hostname, then unique ID prefix, as moby's getNode finds them."""
    for pick in ([n for n in nodes if n.id == ref], [n for n in nodes if n.description.hostname == ref],
                 [n for n in nodes if ref and n.id.startswith(ref)]):
        if len(pick) == 1:
            return pick[0]
        if len(pick) > 1:
            raise InvalidParameter(f"node {ref} is ambiguous ({len(pick)} matches found)")
    raise NotFound(f"node {ref} not found")


def _can_lose_manager(managers: list[Node], leaving: Node, local_id: str) -> bool:
    """swarmkit's raft CanRemoveMember: the managers still reachable once `leaving` is gone must be
    a quorum of the managers there were less one."""
    reachable = sum(1 for m in managers if m.id != leaving.id and (
        m.id == local_id or (m.manager_status is not None and m.manager_status.reachability == Reachability.REACHABLE)))
    return reachable >= (len(managers) - 1) // 2 + 1


class NodeService:
    def __init__(self, store: Callable[[], Store], local_node_id: Callable[[], str],
                 clock: Callable[[], datetime.datetime] = _now,
                 observe: Callable[[list[Node]], list[Node]] = lambda nodes: nodes) -> None:
        self._store = store  # the manager's store, or Docker's "not a swarm manager" when there is none
        self._local_node_id = local_node_id
        self._clock = clock
        # The managers' Leader/Reachable as the store's membership shows them now
        # (SwarmService.observe_managers): the stored manager status is only the address.
        self._observe = observe

    def list(self, filters: NodeFilters | None = None) -> list[Node]:
        nodes = self._observe([codec.decode(Node, kv.value, kv.mod_revision)
                               for kv in self._store().range(NODES_PREFIX)])
        return [n for n in nodes if filters is None or filters.match(n)]

    def get(self, ref: str) -> Node:
        return find_node(self.list(), ref)

    def update(self, ref: str, version: int, spec: NodeSpec) -> Node:
        """Replace the node's spec if it is still at `version` (swarmkit's UpdateNode)."""
        store = self._store()
        nodes = self.list()
        node = find_node(nodes, ref)
        if node.spec.role == NodeRole.MANAGER and spec.role == NodeRole.WORKER:
            managers = [n for n in nodes if observed_role(n) == NodeRole.MANAGER]
            if len(managers) == 1 and managers[0].id == node.id:
                raise FailedPrecondition("attempting to demote the last manager of the swarm")
            if node.manager_status is None:
                raise NotFoundRpc("can't find manager in raft memberlist")
            if not _can_lose_manager(managers, node, self._local_node_id()):
                raise FailedPrecondition("can't remove member from the raft: this would result in a loss of quorum")
        node.spec = spec
        node.updated_at = self._clock()
        if not store.txn([Compare(NODES_PREFIX + node.id, version)], [Put(NODES_PREFIX + node.id, codec.encode(node))]):
            raise SequenceConflict()
        return node

    def remove(self, ref: str, force: bool) -> None:
        """Delete a node that is down (or any worker with `force`); a manager must be demoted first."""
        store = self._store()
        node = self.get(ref)
        if node.spec.role == NodeRole.MANAGER and node.manager_status is not None:
            raise FailedPrecondition(f"node {node.id} is a cluster manager and is a member of the raft cluster. "
                                     "It must be demoted to worker before removal")
        if not force and node.status.state == NodeState.READY:
            raise FailedPrecondition(f"node {node.id} is not down and can't be removed")
        removed = json.dumps({"removed_at": self._clock().isoformat()}).encode()
        if not store.txn([Compare(NODES_PREFIX + node.id, node.version.index)],
                         [Delete(NODES_PREFIX + node.id), Put(REMOVED_PREFIX + node.id, removed)]):
            raise SequenceConflict()
