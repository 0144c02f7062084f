"""The rules of joining and leaving on the memory store: which token gives which role, what the
manager writes and signs, the member added for a manager (and taken back on failure), Docker's
leave refusals, and the Leader/Reachable view of the managers."""

from __future__ import annotations

import datetime
import json
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from dockyard.cluster import codec
from dockyard.cluster.admission import TOKEN_REFUSED, Admission, JoinRequest
from dockyard.cluster.ca import RootCA, new_key_and_request
from dockyard.cluster.channel import Caller, ChannelError, Handlers
from dockyard.cluster.membership import MEMBERS_PREFIX, Member, manager_statuses
from dockyard.cluster.objects import (
    Cluster,
    ClusterSpec,
    JoinTokens,
    ManagerStatus,
    Node,
    NodeDescription,
    NodeRole,
    NodeSpec,
    Platform,
    Reachability,
    Resources,
    TLSInfo,
)
from dockyard.cluster.rpc import InvalidArgument
from dockyard.cluster.store import MemoryStore
from dockyard.cluster.swarm import LAST_MANAGER, _leave_refusal
from dockyard.cluster.swarmport import caller_of
from dockyard.cluster.tokens import generate_join_token
from dockyard.errors import InvalidParameter

NOW = datetime.datetime(2026, 12, 6, 6, 0, tzinfo=datetime.UTC)


class FakeMembership:
    def __init__(self) -> None:
        self.list = [Member(1, "mgr1", "https://10.0.0.1:2380")]
        self.removed: list[int] = []

    def add_learner(self, peer_url: str) -> tuple[Member, list[Member]]:
        added = Member(len(self.list) + 1, "", peer_url, learner=True)
        self.list.append(added)
        return added, list(self.list)

    def remove(self, member_id: int) -> None:
        self.removed.append(member_id)
        self.list = [m for m in self.list if m.id != member_id]


class FailingStore(MemoryStore):
    fail = False

    def txn(self, compares, operations):
        if self.fail:
            raise RuntimeError("the store went away")
        return super().txn(compares, operations)


@pytest.fixture
def swarm():
    ca = RootCA.generate()
    store = FailingStore()
    cluster = Cluster("cluster1", NOW, NOW, ClusterSpec(),
                      JoinTokens(generate_join_token(ca.cert_pem), generate_join_token(ca.cert_pem)),
                      TLSInfo(ca.cert_pem.decode(), ca.issuer_subject_der(), ca.issuer_public_key_der()))
    store.put("/swarm/cluster", codec.encode(cluster))
    store.put("/swarm/ca", json.dumps({"cert": ca.cert_pem.decode(), "key": (ca.key_pem or b"").decode()}).encode())
    membership = FakeMembership()
    ids = iter(f"node{i}" for i in range(10))
    return store, cluster, ca, membership, Admission(store, lambda: membership, lambda: next(ids), lambda: NOW)


def _request(token: str, advertise: str = "") -> tuple[bytes, JoinRequest]:
    key, csr = new_key_and_request()
    return key, JoinRequest.from_json({
        "Token": token, "CSR": csr.decode(), "Hostname": "wrk1", "EngineVersion": "0.1", "Architecture": "x86_64",
        "OS": "linux", "NanoCPUs": 2_000_000_000, "MemoryBytes": 1 << 30, "AdvertiseAddr": advertise,
        "ListenPort": 2377, "Availability": "drain", "PeerPort": 2380})


def _subject(pem: bytes) -> dict:
    return {a.oid: a.value for a in x509.load_pem_x509_certificate(pem).subject}


def test_the_worker_token_admits_a_worker(swarm) -> None:
    store, cluster, ca, membership, admission = swarm
    _, request = _request(cluster.join_tokens.worker)
    grant = admission.admit(request, "10.0.0.4")
    assert (grant.node_id, grant.cluster_id, grant.role, grant.members) == ("node0", "cluster1", "worker", [])
    cert = x509.load_pem_x509_certificate(grant.certificate)
    cert.verify_directly_issued_by(ca.cert)
    assert _subject(grant.certificate) == {NameOID.COMMON_NAME: "node0", NameOID.ORGANIZATIONAL_UNIT_NAME:
                                           "swarm-worker", NameOID.ORGANIZATION_NAME: "cluster1"}
    node = codec.decode(Node, store.get("/swarm/nodes/node0").value)
    assert (node.spec.role, node.spec.availability.value, node.status.addr) == (NodeRole.WORKER, "drain", "10.0.0.4")
    assert node.manager_status is None and node.description.hostname == "wrk1"
    assert len(membership.list) == 1  # a worker holds no store member


