"""What a task's container receives: its secret and config references (ContainerSpec.Secrets and
.Configs) resolved into the engine backend's TaskFiles, for `ClusterBackend.set_task_files`
between create and start. The payloads are opened here, per task, so a node holds a secret only
while it runs a task that uses it (and only in memory: engine/taskfiles.py).

The references are duck-typed on the services' dataclasses (cluster/services/spec.py): a `file`
target (name, uid and gid as strings, mode) and the object's ID. A config with a runtime target
instead of a file (a credential spec) gives no file, as in moby.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

from dockyard.cluster import templating
from dockyard.cluster.payloads import Payloads, for_swarm
from dockyard.cluster.secrets import CONFIG, SECRET
from dockyard.engine.backend import TaskFile
from dockyard.errors import DockyardError, Forbidden, InvalidParameter, NotFound, Unavailable

DEFAULT_MODE = 0o444  # the docker CLI's default for --secret and --config


def _owner(value: str | None, what: str, name: str) -> int:
    try:
        return int(value or 0)
    except ValueError:
        raise InvalidParameter(f"invalid {what} {value!r} for {name}: a number is required") from None


def _file(kind: str, object_id: str, name: str, target: Any, open_payload: Callable[[str], bytes]) -> TaskFile:
    return TaskFile(name=name, data=open_payload(object_id), target=target.name or name,
                    uid=_owner(target.uid, "UID", name), gid=_owner(target.gid, "GID", name),
                    mode=DEFAULT_MODE if target.mode is None else target.mode, kind=kind)


def task_files(secrets: Iterable[Any] | None, configs: Iterable[Any] | None,
               open_secret: Callable[[str], bytes], open_config: Callable[[str], bytes]) -> list[TaskFile]:
    """The TaskFiles of a task's references; `open_secret`/`open_config` give an object's plain
    data by ID (on a manager: `Payloads(SECRET, swarm.store).opened(id).spec.data`)."""
    files = [_file("secret", ref.secret_id, ref.secret_name or ref.secret_id, ref.file, open_secret)
             for ref in secrets or () if ref.file is not None]
    files += [_file("config", ref.config_id, ref.config_name or ref.config_id, ref.file, open_config)
              for ref in configs or () if ref.file is not None]
    return files


class SwarmTaskFiles:
    """An agent's way to its tasks' secrets and configs (the controller's `Files`): a manager opens
    them from the cluster store; a worker, which keeps no store, asks a manager over the swarm's
    mutual-TLS channel (`task.files`), which answers only for a task assigned to the caller's node
    and still meant to run: swarmkit's dispatcher gives a node the secrets of its tasks alone.
    Which of the two is asked at each call, so promotion and demotion need no rewiring."""

    def __init__(self, swarm: Any) -> None:
        self._swarm = swarm
        self._secrets = for_swarm(swarm, SECRET)
        self._configs = for_swarm(swarm, CONFIG)

    def __call__(self, task: Any) -> list[TaskFile]:
        container = task.spec.container_spec
        if container is None or not (container.secrets or container.configs):
            return []
        try:
            self._swarm.store()
        except Unavailable:
            return self._from_managers(task.id)
        return self._from_store(task, container)

    def _from_store(self, task: Any, container: Any) -> list[TaskFile]:
        """Each payload opened, and expanded when it is a template (cluster/templating.py)."""
        try:
            node = self._swarm.node(task.node_id)
        except DockyardError:
            node = None

        def raw_secret(object_id: str) -> bytes:
            return self._secrets.opened(object_id).spec.data

        def raw_config(object_id: str) -> bytes:
            return self._configs.opened(object_id).spec.data

        def opener(word: str, payloads: Payloads) -> Callable[[str], bytes]:
            def open_payload(object_id: str) -> bytes:
                obj = payloads.opened(object_id)
                return templating.expand(word, obj.spec.name, obj.spec.data, obj.spec.templating, task, node,
                                         raw_secret, raw_config)

            return open_payload

        return task_files(container.secrets, container.configs, opener("secret", self._secrets),
                          opener("config", self._configs))

    def _from_managers(self, task_id: str) -> list[TaskFile]:
        from dockyard.cluster.channel import ChannelError

        try:
            answer = self._swarm.channel().call(CALL, {"TaskID": task_id})
        except ChannelError as exc:
            raise (NotFound if exc.status == 404 else Forbidden if exc.status == 403 else Unavailable)(
                f"the secrets and configs of task {task_id}: {exc}") from exc
        return [file_from_json(doc) for doc in answer["Files"]]


CALL = "task.files"


def file_json(f: TaskFile) -> dict[str, Any]:
    return {"Name": f.name, "Data": base64.b64encode(f.data).decode(), "Target": f.target, "UID": f.uid,
            "GID": f.gid, "Mode": f.mode, "Kind": f.kind}


def file_from_json(doc: dict[str, Any]) -> TaskFile:
    return TaskFile(str(doc["Name"]), base64.b64decode(doc["Data"]), str(doc["Target"]), int(doc["UID"]),
                    int(doc["GID"]), int(doc["Mode"]), str(doc["Kind"]))


def register(swarm: Any) -> None:
    """The call a manager answers for an agent on any node (added to the swarm's handlers once)."""
    files = SwarmTaskFiles(swarm)

    def task_files_call(caller: Any, body: dict[str, Any]) -> dict[str, Any]:
        from dockyard.cluster.services.records import Records

        task_id = str(body.get("TaskID") or "")
        task = Records(swarm.store()).task(task_id) if task_id else None
        if task is None:
            raise NotFound(f"task {task_id} not found")
        if task.node_id != caller.node_id or not task.runnable():
            raise Forbidden(f"task {task_id} is not one that node {caller.node_id} runs")
        return {"Files": [file_json(f) for f in files(task)]}

    swarm.handlers.add_call(CALL, task_files_call)
