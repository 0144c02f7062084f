"""The replicated orchestrator (swarmkit's orchestrator/replicated): each replicated service has
as many slots as replicas. Missing slots get new tasks; extra slots are removed (desired state
remove; the agent stops them and the reaper deletes them), those on the nodes with the most copies
and those not running first; slots running an older spec go to the updater."""

from __future__ import annotations

from collections import Counter

from dockyard.cluster.manager import updater
from dockyard.cluster.manager.restart import updatable_in_slot
from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.services.task import Task, TaskState


def reconcile(snap: Snapshot) -> None:
    for service in list(snap.services.values()):
        if service.spec.service_mode().kind() != "replicated":
            continue
        running: dict[int, list[Task]] = {}
        dead: dict[int, list[Task]] = {}
        for slot, tasks in snap.slots(service.id).items():
            assert isinstance(slot, int)
            tasks = [t for t in tasks if t.desired_state != TaskState.REMOVE]  # going: the reaper's
            if not tasks:
                continue
            updatable = updatable_in_slot(tasks, service)
            if updatable:
                running[slot] = updatable
            else:
                dead[slot] = tasks
        wanted = service.spec.replicas()
        for tasks in dead.values():
            for task in tasks:
                snap.delete(task)
        if wanted > len(running):
            updater.update(snap, service, list(running.values()))
            slot = 0
            for _ in range(wanted - len(running)):
                slot += 1
                while slot in running:
                    slot += 1
                snap.new_task(service, slot)
        elif wanted < len(running):
            ordered = _removal_order(list(running.values()))
            updater.update(snap, service, ordered[:wanted])
            for tasks in ordered[wanted:]:
                for task in tasks:
                    snap.set_desired(task, TaskState.REMOVE)
        else:
            updater.update(snap, service, list(running.values()))


def _removal_order(slots: list[list[Task]]) -> list[list[Task]]:
    """Slots to keep first: running ones before others, then by how many copies of the service
    their node already has (the first copy on a node is kept before a node's second)."""
    slots = sorted(slots, key=lambda s: (not any(t.status.state == TaskState.RUNNING for t in s), s[0].slot))
    per_node: Counter[str] = Counter()
    indexed = []
    for slot in slots:
        if len(slot) == 1 and slot[0].node_id:
            per_node[slot[0].node_id] += 1
            indexed.append((per_node[slot[0].node_id], slot))
        else:
            indexed.append((1 << 30, slot))
    indexed.sort(key=lambda pair: pair[0])
    return [slot for _, slot in indexed]
