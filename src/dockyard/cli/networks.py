"""Network commands: network create, ls, inspect (through `inspect`), rm, prune, connect, disconnect."""

import sys

from dockyard.cli.client import APIError, Client
from dockyard.cli.common import driver_options, filters_json, labels
from dockyard.cli.flags import Command, Opt, UsageError, command
from dockyard.client.errors import daemon_error

CREATE = Command("network create", "[OPTIONS] NETWORK", "Create a network", (
    Opt(("-d", "--driver"), "driver", "str", 'Driver to manage the Network (default "bridge")', default="bridge",
        metavar="string"),
    Opt(("--subnet",), "subnet", "list", "Subnet in CIDR format that represents a network segment",
        metavar="strings"),
    Opt(("--gateway",), "gateway", "list", "IPv4 or IPv6 Gateway for the master subnet", metavar="strings"),
    Opt(("--ip-range",), "ip_range", "list", "Allocate container ip from a sub-range", metavar="strings"),
    Opt(("--internal",), "internal", "bool", "Restrict external access to the network"),
    Opt(("--attachable",), "attachable", "bool", "Enable manual container attachment"),
    Opt(("--ipv6",), "ipv6", "bool", "Enable IPv6 networking"),
    Opt(("--label",), "label", "list", "Set metadata on a network", metavar="list"),
    Opt(("-o", "--opt"), "opt", "list", "Set driver specific options (default map[])", metavar="map"),
    Opt(("--ipam-driver",), "ipam_driver", "str", 'IP Address Management Driver (default "default")',
        default="default", metavar="string"),
), min_args=1, max_args=1)
LS = Command("network ls", "[OPTIONS]", "List networks", (
    Opt(("-f", "--filter"), "filter", "list", "Provide filter values (e.g. \"driver=bridge\")", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("--no-trunc",), "no_trunc", "bool", "Do not truncate the output"),
    Opt(("-q", "--quiet"), "quiet", "bool", "Only display network IDs"),
), max_args=0)
LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
              "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}
RM = Command("network rm", "NETWORK [NETWORK...]", "Remove one or more networks", (), min_args=1)
PRUNE = Command("network prune", "[OPTIONS]", "Remove all unused networks", (
    Opt(("--filter",), "filter", "list", "Provide filter values (e.g. \"until=<timestamp>\")", metavar="filter"),
    Opt(("-f", "--force"), "force", "bool", "Do not prompt for confirmation"),
), max_args=0)
CONNECT = Command("network connect", "[OPTIONS] NETWORK CONTAINER", "Connect a container to a network", (
    Opt(("--alias",), "alias", "list", "Add network-scoped alias for the container", metavar="strings"),
    Opt(("--ip",), "ip", "str", "IPv4 address (e.g., 172.30.100.104)", metavar="string"),
    Opt(("--link",), "link", "list", "Add link to another container", metavar="list"),
), min_args=2, max_args=2)
DISCONNECT = Command("network disconnect", "[OPTIONS] NETWORK CONTAINER", "Disconnect a container from a network", (
    Opt(("-f", "--force"), "force", "bool", "Force the container to disconnect from a network"),
), min_args=2, max_args=2)


@command(CREATE)
def create(client: Client, values: dict, args: list[str]) -> int:
    options = driver_options(values["opt"])
    if len(values["gateway"]) > len(values["subnet"]) or len(values["ip_range"]) > len(values["subnet"]):
        raise UsageError("every ip-range or gateway must have a corresponding subnet")
    configs = []
    for i, subnet in enumerate(values["subnet"]):
        config = {"Subnet": subnet}
        if i < len(values["gateway"]):
            config["Gateway"] = values["gateway"][i]
        if i < len(values["ip_range"]):
            config["IPRange"] = values["ip_range"][i]
        configs.append(config)
    body = {"Name": args[0], "CheckDuplicate": True, "Driver": values["driver"], "Options": options,
            "IPAM": {"Driver": values["ipam_driver"], "Config": configs, "Options": {}},
            "Internal": values["internal"], "Attachable": values["attachable"], "EnableIPv6": values["ipv6"],
            "Labels": labels(values["label"])}
    created = client.call("POST", "/networks/create", body=body)
    sys.stdout.write(created["Id"] + "\n")
    return 0


@command(LS)
def ls(client: Client, values: dict, _args: list[str]) -> int:
    from dockyard.cli.output import formatted, table

    networks = client.call("GET", "/networks", query={"filters": filters_json(values["filter"])})
    networks = sorted(networks, key=lambda n: n["Name"])
    records = [{"ID": n["Id"] if values["no_trunc"] else n["Id"][:12], "Name": n["Name"], "Driver": n["Driver"],
                "Scope": n.get("Scope", "local"), "IPv6": str(bool(n.get("EnableIPv6"))).lower(),
                "Internal": str(bool(n.get("Internal"))).lower(),
                "Labels": ",".join(f"{k}={v}" for k, v in sorted((n.get("Labels") or {}).items())),
                "CreatedAt": n.get("Created", "")} for n in networks]
    if values["quiet"]:
        sys.stdout.write("".join(r["ID"] + "\n" for r in records))
        return 0
    if values["format"]:
        sys.stdout.write(formatted(values["format"], records, LS_HEADERS))
        return 0
    sys.stdout.write(table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                           [[r["ID"], r["Name"], r["Driver"], r["Scope"]] for r in records]))
    return 0


@command(RM)
def rm(client: Client, _values: dict, args: list[str]) -> int:
    failed = False
    for name in args:
        try:
            client.call("DELETE", f"/networks/{name}")
        except APIError as exc:
            daemon_error(exc.message)
            failed = True
            continue
        sys.stdout.write(name + "\n")
    return 1 if failed else 0


@command(PRUNE)
def prune(client: Client, values: dict, _args: list[str]) -> int:
    if not values["force"]:
        from dockyard.cli.output import confirmed

        if not confirmed("WARNING! This will remove all custom networks not used by at least one container."):
            return 0
    result = client.call("POST", "/networks/prune", query={"filters": filters_json(values["filter"])})
    deleted = result.get("NetworksDeleted") or []
    if deleted:
        sys.stdout.write("Deleted Networks:\n" + "".join(name + "\n" for name in deleted))
    return 0


@command(CONNECT)
def connect(client: Client, values: dict, args: list[str]) -> int:
    network, container = args
    endpoint = {"Aliases": values["alias"] or None, "Links": values["link"] or None}
    if values["ip"]:
        endpoint["IPAMConfig"] = {"IPv4Address": values["ip"]}
    client.call("POST", f"/networks/{network}/connect", body={"Container": container, "EndpointConfig": endpoint})
    return 0


@command(DISCONNECT)
def disconnect(client: Client, values: dict, args: list[str]) -> int:
    network, container = args
    client.call("POST", f"/networks/{network}/disconnect", body={"Container": container,
                                                                   "Force": values["force"]})
    return 0
