"""`dockyard logs`."""

from dockyard.cli.client import Client
from dockyard.cli.common import time_flag
from dockyard.cli.flags import Command, Opt, command

LOGS = Command("logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", (
    Opt(("-f", "--follow"), "follow", "bool", "Follow log output"),
    Opt(("-t", "--timestamps"), "timestamps", "bool", "Show timestamps"),
    Opt(("-n", "--tail"), "tail", "str", 'Number of lines to show from the end of the logs (default "all")',
        default="all", metavar="string"),
    Opt(("--since",), "since", "str", "Show logs since timestamp or relative (e.g. 42m)", metavar="string"),
    Opt(("--until",), "until", "str", "Show logs before a timestamp or relative (e.g. 42m)", metavar="string"),
    Opt(("--details",), "details", "bool", "Show extra details provided to logs"),
), min_args=1, max_args=1)


@command(LOGS)
def logs(client: Client, values: dict, args: list[str]) -> int:
    import time

    now = time.time()
    query = {"stdout": True, "stderr": True, "follow": values["follow"], "timestamps": values["timestamps"],
             "details": values["details"],
             "tail": values["tail"],
             "since": time_flag(values["since"], now) if values["since"] else None,
             "until": time_flag(values["until"], now) if values["until"] else None}
    response = client.send("GET", f"/containers/{args[0]}/logs", query=query)
    from dockyard.cli.streams import copy_output

    copy_output(response, multiplexed="multiplexed" in response.headers.get("content-type", ""))
    response.close()
    return 0


