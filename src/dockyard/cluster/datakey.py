"""The swarm's data key: what seals secret and config payloads in the cluster store (AES-256-GCM).

One key per swarm, made on first use and kept in the store itself at DATA_KEY_KEY, so that every
manager (every etcd member) can open what any manager sealed. Its record is either plain or
wrapped by a key-encryption key (KEK):

- autolock off: plain, as swarmkit keeps its raft data key in plain PEM headers of the node key
  when managers are not locked. The etcd data files hold no payload in the clear either way.
- autolock on: wrapped with the KEK that autolock derives from the unlock key (SWMKEY-1-...); a
  manager that has not been unlocked cannot open any payload.

The seam for autolock is narrow: `DataKey(store, kek)` takes a callable that returns the current
KEK (32 bytes) or None while the swarm has no autolock (or is locked), and `DataKey.rewrap(old,
new)` re-wraps the record in one transaction when autolock is turned on or off or the unlock key
is rotated. See docs/design/swarm.md.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable

from dockyard.cluster.store.api import Compare, Put, Store
from dockyard.errors import DockyardError, InvalidParameter, Unavailable

DATA_KEY_KEY = "/swarm/datakey"
KEY_SIZE = 32  # AES-256
NONCE_SIZE = 12  # GCM's standard nonce
_WRAP_AAD = b"dockyard swarm data key"
LOCKED = ('Swarm is encrypted and needs to be unlocked before it can be used. Please use "docker swarm unlock" '
          "to unlock it.")  # Docker's ErrSwarmLocked


class SealBroken(DockyardError):
    """A sealed payload did not open: the key is not the one that sealed it, or the bytes changed."""


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce || AES-GCM(plaintext); `aad` binds the result to its owner (an object's ID), so a
    sealed payload copied onto another object does not open there."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)
    except (InvalidTag, ValueError):
        raise SealBroken("a sealed payload in the swarm's store does not open with the swarm's data key "
                         "(its bytes changed, or it was sealed by another swarm)") from None


KeyEncryptionKey = Callable[[], bytes | None]


def _no_autolock() -> bytes | None:
    return None


class DataKey:
    def __init__(self, store: Store, kek: KeyEncryptionKey = _no_autolock) -> None:
        self._store = store
        self._kek = kek

    def get(self) -> bytes:
        """The data key, made and stored the first time a swarm needs one."""
        for _ in range(3):  # only another manager's first use can race ours
            kv = self._store.get(DATA_KEY_KEY)
            if kv is not None:
                return self._open(kv.value)
            key = os.urandom(KEY_SIZE)
            if self._store.txn([Compare(DATA_KEY_KEY, 0)], [Put(DATA_KEY_KEY, self._record(key, self._kek()))]):
                return key
        raise Unavailable("the swarm's data key could not be stored: the store keeps changing; try again")

    def _open(self, raw: bytes) -> bytes:
        record = json.loads(raw)
        key = base64.b64decode(record["key"])
        if not record["wrapped"]:
            return key
        kek = self._kek()
        if kek is None:
            raise Unavailable(LOCKED)
        return unseal(kek, key, _WRAP_AAD)

    @staticmethod
    def _record(key: bytes, kek: bytes | None) -> bytes:
        stored = key if kek is None else seal(kek, key, _WRAP_AAD)
        return json.dumps({"wrapped": kek is not None, "key": base64.b64encode(stored).decode()}).encode()

    def rewrap(self, old_kek: bytes | None, new_kek: bytes | None) -> None:
        """Autolock turned on (None -> KEK), off (KEK -> None) or its unlock key rotated (KEK -> KEK):
        the record is re-wrapped in one transaction; a swarm without a data key yet needs nothing."""
        kv = self._store.get(DATA_KEY_KEY)
        if kv is None:
            return
        record = json.loads(kv.value)
        key = base64.b64decode(record["key"])
        if record["wrapped"]:
            if old_kek is None:
                raise InvalidParameter("the swarm's data key is wrapped: the current unlock key is needed to rewrap it")
            key = unseal(old_kek, key, _WRAP_AAD)
        rewrapped = Put(DATA_KEY_KEY, self._record(key, new_kek))
        if not self._store.txn([Compare(DATA_KEY_KEY, kv.mod_revision)], [rewrapped]):
            raise Unavailable("the swarm's data key changed while it was rewrapped; try again")