def test_the_manager_token_admits_a_manager_with_a_learner_member(swarm) -> None:
    store, cluster, _, membership, admission = swarm
    _, request = _request(cluster.join_tokens.manager, advertise="10.0.0.2:2377")
    grant = admission.admit(request, "10.0.0.2")
    assert grant.role == "manager"
    assert _subject(grant.certificate)[NameOID.ORGANIZATIONAL_UNIT_NAME] == "swarm-manager"
    # Its member is named by its node ID in the list it will start with.
    assert grant.members == [("mgr1", "https://10.0.0.1:2380"), ("node0", "https://10.0.0.2:2380")]
    assert membership.list[-1].learner
    assert json.loads(store.get(MEMBERS_PREFIX + "node0").value) == {"peer_url": "https://10.0.0.2:2380"}
    node = codec.decode(Node, store.get("/swarm/nodes/node0").value)
    assert node.manager_status == ManagerStatus("10.0.0.2:2377")
    # The IP SANs etcd's peers and clients check.
    sans = x509.load_pem_x509_certificate(grant.certificate).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {"10.0.0.2", "127.0.0.1"}


def test_a_failed_write_takes_the_new_member_back(swarm) -> None:
    store, cluster, _, membership, admission = swarm
    store.fail = True
    with pytest.raises(RuntimeError):
        admission.admit(_request(cluster.join_tokens.manager)[1], "10.0.0.2")
    assert membership.removed == [2] and [m.id for m in membership.list] == [1]


@pytest.mark.parametrize("make", [
    lambda c, ca: "",
    lambda c, ca: c.join_tokens.worker[:-25] + "0" * 25,  # the swarm's CA, a secret never issued
    lambda c, ca: generate_join_token(RootCA.generate().cert_pem),  # another swarm's token
])
def test_tokens_the_swarm_did_not_issue_are_refused(swarm, make) -> None:
    store, cluster, ca, _, admission = swarm
    with pytest.raises(InvalidArgument) as refused:
        admission.admit(_request(make(cluster, ca))[1], "10.0.0.4")
    assert str(refused.value) == f"rpc error: code = InvalidArgument desc = {TOKEN_REFUSED}"
    assert store.range("/swarm/nodes/") == []


def test_a_rotated_token_is_refused(swarm) -> None:
    store, cluster, ca, _, admission = swarm
    old = cluster.join_tokens.worker
    cluster.join_tokens.worker = generate_join_token(ca.cert_pem)
    store.put("/swarm/cluster", codec.encode(cluster))
    with pytest.raises(InvalidArgument):
        admission.admit(_request(old)[1], "10.0.0.4")
    assert admission.admit(_request(cluster.join_tokens.worker)[1], "10.0.0.4").role == "worker"


def test_malformed_requests_change_nothing(swarm) -> None:
    store, cluster, _, _, admission = swarm
    with pytest.raises(InvalidParameter, match="invalid join token"):
        admission.admit(_request("SWMTKN-1-nonsense")[1], "10.0.0.4")
    with pytest.raises(InvalidParameter, match="invalid join request"):
        JoinRequest.from_json({"Token": "x"})
    _, request = _request(cluster.join_tokens.worker)
    with pytest.raises(InvalidParameter, match="not a PEM CSR"):
        admission.admit(JoinRequest(**{**request.__dict__, "csr": b"junk"}), "10.0.0.4")
    assert store.range("/swarm/nodes/") == []


def test_leave_refusals_are_dockers() -> None:
    assert _leave_refusal(1, 0, True) == LAST_MANAGER
    ending = ("The only way to restore a swarm that has lost consensus is to reinitialize it with "
              "`--force-new-cluster`. Use `--force` to suppress this message.")
    two = _leave_refusal(2, 0, True)
    assert "Removing this node leaves 1 managers out of 2. Without a Raft quorum" in two and two.endswith(ending)
    # A manager never leaves without --force; with quorum to spare, Docker only says how to recover.
    assert _leave_refusal(3, 0, True) == ("You are attempting to leave the swarm on a node that is participating "
                                          "as a manager. " + ending)
    assert "leaves 1 managers out of 3" in _leave_refusal(2, 1, True)
    assert "leaves" not in _leave_refusal(4, 1, True) and "leaves 2 managers out of 5" in _leave_refusal(3, 2, True)
    assert "Doing so may lose the consensus of your cluster. " in _leave_refusal(0, 0, False)


