"""Secrets and configs on the in-memory store: swarmkit's rules and texts, and their data sealed
with the swarm's data key (plain or wrapped by autolock's key-encryption key)."""

from __future__ import annotations

import json
import os

import pytest

from dockyard.cluster.datakey import DATA_KEY_KEY, LOCKED, DataKey, SealBroken, seal, unseal
from dockyard.cluster.payloads import PayloadFilters, Payloads
from dockyard.cluster.rpc import AlreadyExists, InvalidArgument, SequenceConflict
from dockyard.cluster.secrets import CONFIG, SECRET, ConfigSpec, Driver, NoPlugins, SecretSpec
from dockyard.cluster.store import MemoryStore
from dockyard.errors import InvalidParameter, NotFound, Unavailable


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def _secrets(store, **kwargs) -> Payloads:
    return Payloads(SECRET, lambda: store, **kwargs)


def test_a_secret_is_sealed_in_the_store_and_its_data_never_read_back(store) -> None:
    secrets = _secrets(store)
    sid = secrets.create(SecretSpec("db-password", {"env": "prod"}, b"hunter2-and-more"))
    assert len(sid) == 25
    raw = b"".join(kv.value for kv in store.range("/swarm/"))
    assert b"hunter2-and-more" not in raw and b"aHVudGVyMi1hbmQtbW9yZQ" not in raw  # nor its base64
    shown = secrets.get("db-password")
    assert (shown.id, shown.spec.name, shown.spec.labels, shown.spec.data) == (sid, "db-password", {"env": "prod"}, b"")
    assert shown.version.index > 0
    assert [s.spec.data for s in secrets.list()] == [b""]
    assert secrets.opened(sid).spec.data == b"hunter2-and-more"  # the agent's view


def test_a_config_shows_its_data(store) -> None:
    configs = Payloads(CONFIG, lambda: store)
    cid = configs.create(ConfigSpec("nginx.conf", {}, b"server {}", Driver("golang")))
    shown = configs.get(cid[:6])
    assert shown.spec.data == b"server {}" and shown.spec.templating == Driver("golang")
    assert b"server {}" not in b"".join(kv.value for kv in store.range("/swarm/"))


@pytest.mark.parametrize(("name", "data", "text"), [
    ("", b"x", "rpc error: code = InvalidArgument desc = name must be provided"),
    ("-leading", b"x", "invalid name, only 64 [a-zA-Z0-9-_.] characters allowed"),
    ("trailing.", b"x", "and the start and end character must be [a-zA-Z0-9]"),
    ("a" * 65, b"x", "invalid name, only 64"),
    ("has space", b"x", "invalid name"),
    ("ok", b"", "secret data must be larger than 0 and less than 512000 bytes"),
    ("ok", b"x" * 512000, "secret data must be larger than 0 and less than 512000 bytes"),
])
def test_bad_secrets_are_refused_with_swarmkit_texts_and_nothing_is_stored(store, name, data, text) -> None:
    with pytest.raises(InvalidArgument) as refused:
        _secrets(store).create(SecretSpec(name, {}, data))
    assert text in str(refused.value)
    assert store.range("/swarm/secrets") == []


def test_names_are_unique_and_a_removed_name_is_free_again(store) -> None:
    secrets = _secrets(store)
    first = secrets.create(SecretSpec("a.b_c-1", {}, b"1"))
    with pytest.raises(AlreadyExists, match=r"^rpc error: code = AlreadyExists desc = secret a.b_c-1 already exists$"):
        secrets.create(SecretSpec("a.b_c-1", {}, b"2"))
    Payloads(CONFIG, lambda: store).create(ConfigSpec("a.b_c-1", {}, b"3"))  # configs have names of their own
    secrets.remove(first)
    with pytest.raises(NotFound, match="^secret a.b_c-1 not found$"):
        secrets.get("a.b_c-1")
    again = secrets.create(SecretSpec("a.b_c-1", {}, b"4"))
    assert again != first and secrets.opened(again).spec.data == b"4"


def test_lookup_by_id_name_and_prefix_and_ambiguity(store) -> None:
    secrets = _secrets(store)
    ids = [secrets.create(SecretSpec(f"s{i}", {}, b"x")) for i in range(40)]
    for sid in ids[:3]:
        assert secrets.get(sid).id == sid and secrets.get(sid[:8]).id == sid
    assert secrets.get("s7").id == ids[7]
    first_chars = [i[0] for i in ids]
    shared = next(c for c in first_chars if first_chars.count(c) > 1)  # 40 IDs over 36 first characters
    with pytest.raises(InvalidParameter, match=rf"^secret {shared} is ambiguous \(\d+ matches found\)$"):
        secrets.get(shared)
    with pytest.raises(NotFound, match="^secret nope not found$"):
        secrets.remove("nope")


def test_filters_select_by_names_prefixes_and_ids_then_narrow_by_labels(store) -> None:
    secrets = _secrets(store)
    a = secrets.create(SecretSpec("app-db", {"tier": "db", "env": "prod"}, b"x"))
    b = secrets.create(SecretSpec("app-web", {"tier": "web"}, b"x"))
    c = secrets.create(SecretSpec("other", {}, b"x"))

    def names(**filters) -> list[str]:
        return sorted(s.spec.name for s in secrets.list(PayloadFilters(**filters)))

    assert names() == ["app-db", "app-web", "other"]
    assert names(names=["app"]) == [] and names(names=["app-db", "other"]) == ["app-db", "other"]
    assert names(name_prefixes=["app"]) == ["app-db", "app-web"]
    assert names(id_prefixes=[c[:5]]) == ["other"]
    assert names(name_prefixes=["app"], labels=["tier=db"]) == ["app-db"]
    assert names(labels=["tier"]) == ["app-db", "app-web"] and names(labels=["tier", "env=prod"]) == ["app-db"]
    assert {a, b} == {s.id for s in secrets.list(PayloadFilters(labels=["tier"]))}


