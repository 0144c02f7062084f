"""The scheduler (swarmkit's manager/scheduler): gives each unassigned task a node.

A node qualifies when it is ready and active, meets the task's constraints and platforms, has the
reserved CPU and memory left, and holds fewer than MaxReplicas of the service. Among those, spread
preferences split the candidates by a label's value and take the group with the fewest of the
service's tasks; then the node with the fewest of the service's tasks wins, then the one with the
fewest tasks overall. A task no node can take stays pending with the reason, as Docker says it.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from dockyard.cluster.manager import constraints
from dockyard.cluster.manager.state import Snapshot
from dockyard.cluster.objects import Availability, Node, NodeState
from dockyard.cluster.services.task import Task, TaskState
from dockyard.errors import InvalidParameter


def _reservations(task: Task) -> tuple[int, int]:
    r = task.spec.resources.reservations if task.spec.resources else None
    return (r.nano_cpus or 0, r.memory_bytes or 0) if r else (0, 0)


def _platform_ok(task: Task, node: Node) -> bool:
    platforms = task.spec.placement.platforms if task.spec.placement else None
    if not platforms:
        return True
    arch = node.description.platform.architecture
    aliases = {"x86_64": "amd64", "aarch64": "arm64"}
    for p in platforms:
        want_arch = aliases.get(p.architecture or "", p.architecture or "")
        if (not p.os or p.os == node.description.platform.os) and (
                not want_arch or want_arch == aliases.get(arch, arch)):
            return True
    return False


class _Load:
    """What is already placed on each node: tasks (all, and per service) and reservations."""

    def __init__(self, snap: Snapshot) -> None:
        self.total: Counter[str] = Counter()
        self.per_service: dict[str, Counter[str]] = defaultdict(Counter)
        self.cpu: Counter[str] = Counter()
        self.memory: Counter[str] = Counter()
        self.host_ports: dict[str, set[tuple[int, str]]] = defaultdict(set)
        for task in snap.tasks.values():
            if task.node_id and task.status.state >= TaskState.ASSIGNED and not task.status.state.terminal() \
                    and task.desired_state <= TaskState.COMPLETE:
                self.add(task, task.node_id)

    def add(self, task: Task, node_id: str) -> None:
        self.total[node_id] += 1
        self.per_service[task.service_id][node_id] += 1
        cpu, memory = _reservations(task)
        self.cpu[node_id] += cpu
        self.memory[node_id] += memory
        self.host_ports[node_id] |= _host_ports(task)


def _host_ports(task: Task) -> set[tuple[int, str]]:
    """The node ports a task publishes in host mode (one task per node may have each)."""
    return {(p.published_port, p.protocol or "tcp") for p in task.endpoint_ports
            if p.publish_mode == "host" and p.published_port}


def _explain(counts: Counter[str]) -> str:
    parts = [f"{reason} on {n} node{'s' if n != 1 else ''}" for reason, n in sorted(counts.items())]
    return f"no suitable node ({'; '.join(parts)})" if parts else "no suitable node"


def schedule(snap: Snapshot) -> None:
    load = _Load(snap)
    ready = [n for n in snap.nodes.values() if n.status.state == NodeState.READY]
    for task in sorted(snap.tasks.values(), key=lambda t: (t.created_at, t.slot)):
        if task.status.state > TaskState.PENDING or task.desired_state > TaskState.COMPLETE:
            continue
        placement = task.spec.placement
        try:
            wanted = constraints.parse(placement.constraints or []) if placement else []
        except InvalidParameter as exc:
            _pending(snap, task, str(exc))
            continue
        reasons: Counter[str] = Counter()
        candidates = []
        for node in sorted(ready if not task.node_id else [n for n in ready if n.id == task.node_id],
                           key=lambda n: n.id):
            reason = _refusal(task, node, wanted, load)
            if reason:
                reasons[reason] += 1
            else:
                candidates.append(node)
        if not candidates:
            _pending(snap, task, _explain(reasons))
            continue
        node = _pick(task, candidates, load)
        load.add(task, node.id)
        task.node_id = node.id
        task.status.state, task.status.message, task.status.err = (
            TaskState.ASSIGNED, "scheduler assigned task to node", "")
        task.status.timestamp = snap.now
        snap.put(task)


def _refusal(task: Task, node: Node, wanted: list[constraints.Constraint], load: _Load) -> str:
    if node.spec.availability != Availability.ACTIVE:
        return "node is not available for new tasks" if node.spec.availability == Availability.DRAIN \
            else "node is paused"
    if not all(c.matches(node) for c in wanted):
        return "scheduling constraints not satisfied"
    if not _platform_ok(task, node):
        return "unsupported platform"
    cpu, memory = _reservations(task)
    resources = node.description.resources
    if cpu and load.cpu[node.id] + cpu > resources.nano_cpus:
        return "insufficient resources"
    if memory and load.memory[node.id] + memory > resources.memory_bytes:
        return "insufficient resources"
    if _host_ports(task) & load.host_ports[node.id]:
        return "host-mode port already in use"
    placement = task.spec.placement
    if placement and placement.max_replicas and load.per_service[task.service_id][node.id] >= placement.max_replicas:
        return "max replicas per node limit exceed"
    return ""


def _pick(task: Task, candidates: list[Node], load: _Load) -> Node:
    placement = task.spec.placement
    mine = load.per_service[task.service_id]
    for preference in (placement.preferences or []) if placement else []:
        descriptor = preference.spread.spread_descriptor if preference.spread else ""
        if not descriptor:
            continue
        groups: dict[str, list[Node]] = defaultdict(list)
        for node in candidates:
            groups[constraints.node_value(node, descriptor) or ""].append(node)
        # The group holding the fewest of the service's tasks, counted over the group's nodes.
        candidates = min(groups.values(), key=lambda g: (sum(mine[n.id] for n in g), -len(g)))
    return min(candidates, key=lambda n: (mine[n.id], load.total[n.id], n.id))


def _pending(snap: Snapshot, task: Task, reason: str) -> None:
    if task.status.state == TaskState.PENDING and task.status.err == reason:
        return
    task.status.state, task.status.message, task.status.err = TaskState.PENDING, "pending task scheduling", reason
    task.status.timestamp = snap.now
    snap.put(task)
