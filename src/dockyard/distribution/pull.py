"""Pull: resolve a reference to a manifest (choosing this host's platform from a list), download the
layers three at a time verifying both the compressed digest and the DiffID, unpack them in order,
and register the image with its tag and repo digest."""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from dockyard.distribution import manifests, progress
from dockyard.distribution.client import RegistryClient
from dockyard.distribution.decompress import Decompressor
from dockyard.distribution.errors import RegistryError
from dockyard.distribution.transfer import Transfer
from dockyard.errors import InvalidParameter, NotFound
from dockyard.images.layerstore import chain_ids
from dockyard.images.reference import Reference

CONCURRENT_DOWNLOADS = 3  # dockerd's --max-concurrent-downloads default
PROGRESS_EVERY = 512 * 1024  # bytes between two "Downloading" messages, as dockerd's progress reader



@dataclass
class PullResult:
    image_id: str
    digest: str
    updated: bool  # a layer was downloaded or the reference moved


class Puller(Transfer):
    def client(self, ref: Reference) -> RegistryClient:
        return RegistryClient(self.options, ref.domain, self.credentials, scopes=[f"repository:{ref.path}:pull"])

    # -- whole operations ----------------------------------------------------------------------
    def pull(self, ref: Reference, *, platform: manifests.Platform | None = None, all_tags: bool = False) -> str:
        """Pull ``ref`` (every tag of its repository with ``all_tags``); returns the final status line."""
        client = self.client(ref)
        try:
            if not all_tags:
                result = self.pull_one(client, ref, platform)
                self.emit(progress.status(f"Digest: {result.digest}"))
                return _final_status(result.updated, ref.familiar())
            updated = False
            for tag in list_tags(client, ref):
                result = self.pull_one(client, ref.with_tag(tag), platform)
                self.emit(progress.status(f"Digest: {result.digest}"))
                updated = updated or result.updated
            return _final_status(updated, ref.familiar_name)
        finally:
            client.close()

    def pull_one(self, client: RegistryClient, ref: Reference, platform: manifests.Platform | None) -> PullResult:
        tag_or_digest = ref.digest or ref.tag or "latest"
        try:
            digest, media_type, manifest, _size = fetch_manifest(client, ref.path, tag_or_digest)
        except RegistryError as exc:
            raise pull_error(exc, ref) from None
        if ref.digest and digest != ref.digest:
            raise InvalidParameter(f"manifest verification failed for digest {ref.digest}")
        self.emit(progress.status(f"Pulling from {ref.path}", tag_or_digest))
        if media_type in manifests.LISTS:
            entry = manifests.select(manifest, platform or manifests.host())
            entry_digest, media_type, manifest, _size = fetch_manifest(client, ref.path, entry["digest"])
            if entry_digest != entry["digest"]:
                raise InvalidParameter(f"manifest verification failed for digest {entry['digest']}")
            if media_type in manifests.LISTS:
                raise InvalidParameter(f"{ref.familiar()}: a manifest list inside a manifest list is not supported")
        config_bytes, image_config = fetch_config(client, ref.path, manifest)
        diff_ids = list((image_config.get("rootfs") or {}).get("diff_ids") or [])
        layers = [d for d in manifest.get("layers") or [] if d.get("mediaType") != manifests.DOCKER_FOREIGN_LAYER]
        if len(layers) != len(diff_ids):
            raise InvalidParameter(f"{ref.familiar()}: the manifest lists {len(layers)} layers but the image config "
                                   f"{len(diff_ids)}")
        downloaded = self.fetch_layers(client, ref, layers, diff_ids)
        previous = self._current(ref)
        image = self.store.add(config_bytes)
        if ref.tag and not ref.digest:
            self.store.tag(image.id, ref)
        self.store.tag(image.id, Reference(ref.domain, ref.path, None, digest))
        return PullResult(image.id, digest, downloaded or previous != image.id)

    def _current(self, ref: Reference) -> str | None:
        try:
            return self.store.get(str(ref)).id
        except NotFound:
            return None

    # -- layers --------------------------------------------------------------------------------
    def fetch_layers(self, client: RegistryClient, ref: Reference, layers: list[dict], diff_ids: list[str]) -> bool:
        """Download what is missing (in parallel), unpack in order; True when anything was downloaded."""
        chains = chain_ids(diff_ids)
        needed = [i for i, chain in enumerate(chains) if not self.store.layers.exists(chain)]
        for i, layer in enumerate(layers):
            ident = progress.short(layer["digest"])
            self.emit(progress.layer_status("Pulling fs layer" if i in needed else "Already exists", ident))
        if not needed:
            return False
        queued = [i for i in needed if not self.store.content.exists(diff_ids[i])]
        for i in queued[CONCURRENT_DOWNLOADS:]:
            self.emit(progress.layer_status("Waiting", progress.short(layers[i]["digest"])))
        registered: list[str] = []
        ingested: list[str] = []
        pool = ThreadPoolExecutor(CONCURRENT_DOWNLOADS, thread_name_prefix="pull")
        try:
            futures: dict[int, Future] = {i: pool.submit(self.download, client, ref, layers[i], diff_ids[i])
                                          for i in queued}
            for i in needed:
                ident = progress.short(layers[i]["digest"])
                if i in futures:
                    futures[i].result()
                    ingested.append(diff_ids[i])
                else:
                    self.emit(progress.layer_status("Download complete", ident))
                size = int(layers[i].get("size") or 0)
                self.emit(progress.layer_progress("Extracting", ident, 0, size))
                self.store.layers.register(diff_ids[i], chains[i - 1] if i else None)
                registered.append(chains[i])
                self.emit(progress.layer_progress("Extracting", ident, size, size))
                self.emit(progress.layer_status("Pull complete", ident))
        except BaseException:
            self.cancel.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._undo(registered, ingested)
            raise
        pool.shutdown(wait=True)
        return True

    def _undo(self, chains: list[str], diff_ids: list[str]) -> None:
        """A failed pull leaves no layer that no image uses."""
        used_chains, used_diffs = set(), set()
        for image in self.store.list():
            used_chains.update(chain_ids(image.diff_ids))
            used_diffs.update(image.diff_ids)
        for chain in reversed(chains):
            if chain not in used_chains:
                self.store.layers.release(chain)
        for diff_id in diff_ids:
            if diff_id not in used_diffs:
                self.store.content.delete(diff_id)

    def download(self, client: RegistryClient, ref: Reference, layer: dict, diff_id: str) -> None:
        digest = layer["digest"]
        ident = progress.short(digest)
        total = int(layer.get("size") or 0)
        response = client.request("GET", f"/v2/{ref.path}/blobs/{digest}")
        compressed = hashlib.sha256()
        decompressor = Decompressor()
        received = 0

        def chunks():
            nonlocal received
            reported = 0
            buffer = bytearray(1 << 20)
            view = memoryview(buffer)
            while True:
                self.check_cancelled()
                n = response.readinto(view)
                if not n:
                    break
                compressed.update(view[:n])
                received += n
                if received - reported >= PROGRESS_EVERY:
                    reported = received
                    self.emit(progress.layer_progress("Downloading", ident, received, total))
                out = decompressor.feed(bytes(view[:n]))
                if out:
                    yield out
            tail = decompressor.finish()
            if tail:
                yield tail
            self.emit(progress.layer_progress("Downloading", ident, received, total))
            self.emit(progress.layer_status("Verifying Checksum", ident))
            if "sha256:" + compressed.hexdigest() != digest:
                raise InvalidParameter(f"filesystem layer verification failed for digest {digest}")

        try:
            self.store.content.ingest(chunks(), expected=diff_id)
        except InvalidParameter as exc:
            if str(exc).startswith("digest mismatch"):
                raise InvalidParameter(f"layer {digest}: DiffID mismatch: the image config says {diff_id}") from None
            raise
        except (ValueError, EOFError) as exc:  # zlib/zstd errors
            raise InvalidParameter(f"layer {digest} could not be decompressed: {exc}") from None
        finally:
            response.raw.close()
        self.emit(progress.layer_status("Download complete", ident))
        self.record.add(diff_id, digest, received, layer.get("mediaType", ""), ref.name)


