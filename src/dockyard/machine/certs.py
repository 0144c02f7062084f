"""TLS for machines: one CA and one client pair per store (docker-machine's ``certs/``), and a
server pair per machine whose subject alternative names hold the machine's IP address.

ECDSA P-256 rather than docker-machine's RSA-2048: generating a key takes a fraction of a
millisecond instead of tens, and Go's and Python's TLS stacks accept both.
"""

from __future__ import annotations

import datetime
import getpass
import ipaddress
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.util.atomic import write_bytes

VALIDITY = datetime.timedelta(days=3 * 365)


@dataclass(frozen=True)
class Pair:
    cert: str
    key: str

    def exists(self) -> bool:
        return os.path.exists(self.cert) and os.path.exists(self.key)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _write(pair: Pair, cert, key) -> None:
    from cryptography.hazmat.primitives import serialization

    write_bytes(pair.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    write_bytes(pair.cert, cert.public_bytes(serialization.Encoding.PEM))
    os.chmod(pair.cert, 0o644)


def _builder(subject, issuer, public_key, now: datetime.datetime):
    from cryptography import x509

    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _load(pair: Pair):
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    with open(pair.cert, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(pair.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    return cert, key


def make_ca(pair: Pair) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, _user())])
    now = datetime.datetime.now(datetime.UTC)
    cert = (_builder(name, name, key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=True, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write(pair, cert, key)


def make_leaf(ca: Pair, pair: Pair, org: str, *, server: bool, ips: Sequence[str] = (),
              names: Sequence[str] = ()) -> None:
    """A certificate signed by ``ca``: for a server (its SANs are ``ips`` and ``names``) or a client."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert, ca_key = _load(ca)
    key = _new_key()
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)])
    usage = [ExtendedKeyUsageOID.SERVER_AUTH] if server else [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (_builder(subject, ca_cert.subject, key.public_key(), now)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if server:
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips] + [x509.DNSName(n) for n in names]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    _write(pair, builder.sign(ca_key, hashes.SHA256()), key)


def bootstrap(certs_dir: str, log, *, regenerate: bool = False) -> tuple[Pair, Pair]:
    """The store's CA and client pair, made when missing (or when ``regenerate``)."""
    os.makedirs(certs_dir, mode=0o700, exist_ok=True)
    ca = Pair(os.path.join(certs_dir, "ca.pem"), os.path.join(certs_dir, "ca-key.pem"))
    client = Pair(os.path.join(certs_dir, "cert.pem"), os.path.join(certs_dir, "key.pem"))
    if regenerate or not ca.exists():
        log(f"Creating CA: {ca.cert}")
        make_ca(ca)
        regenerate = True
    if regenerate or not client.exists():
        log(f"Creating client certificate: {client.cert}")
        make_leaf(ca, client, _user(), server=False)
    return ca, client


def machine_certs(ca: Pair, client: Pair, machine_dir: str, name: str, ip: str, extra_sans: list[str]) -> Pair:
    """The machine's server pair (IP and name as SANs) and its copies of ca.pem, cert.pem, key.pem,
    which make the machine's directory a DOCKER_CERT_PATH."""
    server = Pair(os.path.join(machine_dir, "server.pem"), os.path.join(machine_dir, "server-key.pem"))
    ips = [ip] + [s for s in extra_sans if _is_ip(s)]
    names = [name] + [s for s in extra_sans if not _is_ip(s)]
    make_leaf(ca, server, f"{_user()}.{name}", server=True, ips=ips, names=names)
    for source, target in ((ca.cert, "ca.pem"), (client.cert, "cert.pem"), (client.key, "key.pem")):
        shutil.copyfile(source, os.path.join(machine_dir, target + ".tmp"))
        os.chmod(os.path.join(machine_dir, target + ".tmp"), 0o600 if target == "key.pem" else 0o644)
        os.rename(os.path.join(machine_dir, target + ".tmp"), os.path.join(machine_dir, target))
    return server


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
