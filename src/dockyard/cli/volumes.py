"""Volume commands: volume create, ls, inspect (through `inspect`), rm, prune."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.common import driver_options, filters_json, labels
from dockyard.cli.flags import Command, Opt, UsageError, command
from dockyard.client.errors import daemon_error

CREATE = Command("volume create", "[OPTIONS] [VOLUME]", "Create a volume", (
    Opt(("-d", "--driver"), "driver", "str", 'Specify volume driver name (default "local")', default="local",
        metavar="string"),
    Opt(("--label",), "label", "list", "Set metadata for a volume", metavar="list"),
    Opt(("--name",), "name", "str", "Specify volume name", metavar="string"),
    Opt(("-o", "--opt"), "opt", "list", "Set driver specific options (default map[])", metavar="map"),
), max_args=1)
LS = Command("volume ls", "[OPTIONS]", "List volumes", (
    Opt(("-f", "--filter"), "filter", "list", "Provide filter values (e.g. \"dangling=true\")", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display volume names"),
), max_args=0)
LS_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE",
              "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "CreatedAt": "CREATED AT"}
RM = Command("volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", (
    Opt(("-f", "--force"), "force", "bool", "Force the removal of one or more volumes"),
), min_args=1)
PRUNE = Command("volume prune", "[OPTIONS]", "Remove unused local volumes", (
    Opt(("-a", "--all"), "all", "bool", "Remove all unused volumes, not just anonymous ones"),
    Opt(("--filter",), "filter", "list", "Provide filter values (e.g. \"label=<label>\")", metavar="filter"),
    Opt(("-f", "--force"), "force", "bool", "Do not prompt for confirmation"),
))


@command(CREATE)
def create(client: Client, values: dict, args: list[str]) -> int:
    if args and values["name"] and args[0] != values["name"]:
        raise UsageError("conflicting options: either specify --name or provide positional arg, not both")
    options = driver_options(values["opt"])
    body = {"Name": args[0] if args else values["name"] or "", "Driver": values["driver"], "DriverOpts": options,
            "Labels": labels(values["label"])}
    volume = client.call("POST", "/volumes/create", body=body)
    sys.stdout.write(volume["Name"] + "\n")
    return 0


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    found = client.call("GET", "/volumes", query={"filters": filters_json(values["filter"])})
    write_volumes(found.get("Volumes") or [], values["format"], values["quiet"])
    return 0


def write_volumes(volumes: list[dict], template: str | None, quiet: bool) -> None:
    """`volume ls` output (also `compose volumes`'s) for GET /volumes entries."""
    from dockyard.cli.output import formatted, table

    volumes = sorted(volumes, key=lambda v: v["Name"])
    if quiet:
        sys.stdout.write("".join(v["Name"] + "\n" for v in volumes))
        return
    records = [{"Driver": v["Driver"], "Name": v["Name"], "Mountpoint": v["Mountpoint"], "Scope": v["Scope"],
                "Labels": ",".join(f"{k}={val}" for k, val in sorted((v.get("Labels") or {}).items())),
                "Links": "N/A", "Size": "N/A", "CreatedAt": v.get("CreatedAt", "")} for v in volumes]
    if template == "json":
        template = "{{json .}}"
    if template and template != "table":
        sys.stdout.write(formatted(template, records, LS_HEADERS))
        return
    sys.stdout.write(table(["DRIVER", "VOLUME NAME"], [[r["Driver"], r["Name"]] for r in records]))


@command(RM)
def rm(client: Client, values: dict, args: list[str]) -> int:
    failed = False
    for name in args:
        try:
            client.call("DELETE", f"/volumes/{name}", query={"force": values["force"]})
        except APIError as exc:
            daemon_error(exc.message)
            failed = True
            continue
        sys.stdout.write(name + "\n")
    return 1 if failed else 0


@command(PRUNE)
def prune(client: Client, values: dict, _args: list[str]) -> int:
    if not values["force"]:
        warning = ("WARNING! This will remove all local volumes not used by at least one container."
                   if values["all"] else "WARNING! This will remove anonymous local volumes not used by at least "
                   "one container.")
        from dockyard.cli.output import confirmed

        if not confirmed(warning):
            return 0
    from dockyard.cli.output import human_size

    entries = list(values["filter"]) + (["all=true"] if values["all"] else ["all=false"])
    result = client.call("POST", "/volumes/prune", query={"filters": filters_json(entries)})
    deleted = result.get("VolumesDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Volumes:\n" + "".join(name + "\n" for name in deleted) + "\n")
    sys.stdout.write(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}\n")
    return 0