def _manager(node_id: str) -> Node:
    return Node(node_id, NOW, NOW, NodeSpec(role=NodeRole.MANAGER),
                NodeDescription(node_id, Platform("x86_64", "linux"), Resources(1, 1), "0.1"),
                manager_status=ManagerStatus(f"{node_id}:2377", leader=True))


def test_leader_and_reachability_come_from_the_members() -> None:
    nodes = [_manager("a"), _manager("b"), _manager("c"), _manager("gone")]
    members = [Member(1, "a", "https://a:1"), Member(2, "b", "https://b:1"), Member(3, "", "https://c:1", True)]
    seen = {n.id: n.manager_status for n in manager_statuses(nodes, members, {"c": "https://c:1"}, 2, {1, 2})}
    assert seen["a"] == ManagerStatus("a:2377", False, Reachability.REACHABLE)
    assert seen["b"] == ManagerStatus("b:2377", True, Reachability.REACHABLE)
    assert seen["c"] == ManagerStatus("c:2377", False, Reachability.UNREACHABLE)  # a learner not started
    assert seen["gone"] == ManagerStatus("gone:2377", False, Reachability.UNREACHABLE)  # no member at all
    no_leader = manager_statuses(nodes, members, {}, None, {1})
    assert not any(n.manager_status and n.manager_status.leader for n in no_leader)
    demoted = replace(_manager("gone"), spec=NodeSpec(role=NodeRole.WORKER))
    assert manager_statuses([demoted], members, {}, 1, {1})[0].manager_status is None


def test_the_channel_knows_callers_by_certificate_and_role() -> None:
    handlers = Handlers()
    handlers.add_call("echo", lambda caller, body: {"who": caller.node_id, **body})
    handlers.add_call("managers-only", lambda caller, body: {}, roles=("manager",))
    worker = Caller("w1", "worker")
    assert handlers.call("echo", worker, {"x": 1}) == {"who": "w1", "x": 1}
    with pytest.raises(ChannelError, match="not allowed to a worker node"):
        handlers.call("managers-only", worker, {})
    with pytest.raises(ChannelError, match="no such call"):
        handlers.call("nope", worker, {})
    certificate = {"subject": ((("organizationName", "c1"),), (("organizationalUnitName", "swarm-worker"),),
                               (("commonName", "w1"),))}
    assert caller_of(certificate) == worker
    assert caller_of(None) is None and caller_of({"subject": ((("commonName", "x"),),)}) is None


def test_a_promoted_worker_enrols_as_a_manager(swarm) -> None:
    from dockyard.cluster.rpc import FailedPrecondition

    store, cluster, _, membership, admission = swarm
    grant = admission.admit(_request(cluster.join_tokens.worker)[1], "10.0.0.4")
    csr = new_key_and_request()[1]
    with pytest.raises(FailedPrecondition, match="is not promoted to a manager"):
        admission.enrol_manager(grant.node_id, csr, "10.0.0.4:2377", 2380)
    kv = store.get("/swarm/nodes/" + grant.node_id)
    node = codec.decode(Node, kv.value)
    node.spec.role = NodeRole.MANAGER  # what `docker node promote` writes
    store.put(kv.key, codec.encode(node))
    enrolled = admission.enrol_manager(grant.node_id, csr, "10.0.0.4:2377", 2380)
    assert enrolled.role == "manager" and enrolled.node_id == grant.node_id
    assert _subject(enrolled.certificate)[NameOID.ORGANIZATIONAL_UNIT_NAME] == "swarm-manager"
    assert enrolled.members[-1] == (grant.node_id, "https://10.0.0.4:2380") and membership.list[-1].learner
    after = codec.decode(Node, store.get(kv.key).value)
    assert after.manager_status == ManagerStatus("10.0.0.4:2377")
    with pytest.raises(FailedPrecondition, match="already a member"):
        admission.enrol_manager(grant.node_id, csr, "10.0.0.4:2377", 2380)
    assert len(membership.list) == 2
