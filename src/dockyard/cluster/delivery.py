"""What a task's container receives: its secret and config references (ContainerSpec.Secrets and
.Configs) resolved into the engine backend's TaskFiles, for `ClusterBackend.set_task_files`
between create and start. The payloads are opened here, per task, so a node holds a secret only
while it runs a task that uses it (and only in memory: engine/taskfiles.py).

The references are duck-typed on the services' dataclasses (cluster/services/spec.py): a `file`
target (name, uid and gid as strings, mode) and the object's ID. A config with a runtime target
instead of a file (a credential spec) gives no file, as in moby.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dockyard.cluster.payloads import for_swarm
from dockyard.cluster.secrets import CONFIG, SECRET
from dockyard.engine.backend import TaskFile
from dockyard.errors import InvalidParameter

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


class StoreTaskFiles:
    """A manager's agent: its tasks' secrets and configs opened from the cluster store (a worker's
    come over its channel to the managers instead)."""

    def __init__(self, swarm: Any) -> None:
        self._secrets = for_swarm(swarm, SECRET)
        self._configs = for_swarm(swarm, CONFIG)

    def __call__(self, task: Any) -> list[TaskFile]:
        container = task.spec.container_spec
        if container is None:
            return []
        return task_files(container.secrets, container.configs, lambda i: self._secrets.opened(i).spec.data,
                          lambda i: self._configs.opened(i).spec.data)
