"""`dockyard events`: the daemon's event stream, as lines or through a --format template."""

import sys

from dockyard.cli.client import Client
from dockyard.cli.common import filters_json, time_flag
from dockyard.cli.flags import Command, Opt, command

EVENTS = Command("events", "[OPTIONS]", "Get real time events from the server", (
    Opt(("-f", "--filter"), "filter", "list", "Filter output based on conditions provided", metavar="filter"),
    Opt(("--format",), "format", "str", "Format output using a custom template", metavar="string"),
    Opt(("--since",), "since", "str", "Show all events created since timestamp", metavar="string"),
    Opt(("--until",), "until", "str", "Stream events until this timestamp", metavar="string"),
), max_args=0)


@command(EVENTS)
def events(client: Client, values: dict, _args: list[str]) -> int:
    import time

    from dockyard.util.timefmt import rfc3339_fixed

    now = time.time()
    query = {"since": time_flag(values["since"], now) if values["since"] else None,
             "until": time_flag(values["until"], now) if values["until"] else None,
             "filters": filters_json(values["filter"])}
    response = client.send("GET", "/events", query=query)
    for event in response.json_lines():
        if values["format"]:
            from dockyard.cli.template import render

            line = render(values["format"], event)
        else:
            attributes = event.get("Actor", {}).get("Attributes", {})
            pairs = ", ".join(f"{k}={v}" for k, v in sorted(attributes.items()))
            line = (f"{rfc3339_fixed(event['timeNano'])} {event['Type']} {event['Action']} "
                    f"{event['Actor']['ID']}" + (f" ({pairs})" if pairs else ""))
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    response.close()
    return 0


