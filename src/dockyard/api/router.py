"""Routing, API version negotiation and the mapping of domain errors to Docker's statuses."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from dockyard import API_VERSION, MIN_API_VERSION
from dockyard.api.http import BadRequest, Request, Response, error_response
from dockyard.errors import DockyardError
from dockyard.httpserver import HTTPError

if TYPE_CHECKING:
    from dockyard.cluster.services.control import ServiceControl
    from dockyard.cluster.swarm import SwarmService
    from dockyard.engine.daemon import Daemon

log = logging.getLogger("dockyard.api")

Handler = Callable[[Request], Awaitable[Response | None]]
_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(/.*)$")
CLUSTER_PREFIXES = ("/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs")


class SwarmSource(Protocol):
    """Swarm mode's service, made when first needed (daemon/swarmwiring.py): a daemon outside a swarm
    starts without the cluster's modules."""

    def built(self) -> SwarmService | None:
        """The service if it was made (None: this node is in no swarm)."""
        ...

    async def ready(self) -> SwarmService:
        """The service, made now if it was not."""
        ...


def _as_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern, Handler, bool]] = []
        self._later: tuple[tuple[str, ...], Callable[[], Awaitable[None]]] | None = None
        self._later_lock = asyncio.Lock()

    def add_later(self, prefixes: tuple[str, ...], register: Callable[[], Awaitable[None]]) -> None:
        """Routes under ``prefixes`` that ``register`` adds with the first request for one of them
        (their modules are imported then, not at the daemon's start)."""
        self._later = (prefixes, register)

    async def _register_later(self) -> None:
        async with self._later_lock:  # concurrent first requests wait for one registration
            if self._later is not None:
                await self._later[1]()
                self._later = None

    def add(self, method: str, pattern: str, handler: Handler, *, claims_path: bool = True) -> None:
        """``pattern`` uses {name} for one path segment and {name:path} for the rest of the path.
        ``claims_path=False``: another method on a matching path is not a 405 (a catch-all such as
        `DELETE /containers/<parent>/<alias>` must not turn unbuilt endpoints into 405s)."""
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        self._routes.append((method, re.compile(f"^{regex}$"), handler, claims_path))

    async def __call__(self, http_request) -> Response | None:
        request = Request(http_request)
        path = request.path
        match = _VERSION_PREFIX.match(path)
        if match:
            requested = (int(match.group(1)), int(match.group(2)))
            version = f"{requested[0]}.{requested[1]}"
            if requested > _as_tuple(API_VERSION):
                return error_response(400, f"client version {version} is too new. Maximum supported API "
                                           f"version is {API_VERSION}")
            if requested < _as_tuple(MIN_API_VERSION):
                return error_response(400, f"client version {version} is too old. Minimum supported API "
                                           f"version is {MIN_API_VERSION}, please upgrade your client to a "
                                           "newer version")
            request.api_version = version
            path = match.group(3)
        if self._later is not None and path.startswith(self._later[0]):
            try:
                await self._register_later()
            except Exception as exc:  # noqa: BLE001 - the daemon never dies from a request
                log.exception("the routes of %s could not be made", path)
                return error_response(500, f"internal error in {request.method} {request.path}: {exc}")
        method = "GET" if request.method == "HEAD" else request.method
        allowed = False
        for route_method, regex, handler, claims_path in self._routes:
            found = regex.match(path)
            if not found:
                continue
            if route_method != method:
                allowed = allowed or claims_path
                continue
            request.params = found.groupdict()
            return await self._call(handler, request)
        if path.startswith(CLUSTER_PREFIXES):
            return error_response(503, "This node is not part of a swarm")
        if allowed:
            return error_response(405, f"{request.method} is not allowed on {path}")
        return error_response(501, f"{request.method} {path} is not implemented by Dockyard yet")

    async def _call(self, handler: Handler, request: Request) -> Response | None:
        # Once a streamed or hijacked answer has started, an error can only end the connection:
        # returning None with the stream unfinished makes the server close it.
        try:
            return await handler(request)
        except (DockyardError, BadRequest) as exc:
            status = exc.status if isinstance(exc, DockyardError) else 400
            if request.taken_over:
                log.info("%s %s failed after the response started: %s", request.method, request.path, exc)
                return None
            return error_response(status, str(exc))
        except HTTPError:
            raise  # the HTTP layer's own (a broken body): it answers and closes
        except (ConnectionError, TimeoutError) as exc:
            log.info("%s %s: client went away: %s", request.method, request.path, exc)
            raise ConnectionResetError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the daemon never dies from a request
            log.exception("%s %s failed", request.method, request.path)
            if request.taken_over:
                return None
            return error_response(500, f"internal error in {request.method} {request.path}: {exc}")


def _no_such(message: str) -> Handler:
    async def handler(request: Request) -> Response:
        return error_response(404, message.format(**request.params))

    return handler


def _register_cluster(router: Router, daemon: Daemon, swarm: SwarmService) -> ServiceControl:
    from dockyard.api import configs, secrets, service_logs
    from dockyard.api import nodes as nodes_api
    from dockyard.api import services as services_api
    from dockyard.api import swarm as swarm_api
    from dockyard.api import tasks as tasks_api
    from dockyard.cluster.discovery import endpoint_facts
    from dockyard.cluster.services.control import control_for

    swarm_api.register(router, swarm)
    nodes_api.register(router, swarm)
    secrets.register(router, swarm)
    configs.register(router, swarm)
    control = control_for(swarm)
    services_api.register(router, control, lambda: len(swarm.nodes()),
                          lambda service_id: endpoint_facts(swarm.store(), service_id))
    tasks_api.register(router, control)
    service_logs.register(router, control, daemon.containers, swarm)
    return control


def build_router(daemon: Daemon, swarm: SwarmSource | None = None) -> Router:
    from dockyard.api import build as build_api
    from dockyard.api import (
        commit,
        containers,
        distribution,
        events,
        execs,
        image_archives,
        images,
        networks,
        system,
        volumes,
    )

    router = Router()
    system.register(router, daemon, swarm.built if swarm is not None else None)
    cluster: dict[str, ServiceControl] = {}  # the services' control, once swarm mode is wired
    if swarm is not None:
        made = swarm.built()
        if made is not None:
            cluster["control"] = _register_cluster(router, daemon, made)
        else:
            async def register_cluster() -> None:
                cluster["control"] = _register_cluster(router, daemon, await swarm.ready())

            router.add_later(CLUSTER_PREFIXES, register_cluster)
    containers.register(router, daemon)
    images.register(router, daemon)
    distribution.register(router, daemon)
    image_archives.register(router, daemon)
    commit.register(router, daemon)
    build_api.register(router, daemon)
    execs.register(router, daemon)
    events.register(router, daemon)
    volumes.register(router, daemon)
    networks.register(router, daemon, lambda: cluster.get("control"))
    # No plugins exist yet, so looking one up is a plain "not found"; the docker CLI's
    # `inspect NAME` walks these types and needs a 404 to move on.
    router.add("GET", "/plugins/{name}/json", _no_such("plugin {name} not found"))
    return router
