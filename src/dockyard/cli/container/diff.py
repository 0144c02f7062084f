"""`dockyard diff`: what changed in a container's filesystem."""

import sys

from dockyard.cli.client import Client
from dockyard.cli.flags import Command, command

DIFF = Command("diff", "CONTAINER", "Inspect changes to files or directories on a container's filesystem", (),
               min_args=1, max_args=1)


@command(DIFF)
def diff(client: Client, _values: dict, args: list[str]) -> int:
    changes = client.call("GET", f"/containers/{args[0]}/changes") or []
    sys.stdout.write("".join(f"{'CAD'[c['Kind']]} {c['Path']}\n" for c in changes))
    return 0


