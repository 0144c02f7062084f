"""The task controller's rules with a fake engine backend: no daemon, no containers."""

from __future__ import annotations

import asyncio
import datetime
from types import SimpleNamespace

from dockyard.cluster.agent.controller import Controller
from dockyard.cluster.services.spec import ContainerSpec, TaskSpec
from dockyard.cluster.services.task import Task, TaskState, TaskStatus
from dockyard.errors import NotFound


class BrokenStartBackend:
    """Creates containers, then fails to start them with an error no rule foresees."""

    def __init__(self) -> None:
        self.created: dict[str, SimpleNamespace] = {}

    def inspect_container(self, ref: str) -> SimpleNamespace:
        for c in self.created.values():
            if ref in (c.id, c.name):
                return c
        raise NotFound(f"No such container: {ref}")

    def create_managed_container(self, request, name: str) -> SimpleNamespace:
        c = SimpleNamespace(id="c" * 64, name=name, state=SimpleNamespace(
            running=False, status="created", started_at=None, exit_code=0, pid=0, health=None))
        self.created[c.id] = c
        return c

    async def start_container(self, container_id: str) -> None:
        raise OSError(24, "Too many open files")


def _task() -> Task:
    now = datetime.datetime.now(datetime.UTC)
    return Task(id="t1", created_at=now, updated_at=now, service_id="s1", service_name="web",
                spec=TaskSpec(container_spec=ContainerSpec(image="busybox:latest")), spec_version=1,
                slot=1, status=TaskStatus(now), node_id="n1")


def test_an_unforeseen_error_while_starting_fails_the_task_instead_of_leaving_it_starting() -> None:
    reports: list[TaskStatus] = []

    async def report(task_id: str, status: TaskStatus) -> None:
        reports.append(status)

    controller = Controller(_task(), BrokenStartBackend(), report, pull=None)  # type: ignore[arg-type]
    asyncio.run(asyncio.wait_for(controller.run(), 5))

    states = [s.state for s in reports]
    assert states[-1] == TaskState.FAILED, states
    assert TaskState.STARTING in states
    assert "Too many open files" in reports[-1].err
