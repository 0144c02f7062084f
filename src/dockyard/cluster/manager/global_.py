"""The global orchestrator (swarmkit's orchestrator/global): one task of a global service on
every node that may run it (ready, not drained, meeting the constraints); a node that leaves,
drains or stops qualifying has its task shut down. Global jobs run once per node and iteration."""

from __future__ import annotations

from dockyard.cluster.manager import constraints, updater
from dockyard.cluster.manager.restart import updatable_in_slot
from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.objects import Availability, Node, NodeState
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.task import TaskState
from dockyard.errors import InvalidParameter


def _eligible(service: Service, node: Node) -> bool:
    if node.status.state == NodeState.DOWN or node.spec.availability == Availability.DRAIN:
        return False
    placement = service.spec.task().placement
    try:
        wanted = constraints.parse(placement.constraints or []) if placement else []
    except InvalidParameter:
        return False
    return all(c.matches(node) for c in wanted)


def reconcile(snap: Snapshot) -> None:
    for service in list(snap.services.values()):
        kind = service.spec.service_mode().kind()
        if kind not in ("global", "global-job"):
            continue
        by_node = {node_id: tasks for node_id, tasks in snap.slots(service.id).items()}
        kept = []
        for node in sorted(snap.nodes.values(), key=lambda n: n.id):
            tasks = by_node.pop(node.id, [])
            if not _eligible(service, node):
                for task in tasks:
                    if task.desired_state <= TaskState.COMPLETE:
                        snap.set_desired(task, TaskState.SHUTDOWN)
                continue
            if kind == "global-job":
                this_run = [t for t in tasks if t.job_iteration == service.job_iteration]
                if not this_run:
                    snap.new_task(service, 0, node.id)
                continue
            updatable = updatable_in_slot(tasks, service)
            if updatable:
                kept.append(updatable)
            else:
                snap.new_task(service, 0, node.id)
        for tasks in by_node.values():  # nodes that left the swarm
            for task in tasks:
                if task.desired_state <= TaskState.COMPLETE:
                    snap.set_desired(task, TaskState.SHUTDOWN)
        if kind == "global":
            updater.update(snap, service, kept)