def test_update_changes_labels_only_at_the_version_read(store) -> None:
    secrets = _secrets(store)
    sid = secrets.create(SecretSpec("s", {"a": "1"}, b"data"))
    before = secrets.get(sid)
    secrets.update(sid, before.version.index, SecretSpec("s", {"b": "2"}))
    after = secrets.get(sid)
    assert after.spec.labels == {"b": "2"} and after.version.index > before.version.index
    assert after.updated_at >= before.updated_at and after.created_at == before.created_at
    assert secrets.opened(sid).spec.data == b"data"
    with pytest.raises(SequenceConflict, match="^rpc error: code = Unknown desc = update out of sequence$") as stale:
        secrets.update(sid, before.version.index, SecretSpec("s", {"c": "3"}))
    assert stale.value.status == 500  # as Docker answers it
    for spec in (SecretSpec("renamed", {}), SecretSpec("s", {}, b"other data")):
        with pytest.raises(InvalidArgument, match="only updates to Labels are allowed"):
            secrets.update(sid, after.version.index, spec)
    secrets.update(sid, after.version.index, SecretSpec("s", {}, b"data"))  # the same data is no change
    assert secrets.get(sid).spec.labels == {}


def test_removal_is_refused_while_services_use_it(store) -> None:
    users = {"web": ["frontend"], "db": ["api", "worker"]}
    secrets = _secrets(store, users=lambda s, kind, oid: users.get(secrets.get(oid).spec.name, []))
    for name in ("web", "db"):
        secrets.create(SecretSpec(name, {}, b"x"))
    with pytest.raises(InvalidArgument, match="^rpc error: code = InvalidArgument desc = secret 'web' is in use by "
                                               "the following service: frontend$"):
        secrets.remove("web")
    with pytest.raises(InvalidArgument, match="secret 'db' is in use by the following services: api, worker$"):
        secrets.remove("db")
    assert len(secrets.list()) == 2


def test_a_payload_sealed_for_one_object_does_not_open_on_another(store) -> None:
    secrets = _secrets(store)
    one = secrets.create(SecretSpec("one", {}, b"first"))
    two = secrets.create(SecretSpec("two", {}, b"second"))
    records = {kv.key: json.loads(kv.value) for kv in store.range("/swarm/secrets/")}
    records[f"/swarm/secrets/{two}"]["spec"]["data"] = records[f"/swarm/secrets/{one}"]["spec"]["data"]
    store.put(f"/swarm/secrets/{two}", json.dumps(records[f"/swarm/secrets/{two}"]).encode())
    with pytest.raises(SealBroken):
        secrets.opened(two)


def test_the_data_key_is_made_once_and_wrapped_while_autolock_is_on(store) -> None:
    key = DataKey(store).get()
    assert len(key) == 32 and DataKey(store).get() == key
    assert json.loads(store.get(DATA_KEY_KEY).value)["wrapped"] is False
    kek = os.urandom(32)
    DataKey(store).rewrap(None, kek)  # autolock turned on
    record = json.loads(store.get(DATA_KEY_KEY).value)
    assert record["wrapped"] is True
    assert DataKey(store, lambda: kek).get() == key
    with pytest.raises(Unavailable, match=LOCKED.replace(".", r"\.")):
        DataKey(store, lambda: None).get()  # a locked manager opens nothing
    with pytest.raises(SealBroken):
        DataKey(store, lambda: os.urandom(32)).get()
    rotated = os.urandom(32)
    DataKey(store).rewrap(kek, rotated)  # unlock key rotated
    assert DataKey(store, lambda: rotated).get() == key
    with pytest.raises(InvalidParameter):
        DataKey(store).rewrap(None, None)
    DataKey(store).rewrap(rotated, None)  # autolock turned off
    assert DataKey(store).get() == key


def test_secrets_stay_readable_through_autolock_changes(store) -> None:
    kek: list[bytes | None] = [None]
    secrets = _secrets(store, kek=lambda: kek[0])
    sid = secrets.create(SecretSpec("s", {}, b"payload"))
    kek[0] = os.urandom(32)
    DataKey(store).rewrap(None, kek[0])
    assert secrets.opened(sid).spec.data == b"payload"
    kek[0] = None
    with pytest.raises(Unavailable):
        secrets.opened(sid)


def test_seal_binds_its_associated_data() -> None:
    key = os.urandom(32)
    sealed = seal(key, b"text", b"id-1")
    assert unseal(key, sealed, b"id-1") == b"text" and sealed != seal(key, b"text", b"id-1")  # fresh nonces
    with pytest.raises(SealBroken):
        unseal(key, sealed, b"id-2")


def test_an_external_driver_is_refused_since_no_plugins_run(store) -> None:
    with pytest.raises(InvalidArgument, match="desc = secret driver must have a name$"):
        _secrets(store).create(SecretSpec("ext", {}, b"", Driver("")))
    with pytest.raises(NoPlugins, match='^rpc error: code = Unknown desc = plugin "vault" not found \\(Dockyard') as no:
        _secrets(store).create(SecretSpec("ext", {}, b"", Driver("vault")))
    assert no.value.status == 501 and store.range("/swarm/secrets") == []
