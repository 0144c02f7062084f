"""Root CA rotation and node certificate renewal, as swarmkit's ca/ does them.

- `begin` (on `swarm ca --rotate`, a ForceRotate change or a given root): a new root (generated, or
  the user's certificate and key) and a cross-signed copy of it (its subject and key, signed by the
  old root) are stored as the rotation in progress; the cluster's TLS info names the new issuer
  while its trust root stays the old one, and RootRotationInProgress is true.
- `CertRenewer`, on every node: a certificate is renewed when its issuer is not the one the cluster
  wants (a rotation began) or when it reaches its renewal time, a point between 50% and 80% of its
  validity as swarmkit picks it (fixed per certificate here, from its serial number, so a restart
  does not re-draw it); during a rotation the new certificate carries the cross-signed
  intermediate, so peers that trust only the old root accept it. The root file follows the
  cluster's trust root, and the node's TLS info in the store tells what it has.
- A worker has no store: `WorkerRenewer` asks a manager over the channel (`ca.info`: the trust
  root and the issuer the cluster wants; `ca.renew`: a CSR signed as the renewer would, the
  worker's TLS info recorded by the manager), so a rotation waits for workers as for managers.
- `Reconciler`, on the leader: once every node that is not down has a certificate from the new
  root, the rotation ends in one transaction: the new root becomes the trust root and the signing
  key, the join tokens are made anew (they name the root's digest), the rotation record goes.

Certificates are written as the node key is (autolock.py): a renamed temporary file.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.cluster import codec
from dockyard.cluster.autolock import write_private
from dockyard.cluster.keys import CA_KEY, CLUSTER_KEY, ROTATION_KEY
from dockyard.cluster.nodes import NODES_PREFIX, observed_role
from dockyard.cluster.objects import Cluster, Node, NodeState, TLSInfo
from dockyard.cluster.rpc import InvalidArgument
from dockyard.cluster.store.api import Compare, Delete, Put, Store, Watch
from dockyard.errors import InvalidParameter, NotFound

if TYPE_CHECKING:
    from dockyard.cluster.autolock import Autolock
    from dockyard.cluster.ca import RootCA
    from dockyard.cluster.channel import Caller, ManagerChannel
    from dockyard.cluster.swarm import SwarmService

log = logging.getLogger(__name__)

RENEW_FROM, RENEW_TO = 0.5, 0.8  # swarmkit's ca.calculateRandomExpiry
INFO_CALL, RENEW_CALL = "ca.info", "ca.renew"  # a worker's renewer asks a manager (channel calls)
WORKER_INTERVAL = 5.0  # a worker asks this often (it hears of a rotation no other way)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Rotation:
    cert_pem: bytes
    key_pem: bytes
    cross_signed_pem: bytes

    def encode(self) -> bytes:
        return json.dumps({"cert": self.cert_pem.decode(), "key": self.key_pem.decode(),
                           "cross_signed": self.cross_signed_pem.decode()}).encode()

    @classmethod
    def decode(cls, raw: bytes) -> Rotation:
        record = json.loads(raw)
        return cls(record["cert"].encode(), record["key"].encode(), record["cross_signed"].encode())


def root_of(store: Store) -> RootCA:
    from dockyard.cluster.ca import RootCA

    kv = store.get(CA_KEY)
    if kv is None:
        raise LookupError("the swarm has no root CA in its store")
    record = json.loads(kv.value)
    return RootCA(record["cert"].encode(), record["key"].encode() or None)


def rotation_of(store: Store) -> Rotation | None:
    kv = store.get(ROTATION_KEY)
    return Rotation.decode(kv.value) if kv is not None else None


def tls_info(root: RootCA, trust_root: bytes) -> TLSInfo:
    return TLSInfo(trust_root.decode(), root.issuer_subject_der(), root.issuer_public_key_der())


def begin(store: Store, cluster: Cluster, given: tuple[bytes, bytes] | None = None) -> list[Put]:
    """Start a rotation to a new root (made here, or `given` as certificate and key PEM): updates
    `cluster` (to be written by the caller in the same transaction) and returns the rotation's put."""
    from dockyard.cluster.ca import RootCA

    old = root_of(store)
    try:
        new = RootCA.from_pem(*given) if given else RootCA.generate()
    except ValueError as exc:
        raise InvalidArgument(f"the root CA given to rotate to is refused: {exc}") from None
    rotation = Rotation(new.cert_pem, new.key_pem or b"", old.cross_sign(new))
    cluster.root_rotation_in_progress = True
    cluster.tls_info = tls_info(new, old.cert_pem)
    return [Put(ROTATION_KEY, rotation.encode())]


