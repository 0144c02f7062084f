"""The drivers this build knows, by name (the record's ``DriverName``)."""

from __future__ import annotations

from dockyard.machine.driver import Driver
from dockyard.machine.errors import MachineError
from dockyard.machine.model import Host
from dockyard.machine.netns import NetnsDriver
from dockyard.machine.store import Store

DRIVERS: dict[str, type] = {"netns": NetnsDriver}


def driver_class(name: str) -> type:
    try:
        return DRIVERS[name]
    except KeyError:
        raise MachineError(f"Driver {name!r} not found. Do you have the plugin binary accessible in your PATH? "
                           f"(built-in drivers: {', '.join(DRIVERS)})") from None


def driver_for(store: Store, host: Host) -> Driver:
    return driver_class(host.driver_name)(store, host)
