"""The links between services and the secrets and configs they name: the form swarmkit's
controlapi requires of a service's references (validateSecretRefsSpec, validateConfigRefsSpec; that
they exist is checked by services/control.py) and the question a removal asks (which services use
this one?), in swarmkit's words.

The references are ContainerSpec.Secrets and .Configs of cluster/services/spec.py (SecretID and
SecretName mandatory, a File target whose Name is unique among the same kind).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockyard.cluster.rpc import InvalidArgument
from dockyard.cluster.secrets import CONFIG, SECRET, Kind
from dockyard.cluster.services.records import Records

if TYPE_CHECKING:
    from dockyard.cluster.store.api import Store


def _refs(container: Any, kind: Kind) -> list[Any]:
    return list((container.secrets if kind is SECRET else container.configs) or [])


def _id_and_name(ref: Any, kind: Kind) -> tuple[str, str]:
    if kind is SECRET:
        return ref.secret_id or "", ref.secret_name or ""
    return ref.config_id or "", ref.config_name or ""


def validate(container: Any) -> None:
    """A service's references are well formed and no two file targets of one kind collide."""
    for kind in (SECRET, CONFIG):
        word = kind.word
        targets: dict[str, str] = {}
        for ref in _refs(container, kind):
            object_id, name = _id_and_name(ref, kind)
            if not object_id or not name:
                raise InvalidArgument(f"malformed {word} reference")
            runtime = getattr(ref, "runtime", None)
            if ref.file is None and runtime is None:
                raise InvalidArgument(f"malformed {word} reference, no target provided")
            if ref.file is not None:
                target = ref.file.name or ""
                if not target:
                    raise InvalidArgument(f"malformed file {word} reference, invalid target file name provided")
                if target in targets:
                    raise InvalidArgument(f"{word} references '{targets[target]}' and '{name}' have a conflicting "
                                          f"target: '{target}'")
                targets[target] = name


def _uses(container: Any, kind: Kind, object_id: str) -> bool:
    return any(_id_and_name(ref, kind)[0] == object_id for ref in _refs(container, kind))


def services_using(store: Store, kind: Kind, object_id: str) -> list[str]:
    """The names of the services whose task template refers to `object_id` (a secret's or a
    config's ID, as `kind` says), in the order of their IDs, as swarmkit lists them."""
    return [s.name() for s in Records(store).services() if _uses(s.spec.container(), kind, object_id)]