def fetch_manifest(client: RegistryClient, path: str, tag_or_digest: str) -> tuple[str, str, dict, int]:
    """(digest of the bytes, media type, manifest, size) of a tag or digest."""
    response = client.request("GET", f"/v2/{path}/manifests/{tag_or_digest}", headers={"Accept": manifests.ACCEPT})
    body = response.read()
    media_type, manifest = manifests.parse(body, response.headers.get("Content-Type", ""))
    return "sha256:" + hashlib.sha256(body).hexdigest(), media_type, manifest, len(body)


def fetch_config(client: RegistryClient, path: str, manifest: dict) -> tuple[bytes, dict]:
    """The image config a manifest names, verified against its digest."""
    digest = (manifest.get("config") or {}).get("digest", "")
    data = client.request("GET", f"/v2/{path}/blobs/{digest}").read()
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise InvalidParameter(f"image config {digest} failed verification: its content has another digest")
    return data, _json(data, "image config")


def list_tags(client: RegistryClient, ref: Reference) -> list[str]:
    tags: list[str] = []
    path = f"/v2/{ref.path}/tags/list"
    while path:
        try:
            data, response = client.json(path)
        except RegistryError as exc:
            raise pull_error(exc, ref) from None
        tags += data.get("tags") or []
        link = response.headers.get("Link", "")
        path = link.partition("<")[2].partition(">")[0] if 'rel="next"' in link else ""
    if not tags:
        raise NotFound(f"no tags found for {ref.familiar_name}")
    return sorted(tags)


def pull_error(exc: RegistryError, ref: Reference) -> RegistryError:
    """moby's translatePullError wording."""
    if exc.code == "DENIED":
        return exc.wrap(f"pull access denied for {ref.familiar_name}, repository does not exist or may require "
                        "'docker login'")
    if exc.code == "MANIFEST_UNKNOWN":
        return exc.wrap(f"manifest for {ref.familiar()} not found")
    if exc.code == "NAME_UNKNOWN":
        return exc.wrap(f"repository {ref.familiar_name} not found")
    return exc


def _final_status(updated: bool, name: str) -> str:
    return f"Status: Downloaded newer image for {name}" if updated else f"Status: Image is up to date for {name}"


def _json(data: bytes, what: str) -> dict:
    import json

    try:
        value = json.loads(data)
    except ValueError:
        raise InvalidParameter(f"the {what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidParameter(f"the {what} is not a JSON object")
    return value
