"""The store on etcd's v3 API, through its gRPC gateway (JSON over HTTP) with etcd3gw.

Imported only when swarm mode is in use: etcd3gw comes with the "cluster" extra.
"""

from __future__ import annotations

import base64
import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import etcd3gw
import requests
from etcd3gw import exceptions as etcd_errors
from etcd3gw.lease import Lease
from etcd3gw.watch import Watcher

from dockyard.cluster.store.api import (
    Compare,
    Delete,
    Event,
    KeyValue,
    LeaseNotFound,
    NoLeader,
    Put,
    StoreUnavailable,
)

# What etcd answers when its member has no leader: a quorum of managers is down, or an election is on.
_NO_LEADER = ("etcdserver: no leader", "etcdserver: request timed out", "etcdserver: leader changed",
              "etcdserver: request timed out, possibly due to previous leader failure")


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def _prefix_end(prefix: str) -> str:
    """etcd's range end for a prefix: the prefix with its last byte raised by one ("\\0" for all keys)."""
    raw = prefix.encode()
    if not raw:
        return "\0"
    return (raw[:-1] + bytes([raw[-1] + 1])).decode("latin-1") if raw[-1] < 0xFF else "\0"


@contextmanager
def _reachable(client_url: str) -> Iterator[None]:
    """etcd3gw's exceptions turned into the store's: unreachable or without quorum, or a missing lease."""
    try:
        yield
    except (etcd_errors.ConnectionFailedError, etcd_errors.ConnectionTimeoutError) as exc:
        detail = exc.detail_text or str(exc)
        if any(sign in detail for sign in _NO_LEADER):  # etcd answers these with 503
            raise NoLeader() from exc
        raise StoreUnavailable(f"the cluster store at {client_url} is unavailable: {detail}") from exc
    except etcd_errors.Etcd3Exception as exc:
        detail = exc.detail_text or ""
        if "lease not found" in detail:
            raise LeaseNotFound("etcdserver: requested lease not found") from exc
        if any(sign in detail for sign in _NO_LEADER):
            raise NoLeader() from exc
        if isinstance(exc, etcd_errors.InternalServerError):
            # The gateway's 500s: its member stopping ("server stopped", a closing transport) as a
            # manager restarts it for a new trust root. The store is unavailable, not the request bad.
            raise StoreUnavailable(f"the cluster store at {client_url} is unavailable: {detail or exc}") from exc
        raise


class EtcdStore:
    def __init__(self, client_url: str, timeout: float = 15.0, tls: tuple[str, str, str] | None = None) -> None:
        """`tls`: (root CA, certificate, key) files for a member serving mutual TLS. The timeout is
        above etcd's own request timeout (5 s + 2 elections), so that a write without quorum is
        answered by etcd (no leader) rather than cut by the client."""
        scheme, _, hostport = client_url.partition("://")
        host, _, port = hostport.rpartition(":")
        self._url = client_url
        session = requests.Session()
        # The swarm's root is the only trust: REQUESTS_CA_BUNDLE in the daemon's environment would
        # otherwise replace it (requests lets the environment override a session's verify).
        session.trust_env = False
        if tls is not None:
            ca, cert, key = tls
            session.verify = ca
            session.cert = (cert, key)
        # The v3 gateway path is fixed for etcd >= 3.4; naming it skips etcd3gw's version probe.
        self._client = etcd3gw.Etcd3Client(host=host.strip("[]"), port=int(port), protocol=scheme,
                                           timeout=timeout, api_path="/v3/", session=session)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        with _reachable(self._url):
            return self._client.post(self._client.get_url(path), json=body)

    @staticmethod
    def _kv(item: dict[str, Any]) -> KeyValue:
        return KeyValue(
            key=base64.b64decode(item["key"]).decode(),
            value=base64.b64decode(item.get("value", "")),
            create_revision=int(item.get("create_revision", 0)),
            mod_revision=int(item.get("mod_revision", 0)),
            lease=int(item.get("lease", 0)),
        )

    def get(self, key: str) -> KeyValue | None:
        result = self._post("/kv/range", {"key": _b64(key)})
        kvs = result.get("kvs", [])
        return self._kv(kvs[0]) if kvs else None

    def range(self, prefix: str) -> list[KeyValue]:
        body = {"key": _b64(prefix or "\0"), "range_end": _b64(_prefix_end(prefix)), "sort_order": "ASCEND",
                "sort_target": "KEY"}
        return [self._kv(item) for item in self._post("/kv/range", body).get("kvs", [])]

    def revision(self) -> int:
        return int(self._post("/kv/range", {"key": _b64("\0"), "limit": 1})["header"]["revision"])

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        body: dict[str, Any] = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self._post("/kv/put", body)["header"]["revision"])

    def delete(self, key: str) -> bool:
        return int(self._post("/kv/deleterange", {"key": _b64(key)}).get("deleted", 0)) > 0

    def txn(self, compares: Sequence[Compare], operations: Sequence[Put | Delete]) -> bool:
        body = {
            "compare": [{"key": _b64(c.key), "target": "MOD", "result": "EQUAL", "mod_revision": str(c.mod_revision)}
                        for c in compares],
            "success": [self._request(op) for op in operations],
        }
        return bool(self._post("/kv/txn", body).get("succeeded", False))

    @staticmethod
    def _request(op: Put | Delete) -> dict[str, Any]:
        if isinstance(op, Put):
            put: dict[str, Any] = {"key": _b64(op.key), "value": _b64(op.value)}
            if op.lease:
                put["lease"] = str(op.lease)
            return {"request_put": put}
        return {"request_delete_range": {"key": _b64(op.key)}}

    def grant_lease(self, ttl: int) -> int:
        return int(self._post("/lease/grant", {"TTL": str(ttl), "ID": "0"})["ID"])

    def refresh_lease(self, lease: int) -> int:
        with _reachable(self._url):
            return max(Lease(lease, self._client).refresh(), 0)  # etcd answers -1 for an expired lease

    def revoke_lease(self, lease: int) -> None:
        try:
            self._post("/kv/lease/revoke", {"ID": str(lease)})
        except LeaseNotFound:
            pass  # already expired or revoked: the keys are gone either way

    def watch(self, prefix: str, start_revision: int = 0) -> _EtcdWatch:
        return _EtcdWatch(self, prefix, start_revision)

    def close(self) -> None:
        self._client.session.close()


class _EtcdWatch:
    def __init__(self, store: EtcdStore, prefix: str, start_revision: int) -> None:
        self._events: queue.Queue[Event | None] = queue.Queue()
        # "From now" is pinned to a revision: the gateway answers before etcd has registered the watch,
        # and a write in between would otherwise be missed.
        options: dict[str, Any] = {"range_end": _prefix_end(prefix),
                                   "start_revision": start_revision or store.revision() + 1}
        with _reachable(store._url):
            # etcd3gw decodes the key and value before the callback; the watch runs on its thread.
            self._watcher = Watcher(store._client, prefix or "\0", self._on_event, **options)

    def _on_event(self, raw: Any) -> None:
        kv = raw["kv"]
        key, revision = bytes(kv["key"]).decode(), int(kv.get("mod_revision", 0))
        if raw.get("type") == "DELETE":
            self._events.put(Event("delete", key, b"", revision))
        else:  # a put's type is the enum's zero value, which the gateway leaves out
            self._events.put(Event("put", key, bytes(kv.get("value", b"")), revision))

    def next(self, timeout: float) -> Event | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def cancel(self) -> None:
        self._watcher.stop()
        self._events.put(None)
