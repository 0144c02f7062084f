"""A task's log on its node, and the node's side of `service logs` across the swarm (swarmkit's
agent log publisher): managers post log subscriptions (cluster/agent/logbroker.py); each node
follows the ones naming its tasks, reads those tasks' container logs (json-file) and publishes the
records to the manager that asked, over the swarm's mutual-TLS channel.

`follow_task_log` is the one reading of a task's container log: the Engine API's logs of the
node's own tasks use it too (api/service_logs.py).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from dockyard.cluster.agent.container import TASK_ID_LABEL
from dockyard.engine import logconfig
from dockyard.engine.container import Container
from dockyard.engine.containers import ContainerService
from dockyard.engine.logfollow import LogFollower
from dockyard.util.jsonlog import LogRecord

log = logging.getLogger("dockyard.cluster.agent")
Emit = Callable[[list[LogRecord]], Awaitable[None]]
RETRY = 1.0


@dataclass
class LogQuery:
    """What a `service logs` request asks of each task's log."""

    stdout: bool = True
    stderr: bool = True
    since: float | None = None  # unix time
    tail: int | None = None  # per task, of the lines there when it is read first
    follow: bool = False

    def keep(self, r: LogRecord) -> bool:
        wanted = (r.stream == "stdout" and self.stdout) or (r.stream == "stderr" and self.stderr)
        return wanted and (self.since is None or r.time_ns / 1e9 > self.since)

    def to_wire(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_wire(cls, doc: dict[str, Any]) -> LogQuery:
        return cls(**{k: doc[k] for k in ("stdout", "stderr", "since", "tail", "follow") if k in doc})


def container_of(containers: ContainerService, task_id: str) -> Container | None:
    for c in containers.list():
        if (c.config.labels or {}).get(TASK_ID_LABEL) == task_id:
            return c
    return None


async def follow_task_log(containers: ContainerService, c: Container, query: LogQuery, first: bool, emit: Emit,
                          stop: asyncio.Event) -> None:
    """The task container's records as `query` wants them, then (following) what it appends until
    it ends or `stop` is set. `tail` counts only when the task is read `first` (a task found by a
    later rescan of a follow is shown whole)."""
    if not logconfig.reads_back(c.host_config.log_config):
        return
    run = containers.runtime(c).run if query.follow else None
    follower = LogFollower(containers.runtime(c), run, containers.log_path(c.id))
    try:
        records = [r for r in follower.read_all() if query.keep(r)]
        if query.tail is not None and first:
            records = records[-query.tail:] if query.tail > 0 else []
        await emit(records)
        if query.follow:
            async def emit_new(new: list[LogRecord]) -> None:
                await emit([r for r in new if query.keep(r)])

            await follower.follow(emit_new, stop)
    finally:
        follower.close()


def record_to_wire(r: LogRecord) -> dict[str, Any]:
    return {"Stream": r.stream, "Data": base64.b64encode(r.data).decode(), "Time": r.time, "Attrs": r.attrs}


def record_from_wire(doc: dict[str, Any]) -> LogRecord:
    return LogRecord(str(doc["Stream"]), base64.b64decode(doc["Data"]), str(doc["Time"]), dict(doc.get("Attrs") or {}))


Publish = Callable[[str, dict[str, Any]], None]  # (the asking manager's address, the body of logs.publish)
Subscriptions = Callable[[], Iterator[dict[str, Any]]]  # the stream of the node's subscriptions


class Gone(Exception):
    """The subscription ended at its manager (the client hung up): stop publishing to it."""


class LogPublisher:
    """Follows the subscriptions naming this node's tasks (a thread reading the stream) and serves
    each on the daemon's event loop until it is done (not following) or gone from the store."""

    def __init__(self, node_id: str, subscriptions: Subscriptions, publish: Publish, containers: ContainerService,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.node_id = node_id
        self._subscriptions = subscriptions
        self._publish = publish
        self._containers = containers
        self._loop = loop
        self._serving: dict[str, asyncio.Task] = {}
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._follow, name="agent-log-subscriptions", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """From any thread; the serving tasks are cancelled on the loop."""
        self._stopped.set()
        with contextlib.suppress(RuntimeError):  # the loop is closed already
            self._loop.call_soon_threadsafe(self._sync, [])

    def _follow(self) -> None:
        while not self._stopped.is_set():
            try:
                for item in self._subscriptions():
                    if self._stopped.is_set():
                        return
                    if "Subscriptions" in item:
                        self._loop.call_soon_threadsafe(self._sync, item["Subscriptions"])
            except Exception as exc:  # noqa: BLE001 - a manager gone, a store hiccup: watch again
                log.info("the log subscriptions' watch ended: %s; watching again", exc)
            self._stopped.wait(RETRY)

    def _sync(self, subscriptions: list[dict[str, Any]]) -> None:
        wanted = {s["ID"]: s for s in subscriptions if not self._stopped.is_set()}
        for sub_id in [i for i in self._serving if i not in wanted]:
            self._serving.pop(sub_id).cancel()
        for sub_id, sub in wanted.items():
            if sub_id not in self._serving:
                self._serving[sub_id] = asyncio.ensure_future(self._serve(sub))

    async def _send(self, sub: dict[str, Any], body: dict[str, Any]) -> None:
        from dockyard.cluster.channel import ChannelError

        try:
            await asyncio.to_thread(self._publish, sub["Manager"], {"SubscriptionID": sub["ID"], **body})
        except ChannelError as exc:
            if exc.status == 404:
                raise Gone() from exc
            raise

    async def _serve(self, sub: dict[str, Any]) -> None:
        query = LogQuery.from_wire(sub.get("Query") or {})
        stop = asyncio.Event()

        async def one(task_id: str) -> None:
            c = container_of(self._containers, task_id)
            if c is None:
                return

            async def emit(records: list[LogRecord]) -> None:
                if records:
                    await self._send(sub, {"TaskID": task_id, "Records": [record_to_wire(r) for r in records]})

            await follow_task_log(self._containers, c, query, True, emit, stop)

        try:
            await asyncio.gather(*(one(t) for t in sub.get("Nodes", {}).get(self.node_id, [])))
            await self._send(sub, {"Done": True})
        except Gone:
            pass
        except Exception as exc:  # noqa: BLE001 - the asking manager times the node out
            log.warning("the logs of subscription %s were not all published: %s", sub["ID"], exc)
        finally:  # the entry stays until the subscription leaves the store: it is served once
            stop.set()
