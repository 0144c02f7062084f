"""GET /events: recent events (since/until) and then live ones, as JSON lines."""

import asyncio
import time

from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response

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


def register(router, daemon) -> None:
    bus = daemon.events

    async def events(req: Request) -> Response | None:
        since = req.timestamp_arg("since")
        until = req.timestamp_arg("until")
        filters = Filters.parse(req.arg("filters"), EVENT_FILTERS)
        queue = bus.subscribe()  # before replaying, so nothing falls between the two
        try:
            stream = await req.start_stream(200, "application/json")
            seen = set()
            if since is not None:
                for event in bus.recent():
                    if event["timeNano"] / 1e9 < since or (until is not None and event["timeNano"] / 1e9 > until):
                        continue
                    seen.add(id(event))
                    if matches(event, filters):
                        await stream.write_json(event)
            if until is not None and until <= time.time():
                await stream.finish()
                return None
            gone = asyncio.ensure_future(req.reader.read(1))  # the client hanging up ends the stream
            while True:
                timeout = None if until is None else max(0.0, until - time.time())
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, gone}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if id(event) not in seen and matches(event, filters):
                    await stream.write_json(event)
            gone.cancel()
            if until is not None:
                await stream.finish()
            else:
                req.writer.close()
            return None
        finally:
            bus.unsubscribe(queue)

    router.add("GET", "/events", events)
