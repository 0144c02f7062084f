"""Webhook notifications in distribution's envelope. Events go into a bounded queue per endpoint
and a sender task POSTs them in order, retrying a failed delivery with exponential backoff; a
push never waits for a webhook, and a slow or dead endpoint only delays its own queue."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections import deque

from dockyard.registry.config import Endpoint
from dockyard.registry.events import Event

log = logging.getLogger("dockyard.registry.notifications")

MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
QUEUE_LIMIT = 10_000
BATCH = 100
MAX_BACKOFF = 60.0
# Webhooks go straight to their endpoint, never through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def envelope_entry(event: Event, source: dict) -> dict:
    target = {"mediaType": event.media_type or "application/octet-stream", "digest": event.digest,
              "size": event.size, "length": event.size, "repository": event.repository, "url": event.url}
    if event.tag:
        target["tag"] = event.tag
    return {"id": str(uuid.uuid4()), "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "action": event.action, "target": target,
            "request": {"id": event.request_id, "addr": event.remote, "host": event.host, "method": event.method,
                        "useragent": event.user_agent},
            "actor": {"name": event.user} if event.user else {}, "source": source}


class EndpointSender:
    def __init__(self, endpoint: Endpoint, source: dict) -> None:
        self.endpoint = endpoint
        self.source = source
        self.queue: deque[dict] = deque()
        self.wakeup = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.delivered = 0
        self.failures = 0
        self.dropped = 0

    def wants(self, event: Event) -> bool:
        return (event.media_type not in self.endpoint.ignoredmediatypes
                and event.action not in self.endpoint.ignored_actions)

    def put(self, entry: dict) -> None:
        if len(self.queue) >= QUEUE_LIMIT:
            self.queue.popleft()  # the oldest goes: memory stays bounded while an endpoint is down
            self.dropped += 1
        self.queue.append(entry)
        self.wakeup.set()

    async def run(self) -> None:
        while True:
            if not self.queue:
                self.wakeup.clear()
                await self.wakeup.wait()
                continue
            batch = [self.queue[i] for i in range(min(BATCH, len(self.queue)))]
            error = await asyncio.to_thread(self._post, batch)
            if error is None:
                for _ in batch:
                    self.queue.popleft()
                self.delivered += len(batch)
                self.failures = 0
                continue
            self.failures += 1
            delay = min(self.endpoint.backoff * 2 ** min(self.failures - 1, 10), MAX_BACKOFF)
            level = logging.WARNING if self.failures >= self.endpoint.threshold else logging.INFO
            log.log(level, "notification endpoint %s: %s (attempt %d, retrying in %.1fs)", self.endpoint.name,
                    error, self.failures, delay)
            await asyncio.sleep(delay)

    def _post(self, batch: list[dict]) -> str | None:
        body = json.dumps({"events": batch}).encode()
        headers = {"Content-Type": MEDIA_TYPE}
        for name, values in self.endpoint.headers.items():
            headers[name] = ", ".join(values)
        request = urllib.request.Request(self.endpoint.url, data=body, method="POST", headers=headers)
        try:
            with _OPENER.open(request, timeout=self.endpoint.timeout) as response:
                response.read()
                return None if 200 <= response.status < 400 else f"status {response.status}"
        except urllib.error.HTTPError as exc:
            return f"status {exc.code}"
        except (TimeoutError, OSError, urllib.error.URLError) as exc:
            return str(exc)


class Notifier:
    def __init__(self, endpoints: list[Endpoint], *, source: str) -> None:
        self.source = {"addr": f"{socket.gethostname()}:{source.rpartition(':')[2]}",
                       "instanceID": str(uuid.uuid4())}
        self.senders = [EndpointSender(e, self.source) for e in endpoints if not e.disabled]

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for sender in self.senders:
            sender.task = loop.create_task(sender.run())

    def emit(self, event: Event) -> None:
        entry = None
        for sender in self.senders:
            if sender.wants(event):
                entry = entry or envelope_entry(event, self.source)
                sender.put(entry)

    async def close(self) -> None:
        for sender in self.senders:
            if sender.task is not None:
                sender.task.cancel()
        for sender in self.senders:
            if sender.task is not None:
                try:
                    await sender.task
                except asyncio.CancelledError:
                    pass
