"""`service create --secret/--config` and `service update --secret-add/--secret-rm` references,
parsed and resolved as docker/cli does."""

import json

import pytest

from dockyard.cli.flags import UsageError
from dockyard.cli.payloadrefs import UnresolvedReference, parse_reference, resolve, updated


def test_short_and_long_forms() -> None:
    assert parse_reference("secret", "pw") == {"File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 0o444},
                                               "SecretName": "pw"}
    assert parse_reference("secret", "source=pw,target=/etc/pw,uid=1000,gid=1001,mode=0400") == {
        "File": {"Name": "/etc/pw", "UID": "1000", "GID": "1001", "Mode": 0o400}, "SecretName": "pw"}
    assert parse_reference("config", "src=app,Mode=0x1a4")["File"] == {"Name": "app", "UID": "0", "GID": "0",
                                                                        "Mode": 0o644}
    assert parse_reference("config", "src=app,mode=420")["File"]["Mode"] == 0o644


@pytest.mark.parametrize(("value", "text"), [
    ("target=x", "source is required"),
    ("source=pw,bogus", "invalid field 'bogus' must be a key=value pair"),
    ("source=pw,color=red", "invalid field in secret request: color"),
    ("source=pw,mode=rw", 'invalid mode specified: strconv.ParseUint: parsing "rw": invalid syntax'),
])
def test_bad_references_are_usage_errors(value, text) -> None:
    with pytest.raises(UsageError, match=f'^invalid argument "{value}" for "--secret" flag: '):
        parse_reference("secret", value)
    with pytest.raises(UsageError) as refused:
        parse_reference("secret", value)
    assert str(refused.value).endswith(text)


class FakeClient:
    def __init__(self, objects: dict[str, str]) -> None:
        self.objects, self.calls = objects, []

    def call(self, method, path, query=None):
        self.calls.append((method, path, json.loads(query["filters"])))
        wanted = json.loads(query["filters"])["name"]
        return [{"ID": i, "Spec": {"Name": n}} for n, i in self.objects.items() if any(n.startswith(w) for w in wanted)]


def test_names_are_resolved_with_one_list_call() -> None:
    client = FakeClient({"pw": "id1", "pw2": "id2"})
    refs = [parse_reference("secret", "pw"), parse_reference("secret", "source=pw2,target=other")]
    assert [(r["SecretName"], r["SecretID"]) for r in resolve(client, "secret", refs)] == [("pw", "id1"),
                                                                                           ("pw2", "id2")]
    assert client.calls == [("GET", "/secrets", {"name": ["pw", "pw2"]})]
    with pytest.raises(UnresolvedReference, match="^secret not found: p$"):
        resolve(client, "secret", [parse_reference("secret", "p")])  # the name filter is a prefix: exact here
    with pytest.raises(UnresolvedReference, match="^duplicate secret target for pw2 not allowed$"):
        resolve(client, "secret", [parse_reference("secret", "pw"), parse_reference("secret", "source=pw2,target=pw")])


def test_update_removes_by_name_and_adds_resolved() -> None:
    client = FakeClient({"new": "id3"})
    current = [{"SecretName": "old", "SecretID": "id0", "File": {"Name": "old"}},
               {"SecretName": "keep", "SecretID": "id9", "File": {"Name": "keep"}}]
    result = updated(client, "secret", current, ["old"], [parse_reference("secret", "new")])
    assert [(r["SecretName"], r["SecretID"]) for r in result] == [("keep", "id9"), ("new", "id3")]
