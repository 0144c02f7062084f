"""A service's secret and config references: swarmkit's checks and texts on create and update,
and which services keep a secret or config from being removed."""

from __future__ import annotations

import pytest

from dockyard.cluster.payloads import Payloads
from dockyard.cluster.references import services_using, validate
from dockyard.cluster.rpc import InvalidArgument
from dockyard.cluster.secrets import CONFIG, SECRET, SecretSpec
from dockyard.cluster.services.control import ServiceControl
from dockyard.cluster.services.records import Records
from dockyard.cluster.services.spec import (
    ConfigReference,
    ContainerSpec,
    FileTarget,
    SecretReference,
    ServiceSpec,
    TaskSpec,
)
from dockyard.cluster.store import MemoryStore


def _container(secrets=(), configs=()) -> ContainerSpec:
    return ContainerSpec(image="busybox", secrets=list(secrets) or None, configs=list(configs) or None)


def _secret_ref(object_id: str, name: str, target: str | None = None) -> SecretReference:
    return SecretReference(FileTarget(target or name, "0", "0", 0o444), object_id, name)


@pytest.mark.parametrize(("container", "text"), [
    (_container([SecretReference(FileTarget("x"), "", "x")]), "malformed secret reference"),
    (_container([SecretReference(None, "id", "x")]), "malformed secret reference, no target provided"),
    (_container([SecretReference(FileTarget(""), "id", "x")]),
     "malformed file secret reference, invalid target file name provided"),
    (_container([_secret_ref("i1", "a", "t"), _secret_ref("i2", "b", "t")]),
     "secret references 'a' and 'b' have a conflicting target: 't'"),
    (_container(configs=[ConfigReference(FileTarget("t"), None, "i1", "a"),
                         ConfigReference(FileTarget("t"), None, "i2", "b")]),
     "config references 'a' and 'b' have a conflicting target: 't'"),
])
def test_malformed_references_are_refused_in_swarmkits_words(container, text) -> None:
    with pytest.raises(InvalidArgument, match=f"^rpc error: code = InvalidArgument desc = {text}$"):
        validate(container)


def test_a_secret_and_a_config_may_share_a_target_name() -> None:
    validate(_container([_secret_ref("i1", "a", "t")], [ConfigReference(FileTarget("t"), None, "i2", "b")]))


def test_services_using_a_secret_block_its_removal() -> None:
    store = MemoryStore()
    secrets = Payloads(SECRET, lambda: store)
    sid = secrets.create(SecretSpec("pw", {}, b"x"))
    control = ServiceControl(lambda: Records(store), lambda ref: ref)
    using = TaskSpec(container_spec=_container([_secret_ref(sid, "pw")]))
    for name in ("web", "api"):
        control.create(ServiceSpec(name=name, task_template=using))
    control.create(ServiceSpec(name="plain", task_template=TaskSpec(container_spec=_container())))
    users = services_using(store, SECRET, sid)
    assert sorted(users) == ["api", "web"] and services_using(store, CONFIG, sid) == []
    with pytest.raises(InvalidArgument, match=f"secret 'pw' is in use by the following services: {', '.join(users)}$"):
        secrets.remove("pw")
    with pytest.raises(InvalidArgument, match="secret not found: gone"):
        control.create(ServiceSpec(name="bad", task_template=TaskSpec(
            container_spec=_container([_secret_ref(sid, "gone")]))))
