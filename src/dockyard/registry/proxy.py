"""The pull-through cache: repositories nobody pushed to here mirror the upstream registries.

A tag is asked of the upstreams first, in order (it may have moved), and the first answer is
cached; when every upstream is down, refuses or rate-limits, the cached copy is served. Content by digest never
changes, so cached manifests and blobs are served without asking. A repository that received a
push here is local: the upstream is never consulted for it, so pushes keep working."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import uuid

from dockyard.oci import mediatypes as mt
from dockyard.registry.config import ProxyConfig
from dockyard.registry.names import Digest, is_digest, parse_digest
from dockyard.registry.storage import BlobInfo, Storage, atomic_write
from dockyard.registry.upstream import Upstream, UpstreamError

log = logging.getLogger("dockyard.registry.proxy")

ACCEPT = ", ".join(mt.ALL_MANIFESTS)
MARK = "_proxied"  # in a repository directory: its content came from the upstream


class Proxy:
    def __init__(self, configs: list[ProxyConfig], storage: Storage) -> None:
        self.storage = storage
        self.upstreams = [Upstream(c.remoteurl, c.username, c.password) for c in configs]
        self._inflight: dict[str, asyncio.Future] = {}

    def _local(self, name: str) -> bool:
        """A repository pushed to here (it has manifests and no proxy mark)."""
        repo = self.storage.repo_path(name)
        return os.path.isdir(os.path.join(repo, "_manifests")) and not os.path.exists(os.path.join(repo, MARK))

    def mark_pushed(self, name: str) -> None:
        try:
            os.unlink(os.path.join(self.storage.repo_path(name), MARK))
        except FileNotFoundError:
            pass

    @staticmethod
    def _scope(name: str) -> str:
        return f"repository:{name}:pull"

    async def fetch_manifest(self, name: str, reference: str, accept: str) -> tuple[Digest, bytes] | None:
        """The upstream's manifest (now cached), or None to answer from the local store."""
        if self._local(name):
            return None
        if is_digest(reference):
            digest = parse_digest(reference)
            if self.storage.has_manifest(name, digest):
                return None
        try:
            return await asyncio.to_thread(self._fetch_manifest, name, reference)
        except UpstreamError as exc:
            log.warning("upstream unavailable for %s:%s, serving the cache: %s", name, reference, exc)
            return None

    def _fetch_manifest(self, name: str, reference: str) -> tuple[Digest, bytes] | None:
        return _first(self.upstreams, lambda upstream: self._manifest_from(upstream, name, reference))

    def _manifest_from(self, upstream: Upstream, name: str, reference: str) -> tuple[Digest, bytes] | None:
        response = upstream.get(f"/v2/{name}/manifests/{reference}", {"Accept": ACCEPT}, self._scope(name))
        try:
            body = response.read()
            status = response.status
            header = response.getheader("Docker-Content-Digest", "")
        finally:
            response.close()
        if status == 404:
            return None
        want = parse_digest(reference) if is_digest(reference) else (
            parse_digest(header) if header else Digest("sha256", hashlib.sha256(body).hexdigest()))
        if hashlib.new(want.algorithm, body).hexdigest() != want.hex:
            raise UpstreamError(f"upstream manifest {name}:{reference} does not match its digest")
        os.makedirs(self.storage.repo_path(name), exist_ok=True)
        mark = os.path.join(self.storage.repo_path(name), MARK)
        if not os.path.exists(mark):
            atomic_write(mark, b"")
        with self.storage.pinned([want]):
            self.storage.put_manifest(name, want, body)
            if not is_digest(reference):
                self.storage.set_tag(name, reference, want)
        return want, body

    async def fetch_blob(self, name: str, digest: Digest) -> BlobInfo | None:
        if self._local(name):
            return None
        key = f"{name}@{digest}"
        future = self._inflight.get(key)
        if future is None:  # one download per blob, however many clients ask at once
            future = asyncio.ensure_future(asyncio.to_thread(self._fetch_blob, name, digest))
            self._inflight[key] = future
            future.add_done_callback(lambda _f: self._inflight.pop(key, None))
        try:
            return await asyncio.shield(future)
        except UpstreamError as exc:
            log.warning("upstream unavailable for blob %s in %s: %s", digest, name, exc)
            return None

    def _fetch_blob(self, name: str, digest: Digest) -> BlobInfo | None:
        return _first(self.upstreams, lambda upstream: self._blob_from(upstream, name, digest))

    def _blob_from(self, upstream: Upstream, name: str, digest: Digest) -> BlobInfo | None:
        response = upstream.get(f"/v2/{name}/blobs/{digest}", scope=self._scope(name))
        tmp = os.path.join(self.storage.blobs_dir, f".tmp-{uuid.uuid4().hex}")
        try:
            if response.status == 404:
                return None
            hasher = hashlib.new(digest.algorithm)
            with open(tmp, "wb") as out:
                while chunk := response.read(1 << 20):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if hasher.hexdigest() != digest.hex:
                raise UpstreamError(f"upstream blob {digest} does not match its digest")
            self.storage.commit_blob(tmp, digest)
            self.storage.link_blob(name, digest)
            return self.storage.stat_blob(digest)
        except OSError as exc:
            raise UpstreamError(str(exc)) from None
        finally:
            response.close()
            if os.path.exists(tmp):
                os.unlink(tmp)


def _first(upstreams: list[Upstream], fetch):
    """The first upstream's answer that is not None; UpstreamError only when every one failed."""
    errors = []
    for upstream in upstreams:
        try:
            found = fetch(upstream)
        except UpstreamError as exc:
            errors.append(f"{upstream.url}: {exc}")
            continue
        if found is not None:
            return found
    if errors and len(errors) == len(upstreams):
        raise UpstreamError("; ".join(errors))
    return None
