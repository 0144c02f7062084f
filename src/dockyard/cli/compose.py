"""`dockyard compose ...`: hands over to dockyard.compose, which parses its own flags."""

from dockyard.cli.flags import Command, command
from dockyard.compose.cli import main

COMPOSE = Command("compose", "[OPTIONS] COMMAND", "Define and run multi-container applications", ())


@command(COMPOSE, raw=True)
def compose(client, argv: list[str]) -> int:
    return main(argv, host=client.host)
