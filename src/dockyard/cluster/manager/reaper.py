"""The task reaper (swarmkit's taskreaper): deletes the tasks nobody needs any more.

- a removed service's tasks: shut down first (desired state remove), deleted once stopped;
- tasks meant to be removed (a scaled-down slot) once stopped;
- a slot's history beyond the cluster's TaskHistoryRetentionLimit, oldest first, never a task
  that still runs or is meant to.
"""

from __future__ import annotations

from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.services.task import Task, TaskState


def _stopped(task: Task) -> bool:
    return task.status.state.terminal() or task.status.state < TaskState.ASSIGNED


def reap(snap: Snapshot) -> None:
    for task in list(snap.tasks.values()):
        gone = task.service_id not in snap.services
        if gone and task.desired_state < TaskState.REMOVE:
            snap.set_desired(task, TaskState.REMOVE)
        if task.desired_state == TaskState.REMOVE and _stopped(task):
            snap.delete(task)
        elif task.node_id and task.node_id not in snap.nodes and _stopped(task):
            snap.delete(task)  # its node left the swarm
    limit = snap.history_limit()
    for service_id in snap.services:
        for slot in snap.slots(service_id).values():
            if len(slot) <= max(limit, 0):
                continue
            old = sorted((t for t in slot if t.desired_state >= TaskState.SHUTDOWN and _stopped(t)),
                         key=lambda t: t.status.timestamp)
            for task in old[:len(slot) - max(limit, 0)]:
                snap.delete(task)
