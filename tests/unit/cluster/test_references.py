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


def _using(object_id: str, name: str = "pw") -> TaskSpec:
    return TaskSpec(container_spec=_container([_secret_ref(object_id, name)]))


def test_a_service_made_between_the_in_use_check_and_the_delete_keeps_the_secret() -> None:
    store = MemoryStore()
    control = ServiceControl(lambda: Records(store), lambda ref: ref)
    late: list[str] = []

    def users_then_a_new_user(s, kind, object_id):
        found = services_using(s, kind, object_id)
        if not late:  # the check has found no user; a service using the secret is made before the delete
            late.append(control.create(ServiceSpec(name="late", task_template=_using(object_id))).id)
        return found

    secrets = Payloads(SECRET, lambda: store, users=users_then_a_new_user)
    sid = secrets.create(SecretSpec("pw", {}, b"x"))
    with pytest.raises(InvalidArgument, match="secret 'pw' is in use by the following service: late$"):
        secrets.remove("pw")
    assert secrets.get(sid).id == sid and late


class _DeleteBeforeServiceWrite:
    """A store on which the secret goes between the service's reference check and its write."""

    def __init__(self, store: MemoryStore, remove) -> None:
        self._store, self._remove = store, remove

    def __getattr__(self, name):
        return getattr(self._store, name)

    def txn(self, compares, operations):
        if self._remove is not None and any(op.key.startswith("/swarm/services/") for op in operations):
            remove, self._remove = self._remove, None
            remove()
        return self._store.txn(compares, operations)


def test_a_secret_removed_between_the_check_and_the_service_write_refuses_the_service() -> None:
    store = MemoryStore()
    secrets = Payloads(SECRET, lambda: store)
    sid = secrets.create(SecretSpec("pw", {}, b"x"))
    racing = _DeleteBeforeServiceWrite(store, lambda: secrets.remove("pw"))
    control = ServiceControl(lambda: Records(racing), lambda ref: ref)
    with pytest.raises(InvalidArgument, match="secret not found: pw$"):
        control.create(ServiceSpec(name="web", task_template=_using(sid)))
    assert Records(store).services() == [] and store.range("/swarm/secrets-users/") == []

    # The same on an update that starts using a secret.
    sid = secrets.create(SecretSpec("pw", {}, b"x"))
    plain = control.create(ServiceSpec(name="web", task_template=TaskSpec(container_spec=_container())))
    racing._remove = lambda: secrets.remove("pw")
    with pytest.raises(InvalidArgument, match="secret not found: pw$"):
        control.update("web", control.service("web").version.index,
                       ServiceSpec(name="web", task_template=_using(sid)), False)
    assert Records(store).service(plain.id).spec.container().secrets is None
