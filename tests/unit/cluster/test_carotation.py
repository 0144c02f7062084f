"""Root CA rotation (cross-signed, then finished by the reconciler) and node certificate renewal,
on the memory store with the renewer's clock moved by hand."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from dockyard.cluster import codec
from dockyard.cluster.autolock import Autolock
from dockyard.cluster.ca import RootCA
from dockyard.cluster.carotation import (
    RENEW_CALL,
    CertRenewer,
    Reconciler,
    WorkerRenewer,
    register,
    renew_at,
    root_of,
    rotation_of,
)
from dockyard.cluster.channel import Caller
from dockyard.cluster.nodes import NODES_PREFIX
from dockyard.cluster.objects import (
    ClusterSpec,
    EncryptionConfig,
    Node,
    NodeDescription,
    NodeSpec,
    NodeState,
    NodeStatus,
    Platform,
    Resources,
)
from dockyard.cluster.rpc import InvalidArgument
from dockyard.cluster.store import MemoryStore
from dockyard.cluster.swarm import EngineDescription, InitRequest, SwarmService
from dockyard.cluster.tokens import ca_digest, ca_digest_from_token
from dockyard.errors import NotFound

ENGINE = EngineDescription("host1", "0.1.0", "x86_64", "linux", 2_000_000_000, 1 << 30)


class Member:
    def start(self) -> None: ...

    def stop(self) -> None: ...


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now


def _swarm(root: Path, store: MemoryStore, autolock: bool = False) -> SwarmService:
    swarm = SwarmService(root, ENGINE, open_store=lambda url: store, make_member=lambda state, root: Member())
    spec = ClusterSpec(encryption_config=EncryptionConfig(auto_lock_managers=autolock))
    swarm.init(InitRequest(listen_addr="127.0.0.1:4000", advertise_addr="127.0.0.1", spec=spec))
    return swarm


def _rotate(swarm: SwarmService, cert: str = "", key: str = "") -> None:
    cluster = swarm.inspect()
    spec = cluster.spec
    if cert:
        spec.ca_config.signing_ca_cert, spec.ca_config.signing_ca_key = cert, key
    else:
        spec.ca_config.force_rotate += 1
    swarm.update(cluster.version.index, spec)


def _chain(swarm: SwarmService) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates((swarm.certificates_dir() / "swarm-node.crt").read_bytes())


def _handshake(tmp_path: Path, trusted_root: bytes, cert_file: Path, key_file: Path) -> None:
    """A server that trusts only `trusted_root` accepts a client presenting the node's files."""
    serving = RootCA(trusted_root, None)
    (tmp_path / "trusted.pem").write_bytes(serving.cert_pem)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tmp_path / "trusted.pem")
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_cert_chain(cert_file, key_file)  # the node serves with its own files too
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tmp_path / "trusted.pem")
    client.check_hostname = False
    client.load_cert_chain(cert_file, key_file)
    a, b = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server.wrap_socket(a, server_side=True) as tls:
                tls.sendall(b"ok")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    with client.wrap_socket(b) as tls:
        assert tls.recv(2) == b"ok"
    thread.join()
    assert not errors


