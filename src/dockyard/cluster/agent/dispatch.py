"""A manager's side of the workers' agents (swarmkit's dispatcher, its Assignments and
UpdateTaskStatus): two channel handlers any manager answers from the cluster store, so a worker's
agent may talk to whichever manager it reaches.

- `tasks.watch` (a stream): the caller's tasks, the whole list at once and again after every
  change to them, and an empty line every KEEPALIVE seconds so either side notices a dead peer.
- `tasks.status` (a call): one task's status, written against the version read and only for a task
  assigned to the caller's node (its certificate says which node it is).

Tasks travel in the store's own JSON (cluster/codec.py): the link joins two dockyard nodes only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from dockyard.cluster import codec
from dockyard.cluster.agent.channel import record_status, tasks_of
from dockyard.cluster.channel import Caller, Handlers
from dockyard.cluster.nodes import NODES_PREFIX
from dockyard.cluster.objects import Node
from dockyard.cluster.services.records import TASKS_PREFIX, Records
from dockyard.cluster.services.task import Task, TaskStatus
from dockyard.cluster.store.api import Store
from dockyard.errors import InvalidParameter

WATCH = "tasks.watch"
STATUS = "tasks.status"
KEEPALIVE = 5.0  # seconds between lines of a quiet watch


def to_wire(obj: object) -> Any:
    return json.loads(codec.encode(obj))


def task_from_wire(doc: Any) -> Task:
    return codec.decode(Task, json.dumps(doc).encode())


def status_from_wire(doc: Any) -> TaskStatus:
    return codec.decode(TaskStatus, json.dumps(doc).encode())


def managers_of(store: Store) -> list[str]:
    """The managers' swarm addresses, as their node records keep them."""
    nodes = (codec.decode(Node, kv.value) for kv in store.range(NODES_PREFIX))
    return [n.manager_status.addr for n in nodes if n.manager_status is not None and n.manager_status.addr]


def _follow(records: Records, node_id: str, keepalive: float) -> Iterator[dict[str, Any]]:
    """The node's tasks when they change, and the managers' addresses when they change (checked at
    each line: a worker that knows them all reaches another one when its manager goes)."""
    watch = records.store.watch(TASKS_PREFIX)  # before the first read: no change falls between
    try:
        last = None
        known = None
        while True:
            tasks = [to_wire(t) for t in tasks_of(records, node_id)]
            managers = managers_of(records.store)
            item: dict[str, Any] = {}
            if tasks != last:
                item["Tasks"] = last = tasks
            if managers != known:
                item["Managers"] = known = managers
            yield item
            while watch.next(keepalive) is None:
                managers = managers_of(records.store)
                if managers != known:
                    known = managers
                    yield {"Managers": managers}
                else:
                    yield {}
            while watch.next(0) is not None:  # a burst of changes is one answer
                pass
    finally:
        watch.cancel()


def register(handlers: Handlers, store: Callable[[], Store], keepalive: float = KEEPALIVE) -> None:
    """Add the two handlers; `store` is the manager's (Unavailable on a node that has none)."""

    def watch_tasks(caller: Caller, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        return _follow(Records(store()), caller.node_id, keepalive)  # no store: refused before the stream

    def status(caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        task_id, raw = body.get("TaskID"), body.get("Status")
        if not isinstance(task_id, str) or not task_id or not isinstance(raw, dict):
            raise InvalidParameter("tasks.status needs a TaskID and a Status")
        return {"Found": record_status(Records(store()), task_id, status_from_wire(raw), caller.node_id)}

    handlers.add_stream(WATCH, watch_tasks)
    handlers.add_call(STATUS, status)
