"""Services and tasks in the cluster store: their keys, and reads and writes that keep versions.

A service's name is unique through an index key written in the same transaction as the service
(`/swarm/service-names/<name>` -> ID, compared absent on create), so two concurrent creates of one
name cannot both succeed. Every write of an existing object compares its version (the key's mod
revision): a writer that read an older copy is refused and reads again, which is how the
managers' loops and the agents' status reports share a task without locks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dockyard.cluster import codec
from dockyard.cluster.services.service import Service
from dockyard.cluster.services.task import Task
from dockyard.cluster.store.api import Compare, Delete, Put, Store

SERVICES_PREFIX = "/swarm/services/"
SERVICE_NAMES_PREFIX = "/swarm/service-names/"
TASKS_PREFIX = "/swarm/tasks/"

# What else a service write compares and writes in its transaction: the secrets and configs it
# refers to (services/control.py's reference check).
Guard = tuple[Sequence[Compare], Sequence[Put | Delete]]


def service_key(service_id: str) -> str:
    return SERVICES_PREFIX + service_id


def task_key(task_id: str) -> str:
    return TASKS_PREFIX + task_id


class Records:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reads

    def services(self) -> list[Service]:
        return [codec.decode(Service, kv.value, kv.mod_revision) for kv in self.store.range(SERVICES_PREFIX)]

    def service(self, service_id: str) -> Service | None:
        kv = self.store.get(service_key(service_id))
        return codec.decode(Service, kv.value, kv.mod_revision) if kv else None

    def service_id_by_name(self, name: str) -> str | None:
        kv = self.store.get(SERVICE_NAMES_PREFIX + name)
        return kv.value.decode() if kv else None

    def tasks(self) -> list[Task]:
        return [codec.decode(Task, kv.value, kv.mod_revision) for kv in self.store.range(TASKS_PREFIX)]

    def task(self, task_id: str) -> Task | None:
        kv = self.store.get(task_key(task_id))
        return codec.decode(Task, kv.value, kv.mod_revision) if kv else None

    # -- writes

    def create_service(self, service: Service, guard: Guard = ((), ())) -> bool:
        """False when the name is taken or a compare of `guard` fails (nothing written)."""
        name_key = SERVICE_NAMES_PREFIX + service.name()
        return self.store.txn([Compare(name_key, 0), Compare(service_key(service.id), 0), *guard[0]],
                              [Put(name_key, service.id.encode()), Put(service_key(service.id), codec.encode(service)),
                               *guard[1]])

    def update_service(self, service: Service, guard: Guard = ((), ())) -> bool:
        """False when the service changed since it was read (or is gone), or a compare of `guard` fails."""
        key = service_key(service.id)
        return self.store.txn([Compare(key, service.version.index), *guard[0]],
                              [Put(key, codec.encode(service)), *guard[1]])

    def delete_service(self, service: Service) -> bool:
        key = service_key(service.id)
        return self.store.txn([Compare(key, service.version.index)],
                              [Delete(key), Delete(SERVICE_NAMES_PREFIX + service.name())])

    def write_tasks(self, tasks: Sequence[Task], deleted: Iterable[Task] = ()) -> bool:
        """Create or update `tasks` and delete `deleted` in one transaction, each against the
        version it was read at (0: a new task); False, and nothing written, when any one moved on."""
        compares = [Compare(task_key(t.id), t.version.index) for t in (*tasks, *deleted)]
        operations: list[Put | Delete] = [Put(task_key(t.id), codec.encode(t)) for t in tasks]
        operations += [Delete(task_key(t.id)) for t in deleted]
        if not operations:
            return True
        return self.store.txn(compares, operations)


class TaskCache:
    """Every task, decoded once per mod revision: a reader that reads them all again and again (a
    manager's pass, an agent's assignments) decodes only those that changed since (decoding every
    task was most of a manager pass: 100 tasks, 60 % of 0.2 s on a busy machine). The objects are
    shared between reads: a reader that changes one forgets it (a manager pass, the tasks it wrote
    or deleted, whether the store took the writes or not)."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def tasks(self, store: Store) -> list[Task]:
        kept: dict[str, Task] = {}
        for kv in store.range(TASKS_PREFIX):
            task = self._tasks.get(kv.key)
            if task is None or task.version.index != kv.mod_revision:
                task = codec.decode(Task, kv.value, kv.mod_revision)
            kept[kv.key] = task
        self._tasks = kept
        return list(kept.values())

    def forget(self, tasks: Iterable[Task]) -> None:
        for task in tasks:
            self._tasks.pop(task_key(task.id), None)