def test_a_rotation_cross_signs_renews_and_finishes(tmp_path: Path) -> None:
    store = MemoryStore()
    swarm = _swarm(tmp_path, store)
    me = swarm.local_node_id()
    reloads: list[str] = []
    renewer = CertRenewer(swarm.store, swarm.certificates_dir(), me, swarm.autolock,
                          on_new_root=lambda: reloads.append("tls"))
    reconciler = Reconciler(swarm.store)
    old_root = root_of(store)
    old_tokens = swarm.inspect().join_tokens
    assert renewer.check() is False  # a fresh certificate of the current root: only its TLS info reported
    assert swarm.node(me).description.tls_info == swarm.inspect().tls_info

    _rotate(swarm)
    cluster = swarm.inspect()
    rotation = rotation_of(store)
    assert rotation is not None and cluster.root_rotation_in_progress
    new_root = RootCA(rotation.cert_pem, rotation.key_pem)
    # The cluster names the new issuer while still trusting the old root (what `swarm ca` waits on).
    assert cluster.tls_info.trust_root == old_root.cert_pem.decode()
    assert cluster.tls_info.cert_issuer_public_key == new_root.issuer_public_key_der()
    assert reconciler.check() is False  # this node still holds a certificate of the old root

    assert renewer.check() is True
    leaf, intermediate = _chain(swarm)
    leaf.verify_directly_issued_by(new_root.cert)
    intermediate.verify_directly_issued_by(old_root.cert)
    certs = swarm.certificates_dir()
    # Peers that trust only the old root accept the new certificate through the cross-signed copy.
    _handshake(tmp_path, old_root.cert_pem, certs / "swarm-node.crt", certs / "swarm-node.key")

    assert reconciler.check() is True
    cluster = swarm.inspect()
    assert not cluster.root_rotation_in_progress and rotation_of(store) is None
    assert cluster.tls_info.trust_root == new_root.cert_pem.decode() and root_of(store).cert_pem == new_root.cert_pem
    for token, old in ((cluster.join_tokens.worker, old_tokens.worker), (cluster.join_tokens.manager,
                                                                         old_tokens.manager)):
        assert token != old and ca_digest_from_token(token) == ca_digest(new_root.cert_pem)
    assert renewer.check() is False
    assert (certs / "swarm-root-ca.crt").read_bytes() == new_root.cert_pem and reloads == ["tls"]
    # Reported once the TLS servers restarted with the new root (the next round).
    assert swarm.node(me).description.tls_info != cluster.tls_info
    assert renewer.check() is False and reloads == ["tls"]
    assert swarm.node(me).description.tls_info == cluster.tls_info  # what `swarm ca --rotate` waits for
    _handshake(tmp_path, new_root.cert_pem, certs / "swarm-node.crt", certs / "swarm-node.key")


def test_certificates_are_renewed_before_they_expire_with_the_expiry_asked(tmp_path: Path) -> None:
    store = MemoryStore()
    swarm = _swarm(tmp_path, store, autolock=True)
    clock = Clock()
    renewer = CertRenewer(swarm.store, swarm.certificates_dir(), swarm.local_node_id(), swarm.autolock, clock)
    cluster = swarm.inspect()
    cluster.spec.ca_config.node_cert_expiry = 2 * 3600 * 10**9
    swarm.update(cluster.version.index, cluster.spec)
    first = (swarm.certificates_dir() / "swarm-node.crt").read_bytes()
    due = renew_at(first)
    leaf = _chain(swarm)[0]
    life = leaf.not_valid_after_utc - leaf.not_valid_before_utc
    assert leaf.not_valid_before_utc + life * 0.5 <= due <= leaf.not_valid_before_utc + life * 0.8
    assert renew_at(first) == due  # fixed per certificate: a restart does not draw it again

    clock.now = due - datetime.timedelta(seconds=1)
    assert renewer.check() is False
    clock.now = due
    assert renewer.check() is True
    renewed = _chain(swarm)[0]
    # The new certificate has the expiry the spec asks now (plus swarmkit's one hour of backdating).
    assert renewed.not_valid_after_utc - renewed.not_valid_before_utc == datetime.timedelta(hours=3)
    key = (swarm.certificates_dir() / "swarm-node.key").read_bytes()
    assert key.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY")  # still under the unlock key


def test_rotation_to_a_given_root_and_its_refusals(tmp_path: Path) -> None:
    store = MemoryStore()
    swarm = _swarm(tmp_path, store)
    mine, other = RootCA.generate(), RootCA.generate()
    current = swarm.inspect().tls_info.trust_root
    with pytest.raises(InvalidArgument, match="needs its key"):
        _rotate(swarm, mine.cert_pem.decode())
    with pytest.raises(InvalidArgument, match="certificate key mismatch"):
        _rotate(swarm, mine.cert_pem.decode(), (other.key_pem or b"").decode())
    leaf = mine.issue("n", "worker", "c", datetime.timedelta(days=1))
    with pytest.raises(InvalidArgument, match="not a CA certificate"):
        _rotate(swarm, leaf.cert_pem.decode(), leaf.key_pem.decode())
    assert rotation_of(store) is None and not swarm.inspect().root_rotation_in_progress
    _rotate(swarm, current)  # the current root sent back (as `swarm update` does): no rotation
    assert rotation_of(store) is None

    _rotate(swarm, mine.cert_pem.decode(), (mine.key_pem or b"").decode())
    rotation = rotation_of(store)
    assert rotation is not None and rotation.cert_pem.strip() == mine.cert_pem.strip()
    assert swarm.inspect().spec.ca_config.signing_ca_key == ""  # the key is never kept in the spec


