"""Engine API: /tasks, Docker's Task JSON from the typed Task."""

from __future__ import annotations

import asyncio
from typing import Any

from dockyard.api.filters import Filters
from dockyard.api.http import Request, Response
from dockyard.api.services import time_json
from dockyard.cluster.services.control import TASK_FILTERS, ServiceControl
from dockyard.cluster.services.task import Task
from dockyard.engine.specs.codec import to_json


def task_json(task: Task) -> dict[str, Any]:
    s = task.status
    status: dict[str, Any] = {"Timestamp": time_json(s.timestamp), "State": s.state.docker, "Message": s.message}
    if s.err:
        status["Err"] = s.err
    if s.container_status is not None:
        c = s.container_status
        status["ContainerStatus"] = {"ContainerID": c.container_id, "PID": c.pid, "ExitCode": c.exit_code}
    status["PortStatus"] = {"Ports": [to_json(p) for p in s.ports]} if s.ports else {}
    spec = to_json(task.spec)
    spec.setdefault("ForceUpdate", 0)
    body: dict[str, Any] = {
        "ID": task.id, "Version": {"Index": task.version.index}, "CreatedAt": time_json(task.created_at),
        "UpdatedAt": time_json(task.updated_at), "Labels": dict(task.labels), "Spec": spec,
        "ServiceID": task.service_id, "Status": status, "DesiredState": task.desired_state.docker,
    }
    if task.slot:
        body["Slot"] = task.slot
    if task.node_id:
        body["NodeID"] = task.node_id
    if task.job_iteration is not None:
        body["JobIteration"] = {"Index": task.job_iteration}
    return body


def register(router, control: ServiceControl) -> None:
    async def list_tasks(req: Request) -> Response:
        filters = Filters.parse(req.arg("filters"), TASK_FILTERS)
        found = await asyncio.to_thread(control.tasks, filters.values)
        return Response(200, [task_json(t) for t in found])

    async def inspect(req: Request) -> Response:
        return Response(200, task_json(await asyncio.to_thread(control.task, req.params["id"])))

    router.add("GET", "/tasks", list_tasks)
    router.add("GET", "/tasks/{id}", inspect)
