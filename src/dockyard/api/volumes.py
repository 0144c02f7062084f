"""Volume endpoints: create, list, inspect, remove, prune."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dockyard.api.codec import from_json
from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response
from dockyard.engine.specs.volumes import VolumeCreate
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.images.layerstore import tree_size
from dockyard.volumes.records import Volume

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon

LIST_FILTERS = {"dangling", "driver", "label", "name"}
PRUNE_FILTERS = {"label", "label!", "all"}


def _boolean_filter(filters: Filters, key: str) -> bool | None:
    values = filters.get(key)
    if not values:
        return None
    value = values[-1].lower()
    if value not in ("true", "false", "1", "0"):
        raise InvalidParameter(f"invalid filter '{key}={values[-1]}'")
    return value in ("true", "1")


def usage_view(daemon: Daemon, volume: Volume) -> dict:
    view = daemon.volumes.view(volume)
    view["UsageData"] = {"Size": tree_size(daemon.volumes.mountpoint(volume.name)),
                         "RefCount": len(daemon.volumes.users(volume.name))}
    return view


def register(router: Router, daemon: Daemon) -> None:
    store = daemon.volumes

    async def create(req: Request) -> Response:
        spec = from_json(VolumeCreate, await req.json())
        volume = await asyncio.to_thread(store.create, spec.name or "", driver=spec.driver or "",
                                         options=spec.driver_opts, labels=spec.labels)
        daemon.events.publish("volume", "create", volume.name, {"driver": volume.driver})
        return Response(201, store.view(volume))

    async def list_(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), LIST_FILTERS)
        dangling = _boolean_filter(filters, "dangling")
        out = []
        for volume in store.list():
            if dangling is not None and (not store.users(volume.name)) != dangling:
                continue
            if filters.get("driver") and volume.driver not in filters.get("driver"):
                continue
            if filters.get("name") and not any(n in volume.name for n in filters.get("name")):
                continue
            if not filters.match_labels(volume.labels or {}):
                continue
            out.append(store.view(volume))
        return Response(200, {"Volumes": out, "Warnings": None})

    async def inspect(req: Request) -> Response:
        return Response(200, store.view(store.get(req.params["name"])))

    async def remove(req: Request) -> Response:
        name = req.params["name"]
        await asyncio.to_thread(store.remove, name, force=req.flag("force"))
        daemon.events.publish("volume", "destroy", name, {})
        return Response(204)

    async def prune(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), PRUNE_FILTERS)
        # API 1.42 made prune spare named volumes unless `all`; older clients get what they knew.
        everything = _boolean_filter(filters, "all")
        if everything is None:
            everything = tuple(int(p) for p in req.api_version.split(".")) < (1, 42)
        deleted, reclaimed = [], 0
        for volume in store.list():
            if store.users(volume.name) or (not everything and not volume.anonymous):
                continue
            if not filters.match_labels(volume.labels or {}):
                continue
            size = tree_size(store.mountpoint(volume.name))
            try:
                await asyncio.to_thread(store.remove, volume.name)
            except (Conflict, NotFound):
                continue
            daemon.events.publish("volume", "destroy", volume.name, {})
            deleted.append(volume.name)
            reclaimed += size
        daemon.events.publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return Response(200, {"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    router.add("GET", "/volumes", list_)
    router.add("POST", "/volumes/create", create)
    router.add("POST", "/volumes/prune", prune)
    router.add("GET", "/volumes/{name}", inspect)
    router.add("DELETE", "/volumes/{name}", remove)
