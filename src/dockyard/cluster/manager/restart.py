"""The restart supervisor (swarmkit's orchestrator/restart): a task that ended while it was meant
to run is shut down and, when its restart policy allows, replaced in its slot by a new task that
waits for the policy's delay (desired state ready, then running).

Its history (when the slot was restarted) travels with the replacement task, so MaxAttempts and
Window hold across manager restarts, which swarmkit keeps only in memory.
"""

from __future__ import annotations

import datetime

from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.objects import Availability, NodeState
from dockyard.cluster.services import defaults
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.task import Task, TaskState


def should_restart(task: Task, service: Service) -> bool:
    policy = defaults.restart_policy(task.spec.restart_policy)
    if policy.condition == "none":
        return False
    if task.status.state == TaskState.COMPLETE and (policy.condition == "on-failure" or
                                                    service.spec.service_mode().is_job()):
        return False
    if not policy.max_attempts:
        return True
    history = task.restart_history
    if policy.window:
        ended = task.status.timestamp
        lookback = ended - datetime.timedelta(microseconds=policy.window / 1000)
        history = [at for at in history if lookback < at <= ended]
    return len(history) < policy.max_attempts


def updatable_in_slot(slot: list[Task], service: Service) -> list[Task]:
    """The slot's tasks that still count (swarmkit's UpdatableTasksInSlot): those meant to run, or
    the newest one when the policy will not restart it (it keeps its slot, ended)."""
    updatable = [t for t in slot if t.desired_state <= TaskState.COMPLETE]
    if updatable or not slot:
        return updatable
    if service.update_status is not None and service.update_status.state == "rollback_started":
        return []
    newest = max(slot, key=lambda t: t.status.timestamp)
    return [] if should_restart(newest, service) else [newest]


def supervise(snap: Snapshot) -> None:
    for task in list(snap.tasks.values()):
        service = snap.services.get(task.service_id)
        if service is None:
            continue
        ended = task.status.state > TaskState.RUNNING
        if task.desired_state <= TaskState.RUNNING and ended:
            _restart(snap, service, task)
        elif task.desired_state == TaskState.COMPLETE and ended and task.status.state != TaskState.COMPLETE:
            _restart(snap, service, task)  # a job's task that failed
    _leave_lost_nodes(snap)
    _start_ready(snap)


def _leave_lost_nodes(snap: Snapshot) -> None:
    """swarmkit's restartTasksByNodeID: a replicated task on a node that is down, drained or gone
    is shut down and replaced elsewhere, as if it had ended (global services: global_.py)."""
    for task in list(snap.tasks.values()):
        if task.desired_state > TaskState.RUNNING or task.status.state > TaskState.RUNNING or not task.node_id:
            continue
        node = snap.nodes.get(task.node_id)
        if node is not None and node.status.state != NodeState.DOWN and node.spec.availability != Availability.DRAIN:
            continue
        service = snap.services.get(task.service_id)
        if service is not None and service.spec.service_mode().kind() == "replicated":
            _restart(snap, service, task)


def _restart(snap: Snapshot, service: Service, task: Task) -> None:
    snap.set_desired(task, TaskState.SHUTDOWN)
    if not should_restart(task, service):
        return
    pinned = task.node_id if service.spec.service_mode().kind().startswith("global") else ""
    replacement = snap.new_task(service, task.slot, pinned)
    if task.job_iteration is not None:
        replacement.job_iteration = task.job_iteration
    policy = defaults.restart_policy(task.spec.restart_policy)
    node = snap.nodes.get(task.node_id)
    delay = 0 if node is not None and node.spec.availability == Availability.DRAIN else policy.delay or 0
    replacement.desired_state = TaskState.READY
    replacement.not_before = snap.now + datetime.timedelta(microseconds=delay / 1000)
    same_version = task.spec_version == service.spec_version
    replacement.restart_history = [*(task.restart_history if same_version else []), snap.now]
    snap.put(replacement)


def _start_ready(snap: Snapshot) -> None:
    """A task waiting in `ready` (a restart's delay, a stop-first update) starts once its time has
    come and the slot's older task has stopped (or its node is down)."""
    for task in list(snap.tasks.values()):
        if task.desired_state != TaskState.READY:
            continue
        if task.not_before is not None and task.not_before > snap.now:
            snap.wake(task.not_before)
            continue
        if any(_still_running(snap, other) for other in snap.tasks.values()
               if other.id != task.id and other.service_id == task.service_id
               and snap.slot_of(other) == snap.slot_of(task)):
            continue
        service = snap.services.get(task.service_id)
        snap.set_desired(task, TaskState.COMPLETE if service and service.spec.service_mode().is_job()
                         else TaskState.RUNNING)


def _still_running(snap: Snapshot, task: Task) -> bool:
    if task.desired_state == TaskState.READY or task.status.state.terminal():
        return False
    if task.status.state < TaskState.ASSIGNED:
        return False  # never reached a node: nothing to wait for
    node = snap.nodes.get(task.node_id)
    return node is None or node.status.state != NodeState.DOWN
