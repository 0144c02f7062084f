"""What a route handler (blobs, manifests, listing) is given: the registry's storage, upload
sessions, configuration and pull-through proxy, and its URL, pull-check and notification helpers.
RegistryApp provides it; handlers name only this Protocol, so they never import the app that
routes to them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only: the proxy is imported when one is configured
    from dockyard.registry.config import Config
    from dockyard.registry.http import Request
    from dockyard.registry.proxy import Proxy
    from dockyard.registry.storage import Storage
    from dockyard.registry.uploads import Uploads


class Registry(Protocol):
    config: Config
    storage: Storage
    uploads: Uploads
    proxy: Proxy | None

    def url_for(self, request: Request, path: str) -> str: ...

    def may_pull(self, request: Request, name: str) -> bool: ...

    def notify(self, request: Request, action: str, repository: str, digest: str, media_type: str = "",
               size: int = 0, tag: str = "") -> None: ...
