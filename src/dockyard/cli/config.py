"""`config create|ls|inspect|rm`, as docker/cli's cli/command/config (the shared parts are in
cli/secret.py)."""

import base64
import sys

from dockyard.cli.client import Client
from dockyard.cli.common import filters_json, labels
from dockyard.cli.flags import Command, Opt, command
from dockyard.cli.secret import (
    HEADERS,
    PRETTY_LABELS,
    ReadError,
    fail,
    inspect_command,
    inspect_objects,
    ls_command,
    pretty_time,
    read_payload,
    remove_objects,
    rm_command,
    write_list,
)

MAX_CONFIG_SIZE = 1000 * 1024  # swarmkit's; the CLI reads at most twice that, as docker/cli does

CREATE = Command("config create", "[OPTIONS] CONFIG file|-", "Create a config from a file or STDIN", (
    Opt(("-l", "--label"), "label", "list", "Config labels", metavar="list"),
    Opt(("--template-driver",), "template_driver", "str", "Template driver", metavar="string"),
), min_args=2, max_args=2)
LS, INSPECT, RM = ls_command("config"), inspect_command("config"), rm_command("config")

CONFIG_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CreatedAt}}\t{{.UpdatedAt}}"
CONFIG_PRETTY = """ID:			{{.ID}}
Name:			{{.Name}}""" + PRETTY_LABELS + """
Created at:            	{{.CreatedAt}}
Updated at:            	{{.UpdatedAt}}
Data:
{{.Data}}"""


@command(CREATE)
def create(client: Client, values: dict, args: list[str]) -> int:
    name, source = args
    try:
        data = read_payload(source, 2 * MAX_CONFIG_SIZE, "config")
    except ReadError as exc:
        return fail(f'Error reading content from "{source}": {exc}')
    body: dict = {"Name": name, "Labels": labels(values["label"]), "Data": base64.b64encode(data).decode()}
    if values["template_driver"]:
        body["Templating"] = {"Name": values["template_driver"]}
    sys.stdout.write(client.call("POST", "/configs/create", body=body)["ID"] + "\n")
    return 0


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    found = client.call("GET", "/configs", query={"filters": filters_json(values["filter"])})
    write_list(found or [], values, CONFIG_TABLE, HEADERS, driver=False)
    return 0


def _config_fields(obj: dict) -> dict:
    spec = obj["Spec"]
    return {"ID": obj["ID"], "Name": spec["Name"], "Labels": spec.get("Labels") or {},
            "CreatedAt": pretty_time(obj["CreatedAt"]), "UpdatedAt": pretty_time(obj["UpdatedAt"]),
            "Data": base64.b64decode(spec.get("Data") or "").decode(errors="replace")}


@command(INSPECT)
def inspect(client: Client, values: dict, args: list[str]) -> int:
    return inspect_objects(client, "/configs", args, values, CONFIG_PRETTY, _config_fields)


@command(RM)
def rm(client: Client, _values: dict, args: list[str]) -> int:
    return remove_objects(client, "/configs", args)
