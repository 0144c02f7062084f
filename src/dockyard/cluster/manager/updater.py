"""The updater (swarmkit's orchestrator/update): replaces a service's tasks that run an older spec,
`Parallelism` slots at a time (0: all at once), stop-first (the new task waits in `ready` until
the old one stopped) or start-first (the old task stops once the new one runs), with `Delay`
between a batch's tasks running and the next batch.

A new task runs for the updater once its agent says running, which with a health check is once
healthy (the agent holds it in starting until then). A new task that fails (or turns unhealthy)
before it ran for `Monitor` is a failure, also in the `Monitor` after the last batch, before the
update is called complete; once failures pass
`MaxFailureRatio` of the slots, `FailureAction` says what follows: pause (UpdateStatus paused
until the next update), continue, or rollback (the previous spec becomes the spec again, rolled
out with the RollbackConfig; a rollback's own failures pause it). UpdateStatus tells each step
in swarmkit's words.
"""

from __future__ import annotations

import datetime

from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.services import defaults
from dockyard.cluster.services.control import spec_key, up_to_date
from dockyard.cluster.services.service import Service, UpdateStatus
from dockyard.cluster.services.spec import UpdateConfig
from dockyard.cluster.services.task import Task, TaskState

PAUSED = ("paused", "rollback_paused")


def _ns(value: int | None) -> datetime.timedelta:
    return datetime.timedelta(microseconds=(value or 0) / 1000)


def update(snap: Snapshot, service: Service, slots: list[list[Task]]) -> None:
    status = service.update_status
    rolling_back = status is not None and status.state.startswith("rollback")
    config = defaults.update_config(service.spec.rollback_config if rolling_back else service.spec.update_config)
    dirty, in_flight = [], 0
    key = spec_key(service)
    for slot in slots:
        current = [t for t in slot if up_to_date(t, service, key) and t.desired_state <= TaskState.RUNNING]
        old = [t for t in slot if not up_to_date(t, service, key) and t.desired_state <= TaskState.RUNNING]
        if current and any(t.status.state < TaskState.RUNNING for t in current):
            in_flight += 1
        if old and not current:
            dirty.append(old)
        elif old and current and any(t.status.state == TaskState.RUNNING for t in current):
            for task in old:  # start-first: the new task runs, the old one goes
                snap.set_desired(task, TaskState.SHUTDOWN)
    if status is not None and status.state in PAUSED:
        return
    if dirty:
        _start(snap, service)
    updating = service.update_status is not None and service.update_status.state in ("updating", "rollback_started")
    if updating and _failed(snap, service, config, len(slots)):
        return  # (a task restarting outside an update is the restart policy's business)
    if not dirty and not in_flight:
        if _monitored(snap, service, config):
            _finish(snap, service)
        return
    room = len(dirty) if not config.parallelism else max(config.parallelism - in_flight, 0)
    if room and dirty and not _delay_passed(snap, service, config):
        return
    for old in dirty[:room]:
        first = old[0]
        pinned = first.node_id if service.spec.service_mode().kind() == "global" else ""
        replacement = snap.new_task(service, first.slot, pinned)
        if config.order != "start-first":
            replacement.desired_state = TaskState.READY
            for task in old:
                snap.set_desired(task, TaskState.SHUTDOWN)
        snap.put(replacement)


def _this_update(snap: Snapshot, service: Service) -> list[Task]:
    """The tasks this update (or rollback) made: up to date, made since it started."""
    status = service.update_status
    started = status.started_at if status is not None and status.started_at is not None else service.updated_at
    key = spec_key(service)
    return [t for t in snap.tasks_of(service.id) if t.created_at >= started and up_to_date(t, service, key)]


def _since_last_running(snap: Snapshot, service: Service, wait: int | None) -> bool:
    """`wait` (ns) has passed since the last of this update's tasks began to run (or none runs
    yet); else asks for a pass then."""
    began = [t.running_at for t in _this_update(snap, service) if t.running_at is not None]
    if not wait or not began:
        return True
    ready_at = max(began) + _ns(wait)
    if ready_at > snap.now:
        snap.wake(ready_at)
        return False
    return True


def _delay_passed(snap: Snapshot, service: Service, config: UpdateConfig) -> bool:
    """`Delay` after the last of this update's tasks began to run."""
    return _since_last_running(snap, service, config.delay)


def _monitored(snap: Snapshot, service: Service, config: UpdateConfig) -> bool:
    """swarmkit's updater keeps watching the last tasks for `Monitor` before it calls the update
    complete: a new task that fails (or turns unhealthy) in that time still counts as a failure."""
    status = service.update_status
    if status is None or status.completed_at is not None or status.state not in ("updating", "rollback_started"):
        return True
    return _since_last_running(snap, service, config.monitor)


def _failed(snap: Snapshot, service: Service, config: UpdateConfig, slots: int) -> bool:
    """Apply the failure action once failures pass the ratio; True when the update stops here."""
    monitor = _ns(config.monitor)
    failures = [t for t in _this_update(snap, service)
                if t.status.state in (TaskState.FAILED, TaskState.REJECTED, TaskState.COMPLETE)
                and (t.running_at is None or t.status.timestamp - t.running_at <= monitor)]
    if not failures or len(failures) / max(slots, 1) <= (config.max_failure_ratio or 0):
        return False
    status = service.update_status
    assert status is not None
    culprit = max(failures, key=lambda t: t.status.timestamp).id
    rolling_back = status.state.startswith("rollback")
    action = config.failure_action or "pause"
    if action == "continue" or (rolling_back and action == "rollback"):
        return False
    if action == "rollback" and service.previous_spec is not None:
        current, current_version = service.spec, service.spec_version
        service.spec, service.spec_version = service.previous_spec, service.previous_spec_version
        service.previous_spec, service.previous_spec_version = current, current_version
        service.update_status = UpdateStatus("rollback_started", snap.now, None,
                                             f"update rolled back due to failure or early termination of task "
                                             f"{culprit}")
    else:
        word = "rollback" if rolling_back else "update"
        service.update_status = UpdateStatus(f"{word}_paused" if rolling_back else "paused", status.started_at,
                                             None, f"{word} paused due to failure or early termination of task "
                                                   f"{culprit}")
    snap.put_service(service)
    return True


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
