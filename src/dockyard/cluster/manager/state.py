"""What every manager loop reads and writes in one pass: a snapshot of the cluster's services,
tasks and nodes, and the changes the loops decided. A loop sees the changes of the loops before it
(they write through to the snapshot), so one pass goes from a new service to assigned tasks.
"""

from __future__ import annotations

import copy
import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from dockyard.cluster.objects import Cluster, Node
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.task import Task, TaskState, TaskStatus


def new_task_id() -> str:
    from dockyard.cluster.swarm import new_id

    return new_id()


@dataclass
class Snapshot:
    now: datetime.datetime
    cluster: Cluster | None
    nodes: dict[str, Node]
    services: dict[str, Service]
    tasks: dict[str, Task]
    # What the loops decided, by task ID (written by the runner after the pass).
    written: dict[str, Task] = field(default_factory=dict)
    deleted: dict[str, Task] = field(default_factory=dict)
    services_written: dict[str, Service] = field(default_factory=dict)
    wake_at: datetime.datetime | None = None

    def history_limit(self) -> int:
        return self.cluster.spec.orchestration.task_history_retention_limit if self.cluster else 5

    def tasks_of(self, service_id: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.service_id == service_id]

    def slot_of(self, task: Task) -> int | str:
        """A task's slot: its number, or its node for a global service's task."""
        service = self.services.get(task.service_id)
        return task.node_id if service is not None and service.spec.service_mode().kind().startswith("global") \
            else task.slot

    def slots(self, service_id: str) -> dict[int | str, list[Task]]:
        """A service's tasks by slot."""
        out: dict[int | str, list[Task]] = defaultdict(list)
        for task in self.tasks_of(service_id):
            out[self.slot_of(task)].append(task)
        return out

    # -- changes

    def put(self, task: Task) -> None:
        task.updated_at = self.now
        self.tasks[task.id] = task
        self.written[task.id] = task

    def delete(self, task: Task) -> None:
        self.tasks.pop(task.id, None)
        self.written.pop(task.id, None)
        if task.version.index:
            self.deleted[task.id] = task

    def put_service(self, service: Service) -> None:
        self.services[service.id] = service
        self.services_written[service.id] = service

    def set_desired(self, task: Task, state: TaskState) -> None:
        if task.desired_state != state:
            task.desired_state = state
            self.put(task)

    def wake(self, at: datetime.datetime) -> None:
        """Run a pass again at `at` even if nothing changes (restart delays, update delays)."""
        if self.wake_at is None or at < self.wake_at:
            self.wake_at = at

    def new_task(self, service: Service, slot: int, node_id: str = "") -> Task:
        spec = service.spec
        task = Task(
            id=new_task_id(), created_at=self.now, updated_at=self.now, service_id=service.id,
            service_name=service.name(), spec=copy.deepcopy(spec.task()), spec_version=service.spec_version,
            slot=slot, status=TaskStatus(self.now, TaskState.NEW, "created"), node_id=node_id,
            service_labels=dict(spec.labels or {}),
            endpoint_ports=copy.deepcopy(spec.endpoint_spec.ports or []) if spec.endpoint_spec else [],
        )
        if spec.service_mode().is_job():
            task.desired_state = TaskState.COMPLETE
            task.job_iteration = service.job_iteration
        self.put(task)
        return task


def active(task: Task) -> bool:
    """Meant to run (or to run to completion, a job's) and not ended: it holds its slot."""
    return task.desired_state <= TaskState.COMPLETE and not task.status.state.terminal()


def desired_active(task: Task) -> bool:
    return task.desired_state <= TaskState.COMPLETE
