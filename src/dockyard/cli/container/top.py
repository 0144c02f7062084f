"""`dockyard top`: the processes of a container."""

import sys

from dockyard.cli.client import Client
from dockyard.cli.flags import Command, command

TOP = Command("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container", (),
              stop_at_positional=True, min_args=1)


@command(TOP)
def top(client: Client, _values: dict, args: list[str]) -> int:
    from dockyard.cli.output import table

    result = client.call("GET", f"/containers/{args[0]}/top",
                         query={"ps_args": " ".join(args[1:]) if len(args) > 1 else None})
    sys.stdout.write(table(result["Titles"], result["Processes"] or []))
    return 0


