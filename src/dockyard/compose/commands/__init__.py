"""The compose commands, one module per group; each module's `register` adds its subparsers."""

from dockyard.compose.commands import images, inspect, interact, lifecycle


def register(sub) -> None:
    for module in (lifecycle, interact, inspect, images):
        module.register(sub)
