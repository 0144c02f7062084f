"""Autolock: a manager's keys at rest under the unlock key, and the lock a restart puts on them.

The unlock key is swarmkit's (manager/encryption: `HumanReadableKey`): "SWMKEY-1-" and 32 random
bytes in unpadded standard base64; those bytes are the key-encryption key (KEK). With autolock on:

- the node's TLS key (`certificates/swarm-node.key`) is PKCS#8 encrypted with the KEK as its
  password (PBKDF2-SHA256 derives the AES-256 key; swarmkit uses PEM encryption with the KEK);
- the swarm's data key in the store (cluster/datakey.py, which seals secrets and configs) is
  wrapped with the KEK.

The KEK lives only in this process's memory: after a restart the encrypted node key tells that the
manager is locked, and it stays locked (its store member stopped, Docker's "Swarm is encrypted and
needs to be unlocked" on every swarm request) until `POST /swarm/unlock` gives a key that opens the
node key. Every rewrite of the key file is a temporary file renamed over it: a crash leaves the old
key or the new one, never half of one.

The programs that speak TLS with the node key (the etcd member, which reads its key file at every
handshake, the swarm port, the manager channel) are given a plain copy with its certificate in the
runtime directory (the daemon's exec root, a tmpfs: memory, not disk), swapped as one pair when
the certificate is renewed and removed when the node leaves: `tls_pair()`.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import shutil
from pathlib import Path

from dockyard.errors import Conflict, DockyardError, InvalidParameter

PREFIX = "SWMKEY-1-"
KEY_BYTES = 32
LOCKED = ('Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" '
          "to unlock it.")  # moby's errSwarmLocked
LOCKED_LEAVE = "Swarm is encrypted and locked. Please unlock it first or use `--force` to ignore this message."
_ENCRYPTED_MARK = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


class InvalidUnlockKey(DockyardError):
    """moby's invalidUnlockKey: the key is well formed but does not open this manager's keys."""

    status = 401

    def __init__(self) -> None:
        super().__init__("swarm could not be unlocked: invalid key provided")


class NotLocked(Conflict):
    def __init__(self) -> None:
        super().__init__("swarm is not locked")


def new_unlock_key() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode().rstrip("=")


def parse_unlock_key(text: str) -> bytes:
    """The KEK in an unlock key; moby's "invalid key string" (400) for anything else."""
    if not text.startswith(PREFIX):
        raise InvalidParameter("invalid key string")
    body = text[len(PREFIX):]
    try:
        # Go's RawStdEncoding: no padding, and nothing outside the alphabet
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter("invalid key string") from None
    if not raw or base64.b64encode(raw).decode().rstrip("=") != body:
        raise InvalidParameter("invalid key string")
    return raw


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def write_private(path: Path, data: bytes) -> None:
    """`data` in `path` (mode 0600) by a renamed temporary file: the old content or the new, never half."""
    tmp = path.with_name(path.name + ".tmp")
    _write_synced(tmp, data)
    os.replace(tmp, path)


def _encoded(plain_pem: bytes, kek: bytes | None) -> bytes:
    if kek is None:
        return plain_pem
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(plain_pem, password=None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(kek))


class Autolock:
    """This manager's unlock key, its node key on disk encrypted (or not) with it, and the plain
    pair (certificate and key) the TLS users read."""

    def __init__(self, certificates: Path, runtime: Path) -> None:
        self._key_file = certificates / "swarm-node.key"
        self._cert_file = certificates / "swarm-node.crt"
        # <runtime>/tls is a link to a directory holding one certificate and its key: a new pair is
        # a new directory and the link is swapped, so a reader never sees a new key with an old
        # certificate (etcd reads both at every handshake).
        self._runtime = runtime
        self._pair = runtime / "tls"
        self._key: str | None = None  # the unlock key while this manager knows it

    def _encrypted(self) -> bool:
        try:
            return self._key_file.read_bytes().startswith(_ENCRYPTED_MARK)
        except FileNotFoundError:
            return False

    def locked(self) -> bool:
        """The node key is encrypted and nobody gave the key since this process started."""
        return self._key is None and self._encrypted()

    def unlock_key(self) -> str:
        """The current unlock key; "" when autolock is off (Docker's answer then)."""
        return self._key or ""

    def kek(self) -> bytes | None:
        """The key-encryption key for the data key (cluster/datakey.py), or None without autolock."""
        return parse_unlock_key(self._key) if self._key else None

    def unlock(self, text: str) -> None:
        if not self.locked():
            raise NotLocked()
        kek = parse_unlock_key(text)
        self._open(kek)  # wrong key: InvalidUnlockKey, and still locked
        self._key = text

    def _open(self, kek: bytes | None) -> bytes:
        """The node key as plain PKCS#8 PEM."""
        from cryptography.hazmat.primitives import serialization

        data = self._key_file.read_bytes()
        try:
            key = serialization.load_pem_private_key(data, password=kek if data.startswith(_ENCRYPTED_MARK) else None)
        except (ValueError, TypeError):
            raise InvalidUnlockKey() from None
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def relock(self, new_key: str | None) -> None:
        """Re-encrypt the node key under `new_key` (None: store it plain, autolock turned off)."""
        plain = self._open(self.kek())
        write_private(self._key_file, _encoded(plain, parse_unlock_key(new_key) if new_key else None))
        self._key = new_key

    def install(self, cert_pem: bytes, key_pem: bytes) -> None:
        """A renewed certificate and its key: the TLS pair swapped at once, then the files on disk
        (the key stored as the current one is: encrypted while autolock is on)."""
        self._swap_pair(cert_pem, key_pem)
        encoded = _encoded(key_pem, self.kek())
        # Both written in full before either is renamed: a crash leaves at most the two renames apart.
        key_tmp = self._key_file.with_name("swarm-node.key.new")
        cert_tmp = self._cert_file.with_name("swarm-node.crt.new")
        _write_synced(key_tmp, encoded)
        _write_synced(cert_tmp, cert_pem)
        os.replace(key_tmp, self._key_file)
        os.replace(cert_tmp, self._cert_file)

    def _swap_pair(self, cert_pem: bytes, key_pem: bytes) -> None:
        import tempfile

        self._runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        new = Path(tempfile.mkdtemp(prefix="tls-", dir=self._runtime))
        write_private(new / "swarm-node.crt", cert_pem)
        write_private(new / "swarm-node.key", key_pem)
        old = self._pair.resolve() if self._pair.is_symlink() else None
        link = self._runtime / "tls.new"
        link.unlink(missing_ok=True)
        link.symlink_to(new.name)
        os.replace(link, self._pair)
        if old is not None and old != new:
            shutil.rmtree(old, ignore_errors=True)

    def tls_pair(self) -> tuple[Path, Path]:
        """The node certificate and a plain copy of its key for TLS (Docker's "locked" refusal
        while the key is encrypted and no unlock key was given)."""
        if self.locked():
            from dockyard.errors import Unavailable

            raise Unavailable(LOCKED)
        if not (self._pair / "swarm-node.key").exists():  # every new pair is swapped in by install()
            self._swap_pair(self._cert_file.read_bytes(), self._open(self.kek()))
        return self._pair / "swarm-node.crt", self._pair / "swarm-node.key"

    def forget(self) -> None:
        """The node left its swarm (or has new files): no key to remember, no copy to keep."""
        self._key = None
        if self._pair.is_symlink():
            shutil.rmtree(self._pair.resolve(), ignore_errors=True)
            self._pair.unlink(missing_ok=True)
