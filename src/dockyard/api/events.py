"""GET /events: recent events (since/until) and then live ones, as JSON lines."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response
from dockyard.util.aio import first_of

if TYPE_CHECKING:
    from dockyard.api.router import Router
    from dockyard.engine.daemon import Daemon

EVENT_FILTERS = {"config", "container", "daemon", "event", "image", "label", "network", "node", "plugin", "scope",
                 "secret", "service", "type", "volume"}


def matches(event: dict, filters: Filters) -> bool:
    actor = event["Actor"]
    attributes = actor.get("Attributes", {})
    if filters.get("type") and event["Type"] not in filters.get("type"):
        return False
    if filters.get("event"):
        action = event["Action"].split(":")[0]
        if action not in filters.get("event") and event["Action"] not in filters.get("event"):
            return False
    if filters.get("container"):
        if event["Type"] != "container":
            return False
        if not any(actor["ID"].startswith(v) or attributes.get("name") == v for v in filters.get("container")):
            return False
    if filters.get("image"):
        image = attributes.get("image") if event["Type"] == "container" else attributes.get("name", actor["ID"])
        if not any(v in (image, actor["ID"]) or (image or "").split(":")[0] == v for v in filters.get("image")):
            return False
    for key in ("volume", "network", "plugin", "service", "node", "secret", "config"):
        if filters.get(key) and event["Type"] != key:
            return False
    if filters.get("scope") and event.get("scope") not in filters.get("scope"):
        return False
    return filters.match_labels(attributes)


def register(router: Router, daemon: Daemon) -> None:
    bus = daemon.events

    async def events(req: Request) -> Response | None:
        since = req.timestamp_arg("since")
        until = req.timestamp_arg("until")
        filters = Filters.parse(req.arg("filters"), EVENT_FILTERS)
        queue = bus.subscribe()  # before replaying, so nothing falls between the two
        try:
            stream = await req.start_stream(200, "application/json")
            replayed = 0  # the last sequence number replayed: the live queue starts after it
            if since is not None:
                for seq, event in bus.recent():
                    replayed = seq
                    if event["timeNano"] / 1e9 < since or (until is not None and event["timeNano"] / 1e9 > until):
                        continue
                    if matches(event, filters):
                        await stream.write_json(event)
            while True:
                for seq, event in queue.take():
                    if seq > replayed and (until is None or event["timeNano"] / 1e9 <= until) and matches(event,
                                                                                                      filters):
                        await stream.write_json(event)
                if until is not None and until <= time.time():
                    break
                timeout = None if until is None else until - time.time()
                if await first_of(queue.ready, req.gone, timeout=timeout) is req.gone:
                    return None  # the client left: the stream ends unfinished
            await stream.finish()
            return None
        finally:
            bus.unsubscribe(queue)

    router.add("GET", "/events", events)
