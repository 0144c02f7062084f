"""`secret create|ls|inspect|rm`, as docker/cli's cli/command/secret. The reading of a payload
from a file or stdin, the listing and the inspecting are shared with `config` (cli/config.py):
the two differ in flags, columns and the pretty template only."""

import base64
import json
import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.common import filters_json, labels
from dockyard.cli.flags import Command, Opt, command

MAX_SECRET_SIZE = 500 * 1024  # swarmkit's; the CLI reads at most twice that, as docker/cli does

CREATE = Command("secret create", "[OPTIONS] SECRET [file|-]", "Create a secret from a file or STDIN as content", (
    Opt(("-d", "--driver"), "driver", "str", "Secret driver", metavar="string"),
    Opt(("-l", "--label"), "label", "list", "Secret labels", metavar="list"),
    Opt(("--template-driver",), "template_driver", "str", "Template driver", metavar="string"),
), min_args=1, max_args=2)


def ls_command(word: str) -> Command:
    return Command(f"{word} ls", "[OPTIONS]", f"List {word}s", (
        Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
        Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
        Opt(("-q", "--quiet"), "quiet", "bool", "Only display IDs"),
    ), max_args=0)


def inspect_command(word: str) -> Command:
    return Command(f"{word} inspect", f"[OPTIONS] {word.upper()} [{word.upper()}...]",
                   f"Display detailed information on one or more {word}s", (
        Opt(("-f", "--format"), "format", "str", "Format output using a custom template", metavar="string"),
        Opt(("--pretty",), "pretty", "bool", "Print the information in a human friendly format"),
    ), min_args=1)


def rm_command(word: str) -> Command:
    return Command(f"{word} rm", f"{word.upper()} [{word.upper()}...]", f"Remove one or more {word}s", (), min_args=1)


LS, INSPECT, RM = ls_command("secret"), inspect_command("secret"), rm_command("secret")
# docker/cli's pretty templates share how they show labels.
PRETTY_LABELS = """
{{- if .Labels }}
Labels:
{{- range $k, $v := .Labels }}
 - {{ $k }}{{if $v }}={{ $v }}{{ end }}
{{- end }}{{ end }}"""

SECRET_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.CreatedAt}}\t{{.UpdatedAt}}"
SECRET_PRETTY = """ID:              {{.ID}}
Name:              {{.Name}}""" + PRETTY_LABELS + """
Driver:            {{.Driver}}
Created at:        {{.CreatedAt}}
Updated at:        {{.UpdatedAt}}"""
HEADERS = {"ID": "ID", "Name": "NAME", "Driver": "DRIVER", "CreatedAt": "CREATED", "UpdatedAt": "UPDATED",
           "Labels": "LABELS"}


class ReadError(Exception):
    """The payload could not be read; the message is docker/cli's."""


def read_payload(source: str, limit: int, word: str) -> bytes:
    """docker/cli's readSecretData / readConfigData: a file, or stdin for "-", never empty."""
    if source == "-":
        data = sys.stdin.buffer.read(limit)
        if not data:
            raise ReadError("error reading from STDIN: data is empty")
        return data
    if not source:
        raise ReadError(f"{word} file is required")
    try:
        with open(source, "rb") as f:
            data = f.read(limit)
    except OSError as exc:
        raise ReadError(f"error reading from {source}: open {source}: {(exc.strerror or str(exc)).lower()}") from None
    if not data:
        raise ReadError(f"error reading from {source}: data is empty")
    return data


def fail(message: str) -> int:
    sys.stderr.write(message + "\n")
    return 1


@command(CREATE)
def create(client: Client, values: dict, args: list[str]) -> int:
    source = args[1] if len(args) > 1 else ""
    body: dict = {"Name": args[0], "Labels": labels(values["label"])}
    if values["driver"]:
        if source:
            return fail("When using secret driver secret data must be empty")
        body["Driver"] = {"Name": values["driver"]}
    else:
        try:
            body["Data"] = base64.b64encode(read_payload(source, 2 * MAX_SECRET_SIZE, "secret")).decode()
        except ReadError as exc:
            return fail(str(exc))
    if values["template_driver"]:
        body["Templating"] = {"Name": values["template_driver"]}
    sys.stdout.write(client.call("POST", "/secrets/create", body=body)["ID"] + "\n")
    return 0


