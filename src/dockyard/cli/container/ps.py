"""`dockyard ps`: the container list, as a table or through a --format template."""

import sys

from dockyard.cli.client import Client
from dockyard.cli.common import filters_json
from dockyard.cli.container.networking import display_ports
from dockyard.cli.flags import Command, Opt, command
from dockyard.util import fastjson as json

PS = Command("ps", "[OPTIONS]", "List containers", (
    Opt(("-a", "--all"), "all", "bool", "Show all containers (default shows just running)"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display container IDs"),
    Opt(("-l", "--latest"), "latest", "bool", "Show the latest created container (includes all states)"),
    Opt(("-n", "--last"), "last", "int", "Show n last created containers (includes all states)", default=-1,
        metavar="int"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Don't truncate output"),
    Opt(("-s", "--size"), "size", "bool", "Display total file sizes"),
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
), max_args=0)
PS_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
              "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
              "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
              "LocalVolumes": "LOCAL VOLUMES"}


@command(PS)
def ps(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.cli.output import ago, ellipsis, human_size, table

    limit = 1 if values["latest"] else values["last"]
    query = {"all": values["all"] or limit > 0, "limit": limit if limit > 0 else None, "size": values["size"],
             "filters": filters_json(values["filter"])}
    containers = client.call("GET", "/containers/json", query=query)
    trunc = not values["no_trunc"]
    if values["quiet"]:
        sys.stdout.write("".join((c["Id"][:12] if trunc else c["Id"]) + "\n" for c in containers))
        return 0
    if values["format"]:
        from dockyard.cli.output import formatted

        sys.stdout.write(formatted(values["format"], [ps_fields(c, trunc) for c in containers], PS_HEADERS))
        return 0
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    if values["size"]:
        headers.append("SIZE")
    rows = []
    for c in containers:
        command = c["Command"]
        image = c["Image"]
        if trunc:
            command = ellipsis(command, 20)
            if image.startswith("sha256:"):
                image = image[7:19]
        row = [c["Id"][:12] if trunc else c["Id"], image, json.dumps(command, ensure_ascii=False),
               ago(c["Created"]), c["Status"], display_ports(c.get("Ports") or []),
               display_names(c["Names"], trunc)]
        if values["size"]:
            row.append(f"{human_size(c.get('SizeRw', 0))} (virtual {human_size(c.get('SizeRootFs', 0))})")
        rows.append(row)
    sys.stdout.write(table(headers, rows))
    return 0


def display_names(names: list[str], trunc: bool) -> str:
    """Docker's NAMES: without --no-trunc only the container's own name, not the link names
    ("parent/alias") that also point at it."""
    names = [n.lstrip("/") for n in names]
    if trunc:
        names = next(([n] for n in names if "/" not in n), names)
    return ",".join(names)


def ps_fields(c: dict, trunc: bool) -> dict:
    """The fields Docker's container formatter offers to --format templates."""
    import time

    from dockyard.cli.output import ago, ellipsis, human_size

    command = ellipsis(c["Command"], 20) if trunc else c["Command"]
    size = ""
    if "SizeRw" in c:
        size = f"{human_size(c.get('SizeRw', 0))} (virtual {human_size(c.get('SizeRootFs', 0))})"
    return {
        "ID": c["Id"][:12] if trunc else c["Id"],
        "Image": c["Image"],
        "Command": json.dumps(command, ensure_ascii=False),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c["Created"])),
        "RunningFor": ago(c["Created"]),
        "Ports": display_ports(c.get("Ports") or []),
        "State": c["State"],
        "Status": c["Status"],
        "Size": size,
        "Names": display_names(c["Names"], trunc),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted((c.get("Labels") or {}).items())),
        "Mounts": ",".join(m.get("Name") or m.get("Source", "") for m in c.get("Mounts") or []),
        "Networks": ",".join(sorted((c.get("NetworkSettings") or {}).get("Networks") or {})),
        "LocalVolumes": str(sum(1 for m in c.get("Mounts") or [] if m.get("Driver") == "local")),
    }


