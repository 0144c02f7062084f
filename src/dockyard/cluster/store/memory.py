"""The store in one process's memory, with etcd's semantics (revisions, txn, watch, leases).

Unit tests run the same contract against it and against a real etcd (tests/unit/cluster). Leases
expire on the clock given, checked at every call, so a test can move time without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from dockyard.cluster.store.api import Compare, Delete, Event, KeyValue, LeaseNotFound, Put


@dataclass
class _Lease:
    ttl: int
    deadline: float
    keys: set[str] = field(default_factory=set)


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._data: dict[str, KeyValue] = {}
        self._revision = 0
        self._history: list[Event] = []  # every change, in revision order, for watches from a revision
        self._leases: dict[int, _Lease] = {}
        self._next_lease = 1

    # -- reads

    def get(self, key: str) -> KeyValue | None:
        with self._cond:
            self._expire()
            return self._data.get(key)

    def range(self, prefix: str) -> list[KeyValue]:
        with self._cond:
            self._expire()
            return [kv for key, kv in sorted(self._data.items()) if key.startswith(prefix)]

    def revision(self) -> int:
        with self._cond:
            self._expire()
            return self._revision

    # -- writes

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        return self._commit([], [Put(key, value, lease)])[1]

    def delete(self, key: str) -> bool:
        with self._cond:
            self._expire()
            if key not in self._data:
                return False
            self._apply([Delete(key)])
            return True

    def txn(self, compares: Sequence[Compare], operations: Sequence[Put | Delete]) -> bool:
        return self._commit(compares, operations)[0]

    def _commit(self, compares: Sequence[Compare], operations: Sequence[Put | Delete]) -> tuple[bool, int]:
        with self._cond:
            self._expire()
            for op in operations:
                if isinstance(op, Put) and op.lease and op.lease not in self._leases:
                    raise LeaseNotFound(f"lease {op.lease:x} not found")
            for c in compares:
                current = self._data.get(c.key)
                if (current.mod_revision if current else 0) != c.mod_revision:
                    return False, self._revision
            self._apply(operations)
            return True, self._revision

    def _apply(self, operations: Sequence[Put | Delete]) -> None:
        """One revision for the whole batch, as etcd gives a txn; caller holds the lock."""
        changes = [op for op in operations if isinstance(op, Put) or op.key in self._data]
        if not changes:
            return
        self._revision += 1
        for op in changes:
            old = self._data.get(op.key)
            if old and old.lease in self._leases:
                self._leases[old.lease].keys.discard(op.key)
            if isinstance(op, Put):
                created = old.create_revision if old else self._revision
                self._data[op.key] = KeyValue(op.key, op.value, created, self._revision, op.lease)
                if op.lease:
                    self._leases[op.lease].keys.add(op.key)
                self._history.append(Event("put", op.key, op.value, self._revision))
            else:
                del self._data[op.key]
                self._history.append(Event("delete", op.key, b"", self._revision))
        self._cond.notify_all()

    # -- leases

    def grant_lease(self, ttl: int) -> int:
        with self._cond:
            self._expire()
            lease = self._next_lease
            self._next_lease += 1
            self._leases[lease] = _Lease(ttl, self._clock() + ttl)
            return lease

    def refresh_lease(self, lease: int) -> int:
        with self._cond:
            self._expire()
            held = self._leases.get(lease)
            if held is None:
                return 0
            held.deadline = self._clock() + held.ttl
            return held.ttl

    def revoke_lease(self, lease: int) -> None:
        with self._cond:
            self._expire()
            held = self._leases.pop(lease, None)
            if held:
                self._apply([Delete(k) for k in sorted(held.keys)])

    def _expire(self) -> None:
        now = self._clock()
        for lease_id, held in list(self._leases.items()):
            if held.deadline <= now:
                del self._leases[lease_id]
                self._apply([Delete(k) for k in sorted(held.keys)])

    # -- watches

    def watch(self, prefix: str, start_revision: int = 0) -> _MemoryWatch:
        with self._cond:
            # Events are found by position in the history, which is in revision order.
            if start_revision:
                position = next((i for i, e in enumerate(self._history) if e.mod_revision >= start_revision),
                                len(self._history))
            else:
                position = len(self._history)
            return _MemoryWatch(self, prefix, position)

    def close(self) -> None:
        with self._cond:
            self._cond.notify_all()


class _MemoryWatch:
    def __init__(self, store: MemoryStore, prefix: str, position: int) -> None:
        self._store = store
        self._prefix = prefix
        self._position = position
        self._cancelled = False

    def next(self, timeout: float) -> Event | None:
        store = self._store
        deadline = time.monotonic() + timeout
        with store._cond:
            while not self._cancelled:
                store._expire()
                while self._position < len(store._history):
                    event = store._history[self._position]
                    self._position += 1
                    if event.key.startswith(self._prefix):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                store._cond.wait(remaining)
            return None

    def cancel(self) -> None:
        with self._store._cond:
            self._cancelled = True
            self._store._cond.notify_all()
