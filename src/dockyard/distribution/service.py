"""The daemon's distribution service: registry settings, the blob record, and pull/push/login/search
entry points for the API layer. Every method blocks; the API runs them in a thread.

The registry client (HTTP, auth, pull and push machinery) is imported by the first method that
needs it, not with the daemon: most engines start, run containers and stop without a pull, and
the import was a tenth of dockyardd's start-up."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from dockyard.distribution.blobrecord import BlobRecord
from dockyard.distribution.endpoints import RegistryOptions

if TYPE_CHECKING:
    from dockyard.distribution.auth import Credentials
    from dockyard.distribution.progress import Emit
    from dockyard.distribution.push import PushedTag
    from dockyard.images.reference import Reference
    from dockyard.images.store import ImageStore


class DistributionService:
    def __init__(self, store: ImageStore, options: RegistryOptions, data_root: str) -> None:
        self.store = store
        self.options = options
        self.record = BlobRecord(os.path.join(data_root, "distribution"))

    def pull(self, ref: Reference, *, platform: str, all_tags: bool, credentials: Credentials, emit: Emit,
             cancel: threading.Event) -> str:
        from dockyard.distribution import manifests
        from dockyard.distribution.pull import Puller

        wanted = manifests.parse_platform(platform) if platform else None
        puller = Puller(self.store, self.options, self.record, emit, credentials, cancel)
        return puller.pull(ref, platform=wanted, all_tags=all_tags)

    def push(self, repo: Reference, tag: str | None, *, credentials: Credentials, emit: Emit,
             cancel: threading.Event) -> list[PushedTag]:
        from dockyard.distribution.push import Pusher

        return Pusher(self.store, self.options, self.record, emit, credentials, cancel).push(repo, tag)

    def login(self, credentials: Credentials) -> None:
        from dockyard.distribution.endpoints import domain_of_server
        from dockyard.distribution.login import login

        login(self.options, domain_of_server(credentials.server), credentials)

    def search(self, term: str, limit: int, credentials: Credentials) -> list[dict]:
        from dockyard.distribution.search import search

        return search(self.options, term, limit, credentials)

    def inspect(self, ref: Reference, credentials: Credentials) -> dict:
        """`GET /distribution/{name}/json`: the manifest's descriptor and the platforms it offers."""
        from dockyard.distribution import manifests
        from dockyard.distribution.client import RegistryClient
        from dockyard.distribution.errors import RegistryError
        from dockyard.distribution.pull import fetch_config, fetch_manifest, pull_error

        client = RegistryClient(self.options, ref.domain, credentials, scopes=[f"repository:{ref.path}:pull"])
        try:
            try:
                digest, media_type, manifest, size = fetch_manifest(client, ref.path, ref.digest or ref.tag or "latest")
            except RegistryError as exc:
                raise pull_error(exc, ref) from None
            if media_type in manifests.LISTS:
                platforms = [m.get("platform") or {} for m in manifest.get("manifests") or []]
            else:
                _raw, config = fetch_config(client, ref.path, manifest)
                platforms = [{k: config[k] for k in ("architecture", "os", "variant") if config.get(k)}]
        finally:
            client.close()
        return {"Descriptor": {"mediaType": media_type, "digest": digest, "size": size}, "Platforms": platforms}
