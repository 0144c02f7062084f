"""`dockyard compose ...`: hands over to dockyard.compose (imported only for this command)."""


def compose(client, argv: list[str]) -> int:
    from dockyard.compose.cli import main

    return main(argv, host=client.host)
