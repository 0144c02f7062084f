"""The events bus: what `docker events` streams. Recent events are kept for --since."""

import asyncio
import time
from collections import deque


class EventBus:
    def __init__(self, keep: int = 1024) -> None:
        self._recent: deque[dict] = deque(maxlen=keep)
        self._subscribers: set[asyncio.Queue] = set()

    def publish(self, kind: str, action: str, actor_id: str, attributes: dict[str, str] | None = None) -> dict:
        now = time.time_ns()
        event = {
            "Type": kind,
            "Action": action,
            "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
            "scope": "local",
            "time": now // 1_000_000_000,
            "timeNano": now,
        }
        if kind == "container":  # the pre-1.22 fields Docker still sends for containers and images
            event.update(status=action, id=actor_id, **({"from": attributes["image"]} if attributes and
                                                           "image" in attributes else {}))
        elif kind == "image":
            event.update(status=action, id=actor_id)
        self._recent.append(event)
        for queue in list(self._subscribers):
            queue.put_nowait(event)
        return event

    def recent(self) -> list[dict]:
        return list(self._recent)

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._subscribers.discard(queue)
