"""`dockyard port`: a container's published ports."""

import sys

from dockyard.cli.client import Client
from dockyard.cli.flags import Command, command

PORT = Command("port", "CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the "
               "container", (), min_args=1, max_args=2)


@command(PORT)
def port(client: Client, _values: dict, args: list[str]) -> int:
    info = client.call("GET", f"/containers/{args[0]}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    wanted = None
    if len(args) > 1:
        wanted = args[1] if "/" in args[1] else args[1] + "/tcp"
    lines = []
    for private, bindings in sorted(ports.items()):
        if wanted and private != wanted:
            continue
        for binding in bindings or []:
            address = f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}"
            lines.append(address if wanted else f"{private} -> {address}")
    if wanted and not lines:
        sys.stderr.write(f"Error: No public port '{wanted}' published for {args[0]}\n")
        return 1
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


