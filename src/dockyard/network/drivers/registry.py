"""The network drivers a daemon has, by name: `bridge` today; `overlay` and `macvlan` register
here when they exist. An unknown name is Docker's answer for a missing plugin."""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.errors import Conflict, NotFound
from dockyard.network.drivers.driver import Driver

# host and null are not drivers to choose: one network each, predefined (moby does the same).
BUILTIN = ("host", "null")


class DriverRegistry:
    def __init__(self, drivers: Iterable[Driver] = ()) -> None:
        self._drivers: dict[str, Driver] = {}
        for driver in drivers:
            self.register(driver)

    def register(self, driver: Driver) -> None:
        if driver.name in self._drivers or driver.name in BUILTIN:
            raise Conflict(f"network driver {driver.name!r} is already registered")
        self._drivers[driver.name] = driver

    def get(self, name: str) -> Driver:
        """The driver called ``name``; NotFound in Docker's words when there is none."""
        driver = self._drivers.get(name)
        if driver is None:
            raise NotFound(f'plugin "{name}" not found')
        return driver

    def find(self, name: str) -> Driver | None:
        """The driver of a network, None for host and null (nothing of theirs is in the kernel)."""
        return self._drivers.get(name)

    def names(self) -> list[str]:
        return sorted(self._drivers)
