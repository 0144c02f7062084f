"""The registry application: routes a request to its handler after the access check, and turns
errors into distribution's JSON. Wires storage, uploads, auth, notifications, proxy and the
in-server garbage collector together."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

from dockyard.registry import auth, blobs, listing, manifests
from dockyard.registry.config import Config
from dockyard.registry.errors import RegistryError
from dockyard.registry.events import Event
from dockyard.registry.http import BodyError, Request, Response
from dockyard.registry.jwt import Access
from dockyard.registry.names import check_name
from dockyard.registry.storage import Storage
from dockyard.registry.uploads import Uploads

if TYPE_CHECKING:
    from dockyard.registry.gc import PeriodicCollector

log = logging.getLogger("dockyard.registry")

_ROUTE = re.compile(r"/v2/(?P<name>.+)/(?:(?P<uploads>blobs/uploads/?(?P<uuid>[^/]*))|blobs/(?P<digest>[^/]+)"
                    r"|manifests/(?P<reference>[^/]+)|(?P<tags>tags/list)|referrers/(?P<subject>[^/]+))")

API_HEADERS = {"Docker-Distribution-Api-Version": "registry/2.0"}


class RegistryApp:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.storage = Storage(config.root)
        self.uploads = Uploads(self.storage)
        self.access = auth.make(config.auth)
        self.notifier = None
        self.proxy = None
        self.collector: PeriodicCollector | None = None
        if config.endpoints:
            from dockyard.registry.notifications import Notifier

            self.notifier = Notifier(config.endpoints, source=config.http.addr)
        if config.proxy:
            from dockyard.registry.proxy import Proxy

            self.proxy = Proxy(config.proxy, self.storage)
        self.instance = str(uuid.uuid4())
        self.unhealthy = ""  # why the storage check fails, once it failed `threshold` times in a row
        self._health_task: asyncio.Task | None = None

    async def start(self) -> None:
        """Background work: notification senders, upload purging and the collector."""
        if self.notifier is not None:
            self.notifier.start()
        await asyncio.to_thread(self.uploads.purge, time.time() - self.config.upload_purge_age)
        if self.config.health.storage:
            self._health_task = asyncio.get_running_loop().create_task(self._check_storage())
        if self.config.gc.enabled:
            from dockyard.registry.gc import PeriodicCollector

            collector = self.collector = PeriodicCollector(self.storage, self.config.gc)
            collector.start()

    async def _check_storage(self) -> None:
        """distribution's storagedriver health check: every request is answered 503 while failing."""
        failures = 0
        while True:
            try:
                await asyncio.to_thread(self.storage.check)
                failures, self.unhealthy = 0, ""
            except OSError as exc:
                failures += 1
                if failures >= self.config.health.threshold:
                    self.unhealthy = f"storage: {exc.strerror or exc}"
                    log.error("storage health check failed %d times: %s", failures, exc)
            await asyncio.sleep(self.config.health.interval)

    async def close(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
        if self.collector is not None:
            await self.collector.stop()
        if self.notifier is not None:
            await self.notifier.close()

    # -- helpers for handlers --------------------------------------------------------------
    def url_for(self, request: Request, path: str) -> str:
        base = self.config.http.host
        if not base:
            scheme = request.header("x-forwarded-proto") or ("https" if request.tls else "http")
            host = request.header("x-forwarded-host") or request.host
            base = f"{scheme}://{host}" if host else ""
        prefix = self.config.http.prefix.rstrip("/")
        return f"{base}{prefix}{path}"

    def may_pull(self, request: Request, name: str) -> bool:
        try:
            self.access.authorize(request, [Access("repository", name, ("pull",))])
            return True
        except RegistryError:
            return False

    def notify(self, request: Request, action: str, repository: str, digest: str, media_type: str = "",
               size: int = 0, tag: str = "") -> None:
        if self.notifier is None:
            return
        kind = "manifests" if media_type and media_type != "application/octet-stream" else "blobs"
        self.notifier.emit(Event(action, repository, digest, media_type, size, tag,
                                 url=self.url_for(request, f"/v2/{repository}/{kind}/{digest}"), user=request.user,
                                 method=request.method, remote=request.remote, host=request.host,
                                 user_agent=request.header("user-agent"), request_id=str(uuid.uuid4())))

    # -- dispatch ---------------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        try:
            response = await self._dispatch(request)
        except RegistryError as exc:
            response = Response.json(exc.body(), exc.status, exc.headers)
        except BodyError as exc:  # the client's doing: what arrived of an upload stays resumable
            log.info("%s %s: request body: %s", request.method, request.path, exc)
            response = Response.json({"errors": [{"code": "BLOB_UPLOAD_INVALID", "message": str(exc)}]}, 400,
                                     {"Connection": "close"})
        except Exception:  # noqa: BLE001 - a bug answers 500 and never takes the server down
            log.exception("%s %s failed", request.method, request.path)
            response = Response.json({"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}, 500)
        for name, values in self.config.http.headers.items():
            response.headers.setdefault(name, ", ".join(values))
        response.headers.update(API_HEADERS)
        log.debug("%s %s %s -> %d", request.remote, request.method, request.target, response.status)
        return response

    async def _dispatch(self, request: Request) -> Response:
        path = request.path
        prefix = self.config.http.prefix.rstrip("/")
        if prefix:
            if not path.startswith(prefix + "/"):
                raise RegistryError("NAME_UNKNOWN", status=404)
            path = path[len(prefix):]
        method = request.method
        if path == "/debug/health":
            _allow(method, ("GET", "HEAD"))
            if self.unhealthy:
                return Response.json({"storagedriver_filesystem": self.unhealthy}, 503)
            return Response.json({})
        if self.unhealthy:
            raise RegistryError("UNAVAILABLE", f"health check failed: {self.unhealthy}")
        if path in ("/v2", "/v2/"):
            _allow(method, ("GET", "HEAD"))
            request.user = self.access.authorize(request, [])
            return Response.json({})
        if path == "/v2/_catalog":
            _allow(method, ("GET",))
            request.user = self.access.authorize(request, [Access("registry", "catalog", ("*",))])
            return await listing.catalog(self, request)
        match = _ROUTE.fullmatch(path)
        if not match:
            return Response.json({"errors": [{"code": "NOT_FOUND", "message": "page not found"}]}, 404)
        name = match["name"]
        actions = {"GET": ("pull",), "HEAD": ("pull",), "DELETE": ("delete",)}.get(method, ("pull", "push"))
        request.user = self.access.authorize(request, [Access("repository", name, actions)])
        check_name(name)
        if method in ("POST", "PUT", "PATCH", "DELETE") and self.config.readonly:
            raise RegistryError("UNSUPPORTED", "the registry is in read-only mode", status=405)
        if match["uploads"] is not None:
            upload_id = match["uuid"]
            if not upload_id:
                _allow(method, ("POST",))
                return await blobs.start_upload(self, request, name)
            _allow(method, ("GET", "PATCH", "PUT", "DELETE"))
            upload_handler = {"GET": blobs.upload_status, "PATCH": blobs.patch_upload, "PUT": blobs.finish_upload,
                              "DELETE": blobs.cancel_upload}[method]
            return await upload_handler(self, request, name, upload_id)
        if match["digest"] is not None:
            _allow(method, ("GET", "HEAD", "DELETE"))
            blob_handler = blobs.delete_blob if method == "DELETE" else blobs.get_blob
            return await blob_handler(self, request, name, match["digest"])
        if match["reference"] is not None:
            _allow(method, ("GET", "HEAD", "PUT", "DELETE"))
            manifest_handler = {"PUT": manifests.put_manifest, "DELETE": manifests.delete_manifest}.get(
                method, manifests.get_manifest)
            return await manifest_handler(self, request, name, match["reference"])
        if match["tags"] is not None:
            _allow(method, ("GET",))
            return await listing.tags_list(self, request, name)
        _allow(method, ("GET",))
        return await manifests.get_referrers(self, request, name, match["subject"])


def _allow(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise RegistryError("UNSUPPORTED", f"method {method} not allowed", status=405,
                            headers={"Allow": ", ".join(allowed)})
