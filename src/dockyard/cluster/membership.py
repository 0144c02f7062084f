"""The managers as etcd members: adding, promoting and removing them, and who leads.

Every manager runs one etcd member; etcd's Raft is the swarm's. A manager joins as a *learner*
(etcd's non-voting member) so that adding it never costs the swarm its quorum, even when the new
member fails to start; it is promoted to a voter once it has caught up with the leader. The Leader
of `docker node ls` is the member etcd elected; a manager is Reachable while its member answers
on its peer URL (mutual TLS: a manager's certificate).
"""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from dockyard.cluster.objects import ManagerStatus, Node, NodeRole, Reachability
from dockyard.errors import Unavailable

MEMBERS_PREFIX = "/swarm/members/"  # node ID -> its member's peer URL (a learner has no name yet)


@dataclass(frozen=True)
class Member:
    id: int
    name: str  # the node ID, once the member has started
    peer_url: str
    learner: bool = False


class Membership(Protocol):
    def members(self) -> list[Member]: ...

    def add_learner(self, peer_url: str) -> tuple[Member, list[Member]]:
        """Add a non-voting member; returns it and the members after the change."""
        ...

    def promote(self, member_id: int) -> None:
        """Make a learner a voter; raises NotInSync while it has not caught up."""
        ...

    def remove(self, member_id: int) -> None: ...

    def leader(self) -> int | None:
        """The leader's member ID as the local member sees it; None without a leader."""
        ...

    def local_id(self) -> int: ...

    def reachable(self, members: list[Member]) -> set[int]:
        """The members that answer their peers now."""
        ...


class NotInSync(Unavailable):
    """etcd refuses to promote a learner that is behind the leader: try again shortly."""


def promote_when_ready(membership: Membership, member_id: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            membership.promote(member_id)
            return
        except NotInSync:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def manager_statuses(nodes: list[Node], members: list[Member], node_members: dict[str, str], leader: int | None,
                     reachable: set[int]) -> list[Node]:
    """The nodes with their ManagerStatus as etcd sees them now: Leader for the leader's member,
    Reachable for a member that answers, Unreachable for a manager whose member does not (or that
    has none: it left, or its swarm was re-created without it by --force-new-cluster). A node
    demoted to worker whose member is gone is a worker: no manager status."""
    by_name = {m.name: m for m in members if m.name}
    by_peer = {m.peer_url: m for m in members}
    out = []
    for node in nodes:
        if node.manager_status is None:
            out.append(node)
            continue
        member = by_name.get(node.id) or by_peer.get(node_members.get(node.id, ""))
        if member is None and node.spec.role != NodeRole.MANAGER:
            status = None
        elif member is None:
            status = ManagerStatus(node.manager_status.addr, False, Reachability.UNREACHABLE)
        else:
            up = member.id in reachable
            status = ManagerStatus(node.manager_status.addr, up and member.id == leader,
                                   Reachability.REACHABLE if up else Reachability.UNREACHABLE)
        out.append(replace(node, manager_status=status))
    return out


class EtcdMembership:
    """Membership through the local member's JSON gateway (the cluster and maintenance APIs)."""

    def __init__(self, client_url: str, context: ssl.SSLContext | None, timeout: float = 15.0) -> None:
        self._url = client_url
        self._context = context
        self._timeout = timeout

    def _post(self, path: str, body: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        import json

        request = urllib.request.Request(self._url + "/v3" + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout or self._timeout, context=self._context) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            try:
                message = json.loads(detail).get("message", detail)
            except ValueError:
                message = detail
            if "can only promote a learner member which is in sync" in message:
                raise NotInSync(message) from None
            from dockyard.cluster.store.api import NoLeader

            if any(sign in message for sign in ("no leader", "request timed out", "leader changed")):
                raise NoLeader() from None
            raise Unavailable(f"etcd refused {path}: {message}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise Unavailable(f"the swarm's store at {self._url} does not answer: {exc}") from None

    @staticmethod
    def _member(raw: dict[str, Any]) -> Member:
        return Member(int(raw["ID"]), raw.get("name", ""), (raw.get("peerURLs") or [""])[0],
                      bool(raw.get("isLearner")))

    def members(self) -> list[Member]:
        return [self._member(m) for m in self._post("/cluster/member/list", {}).get("members", [])]

    def add_learner(self, peer_url: str) -> tuple[Member, list[Member]]:
        # etcd's strict reconfiguration check refuses a change until the leader has been connected
        # to every voter for 5 s ("unhealthy cluster"): right after another manager joined, wait.
        deadline = time.monotonic() + 15
        while True:
            try:
                answer = self._post("/cluster/member/add", {"peerURLs": [peer_url], "isLearner": True})
                return self._member(answer["member"]), [self._member(m) for m in answer.get("members", [])]
            except Unavailable as exc:
                if "unhealthy cluster" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def promote(self, member_id: int) -> None:
        self._post("/cluster/member/promote", {"ID": str(member_id)})

    def remove(self, member_id: int) -> None:
        self._post("/cluster/member/remove", {"ID": str(member_id)})

    def _status(self) -> dict[str, Any]:
        return self._post("/maintenance/status", {}, timeout=3)

    def leader(self) -> int | None:
        status = self._status()
        return int(status["leader"]) if status.get("leader") and not status.get("errors") else None

    def local_id(self) -> int:
        return int(self._status()["header"]["member_id"])

    def reachable(self, members: list[Member]) -> set[int]:
        def answers(member: Member) -> bool:
            try:
                with urllib.request.urlopen(member.peer_url + "/version", timeout=1, context=self._context) as resp:
                    return resp.status == 200
            except (OSError, urllib.error.URLError):
                return False

        if not members:
            return set()
        with ThreadPoolExecutor(min(len(members), 8)) as pool:
            return {m.id for m, up in zip(members, pool.map(answers, members), strict=True) if up}
