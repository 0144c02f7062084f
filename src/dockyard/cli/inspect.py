"""`inspect`: containers, images, volumes and networks, as a JSON array or through a --format template."""

import json
import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.flags import Command, Opt, command

INSPECT = Command("inspect", "[OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Docker objects", (
    Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("--type",), "type", "str", "Only inspect objects of the given type", metavar="string"),
    Opt(("-s", "--size"), "size", "bool", "Display total file sizes if the type is container"),
), min_args=1)


def _find(client: Client, name: str, kind: str | None, size: bool):
    if kind in (None, "container"):
        try:
            return client.call("GET", f"/containers/{name}/json", query={"size": size})
        except APIError as exc:
            if exc.status != 404:
                raise
    if kind in (None, "image"):
        try:
            return client.call("GET", f"/images/{name}/json")
        except APIError as exc:
            if exc.status != 404:
                raise
    if kind in (None, "volume"):
        try:
            return client.call("GET", f"/volumes/{name}")
        except APIError as exc:
            if exc.status != 404:
                raise
    if kind in (None, "network"):
        try:
            return client.call("GET", f"/networks/{name}")
        except APIError as exc:
            if exc.status != 404:
                raise
    return None


@command(INSPECT)
def inspect(client: Client, values: dict, args: list[str], kind: str | None = None) -> int:
    kind = values["type"] or kind
    if kind not in (None, "container", "image", "volume", "network"):
        sys.stderr.write(f'"{kind}" is not a valid value for --type\n')
        return 1
    found, missing = [], []
    for name in args:
        obj = _find(client, name, kind, values["size"])
        if obj is None:
            missing.append(name)
        else:
            found.append(obj)
    if values["format"]:
        from dockyard.cli.template import render

        for obj in found:
            sys.stdout.write(render(values["format"], obj) + "\n")
    else:
        sys.stdout.write(json.dumps(found, indent=4) + "\n")
    for name in missing:
        label = {"container": "container", "image": "image", "volume": "volume", "network": "network"}.get(
            kind or "", "object")
        sys.stderr.write(f"Error: No such {label}: {name}\n")
    return 1 if missing else 0
