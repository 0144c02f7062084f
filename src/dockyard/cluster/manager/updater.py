"""The updater: replaces a service's tasks that run an older spec, slot by slot, `Parallelism`
at a time (0: all at once), stop-first (the new task waits in `ready` until the old one stopped)
or start-first (the old task stops once the new one runs)."""

from __future__ import annotations

from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.services import defaults
from dockyard.cluster.services.control import up_to_date
from dockyard.cluster.services.service import Service, UpdateStatus
from dockyard.cluster.services.task import Task, TaskState


def update(snap: Snapshot, service: Service, slots: list[list[Task]]) -> None:
    rolling_back = service.update_status is not None and service.update_status.state.startswith("rollback")
    config = defaults.update_config(service.spec.rollback_config if rolling_back else service.spec.update_config)
    dirty, in_flight = [], 0
    for slot in slots:
        current = [t for t in slot if up_to_date(t, service) and t.desired_state <= TaskState.RUNNING]
        old = [t for t in slot if not up_to_date(t, service) and t.desired_state <= TaskState.RUNNING]
        if current and any(t.status.state < TaskState.RUNNING for t in current):
            in_flight += 1
        if old and not current:
            dirty.append(old)
        elif old and current and any(t.status.state == TaskState.RUNNING for t in current):
            for task in old:  # start-first: the new task runs, the old one goes
                snap.set_desired(task, TaskState.SHUTDOWN)
    if not dirty and not in_flight:
        _finish(snap, service)
        return
    if dirty:
        _start(snap, service)
    room = len(dirty) if not config.parallelism else max(config.parallelism - in_flight, 0)
    for old in dirty[:room]:
        first = old[0]
        pinned = first.node_id if service.spec.service_mode().kind() == "global" else ""
        replacement = snap.new_task(service, first.slot, pinned)
        if config.order != "start-first":
            replacement.desired_state = TaskState.READY
            for task in old:
                snap.set_desired(task, TaskState.SHUTDOWN)
        snap.put(replacement)


def _start(snap: Snapshot, service: Service) -> None:
    status = service.update_status
    if status is None or status.state in ("completed", "rollback_completed"):
        service.update_status = UpdateStatus("updating", snap.now, None, "update in progress")
        snap.put_service(service)


def _finish(snap: Snapshot, service: Service) -> None:
    status = service.update_status
    if status is None or status.completed_at is not None:
        return
    if status.state == "updating":
        service.update_status = UpdateStatus("completed", status.started_at, snap.now, "update completed")
    elif status.state == "rollback_started":
        service.update_status = UpdateStatus("rollback_completed", status.started_at, snap.now,
                                             "rollback completed")
    else:
        return
    snap.put_service(service)