def signer_of(store: Store) -> tuple[RootCA, Rotation | None]:
    """Who signs node certificates now: the new root during a rotation, else the root."""
    from dockyard.cluster.ca import RootCA

    rotation = rotation_of(store)
    return (RootCA(rotation.cert_pem, rotation.key_pem) if rotation else root_of(store)), rotation


def _cluster(store: Store) -> Cluster:
    kv = store.get(CLUSTER_KEY)
    if kv is None:
        raise LookupError("the swarm has no cluster object in its store")
    return codec.decode(Cluster, kv.value, kv.mod_revision)


def _expiry(cluster: Cluster) -> datetime.timedelta:
    return datetime.timedelta(microseconds=cluster.spec.ca_config.node_cert_expiry // 1000)


def report_tls_info(store: Store, key: str, info: TLSInfo) -> None:
    """A node's TLS info in its record: what its certificate is issued by (the reconciler reads it)."""
    for _ in range(10):
        kv = store.get(key)
        if kv is None:
            return
        node = codec.decode(Node, kv.value, kv.mod_revision)
        if node.description.tls_info == info:
            return
        node.description.tls_info = info
        if store.txn([Compare(key, kv.mod_revision)], [Put(key, codec.encode(node))]):
            return


def tls_info_of(chain_pem: bytes, root_pem: bytes) -> TLSInfo:
    """The TLS info of a node holding `chain_pem` (its certificate, and the cross-signed
    intermediate during a rotation) and trusting `root_pem`: the issuer is the intermediate that
    signed the leaf, else the root."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    chain = x509.load_pem_x509_certificates(chain_pem)
    root = x509.load_pem_x509_certificate(root_pem)
    issuer = next((c for c in chain[1:] if c.subject == chain[0].issuer), root)
    return TLSInfo(root_pem.decode(), issuer.subject.public_bytes(),
                   issuer.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def register(swarm: SwarmService) -> None:
    """The calls a manager answers for workers' renewers."""

    def info_call(caller: Caller, body: dict) -> dict:
        store = swarm.store()
        cluster = _cluster(store)
        chain, root = str(body.get("Certificate") or "").encode(), str(body.get("TrustRoot") or "").encode()
        if chain and root:  # what the worker holds now, for `swarm ca --rotate` to see
            try:
                report_tls_info(store, NODES_PREFIX + caller.node_id, tls_info_of(chain, root))
            except ValueError as exc:
                raise InvalidParameter(f"node {caller.node_id} reported unreadable certificates: {exc}") from None
        return {"TrustRoot": cluster.tls_info.trust_root,
                "IssuerPublicKey": _b64(cluster.tls_info.cert_issuer_public_key)}

    def renew_call(caller: Caller, body: dict) -> dict:
        store = swarm.store()
        node_kv = store.get(NODES_PREFIX + caller.node_id)
        if node_kv is None:
            raise NotFound(f"node {caller.node_id} not found")
        node = codec.decode(Node, node_kv.value, node_kv.mod_revision)
        signer, rotation = signer_of(store)  # before the cluster, as in NodeRenewer.check
        cluster = _cluster(store)
        role = observed_role(node)
        # A manager's certificate also names loopback (its store member's client URL), as at its join.
        addresses = [node.status.addr, "127.0.0.1"] if role.value == "manager" else [node.status.addr]
        try:
            issued = signer.sign_request(str(body.get("CSR") or "").encode(), caller.node_id, role.value,
                                         cluster.id, _expiry(cluster), addresses)
        except ValueError as exc:
            raise InvalidParameter(f"invalid certificate request from node {caller.node_id}: {exc}") from None
        trust_root = cluster.tls_info.trust_root.encode()
        report_tls_info(store, node_kv.key, tls_info(signer, trust_root))
        return {"Certificate": (issued + (rotation.cross_signed_pem if rotation else b"")).decode(),
                "TrustRoot": trust_root.decode()}

    swarm.handlers.add_call(INFO_CALL, info_call)
    swarm.handlers.add_call(RENEW_CALL, renew_call)


def renew_at(cert_pem: bytes) -> datetime.datetime:
    """When a certificate is due for renewal: between 50% and 80% of its validity, at a point fixed
    by its serial number."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    spread = int.from_bytes(hashlib.sha256(str(cert.serial_number).encode()).digest()[:4], "big") / 2**32
    return start + (end - start) * (RENEW_FROM + (RENEW_TO - RENEW_FROM) * spread)


def _signed_by(cert_pem: bytes, root: RootCA) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    try:
        leaf.verify_directly_issued_by(root.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _issuer_key(cert_pem: bytes) -> bytes:
    """DER of the SubjectPublicKeyInfo of the key that signed the leaf (its issuer's)."""
    from cryptography import x509

    leaf = x509.load_pem_x509_certificates(cert_pem)[0]
    for issuer in x509.load_pem_x509_certificates(cert_pem)[1:]:
        if issuer.subject == leaf.issuer:
            from cryptography.hazmat.primitives import serialization

            return issuer.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    return b""


class CertRenewer:
    """This node's certificate, root file and TLS info kept as the cluster wants them."""

    def __init__(self, store: Callable[[], Store], certificates: Path, node_id: str, autolock: Autolock,
                 clock: Callable[[], datetime.datetime] = _now, on_new_root: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._on_new_root = on_new_root  # the TLS servers and clients that read the root file once
        self._dir = certificates
        self._node_id = node_id
        self._autolock = autolock
        self._clock = clock


    def check(self) -> bool:
        """One round; True when a new certificate was written."""
        from dockyard.cluster.ca import certificate_addresses

        store = self._store()
        # The signer before the cluster: a rotation and its cluster spec (e.g. `--cert-expiry`) are
        # one write, so the cluster read after a new signer is at least as new (read the other way
        # round, a new signer could issue with the old expiry and never be asked again).
        signer, rotation = signer_of(store)
        kv = store.get(CLUSTER_KEY)
        node_kv = store.get(NODES_PREFIX + self._node_id)
        if kv is None or node_kv is None:
            return False
        cluster = codec.decode(Cluster, kv.value, kv.mod_revision)
        node = codec.decode(Node, node_kv.value, node_kv.mod_revision)
        cert_file, root_file = self._dir / "swarm-node.crt", self._dir / "swarm-root-ca.crt"
        current = cert_file.read_bytes()
        renewed = not _signed_by(current, signer) or self._clock() >= renew_at(current)
        if renewed:
            issued = signer.issue(self._node_id, observed_role(node).value, cluster.id, _expiry(cluster),
                                  certificate_addresses(current))
            chain = issued.cert_pem + (rotation.cross_signed_pem if rotation else b"")
            self._autolock.install(chain, issued.key_pem)
            log.info("node certificate renewed (issuer %s)", "the new root" if rotation else "the root")
        trust_root = cluster.tls_info.trust_root.encode()
        if root_file.read_bytes() != trust_root:
            write_private(root_file, trust_root)
            # The new root is reported once the TLS servers have it (after their restart): what
            # `swarm ca --rotate` waits for is then true.
            self._on_new_root()
            return renewed
        report_tls_info(store, node_kv.key, tls_info(signer, trust_root))
        return renewed


class WorkerRenewer:
    """A worker's certificate and root file kept as the cluster wants them, through a manager (a
    worker has no store): renewed when its issuer is not the one the cluster names (a rotation) or
    at its renewal time; the root file follows the trust root."""

    def __init__(self, channel: Callable[[], ManagerChannel], certificates: Path, autolock: Autolock,
                 clock: Callable[[], datetime.datetime] = _now, on_new_root: Callable[[], None] = lambda: None) -> None:
        self._channel = channel
        self._dir = certificates
        self._autolock = autolock
        self._clock = clock
        self._on_new_root = on_new_root

    def check(self) -> bool:
        """One round; True when a new certificate was installed."""
        from dockyard.cluster.ca import certificate_identity, new_key_and_request

        cert_file, root_file = self._dir / "swarm-node.crt", self._dir / "swarm-root-ca.crt"
        current = cert_file.read_bytes()
        info = self._report(current, root_file.read_bytes())
        wanted = base64.b64decode(str(info.get("IssuerPublicKey") or ""))
        issuer = _issuer_key(current) or self._root_key(root_file.read_bytes())
        role = certificate_identity(current)[1]  # a demoted manager's still says manager
        renewed = issuer != wanted or role != "worker" or self._clock() >= renew_at(current)
        if renewed:
            key_pem, csr = new_key_and_request()
            answer = self._channel().call(RENEW_CALL, {"CSR": csr.decode()}, timeout=30)
            self._autolock.install(str(answer["Certificate"]).encode(), key_pem)
            log.info("node certificate renewed through a manager")
        trust_root = str(info.get("TrustRoot") or "").encode()
        if trust_root and root_file.read_bytes() != trust_root:
            write_private(root_file, trust_root)
            self._on_new_root()
            self._report(cert_file.read_bytes(), trust_root)
        return renewed

    def _report(self, chain: bytes, root: bytes) -> dict:
        """What the cluster wants, asked with what this node holds (the manager records it)."""
        return self._channel().call(INFO_CALL, {"Certificate": chain.decode(), "TrustRoot": root.decode()})

    @staticmethod
    def _root_key(root_pem: bytes) -> bytes:
        from dockyard.cluster.ca import RootCA

        return RootCA(root_pem, None).issuer_public_key_der()


class Reconciler:
    """The leader ends a rotation once the nodes that are up hold certificates of the new root."""

    def __init__(self, store: Callable[[], Store], clock: Callable[[], datetime.datetime] = _now) -> None:
        self._store = store
        self._clock = clock

    def check(self) -> bool:
        """True when it ended a rotation."""
        from dockyard.cluster.ca import RootCA
        from dockyard.cluster.tokens import generate_join_token

        store = self._store()
        rotation_kv = store.get(ROTATION_KEY)
        cluster_kv = store.get(CLUSTER_KEY)
        if rotation_kv is None or cluster_kv is None:
            return False
        rotation = Rotation.decode(rotation_kv.value)
        new = RootCA(rotation.cert_pem, rotation.key_pem)
        wanted = new.issuer_public_key_der()
        nodes = [codec.decode(Node, kv.value) for kv in store.range(NODES_PREFIX)]
        if any(n.status.state != NodeState.DOWN and (n.description.tls_info is None
                                                    or n.description.tls_info.cert_issuer_public_key != wanted)
               for n in nodes):
            return False
        cluster = codec.decode(Cluster, cluster_kv.value, cluster_kv.mod_revision)
        cluster.tls_info = tls_info(new, new.cert_pem)
        cluster.root_rotation_in_progress = False
        cluster.join_tokens.worker = generate_join_token(new.cert_pem)
        cluster.join_tokens.manager = generate_join_token(new.cert_pem)
        cluster.updated_at = self._clock()
        record = json.dumps({"cert": new.cert_pem.decode(), "key": (new.key_pem or b"").decode()}).encode()
        unchanged = [Compare(CLUSTER_KEY, cluster_kv.mod_revision), Compare(ROTATION_KEY, rotation_kv.mod_revision)]
        done = store.txn(unchanged, [Put(CLUSTER_KEY, codec.encode(cluster)), Put(CA_KEY, record),
                                     Delete(ROTATION_KEY)])
        if done:
            log.info("root CA rotation finished")
        return done


class CAService:
    """Runs the renewer (and, on the leader, the reconciler) while the node is in a swarm: at every
    change in the swarm's store, and at least every `interval` seconds for renewal times."""

    def __init__(self, interval: float = 60.0) -> None:
        self._interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._watch: Watch | None = None

    def swarm_started(self, swarm: SwarmService) -> None:
        if swarm.local_role() == "worker":
            self._start_worker(swarm)
            return

        def reload() -> None:
            self._stopped.set()  # this thread ends now: the reload stops and restarts the service
            swarm.reload_tls()

        renewer = CertRenewer(swarm.store, swarm.certificates_dir(), swarm.local_node_id(), swarm.autolock,
                              on_new_root=reload)
        reconciler = Reconciler(swarm.store)
        self._stopped.clear()
        watch = swarm.store().watch("/swarm/")
        self._watch = watch

        def loop() -> None:
            while not self._stopped.is_set():
                try:
                    renewer.check()
                    if self._stopped.is_set():
                        break
                    reconciler.check()  # one manager is its own leader
                except Exception:  # noqa: BLE001 - a store hiccup: next round
                    log.warning("certificate renewal round failed", exc_info=True)
                event = watch.next(self._interval)
                while event is not None and not self._stopped.is_set():
                    event = watch.next(0.2)  # a burst of changes is one round

        self._thread = threading.Thread(target=loop, name="swarm-ca", daemon=True)
        self._thread.start()

    def _start_worker(self, swarm: SwarmService) -> None:
        """A worker: its renewer asks a manager every few seconds (no store to watch). Its TLS
        clients read the root file at each connection: a new root needs no restart."""
        renewer = WorkerRenewer(swarm.channel, swarm.certificates_dir(), swarm.autolock)
        self._stopped.clear()

        def loop() -> None:
            while not self._stopped.wait(WORKER_INTERVAL):
                try:
                    renewer.check()
                except Exception as exc:  # noqa: BLE001 - no manager answers now: the next round may
                    log.info("certificate renewal through a manager: %s", exc)

        self._thread = threading.Thread(target=loop, name="swarm-ca", daemon=True)
        self._thread.start()

    def swarm_stopping(self) -> None:
        self._stopped.set()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
