"""Push: upload an image's layers (gzip-compressed while streaming, five at a time), skipping blobs the
registry has ("Layer already exists") and mounting blobs another repository of the same registry has
("Mounted from ..."), then its config and a Docker v2 schema 2 manifest."""

from __future__ import annotations

import hashlib
import urllib.parse
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from dockyard.distribution import manifests, progress
from dockyard.distribution.client import RegistryClient
from dockyard.distribution.errors import RegistryError
from dockyard.distribution.transfer import Transfer
from dockyard.errors import NotFound
from dockyard.images import reference
from dockyard.images.reference import Reference
from dockyard.images.store import Image

CONCURRENT_UPLOADS = 5  # dockerd's --max-concurrent-uploads default
GZIP_TYPES = (manifests.DOCKER_LAYER_GZIP, manifests.OCI_LAYER_GZIP)
PROGRESS_EVERY = 512 * 1024
GZIP_LEVEL = 6  # Go's gzip.DefaultCompression, as dockerd uses



@dataclass
class PushedTag:
    tag: str
    digest: str
    size: int


class Pusher(Transfer):
    def push(self, repo: Reference, tag: str | None) -> list[PushedTag]:
        """Push ``repo:tag``, or every local tag of ``repo`` when ``tag`` is None."""
        targets = self._targets(repo, tag)
        sources: set[str] = set()
        for _ref, image in targets:
            for diff_id in image.diff_ids:
                for info in self.record.blobs(diff_id).values():
                    sources.update(r.partition("/")[2] for r in info["repositories"]
                                   if r.partition("/")[0] == repo.domain and r != repo.name)
        scopes = [f"repository:{repo.path}:pull,push", *(f"repository:{s}:pull" for s in sorted(sources))]
        client = RegistryClient(self.options, repo.domain, self.credentials, scopes=scopes, push=True)
        self.emit(progress.status(f"The push refers to repository [{repo.name}]"))
        try:
            return [self._push_image(client, ref, image) for ref, image in targets]
        finally:
            client.close()

    def _targets(self, repo: Reference, tag: str | None) -> list[tuple[Reference, Image]]:
        if tag is not None:
            ref = repo.with_tag(tag)
            try:
                return [(ref, self.store.get(str(ref)))]
            except NotFound:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}") from None
        refs = []
        for image in self.store.list():
            for text in image.repo_tags:
                ref = reference.parse(text)
                if ref.name == repo.name and ref.tag:
                    refs.append((ref, image))
        if not refs:
            raise NotFound(f"An image does not exist locally with the tag: {repo.familiar_name}")
        return sorted(refs, key=lambda r: r[0].tag or "")

    def _push_image(self, client: RegistryClient, ref: Reference, image: Image) -> PushedTag:
        assert ref.tag is not None  # _targets gives tagged references only
        diff_ids = image.diff_ids
        order = list(reversed(range(len(diff_ids))))  # dockerd lists the top layer first
        for i in order:
            self.emit(progress.layer_status("Preparing", progress.short(diff_ids[i])))
        for i in order[CONCURRENT_UPLOADS:]:
            self.emit(progress.layer_status("Waiting", progress.short(diff_ids[i])))
        pool = ThreadPoolExecutor(CONCURRENT_UPLOADS, thread_name_prefix="push")
        try:
            futures = {i: pool.submit(self._push_layer, client, ref, diff_ids[i]) for i in order}
            blobs = [futures[i].result() for i in range(len(diff_ids))]
        except BaseException:
            self.cancel.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        config = self.store.content.read(image.id)
        if not self._exists(client, ref, image.id):
            location = self._start_upload(client, ref)
            self._finish_upload(client, location, image.id, config)
        body = manifests.schema2(image.id, len(config), blobs)
        response = client.request("PUT", f"/v2/{ref.path}/manifests/{ref.tag}", body=body,
                                  headers={"Content-Type": manifests.DOCKER_MANIFEST}, ok=(200, 201, 202))
        response.close()
        digest = response.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
        self.store.tag(image.id, Reference(ref.domain, ref.path, None, digest))
        self.emit(progress.status(f"{ref.tag}: digest: {digest} size: {len(body)}"))
        self.emit({"progressDetail": {}, "aux": {"Tag": ref.tag, "Digest": digest, "Size": len(body)}})
        return PushedTag(ref.tag, digest, len(body))

    # -- one layer ---------------------------------------------------------------------------
    def _push_layer(self, client: RegistryClient, ref: Reference, diff_id: str) -> tuple[str, int]:
        ident = progress.short(diff_id)
        location = None
        known = {b: i for b, i in self.record.blobs(diff_id).items() if i["mediaType"] in GZIP_TYPES}
        for blob, info in known.items():
            repos = info["repositories"]
            if ref.name in repos and self._exists(client, ref, blob):
                self.emit(progress.layer_status("Layer already exists", ident))
                return blob, info["size"]
            for source in repos:
                domain, _, path = source.partition("/")
                if domain != ref.domain or source == ref.name:
                    continue
                location = self._mount(client, ref, blob, path)
                if location is None:
                    self.record.add(diff_id, blob, info["size"], info["mediaType"], ref.name)
                    self.emit(progress.layer_status(f"Mounted from {path}", ident))
                    return blob, info["size"]
            if not repos or all(r.partition("/")[0] != ref.domain for r in repos):
                if self._exists(client, ref, blob):
                    self.record.add(diff_id, blob, info["size"], info["mediaType"], ref.name)
                    self.emit(progress.layer_status("Layer already exists", ident))
                    return blob, info["size"]
        location = location or self._start_upload(client, ref)
        blob, size, location = self._upload_compressed(client, location, diff_id, ident)
        self._finish_upload(client, location, blob, b"")
        self.record.add(diff_id, blob, size, manifests.DOCKER_LAYER_GZIP, ref.name)
        self.emit(progress.layer_status("Pushed", ident))
        return blob, size

    def _exists(self, client: RegistryClient, ref: Reference, digest: str) -> bool:
        try:
            client.request("HEAD", f"/v2/{ref.path}/blobs/{digest}").close()
            return True
        except RegistryError as exc:
            if exc.status == 404:
                return False
            raise

    def _mount(self, client: RegistryClient, ref: Reference, blob: str, source: str) -> str | None:
        """Cross-repository mount; None when mounted, else the upload location the registry opened instead."""
        query = urllib.parse.urlencode({"mount": blob, "from": source})
        response = client.request("POST", f"/v2/{ref.path}/blobs/uploads/?{query}", body=b"", ok=(201, 202))
        response.close()
        if response.status == 201:
            return None
        return _location(response)

    def _start_upload(self, client: RegistryClient, ref: Reference) -> str:
        response = client.request("POST", f"/v2/{ref.path}/blobs/uploads/", body=b"", ok=(202,))
        response.close()
        return _location(response)

    def _upload_compressed(self, client: RegistryClient, location: str, diff_id: str,
                           ident: str) -> tuple[str, int, str]:
        """PATCH the layer, gzip-compressed as it is read; returns (digest, size, next location)."""
        total = self.store.content.size(diff_id)
        hasher = hashlib.sha256()
        state = {"size": 0}

        def body():
            compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
            sent, reported = 0, 0
            with open(self.store.content.path(diff_id), "rb") as f:
                while data := f.read(1 << 20):
                    self.check_cancelled()
                    out = compressor.compress(data)
                    sent += len(data)
                    if sent - reported >= PROGRESS_EVERY or sent == total:
                        reported = sent
                        self.emit(progress.layer_progress("Pushing", ident, sent, total))
                    if out:
                        hasher.update(out)
                        state["size"] += len(out)
                        yield out
            out = compressor.flush()
            hasher.update(out)
            state["size"] += len(out)
            yield out

        response = client.request("PATCH", location, body=body(), ok=(202,),
                                  headers={"Content-Type": "application/octet-stream"})
        response.close()
        return "sha256:" + hasher.hexdigest(), state["size"], _location(response)

    def _finish_upload(self, client: RegistryClient, location: str, digest: str, body: bytes) -> None:
        url = location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": digest})
        headers = {"Content-Type": "application/octet-stream"}
        client.request("PUT", url, body=body, headers=headers, ok=(201, 204)).close()


def _location(response) -> str:
    location = response.headers.get("Location")
    if not location:
        raise RegistryError("the registry opened an upload without a Location header", 500)
    return urllib.parse.urljoin(response.url, location)
