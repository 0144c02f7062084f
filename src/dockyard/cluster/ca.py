"""The swarm's root CA and the node certificates it issues, as swarmkit shapes them (ca/certificates.go):

- the root: ECDSA P-256, subject CN "swarm-ca", valid 20 years (RootCAExpiration), a CA that signs;
- a node's certificate: CN the node ID, OU its role ("swarm-manager" / "swarm-worker"), O the
  cluster ID, DNS names the role and the node ID, valid the cluster's NodeCertExpiry (90 days),
  usable for TLS server and client both, as every manager/worker link is mutual TLS.

Imported only on the swarm path: cryptography comes with the "cluster" extra.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_CN = "swarm-ca"
ROOT_VALIDITY = datetime.timedelta(days=365 * 20)
# Certificates start a little in the past, as swarmkit's (cfssl's backdate), so that a peer whose
# clock is slightly behind does not refuse a fresh certificate.
BACKDATE = datetime.timedelta(hours=1)
ROLE_OU = {"manager": "swarm-manager", "worker": "swarm-worker"}


@dataclass(frozen=True)
class IssuedCertificate:
    cert_pem: bytes
    key_pem: bytes


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class RootCA:
    def __init__(self, cert_pem: bytes, key_pem: bytes | None) -> None:
        """A root CA; without its key it can only verify (a worker's copy), not sign."""
        self.cert_pem = cert_pem
        self.key_pem = key_pem
        self.cert = x509.load_pem_x509_certificate(cert_pem)

    @classmethod
    def generate(cls) -> RootCA:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ROOT_CN)])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + ROOT_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def issuer_subject_der(self) -> bytes:
        """The TLSInfo.CertIssuerSubject Docker shows: the root's subject, DER."""
        return self.cert.subject.public_bytes()

    def issuer_public_key_der(self) -> bytes:
        """The TLSInfo.CertIssuerPublicKey Docker shows: the root's SubjectPublicKeyInfo, DER."""
        return self.cert.public_key().public_bytes(serialization.Encoding.DER,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> RootCA:
        """A root given by the user (`swarm ca --rotate --ca-cert --ca-key`), checked as swarmkit does:
        a CA certificate, valid now, whose key is the one given."""
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except ValueError as exc:
            raise ValueError(f"invalid root CA certificate or key: {exc}") from None
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise ValueError("the root CA certificate is not a CA certificate (basic constraints CA:TRUE)")
        now = _now()
        if not cert.not_valid_before_utc <= now < cert.not_valid_after_utc:
            raise ValueError("the root CA certificate is expired or not yet valid")
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the root CA key must be an ECDSA key (node certificates are signed with ECDSA)")
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(serialization.Encoding.DER, public) != \
                cert.public_key().public_bytes(serialization.Encoding.DER, public):
            raise ValueError("certificate key mismatch")
        return cls(cert_pem, _key_pem(key))

    def cross_sign(self, new_root: RootCA) -> bytes:
        """The new root's subject and key, signed by this (old) root: the intermediate a node sends
        with a certificate of the new root while peers still trust only the old one (swarmkit's
        RootRotation.CrossSignedCACert)."""
        if self.key_pem is None:
            raise ValueError("this root CA has no signing key")
        signer = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(signer, ec.EllipticCurvePrivateKey)
        new = new_root.cert
        cert = (
            x509.CertificateBuilder()
            .subject_name(new.subject).issuer_name(self.cert.subject).public_key(new.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(new.not_valid_before_utc).not_valid_after(new.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(new.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
            .sign(signer, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, node_id: str, role: str, cluster_id: str, expiry: datetime.timedelta,
              addresses: Sequence[str] = ()) -> IssuedCertificate:
        """A new key and a certificate for a node (the manager's own, on init)."""
        key = ec.generate_private_key(ec.SECP256R1())
        return IssuedCertificate(self.sign(key.public_key(), node_id, role, cluster_id, expiry, addresses),
                                 _key_pem(key))

    def sign_request(self, csr_pem: bytes, node_id: str, role: str, cluster_id: str, expiry: datetime.timedelta,
                     addresses: Sequence[str] = ()) -> bytes:
        """A certificate for the key of a joining node's CSR: its key never leaves the node. The
        subject is the manager's choice (swarmkit ignores the CSR's), the signature must hold."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError:
            raise ValueError("the certificate signing request is not a PEM CSR") from None
        if not csr.is_signature_valid:
            raise ValueError("the certificate signing request's signature does not verify")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise ValueError("the certificate signing request must carry an ECDSA key")
        return self.sign(public_key, node_id, role, cluster_id, expiry, addresses)

    def sign(self, public_key: ec.EllipticCurvePublicKey, node_id: str, role: str, cluster_id: str,
             expiry: datetime.timedelta, addresses: Sequence[str] = ()) -> bytes:
        """The node certificate for `public_key`.

        `addresses` become IP SANs: swarmkit checks names of its own, but etcd's peers and clients
        (Go's TLS, Python's ssl) check the server's certificate against the IP they dialled."""
        if self.key_pem is None:
            raise ValueError("this root CA has no signing key")
        signer = serialization.load_pem_private_key(self.key_pem, password=None)
        assert isinstance(signer, ec.EllipticCurvePrivateKey)
        ou = ROLE_OU[role]
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, cluster_id),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
                x509.NameAttribute(NameOID.COMMON_NAME, node_id),
            ]))
            .issuer_name(self.cert.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + expiry)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(ou), x509.DNSName(node_id),
                                                        *(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses)]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
            .sign(signer, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)


def new_key_and_request() -> tuple[bytes, bytes]:
    """A joining node's key (PEM, kept on the node) and a CSR for it (sent to the manager)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "swarm-join")]))
           .sign(key, hashes.SHA256()))
    return _key_pem(key), csr.public_bytes(serialization.Encoding.PEM)


def certificate_addresses(cert_pem: bytes) -> list[str]:
    """The IP SANs of a node certificate (a renewal keeps them)."""
    cert = x509.load_pem_x509_certificates(cert_pem)[0]
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def certificate_identity(cert_pem: bytes) -> tuple[str, str]:
    """(node ID, role) of a node certificate: its CN and OU."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    ou = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    role = {v: k for k, v in ROLE_OU.items()}.get(str(ou[0].value) if ou else "", "")
    return (str(cn[0].value) if cn else ""), role
