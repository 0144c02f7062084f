"""`--secret`, `--config`, `--secret-add/--secret-rm` and `--config-add/--config-rm` of `service
create` and `service update`, as docker/cli's opts/swarmopts (SecretOpt, ConfigOpt) and
cli/command/service (ParseSecrets, ParseConfigs, getUpdatedSecrets): the flag's text into a
reference, then the names resolved to IDs with one list call. The references are Docker's JSON
(ContainerSpec.Secrets / .Configs entries), ready for the service's spec.

    refs = [parse_reference("secret", value) for value in values["secret"]]
    spec["TaskTemplate"]["ContainerSpec"]["Secrets"] = resolve(client, "secret", refs)
"""

import csv

from dockyard.cli.flags import UsageError

_NAME = {"secret": "SecretName", "config": "ConfigName"}
_ID = {"secret": "SecretID", "config": "ConfigID"}


class UnresolvedReference(Exception):
    """A reference that names no existing object, or two with one target; docker/cli's words."""


def parse_reference(kind: str, value: str, flag: str = "") -> dict:
    """`name` or `source=name,target=path,uid=0,gid=0,mode=0444` (CSV; keys case-insensitive)."""
    flag = flag or f"--{kind}"
    try:
        fields = next(csv.reader([value]))
    except (csv.Error, StopIteration) as exc:
        raise UsageError(f'invalid argument "{value}" for "{flag}" flag: {exc}') from None
    target: dict = {"Name": "", "UID": "0", "GID": "0", "Mode": 0o444}
    ref: dict = {"File": target, _NAME[kind]: ""}
    if len(fields) == 1 and "=" not in fields[0]:
        ref["File"]["Name"] = ref[_NAME[kind]] = fields[0]
        return ref
    for field in fields:
        key, sep, val = field.partition("=")
        if not sep or not key:
            raise UsageError(f'invalid argument "{value}" for "{flag}" flag: invalid field \'{field}\' must be a '
                             "key=value pair")
        key = key.lower()
        if key in ("source", "src"):
            ref[_NAME[kind]] = val
        elif key in ("target", "uid", "gid"):
            ref["File"][{"target": "Name", "uid": "UID", "gid": "GID"}[key]] = val
        elif key == "mode":
            try:
                mode = int(val, 0) if not (val.startswith("0") and val[1:].isdigit()) else int(val, 8)
            except ValueError:
                raise UsageError(f'invalid argument "{value}" for "{flag}" flag: invalid mode specified: '
                                 f'strconv.ParseUint: parsing "{val}": invalid syntax') from None
            ref["File"]["Mode"] = mode
        else:
            raise UsageError(f'invalid argument "{value}" for "{flag}" flag: invalid field in {kind} request: {key}')
    if not ref[_NAME[kind]]:
        raise UsageError(f'invalid argument "{value}" for "{flag}" flag: source is required')
    ref["File"]["Name"] = ref["File"]["Name"] or ref[_NAME[kind]]
    return ref


def resolve(client, kind: str, refs: list[dict]) -> list[dict]:
    """The references with their objects' IDs (one GET /secrets or /configs by name); refused
    when two share a file target or a name is not found."""
    if not refs:
        return []
    by_target: dict[str, dict] = {}
    for ref in refs:
        if ref["File"]["Name"] in by_target:
            raise UnresolvedReference(f"duplicate {kind} target for {ref[_NAME[kind]]} not allowed")
        by_target[ref["File"]["Name"]] = dict(ref)
    import json

    names = sorted({ref[_NAME[kind]] for ref in refs})
    found = client.call("GET", f"/{kind}s", query={"filters": json.dumps({"name": names})}) or []
    ids = {obj["Spec"]["Name"]: obj["ID"] for obj in found}
    resolved = []
    for ref in by_target.values():
        if ref[_NAME[kind]] not in ids:
            raise UnresolvedReference(f"{kind} not found: {ref[_NAME[kind]]}")
        ref[_ID[kind]] = ids[ref[_NAME[kind]]]
        resolved.append(ref)
    return resolved


def updated(client, kind: str, current: list[dict] | None, remove: list[str], add: list[dict]) -> list[dict]:
    """`service update --<kind>-rm NAME --<kind>-add REF`: the current references without those
    named, then the added ones resolved."""
    kept = [ref for ref in current or [] if ref.get(_NAME[kind]) not in set(remove)]
    return kept + resolve(client, kind, add)
