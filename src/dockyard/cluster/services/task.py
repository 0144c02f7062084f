"""A task: one slot of a service placed on one node, and where it is in its life.

States and their order are swarmkit's (api/types.proto TaskState): a task only moves forward,
the agent reports states up to running and the terminal ones, the managers set the desired
state (running, then shutdown or remove). Docker's JSON names them in lower case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum

from dockyard.cluster.objects import Version
from dockyard.cluster.services.spec import PortConfig, TaskSpec


class TaskState(IntEnum):
    NEW = 0
    PENDING = 64
    ASSIGNED = 192
    ACCEPTED = 256
    PREPARING = 320
    READY = 384
    STARTING = 448
    RUNNING = 512
    COMPLETE = 576
    SHUTDOWN = 640
    FAILED = 704
    REJECTED = 768
    REMOVE = 800
    ORPHANED = 832

    @property
    def docker(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> TaskState:
        return cls[text.upper()]

    def terminal(self) -> bool:
        """The task's container ran and is gone, or never will run (complete and beyond)."""
        return self >= TaskState.COMPLETE


@dataclass
class ContainerStatus:
    container_id: str = ""
    pid: int = 0
    exit_code: int = 0


@dataclass
class TaskStatus:
    timestamp: datetime
    state: TaskState = TaskState.NEW
    message: str = ""
    err: str = ""
    container_status: ContainerStatus | None = None
    ports: list[PortConfig] = field(default_factory=list)


@dataclass
class Task:
    id: str
    created_at: datetime
    updated_at: datetime
    service_id: str
    service_name: str
    spec: TaskSpec
    spec_version: int  # the service's version whose spec this task runs (swarmkit's SpecVersion)
    slot: int  # 0 for a global service's tasks: their node names them
    status: TaskStatus
    desired_state: TaskState = TaskState.RUNNING
    node_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    service_labels: dict[str, str] = field(default_factory=dict)
    job_iteration: int | None = None
    endpoint_ports: list[PortConfig] = field(default_factory=list)  # the service's, when the task was made
    # When the slot's earlier tasks were restarted by the restart policy (at this spec version): what
    # its MaxAttempts and Window count. Carried from a task to its replacement.
    restart_history: list[datetime] = field(default_factory=list)
    not_before: datetime | None = None  # a restarted task waits for the policy's delay
    running_at: datetime | None = None  # when it was first reported running (updates' delay and monitor)
    version: Version = field(default_factory=Version)

    def name(self) -> str:
        """Docker's task name: <service>.<slot>, or <service>.<node> for a global service's."""
        return f"{self.service_name}.{self.slot if self.slot else self.node_id}"

    def container_name(self) -> str:
        return f"{self.name()}.{self.id}"

    def runnable(self) -> bool:
        """Still meant to run (or to finish, for a job) and not yet failed or ended."""
        return self.desired_state <= TaskState.RUNNING and not self.status.state.terminal()
