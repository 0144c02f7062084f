"""How an agent hears of its tasks and reports on them: swarmkit's dispatcher session, cut down
to two calls. On a manager the agent reads the store directly (StoreChannel); a worker speaks to
a manager over the swarm's mutual-TLS link (agent/remote.py), which implements the same Protocol
with the calls of agent/dispatch.py.
"""

from __future__ import annotations

from typing import Protocol

from dockyard.cluster.services.records import TASKS_PREFIX, Records, TaskCache
from dockyard.cluster.services.task import Task, TaskState, TaskStatus
from dockyard.cluster.store.api import Store, Watch
from dockyard.errors import Forbidden


class TaskChannel(Protocol):
    def assignments(self, node_id: str, timeout: float) -> list[Task] | None:
        """Every task assigned to `node_id`, once they changed since the last call (the first call
        answers at once); None when nothing changed within `timeout` seconds."""
        ...

    def update_status(self, task_id: str, status: TaskStatus) -> bool:
        """Record what the agent observed. A status never goes back (a state lower than the
        recorded one is ignored); False when the task no longer exists."""
        ...

    def close(self) -> None: ...


def record_status(records: Records, task_id: str, status: TaskStatus, node_id: str | None = None) -> bool:
    """Write an agent's observation on the task as read, against the version read (a manager loop
    that moved the task meanwhile makes it read again); a status never goes back. With `node_id`,
    only that node's own task may be reported on (a worker, known by its certificate)."""
    while True:
        task = records.task(task_id)
        if task is None:
            return False
        if node_id is not None and task.node_id != node_id:
            raise Forbidden(f"task {task_id} is not assigned to node {node_id}")
        if status.state < task.status.state:
            return True
        task.status = status
        task.updated_at = status.timestamp
        if status.state == TaskState.RUNNING and task.running_at is None:
            task.running_at = status.timestamp
        if records.write_tasks([task]):
            return True


def tasks_of(records: Records, node_id: str) -> list[Task]:
    return [t for t in records.tasks() if t.node_id == node_id]


class StoreChannel:
    """The channel of an agent on a manager: the cluster store itself."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._records = Records(store)
        self._decoded = TaskCache()  # the tasks read again at every change: decoded once each
        self._watch: Watch | None = None

    def assignments(self, node_id: str, timeout: float) -> list[Task] | None:
        if self._watch is None:
            self._watch = self._store.watch(TASKS_PREFIX)
        else:
            event = self._watch.next(timeout)
            if event is None:
                return None
            while self._watch.next(0) is not None:  # a burst of changes is one answer
                pass
        return [t for t in self._decoded.tasks(self._store) if t.node_id == node_id]

    def update_status(self, task_id: str, status: TaskStatus) -> bool:
        return record_status(self._records, task_id, status)

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
