"""How an agent hears of its tasks and reports on them: swarmkit's dispatcher session, cut down
to two calls. On a manager the agent reads the store directly (StoreChannel); a worker speaks to
a manager over the swarm's mutual-TLS link, which implements the same Protocol.
"""

from __future__ import annotations

from typing import Protocol

from dockyard.cluster.services.records import TASKS_PREFIX, Records
from dockyard.cluster.services.task import Task, TaskState, TaskStatus
from dockyard.cluster.store.api import Store, Watch


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


class StoreChannel:
    """The channel of an agent on a manager: the cluster store itself."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._records = Records(store)
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
        return [t for t in self._records.tasks() if t.node_id == node_id]

    def update_status(self, task_id: str, status: TaskStatus) -> bool:
        while True:
            task = self._records.task(task_id)
            if task is None:
                return False
            if status.state < task.status.state:
                return True
            task.status = status
            task.updated_at = status.timestamp
            if status.state == TaskState.RUNNING and task.running_at is None:
                task.running_at = status.timestamp
            if self._records.write_tasks([task]):
                return True

    def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