def _natural(name: str) -> list:
    """sortorder.NaturalLess: runs of digits compare as numbers."""
    import re

    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _created(obj: dict, key: str) -> str:
    from dockyard.cli.output import ago
    from dockyard.util.timefmt import parse_rfc3339

    return ago(parse_rfc3339(obj[key]) / 1e9)


def write_list(found: list[dict], values: dict, default_table: str, headers: dict, driver: bool) -> None:
    """`secret ls` / `config ls`: sorted by name, the default table, -q, or a --format template."""
    from dockyard.cli.output import formatted

    found = sorted(found, key=lambda o: _natural(o["Spec"]["Name"]))
    template = values["format"] or "table"
    if values["quiet"] and template == "table":
        sys.stdout.write("".join(o["ID"] + "\n" for o in found))
        return
    if template == "json":
        template = "{{json .}}"
    elif template == "table":
        template = default_table
    rows = []
    for o in found:
        spec = o["Spec"]
        row = {"ID": o["ID"], "Name": spec["Name"], "CreatedAt": _created(o, "CreatedAt"),
               "UpdatedAt": _created(o, "UpdatedAt"),
               "Labels": ",".join(f"{k}={v}" for k, v in (spec.get("Labels") or {}).items())}
        if driver:
            row["Driver"] = (spec.get("Driver") or {}).get("Name", "")
        rows.append(row)
    sys.stdout.write(formatted(template, rows, headers))


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    found = client.call("GET", "/secrets", query={"filters": filters_json(values["filter"])})
    write_list(found or [], values, SECRET_TABLE, HEADERS, driver=True)
    return 0


def pretty_time(text: str) -> str:
    """Go's time.Time String() lowercased, as docker/cli's formatter.PrettyPrint shows it:
    2026-12-06 05:18:11.202412923 +0000 utc."""
    date, _, clock = text.rstrip("Z").partition("T")
    whole, _, fraction = clock.partition(".")
    fraction = fraction.rstrip("0")
    return f"{date} {whole}{'.' + fraction if fraction else ''} +0000 utc"


def inspect_objects(client: Client, path: str, refs: list[str], values: dict, pretty: str, fields) -> int:
    """`secret inspect` / `config inspect`: a JSON array, a --format per object, or --pretty; the
    ones not found are reported after what was found, with exit status 1."""
    from dockyard.cli.template import render

    template = "pretty" if values["pretty"] else values["format"] or ""
    if template.startswith("pretty") and template != "pretty":
        return fail("cannot supply extra formatting options to the pretty template")
    found, errors = [], []
    for ref in refs:
        try:
            found.append(client.call("GET", f"{path}/{ref}"))
        except APIError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
    if template == "pretty":
        sys.stdout.write("".join(render(pretty, fields(o)) + "\n" for o in found))
    elif template:
        sys.stdout.write("".join(render(template, o) + "\n" for o in found))
    else:
        sys.stdout.write(json.dumps(found, indent=4, ensure_ascii=False) + "\n")
    if errors:
        return fail("\n".join(errors))
    return 0


def _secret_fields(obj: dict) -> dict:
    spec = obj["Spec"]
    return {"ID": obj["ID"], "Name": spec["Name"], "Labels": spec.get("Labels") or {},
            "Driver": (spec.get("Driver") or {}).get("Name", ""), "CreatedAt": pretty_time(obj["CreatedAt"]),
            "UpdatedAt": pretty_time(obj["UpdatedAt"])}


@command(INSPECT)
def inspect(client: Client, values: dict, args: list[str]) -> int:
    return inspect_objects(client, "/secrets", args, values, SECRET_PRETTY, _secret_fields)


def remove_objects(client: Client, path: str, refs: list[str]) -> int:
    errors = []
    for ref in refs:
        try:
            client.call("DELETE", f"{path}/{ref}")
        except APIError as exc:
            errors.append(f"Error response from daemon: {exc.message}")
            continue
        sys.stdout.write(ref + "\n")
    return fail("\n".join(errors)) if errors else 0


@command(RM)
def rm(client: Client, _values: dict, args: list[str]) -> int:
    return remove_objects(client, "/secrets", args)
