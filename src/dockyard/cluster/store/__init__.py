"""The cluster's key-value store: one Protocol, an in-memory implementation for unit tests and a
single process, and an etcd implementation for managers (etcd.py, imported only when swarm is used)."""

from dockyard.cluster.store.api import (
    Compare,
    Delete,
    Event,
    KeyValue,
    LeaseNotFound,
    Put,
    Store,
    StoreUnavailable,
    Watch,
)
from dockyard.cluster.store.memory import MemoryStore

__all__ = [
    "Compare", "Delete", "Event", "KeyValue", "LeaseNotFound", "MemoryStore", "Put", "Store", "StoreUnavailable",
    "Watch",
]
