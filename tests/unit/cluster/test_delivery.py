"""A task's secret and config references become the engine backend's TaskFiles, each payload
opened by ID only for the task that names it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest

from dockyard.cluster.channel import Caller, ChannelError, Handlers
from dockyard.cluster.delivery import SwarmTaskFiles, register, task_files
from dockyard.cluster.payloads import Payloads
from dockyard.cluster.secrets import SECRET, SecretSpec
from dockyard.cluster.services.records import Records
from dockyard.cluster.services.spec import ContainerSpec, FileTarget, SecretReference, TaskSpec
from dockyard.cluster.services.task import Task, TaskState, TaskStatus
from dockyard.cluster.store import MemoryStore
from dockyard.engine.backend import TaskFile
from dockyard.errors import Forbidden, InvalidParameter, NotFound, Unavailable


@dataclass
class Target:
    name: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass
class SecretRef:
    file: Target | None
    secret_id: str
    secret_name: str


@dataclass
class ConfigRef:
    file: Target | None
    config_id: str
    config_name: str
    runtime: dict | None = None


def test_references_become_task_files_opened_by_id() -> None:
    opened: list[str] = []

    def open_secret(object_id: str) -> bytes:
        opened.append(object_id)
        return {"s1": b"pw", "s2": b"key"}[object_id]

    files = task_files(
        [SecretRef(Target("db_password", "1000", "1001", 0o400), "s1", "db"),
         SecretRef(Target("/etc/ssl/key.pem"), "s2", "tls")],
        [ConfigRef(Target("/etc/nginx.conf", "0", "0", 0o644), "c1", "nginx"),
         ConfigRef(None, "c2", "credspec", runtime={})],
        open_secret, lambda object_id: b"conf-" + object_id.encode())
    assert files == [
        TaskFile("db", b"pw", "db_password", 1000, 1001, 0o400, "secret"),
        TaskFile("tls", b"key", "/etc/ssl/key.pem", 0, 0, 0o444, "secret"),
        TaskFile("nginx", b"conf-c1", "/etc/nginx.conf", 0, 0, 0o644, "config"),
    ]
    assert opened == ["s1", "s2"]  # the runtime-target config gives no file and is not opened
    assert [f.path_in_container() for f in files] == ["/run/secrets/db_password", "/etc/ssl/key.pem",
                                                      "/etc/nginx.conf"]


def test_a_non_numeric_owner_is_refused() -> None:
    with pytest.raises(InvalidParameter, match="invalid UID 'www' for db"):
        task_files([SecretRef(Target("x", "www"), "s1", "db")], [], lambda i: b"", lambda i: b"")


class FakeSwarm:
    """A manager (with a store) or a worker (none, a channel to the manager's handlers)."""

    def __init__(self, store, handlers, node_id: str, manager) -> None:
        self._store, self.handlers, self.node_id, self._manager = store, handlers, node_id, manager

    def store(self):
        if self._store is None:
            raise Unavailable("This node is not a swarm manager.")
        return self._store

    def node(self, ref):
        raise NotFound(f"node {ref} not found")

    def channel(self):
        manager, node_id = self._manager, self.node_id

        class Channel:
            def call(self, name, body):
                try:
                    return manager.handlers.call(name, Caller(node_id, "worker"), body)
                except ChannelError:
                    raise
                except Exception as exc:  # the swarm port answers a DockyardError with its status
                    raise ChannelError(exc.status, str(exc)) from None

        return Channel()


def test_a_worker_gets_the_files_of_its_own_running_tasks_only() -> None:
    store = MemoryStore()
    manager = FakeSwarm(store, Handlers(), "mgr", None)
    register(manager)
    sid = Payloads(SECRET, lambda: store).create(SecretSpec("pw", {}, b"payload"))
    now = datetime.datetime.now(datetime.UTC)
    spec = TaskSpec(container_spec=ContainerSpec(image="busybox", secrets=[
        SecretReference(FileTarget("pw", "0", "0", 0o400), sid, "pw")]))

    def task(task_id: str, node: str, desired: TaskState = TaskState.RUNNING) -> Task:
        return Task(task_id, now, now, "svc", "web", spec, 1, 1, TaskStatus(now, TaskState.ASSIGNED), desired, node)

    assert Records(store).write_tasks([task("t1", "w1"), task("t2", "w2"), task("t3", "w1", TaskState.SHUTDOWN)])
    worker = FakeSwarm(None, Handlers(), "w1", manager)
    files = SwarmTaskFiles(worker)
    expected = [TaskFile("pw", b"payload", "pw", 0, 0, 0o400, "secret")]
    assert files(task("t1", "w1")) == expected  # through the channel
    assert SwarmTaskFiles(manager)(task("t1", "w1")) == expected  # from the store
    with pytest.raises(Forbidden, match="task t2 is not one that node w1 runs"):
        files(task("t2", "w1"))  # another node's task
    with pytest.raises(Forbidden):
        files(task("t3", "w1"))  # being shut down
    with pytest.raises(NotFound, match="task t9 not found"):
        files(task("t9", "w1"))
