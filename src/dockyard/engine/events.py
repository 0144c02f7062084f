"""The events bus: what `docker events` streams. Recent events are kept for --since."""

import asyncio
import time
from collections import deque


class Subscription:
    """Events published since the subscription, as (sequence number, event), until taken."""

    def __init__(self) -> None:
        self._items: deque[tuple[int, dict]] = deque()
        self.ready = asyncio.Event()  # set while something waits to be taken

    def put(self, item: tuple[int, dict]) -> None:
        self._items.append(item)
        self.ready.set()

    def take(self) -> list[tuple[int, dict]]:
        items = list(self._items)
        self._items.clear()
        self.ready.clear()
        return items


class EventBus:
    def __init__(self, keep: int = 1024) -> None:
        self._recent: deque[tuple[int, dict]] = deque(maxlen=keep)
        self._subscribers: set[Subscription] = set()
        self._seq = 0  # events are numbered, so a replay and the live queue join without overlap

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
        self._seq += 1
        self._recent.append((self._seq, event))
        for subscription in list(self._subscribers):
            subscription.put((self._seq, event))
        return event

    def recent(self) -> list[tuple[int, dict]]:
        """The kept events with their sequence numbers, oldest first."""
        return list(self._recent)

    def subscribe(self) -> Subscription:
        """Every event published from now on, numbered."""
        subscription = Subscription()
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
