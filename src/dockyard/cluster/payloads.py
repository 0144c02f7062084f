"""The swarm's secrets or configs (one Kind each): create, find, list, update labels, remove, and the
plain data for the agent that gives them to a task. swarmkit's controlapi secret.go / config.go
rules and texts, on the cluster store.

Store layout, per kind: `/swarm/secrets/<id>` holds the object (codec JSON, its data sealed with
the swarm's data key and the object's ID as associated data), `/swarm/secrets-names/<name>` holds
the ID, `/swarm/secrets-users/<id>` is touched by each service write that refers to the object (the
same for configs). They are written and removed in one transaction whose compares make a name
unique, as swarmkit's store does with its name index, and make "in use" and the removal one step:
a service that starts using the object between the removal's check and its delete touched the
users key, so the delete does not happen; one written after the delete finds the object gone.
"""

from __future__ import annotations

import datetime
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.cluster import codec
from dockyard.cluster.datakey import DataKey, KeyEncryptionKey, seal, unseal
from dockyard.cluster.references import services_using
from dockyard.cluster.rpc import AlreadyExists, InvalidArgument, SequenceConflict
from dockyard.cluster.secrets import Kind, validate_spec
from dockyard.cluster.store.api import Compare, Delete, Put, Store
from dockyard.errors import InvalidParameter, NotFound, Unavailable

Payload = Any  # a Secret or a Config (kind.object_type)
ServicesUsing = Callable[[Store, Kind, str], list[str]]


@dataclass
class PayloadFilters:
    """swarmkit's ListSecretsRequest.Filters: names, name prefixes and ID prefixes select (any of
    them), labels then narrow (all of them; "key" or "key=value")."""

    names: list[str] = field(default_factory=list)
    name_prefixes: list[str] = field(default_factory=list)
    id_prefixes: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def selects(self, obj: Payload) -> bool:
        name = obj.spec.name
        chosen = (not (self.names or self.name_prefixes or self.id_prefixes) or name in self.names
                  or any(name.startswith(p) for p in self.name_prefixes)
                  or any(obj.id.startswith(p) for p in self.id_prefixes))
        return chosen and all(_has_label(obj.spec.labels, want) for want in self.labels)


def _has_label(labels: dict[str, str], want: str) -> bool:
    key, has_value, value = want.partition("=")
    return key in labels and (not has_value or labels[key] == value)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Payloads:
    def __init__(self, kind: Kind, store: Callable[[], Store], kek: KeyEncryptionKey | None = None,
                 users: ServicesUsing = services_using) -> None:
        self.kind = kind
        self._store = store  # this manager's store, looked up per call: a swarm can be left and made anew
        self._kek = kek
        self._users = users

    def _key(self, store: Store) -> bytes:
        return (DataKey(store, self._kek) if self._kek else DataKey(store)).get()

    def _names_prefix(self) -> str:
        return self.kind.prefix.rstrip("/") + "-names/"

    # -- reads

    def _all(self, store: Store) -> list[Payload]:
        return [codec.decode(self.kind.object_type, kv.value, kv.mod_revision) for kv in store.range(self.kind.prefix)]

    def _visible(self, obj: Payload) -> Payload:
        """What the API may show: a secret's data never leaves the managers that way."""
        if self.kind.returns_data:
            return self._opened(obj)
        return replace(obj, spec=replace(obj.spec, data=b""))

    def _opened(self, obj: Payload, key: bytes | None = None) -> Payload:
        key = key or self._key(self._store())
        return replace(obj, spec=replace(obj.spec, data=unseal(key, obj.spec.data, obj.id.encode())))

    def list(self, filters: PayloadFilters | None = None) -> list[Payload]:
        found = [o for o in self._all(self._store()) if filters is None or filters.selects(o)]
        return [self._visible(o) for o in found]

    def _find(self, store: Store, ref: str) -> Payload:
        """By full ID, then full name, then unique ID prefix: moby's getSecret / getConfig."""
        word = self.kind.word
        if not ref:
            raise InvalidArgument(f"{word} ID must be provided")
        found = self._all(store)
        for pick in ([o for o in found if o.id == ref], [o for o in found if o.spec.name == ref],
                     [o for o in found if o.id.startswith(ref)]):
            if len(pick) == 1:
                return pick[0]
            if len(pick) > 1:
                raise InvalidParameter(f"{word} {ref} is ambiguous ({len(pick)} matches found)")
        raise NotFound(f"{word} {ref} not found")

    def get(self, ref: str) -> Payload:
        return self._visible(self._find(self._store(), ref))

    def opened(self, object_id: str) -> Payload:
        """The object with its plain data, by exact ID: for the agent giving it to a task only."""
        store = self._store()
        kv = store.get(self.kind.prefix + object_id)
        if kv is None:
            raise NotFound(f"{self.kind.word} {object_id} not found")
        return self._opened(codec.decode(self.kind.object_type, kv.value, kv.mod_revision), self._key(store))

    # -- writes

    def create(self, spec: Any) -> str:
        from dockyard.cluster.swarm import new_id

        validate_spec(self.kind, spec)
        store = self._store()
        object_id, now = new_id(), _now()
        sealed = replace(spec, data=seal(self._key(store), spec.data, object_id.encode()))
        obj = self.kind.object_type(id=object_id, created_at=now, updated_at=now, spec=sealed)
        name_key = self._names_prefix() + spec.name
        if not store.txn([Compare(name_key, 0), Compare(self.kind.prefix + object_id, 0)],
                         [Put(self.kind.prefix + object_id, codec.encode(obj)), Put(name_key, object_id.encode())]):
            raise AlreadyExists(f"{self.kind.word} {spec.name} already exists")
        return object_id

    def update(self, ref: str, version: int, spec: Any) -> None:
        """Only the labels change (swarmkit's UpdateSecret); the version must be the one read."""
        store = self._store()
        current = self._find(store, ref)
        if spec.name != current.spec.name or (spec.data and not hmac.compare_digest(
                spec.data, self._opened(current, self._key(store)).spec.data)):
            raise InvalidArgument("only updates to Labels are allowed")
        updated = replace(current, updated_at=_now(), spec=replace(current.spec, labels=dict(spec.labels)))
        key = self.kind.prefix + current.id
        if version != current.version.index or not store.txn([Compare(key, version)],
                                                             [Put(key, codec.encode(updated))]):
            raise SequenceConflict

    def remove(self, ref: str) -> None:
        store = self._store()
        for _ in range(3):  # a label update or a new user between our read and our delete: read again
            current = self._find(store, ref)
            marker = self.kind.users_key(current.id)
            touched = store.get(marker)  # before the users are read: a later use moves it
            users = self._users(store, self.kind, current.id)
            if users:
                word = "service" if len(users) == 1 else "services"
                raise InvalidArgument(f"{self.kind.word} '{current.spec.name}' is in use by the following {word}: "
                                      f"{', '.join(users)}")
            key = self.kind.prefix + current.id
            if store.txn([Compare(key, current.version.index), Compare(marker, touched.mod_revision if touched else 0)],
                         [Delete(key), Delete(self._names_prefix() + current.spec.name), Delete(marker)]):
                return
        raise Unavailable(f"{self.kind.word} {ref} kept changing while it was removed; try again")


def for_swarm(swarm: Any, kind: Kind) -> Payloads:
    """A SwarmService's secrets or configs: the one place they are built for the API and the agent,
    on the swarm's store, with autolock's key-encryption key (`swarm.kek`) where the swarm has one."""
    return Payloads(kind, swarm.store, getattr(swarm, "kek", None))
