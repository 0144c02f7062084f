"""The compose commands, one module per group; each module's `register` adds its subparsers."""

from dockyard.compose.commands import images, inspect, interact, lifecycle, watch


def register(sub) -> None:
    for module in (lifecycle, interact, inspect, images, watch):
        module.register(sub)
