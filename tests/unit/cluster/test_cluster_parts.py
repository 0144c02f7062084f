"""The swarm's objects in the store's format, join tokens as swarmkit writes them, the root CA."""

from __future__ import annotations

import datetime
import hashlib
import re
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from dockyard.cluster import codec
from dockyard.cluster.ca import RootCA
from dockyard.cluster.objects import (
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
    Version,
)
from dockyard.cluster.store import Compare, MemoryStore, Put
from dockyard.cluster.tokens import ca_digest_from_token, generate_join_token
from dockyard.errors import InvalidParameter

NOW = datetime.datetime(2026, 12, 6, 3, 30, tzinfo=datetime.UTC)


def test_cluster_spec_defaults_are_dockers() -> None:
    spec = ClusterSpec()
    assert spec.name == "default"
    assert spec.orchestration.task_history_retention_limit == 5
    assert spec.dispatcher.heartbeat_period == 5_000_000_000
    assert spec.ca_config.node_cert_expiry == 7_776_000_000_000_000  # 2160h
    assert (spec.raft.snapshot_interval, spec.raft.log_entries_for_slow_followers) == (10000, 500)
    assert (spec.raft.election_tick, spec.raft.heartbeat_tick) == (10, 1)
    assert spec.encryption_config.auto_lock_managers is False


def _cluster() -> Cluster:
    ca = RootCA.generate()
    return Cluster(
        id="7fhz1y6r1k2n0t8d3q5w9x4v2", created_at=NOW, updated_at=NOW, spec=ClusterSpec(labels={"a": "b"}),
        join_tokens=JoinTokens(generate_join_token(ca.cert_pem), generate_join_token(ca.cert_pem)),
        tls_info=TLSInfo(ca.cert_pem.decode(), ca.issuer_subject_der(), ca.issuer_public_key_der()),
    )


def _node() -> Node:
    return Node(
        id="n0de1d", created_at=NOW, updated_at=NOW, spec=NodeSpec(role=NodeRole.MANAGER, labels={"zone": "a"}),
        description=NodeDescription("host1", Platform("x86_64", "linux"), Resources(2_000_000_000, 1 << 30), "28.0"),
        status=NodeStatus(NodeState.READY, addr="10.0.0.1"), manager_status=ManagerStatus("10.0.0.1:2377", True),
    )


@pytest.mark.parametrize("make", [_cluster, _node])
def test_objects_round_trip_through_the_store_with_their_version(make) -> None:
    obj = make()
    store = MemoryStore()
    revision = store.put("/objects/x", codec.encode(obj))
    kv = store.get("/objects/x")
    assert kv is not None
    back = codec.decode(type(obj), kv.value, kv.mod_revision)
    assert back.version == Version(revision)
    obj.version = Version(revision)
    assert back == obj


def test_an_update_from_a_stale_version_is_refused() -> None:
    store = MemoryStore()
    node = _node()
    store.put("/nodes/n0de1d", codec.encode(node))
    kv = store.get("/nodes/n0de1d")
    assert kv is not None
    read = codec.decode(Node, kv.value, kv.mod_revision)
    read.spec.labels["zone"] = "b"
    assert store.txn([Compare("/nodes/n0de1d", read.version.index)], [Put("/nodes/n0de1d", codec.encode(read))])
    read.spec.labels["zone"] = "c"  # the same, now stale, version again
    assert not store.txn([Compare("/nodes/n0de1d", read.version.index)], [Put("/nodes/n0de1d", codec.encode(read))])


def test_join_tokens_are_swarmkits_v1_format() -> None:
    ca = RootCA.generate()
    worker, manager = generate_join_token(ca.cert_pem), generate_join_token(ca.cert_pem)
    pattern = re.compile(r"^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$")
    w, m = pattern.match(worker), pattern.match(manager)
    assert w and m
    assert w.group(1) == m.group(1) and w.group(2) != m.group(2)  # same CA, different secrets
    assert int(w.group(1), 36) == int(hashlib.sha256(ca.cert_pem).hexdigest(), 16)
    assert ca_digest_from_token(worker) == hashlib.sha256(ca.cert_pem).hexdigest()


@pytest.mark.parametrize(
    "token", ["", "SWMTKN-2-abc-def", "SWMTKN-1-abc", "SWMTKN-1-!!-x", "SWMTKN-1-" + "z" * 60 + "-x"]
)
def test_malformed_join_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidParameter, match="invalid join token"):
        ca_digest_from_token(token)


def test_node_certificates_carry_id_role_and_cluster() -> None:
    ca = RootCA.generate()
    root = x509.load_pem_x509_certificate(ca.cert_pem)
    assert root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "swarm-ca"
    issued = ca.issue("n0de1d", "manager", "clusterid", datetime.timedelta(days=90))
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    cert.verify_directly_issued_by(root)
    subject = {a.oid: a.value for a in cert.subject}
    assert subject == {NameOID.COMMON_NAME: "n0de1d", NameOID.ORGANIZATIONAL_UNIT_NAME: "swarm-manager",
                       NameOID.ORGANIZATION_NAME: "clusterid"}
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=90, hours=1)
    with pytest.raises(ValueError, match="no signing key"):
        RootCA(ca.cert_pem, None).issue("x", "worker", "c", datetime.timedelta(days=1))


def test_two_nodes_certificates_make_a_mutual_tls_link(tmp_path: Path) -> None:
    ca = RootCA.generate()
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)

    def context(name: str, role: str, purpose: ssl.Purpose) -> ssl.SSLContext:
        issued = ca.issue(name, role, "clusterid", datetime.timedelta(days=1))
        (tmp_path / f"{name}.pem").write_bytes(issued.cert_pem)
        (tmp_path / f"{name}.key").write_bytes(issued.key_pem)
        ctx = ssl.create_default_context(purpose, cafile=tmp_path / "ca.pem")
        ctx.load_cert_chain(tmp_path / f"{name}.pem", tmp_path / f"{name}.key")
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    server_ctx = context("manager1", "manager", ssl.Purpose.CLIENT_AUTH)
    client_ctx = context("worker1", "worker", ssl.Purpose.SERVER_AUTH)
    a, b = socket.socketpair()
    seen: dict[str, object] = {}

    def serve() -> None:
        with server_ctx.wrap_socket(a, server_side=True) as tls:
            seen["client"] = tls.getpeercert()
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    # Workers reach managers by the role name, as swarmkit's clients set ServerName to "swarm-manager".
    with client_ctx.wrap_socket(b, server_hostname="swarm-manager") as tls:
        assert tls.recv(2) == b"ok"
    thread.join()
    client = seen["client"]
    assert isinstance(client, dict)
    assert (("commonName", "worker1"),) in client["subject"]
    assert (("organizationalUnitName", "swarm-worker"),) in client["subject"]
