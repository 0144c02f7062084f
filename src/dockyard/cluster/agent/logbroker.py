"""A manager's side of `service logs` across the swarm (swarmkit's LogBroker, cut down): the
manager that serves the request reads its own node's tasks itself and, for the tasks on other
nodes, puts a subscription in the cluster store (`/swarm/log-subscriptions/<id>`, under a lease:
it goes when the request ends or the manager dies). Every manager streams to each node the
subscriptions naming its tasks (`logs.subscriptions`); the node publishes the records to the
manager named in the subscription (`logs.publish`), which hands them to the waiting request.
Workers have no port of their own, so the request goes to them through their own channel.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dockyard.cluster.agent.logs import LogQuery, record_from_wire
from dockyard.cluster.channel import Caller, Handlers
from dockyard.cluster.store.api import Store
from dockyard.errors import InvalidParameter, NotFound
from dockyard.util.jsonlog import LogRecord

PREFIX = "/swarm/log-subscriptions/"
SUBSCRIPTIONS = "logs.subscriptions"
PUBLISH = "logs.publish"
LEASE_TTL = 10  # seconds; refreshed every third of it while the request lasts
KEEPALIVE = 5.0


def subscriptions_for(store: Store, node_id: str, keepalive: float = KEEPALIVE) -> Iterator[dict[str, Any]]:
    """The subscriptions naming `node_id`'s tasks: all of them at once and after each change."""
    watch = store.watch(PREFIX)
    try:
        last = None
        while True:
            subs = [json.loads(kv.value) for kv in store.range(PREFIX)]
            mine = [s for s in subs if s.get("Nodes", {}).get(node_id)]
            if mine != last:
                yield {"Subscriptions": mine}
                last = mine
            while watch.next(keepalive) is None:
                yield {}
            while watch.next(0) is not None:
                pass
    finally:
        watch.cancel()


@dataclass
class Batch:
    node_id: str
    task_id: str = ""
    records: list[LogRecord] = field(default_factory=list)
    done: bool = False


class RemoteLogs:
    """One request's subscription: the batches the nodes publish, as they come."""

    def __init__(self, broker: LogBroker, sub_id: str, nodes: set[str]) -> None:
        self._broker = broker
        self.id = sub_id
        self.pending = set(nodes)  # nodes that have not said they are done
        self.queue: asyncio.Queue[Batch] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self._lease = 0
        self._keeping: asyncio.Task | None = None

    async def _open(self, record: dict[str, Any]) -> None:
        store = self._broker.store()
        self._lease = await asyncio.to_thread(store.grant_lease, LEASE_TTL)
        await asyncio.to_thread(store.put, PREFIX + self.id, json.dumps(record).encode(), self._lease)
        self._keeping = asyncio.ensure_future(self._keep())

    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(LEASE_TTL / 3)
            await asyncio.to_thread(self._broker.store().refresh_lease, self._lease)

    async def next(self, timeout: float | None) -> Batch | None:
        """The next batch; None when none came within `timeout` seconds."""
        try:
            batch = await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None
        if batch.done:
            self.pending.discard(batch.node_id)
        return batch

    async def close(self) -> None:
        self._broker.forget(self.id)
        if self._keeping is not None:
            self._keeping.cancel()
        if self._lease:
            try:
                await asyncio.to_thread(self._broker.store().revoke_lease, self._lease)  # its key goes with it
            except Exception:  # noqa: BLE001 - the lease then runs out by itself
                pass


class LogBroker:
    """This manager's open subscriptions; adds the two handlers to the swarm's channel."""

    def __init__(self, handlers: Handlers, store: Callable[[], Store], address: Callable[[], str]) -> None:
        self.store = store
        self._address = address  # this manager's swarm address, where nodes publish
        self._open: dict[str, RemoteLogs] = {}
        self._lock = threading.Lock()
        handlers.add_stream(SUBSCRIPTIONS, self._subscriptions)
        handlers.add_call(PUBLISH, self._publish)

    def _subscriptions(self, caller: Caller, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return subscriptions_for(self.store(), caller.node_id)

    def _publish(self, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        sub_id = str(body.get("SubscriptionID") or "")
        with self._lock:
            sub = self._open.get(sub_id)
        if sub is None or caller.node_id not in sub.pending:
            raise NotFound(f"log subscription {sub_id} not found")
        try:
            batch = Batch(caller.node_id, str(body.get("TaskID") or ""),
                          [record_from_wire(doc) for doc in body.get("Records") or []], bool(body.get("Done")))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidParameter(f"bad log records for subscription {sub_id}: {exc}") from None
        sub.loop.call_soon_threadsafe(sub.queue.put_nowait, batch)
        return {}

    async def subscribe(self, tasks_by_node: dict[str, list[str]], query: LogQuery) -> RemoteLogs:
        """Ask the nodes for their tasks' logs; the caller reads the batches, then closes it."""
        sub = RemoteLogs(self, uuid.uuid4().hex, set(tasks_by_node))
        with self._lock:
            self._open[sub.id] = sub
        try:
            address = await asyncio.to_thread(self._address)
            await sub._open({"ID": sub.id, "Manager": address, "Nodes": tasks_by_node, "Query": query.to_wire()})
        except BaseException:
            await sub.close()
            raise
        return sub

    def forget(self, sub_id: str) -> None:
        with self._lock:
            self._open.pop(sub_id, None)