def test_the_reconciler_waits_for_nodes_that_are_up_only(tmp_path: Path) -> None:
    store = MemoryStore()
    swarm = _swarm(tmp_path, store)
    now = datetime.datetime.now(datetime.UTC)
    for node_id, state in (("w-down", NodeState.DOWN), ("w-up", NodeState.READY)):
        node = Node(node_id, now, now, NodeSpec(), NodeDescription(node_id, Platform("x86_64", "linux"),
                                                                   Resources(1, 1), "0.1.0"), NodeStatus(state))
        store.put(NODES_PREFIX + node_id, codec.encode(node))
    _rotate(swarm)
    CertRenewer(swarm.store, swarm.certificates_dir(), swarm.local_node_id(), swarm.autolock).check()
    reconciler = Reconciler(swarm.store)
    assert reconciler.check() is False  # w-up has not renewed
    store.delete(NODES_PREFIX + "w-up")
    assert reconciler.check() is True  # w-down is not waited for


class LocalChannel:
    """The manager's channel calls answered in this process, as the worker `caller` sends them."""

    def __init__(self, swarm: SwarmService, caller: Caller) -> None:
        self.swarm, self.caller = swarm, caller

    def call(self, name: str, body: dict | None = None, timeout: float | None = None) -> dict:
        return self.swarm.handlers.call(name, self.caller, body or {})


def test_a_worker_renews_through_a_manager_and_a_rotation_waits_for_it(tmp_path: Path) -> None:
    store = MemoryStore()
    swarm = _swarm(tmp_path / "manager", store)
    register(swarm)
    old_root = root_of(store)
    now = datetime.datetime.now(datetime.UTC)
    node = Node("w1", now, now, NodeSpec(), NodeDescription("w1", Platform("x86_64", "linux"), Resources(1, 1),
                                                            "0.1.0"), NodeStatus(NodeState.READY, addr="10.0.0.9"))
    store.put(NODES_PREFIX + "w1", codec.encode(node))
    certs = tmp_path / "worker" / "certificates"
    certs.mkdir(parents=True)
    issued = old_root.issue("w1", "worker", swarm.inspect().id, datetime.timedelta(days=90), ["10.0.0.9"])
    (certs / "swarm-root-ca.crt").write_bytes(old_root.cert_pem)
    (certs / "swarm-node.crt").write_bytes(issued.cert_pem)
    (certs / "swarm-node.key").write_bytes(issued.key_pem)
    channel = LocalChannel(swarm, Caller("w1", "worker"))
    renewer = WorkerRenewer(lambda: channel, certs, Autolock(certs, tmp_path / "worker" / "run"))
    assert renewer.check() is False  # its certificate is the one the cluster wants

    _rotate(swarm)
    CertRenewer(swarm.store, swarm.certificates_dir(), swarm.local_node_id(), swarm.autolock).check()
    reconciler = Reconciler(swarm.store)
    assert reconciler.check() is False  # the worker is up and holds a certificate of the old root
    assert renewer.check() is True
    leaf, intermediate = x509.load_pem_x509_certificates((certs / "swarm-node.crt").read_bytes())
    new_root = RootCA(rotation_of(store).cert_pem, None)
    leaf.verify_directly_issued_by(new_root.cert)
    intermediate.verify_directly_issued_by(old_root.cert)
    assert leaf.subject.rfc4514_string() == f"CN=w1,OU=swarm-worker,O={swarm.inspect().id}"
    assert reconciler.check() is True  # the manager recorded the worker's new issuer
    assert renewer.check() is False
    assert (certs / "swarm-root-ca.crt").read_bytes() == new_root.cert_pem  # the root file follows
    # ... and the worker's TLS info says so (what `docker swarm ca --rotate` waits for on every node)
    assert swarm.node("w1").description.tls_info == swarm.inspect().tls_info
    _handshake(tmp_path, new_root.cert_pem, certs / "swarm-node.crt", certs / "swarm-node.key")

    removed = LocalChannel(swarm, Caller("gone", "worker"))
    with pytest.raises(NotFound, match="node gone not found"):
        removed.call(RENEW_CALL, {"CSR": "x"})
