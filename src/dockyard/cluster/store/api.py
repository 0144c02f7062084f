"""The store seam: what the cluster's managers need from a replicated key-value store.

It is etcd's v3 model cut down to what swarm uses: keys are strings, values bytes, every write
raises one global revision, a transaction compares keys' mod revisions before applying its writes
(optimistic concurrency, as swarmkit's object Version), watches stream changes under a prefix from
a revision, and leases expire keys whose owner stopped refreshing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from dockyard.errors import NotFound, Unavailable


class StoreUnavailable(Unavailable):
    """The store cannot be reached or has no quorum: the control plane refuses the request."""


LOST_QUORUM = ("The swarm does not have a leader. It's possible that too few managers are online. Make sure more "
               "than half of the managers are online.")


class NoLeader(StoreUnavailable):
    """The store has no leader (a quorum of managers is down): swarmkit's lost-quorum answer, as
    dockerd passes it on (a gRPC error of code Unknown: HTTP 500, the gRPC text kept)."""

    status = 500

    def __init__(self) -> None:
        super().__init__(f"rpc error: code = Unknown desc = {LOST_QUORUM}")


class LeaseNotFound(NotFound):
    """A put named a lease that expired or was never granted; nothing was written."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int = 0


@dataclass(frozen=True)
class Event:
    """One change under a watched prefix; a delete carries an empty value."""

    kind: Literal["put", "delete"]
    key: str
    value: bytes
    mod_revision: int


@dataclass(frozen=True)
class Compare:
    """Holds when `key`'s mod revision equals `mod_revision`; 0 means the key must not exist."""

    key: str
    mod_revision: int


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True)
class Delete:
    key: str


class Watch(Protocol):
    def next(self, timeout: float) -> Event | None:
        """The next event, or None when none came within `timeout` seconds or the watch was cancelled."""
        ...

    def cancel(self) -> None: ...


class Store(Protocol):
    def get(self, key: str) -> KeyValue | None: ...

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        """Write `key`; returns the store's revision after the write."""
        ...

    def delete(self, key: str) -> bool:
        """Remove `key`; False when it was not there."""
        ...

    def range(self, prefix: str) -> list[KeyValue]:
        """Every key starting with `prefix`, sorted by key."""
        ...

    def txn(self, compares: Sequence[Compare], operations: Sequence[Put | Delete]) -> bool:
        """Apply `operations` atomically if every compare holds; False (and nothing written) otherwise."""
        ...

    def revision(self) -> int:
        """The store's current revision (the last write's)."""
        ...

    def watch(self, prefix: str, start_revision: int = 0) -> Watch:
        """Changes under `prefix` after now, or from `start_revision` (inclusive) when it is given."""
        ...

    def grant_lease(self, ttl: int) -> int:
        """A new lease of `ttl` seconds; keys put with it are deleted when it expires or is revoked."""
        ...

    def refresh_lease(self, lease: int) -> int:
        """Restart the lease's countdown; returns its TTL, or 0 when it has already expired."""
        ...

    def revoke_lease(self, lease: int) -> None: ...

    def close(self) -> None: ...
