"""The replicated-job orchestrator (swarmkit's orchestrator/jobs/replicated): a job runs until
TotalCompletions tasks of its current iteration completed, at most MaxConcurrent at a time.
An update of the job (a new iteration) starts it over; the earlier iteration's tasks that still
run are shut down."""

from __future__ import annotations

from dockyard.cluster.manager.state import Snapshot, active
from dockyard.cluster.services.task import TaskState


def reconcile(snap: Snapshot) -> None:
    for service in list(snap.services.values()):
        mode = service.spec.service_mode()
        if mode.kind() != "replicated-job":
            continue
        job = mode.replicated_job
        concurrent = job.max_concurrent if job and job.max_concurrent is not None else 1
        total = job.total_completions if job and job.total_completions is not None else concurrent
        tasks = snap.tasks_of(service.id)
        current = [t for t in tasks if t.job_iteration == service.job_iteration]
        for task in tasks:
            if task.job_iteration != service.job_iteration and active(task):
                snap.set_desired(task, TaskState.SHUTDOWN)
        completed = {t.slot for t in current if t.status.state == TaskState.COMPLETE}
        running = {t.slot for t in current if t.desired_state <= TaskState.COMPLETE
                   and t.status.state != TaskState.COMPLETE}
        room = min(concurrent - len(running), total - len(completed) - len(running))
        slot = -1  # a job's slots are 0 .. TotalCompletions-1, as swarmkit numbers them
        for _ in range(max(room, 0)):
            slot += 1
            while slot in completed or slot in running:
                slot += 1
            running.add(slot)
            snap.new_task(service, slot)
