"""A worker's agent channel: the manager's handlers (agent/dispatch.py) on the memory store, and
the worker's side (agent/remote.py) over a stand-in for the mutual-TLS channel that calls those
handlers as the swarm port does."""

from __future__ import annotations

import datetime

import pytest

from dockyard.cluster import codec
from dockyard.cluster.agent import dispatch
from dockyard.cluster.agent.remote import RemoteChannel
from dockyard.cluster.channel import Caller, ChannelError, Handlers, ManagersUnreachable
from dockyard.cluster.nodes import NODES_PREFIX
from dockyard.cluster.objects import (
    ManagerStatus,
    Node,
    NodeDescription,
    NodeSpec,
    NodeState,
    NodeStatus,
    Platform,
    Resources,
)
from dockyard.cluster.services.records import Records
from dockyard.cluster.services.spec import ContainerSpec, TaskSpec
from dockyard.cluster.services.task import Task, TaskState, TaskStatus
from dockyard.cluster.store import MemoryStore
from dockyard.cluster.store.api import StoreUnavailable
from dockyard.errors import DockyardError, Forbidden

NOW = datetime.datetime.now(datetime.UTC)


def task(task_id: str, node: str, state: TaskState = TaskState.ASSIGNED) -> Task:
    spec = TaskSpec(container_spec=ContainerSpec(image="busybox"))
    return Task(task_id, NOW, NOW, "svc", "web", spec, 1, 1, TaskStatus(NOW, state), TaskState.RUNNING, node)


def manager(store: MemoryStore) -> Handlers:
    handlers = Handlers()
    dispatch.register(handlers, lambda: store, keepalive=0.05)
    return handlers


class Link:
    """What swarm.channel() gives a worker, on the handlers of managers: the first one that answers
    is used, as ManagerChannel tries the managers it knows in turn; `down` are unreachable."""

    def __init__(self, node_id: str, *managers: Handlers) -> None:
        self.caller = Caller(node_id, "worker")
        self.managers = list(managers)
        self.down: set[int] = set()

        self.watched: list[int] = []  # which manager each watch went to

    def _up(self) -> int:
        for i in range(len(self.managers)):
            if i not in self.down:
                return i
        raise ManagersUnreachable("no manager of the swarm answered")

    def call(self, name, body=None, timeout=None):
        try:
            return self.managers[self._up()].call(name, self.caller, body or {})
        except DockyardError as exc:  # the swarm port answers a DockyardError with its status
            raise ChannelError(exc.status, str(exc)) from None

    def watch(self, name, body=None, idle=None):
        i = self._up()
        self.watched.append(i)
        items = self.managers[i].stream(name, self.caller, body or {})
        try:
            for item in items:
                if i in self.down:
                    raise ConnectionResetError(f"manager {i} went away")
                yield item
        finally:
            items.close()


def test_the_watch_gives_the_callers_tasks_and_keeps_the_line_alive() -> None:
    store = MemoryStore()
    records = Records(store)
    assert records.write_tasks([task("t1", "w1"), task("t2", "w2")])
    items = manager(store).stream(dispatch.WATCH, Caller("w1", "worker"), {})
    try:
        first = next(items)
        assert [dispatch.task_from_wire(doc).id for doc in first["Tasks"]] == ["t1"]
        assert next(items) == {}  # nothing changed: a keepalive
        assert records.write_tasks([task("t3", "w2")])  # another node's task: no new list
        assert next(items) == {}
        assert records.write_tasks([task("t4", "w1")])
        assert [dispatch.task_from_wire(doc).id for doc in next(items)["Tasks"]] == ["t1", "t4"]
    finally:
        items.close()


def test_a_status_is_written_for_the_callers_own_task_and_never_goes_back() -> None:
    store = MemoryStore()
    records = Records(store)
    assert records.write_tasks([task("t1", "w1"), task("t2", "w2")])
    handlers = manager(store)

    def report(node: str, task_id: str, state: TaskState) -> dict:
        status = dispatch.to_wire(TaskStatus(NOW, state, state.docker))
        return handlers.call(dispatch.STATUS, Caller(node, "worker"), {"TaskID": task_id, "Status": status})

    assert report("w1", "t1", TaskState.RUNNING) == {"Found": True}
    running = records.task("t1")
    assert running is not None and running.status.state == TaskState.RUNNING and running.running_at is not None
    assert report("w1", "t1", TaskState.STARTING) == {"Found": True}  # late: ignored
    assert records.task("t1").status.state == TaskState.RUNNING
    with pytest.raises(Forbidden, match="task t2 is not assigned to node w1"):
        report("w1", "t2", TaskState.FAILED)
    assert records.task("t2").status.state == TaskState.ASSIGNED
    assert report("w1", "t9", TaskState.RUNNING) == {"Found": False}


def test_the_worker_channel_follows_its_tasks_through_a_change_of_manager() -> None:
    store = MemoryStore()
    records = Records(store)
    assert records.write_tasks([task("t1", "w1")])
    first, second = manager(store), manager(store)  # two managers of one store
    link = Link("w1", first, second)
    remote = RemoteChannel(lambda: link, retry=0.01)
    try:
        assert [t.id for t in remote.assignments("w1", 5)] == ["t1"]
        assert remote.update_status("t1", TaskStatus(NOW, TaskState.RUNNING))
        link.down.add(0)  # the first manager is gone: its watch ends at its next line
        assert records.write_tasks([task("t2", "w1")])
        seen: list[str] = []
        for _ in range(100):
            tasks = remote.assignments("w1", 0.1)
            if tasks is not None:
                seen = [t.id for t in tasks]
                if seen == ["t1", "t2"]:
                    break
        assert seen == ["t1", "t2"]
        assert link.watched[0] == 0 and link.watched[-1] == 1  # watched again through the second
        assert remote.update_status("t2", TaskStatus(NOW, TaskState.RUNNING))
        assert records.task("t2").status.state == TaskState.RUNNING
    finally:
        remote.close()


def test_the_worker_learns_the_managers_from_its_watch() -> None:
    store = MemoryStore()
    for node_id, addr in (("m1", "10.0.0.1:2377"), ("m2", "10.0.0.2:2377"), ("w1", "")):
        node = Node(node_id, NOW, NOW, NodeSpec(), NodeDescription(node_id, Platform("x86_64", "linux"),
                                                                    Resources(1, 1), "1"),
                    NodeStatus(NodeState.READY, addr=addr.split(":")[0]), ManagerStatus(addr) if addr else None)
        store.put(NODES_PREFIX + node_id, codec.encode(node))
    told: list[list[str]] = []
    remote = RemoteChannel(lambda: Link("w1", manager(store)), managers=told.append)
    try:
        remote.assignments("w1", 5)
        assert told and told[0] == ["10.0.0.1:2377", "10.0.0.2:2377"]
    finally:
        remote.close()


def test_a_status_report_without_managers_is_tried_again_and_a_refused_one_is_dropped() -> None:
    store = MemoryStore()
    assert Records(store).write_tasks([task("t1", "w2")])
    link = Link("w1", manager(store))
    remote = RemoteChannel(lambda: link)
    assert not remote.update_status("t1", TaskStatus(NOW, TaskState.RUNNING))  # another node's task
    link.down.add(0)
    with pytest.raises(StoreUnavailable, match="no manager of the swarm answered"):
        remote.update_status("t1", TaskStatus(NOW, TaskState.RUNNING))
    remote.close()
