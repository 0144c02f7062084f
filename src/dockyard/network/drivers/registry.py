"""The network drivers a daemon has, by name: `bridge` today; `overlay` and `macvlan` register
here when they exist. An unknown name is Docker's answer for a missing plugin."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from dockyard.errors import Conflict, NotFound
from dockyard.network.drivers.driver import Driver

# host and null are not drivers to choose: one network each, predefined (moby does the same).
BUILTIN = ("host", "null")


class DriverRegistry:
    def __init__(self, drivers: Iterable[Driver] = ()) -> None:
        self._drivers: dict[str, Driver] = {}
        self._later: dict[str, Callable[[], object]] = {}
        for driver in drivers:
            self.register(driver)

    def register(self, driver: Driver) -> None:
        if driver.name in self._drivers or driver.name in BUILTIN:
            raise Conflict(f"network driver {driver.name!r} is already registered")
        self._later.pop(driver.name, None)
        self._drivers[driver.name] = driver

    def register_later(self, name: str, make: Callable[[], object]) -> None:
        """A driver whose part of the daemon is made on its first use (the overlay driver comes with
        swarm mode's wiring): ``make`` registers it, so a daemon that never uses it never imports it."""
        self._later[name] = make

    def _made(self, name: str) -> Driver | None:
        make = self._later.get(name)
        if make is not None and name not in self._drivers:
            make()  # may run on two threads at once: it must make its part once (and register pops it)
        return self._drivers.get(name)

    def get(self, name: str) -> Driver:
        """The driver called ``name``; NotFound in Docker's words when there is none."""
        driver = self._made(name)
        if driver is None:
            raise NotFound(f'plugin "{name}" not found')
        return driver

    def find(self, name: str) -> Driver | None:
        """The driver of a network, None for host and null (nothing of theirs is in the kernel)."""
        return self._made(name)

    def names(self) -> list[str]:
        return sorted({*self._drivers, *self._later})
