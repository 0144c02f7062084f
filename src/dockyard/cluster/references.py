"""Which services use a secret or a config: the one question removal asks of the services.

swarmkit refuses to remove a secret or config that a service's task template refers to. The
services' objects (ServiceSpec, Task) are built beside this module; this function is the narrow
place where their store is read for that question.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.cluster.secrets import Kind
    from dockyard.cluster.store.api import Store


def services_using(store: Store, kind: Kind, object_id: str) -> list[str]:
    """The names of the services whose task template refers to `object_id` (a secret's or a
    config's ID, as `kind` says), in the order of their IDs."""
    from dockyard.cluster.services.records import Records

    found = []
    for service in sorted(Records(store).services(), key=lambda s: s.id):
        container = service.spec.container()
        if kind.word == "secret":
            ids = [ref.secret_id for ref in container.secrets or []]
        else:
            ids = [ref.config_id for ref in container.configs or []]
        if object_id in ids:
            found.append(service.name())
    return found
