"""The driver interface: how a machine comes to exist, runs its engine, and goes away.

docker-machine's ``drivers.Driver``, trimmed to what a host on this box needs. A driver owns
the machine's host-side resources (a namespace and a veth for ``netns``; a VM and its disk for
a VM driver) and runs the machine's engine: a ``dockyardd`` started from ``EngineSpec`` (the
flags ``engine.spec`` derives from the record), listening on ``tcp://<ip>:2376`` with the
machine's server certificate. The service calls the methods below; a driver never prints.

Adding a driver (for example ``kvm``, where KVM works): implement ``Driver``, give it
``create_flags`` (prefixed with its name, as docker-machine's ``--virtualbox-*``), and register
its class in ``drivers.DRIVERS``. Its configuration lives in the record's ``Driver`` object, which it
writes in ``configure`` and reads back in ``__init__``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class DriverFlag:
    """A create flag of a driver: ``--<name>`` (or the environment variable ``env``)."""

    name: str
    help: str
    default: str = ""
    env: str = ""


@dataclass
class EngineSpec:
    """The engine the driver runs: dockyardd's flags (listeners, TLS and paths added by the
    driver, which knows where they live) and extra environment."""

    flags: list[str]
    env: dict[str, str]
    # Called just before the engine starts: waits for files the engine reads (create makes the
    # server certificate while the driver makes the host) and raises what making them raised.
    files_ready: Callable[[], object] = lambda: None


@dataclass(frozen=True)
class Shell:
    """How to run a program "on" the machine (ssh): argv prefix, environment and directory."""

    argv: list[str]
    env: dict[str, str]
    cwd: str


class Driver(Protocol):
    name: str

    @staticmethod
    def create_flags() -> list[DriverFlag]:
        """The driver's own create flags."""

    def configure(self, flags: dict[str, str]) -> None:
        """Check the flags and the host (docker-machine's PreCreateCheck) and choose the machine's
        address; fills ``host.driver``. Nothing is made yet. Called with the store locked."""

    def ip(self) -> str:
        """The address clients reach the engine on."""

    def state(self) -> tuple[str, str]:
        """(state, error): Running, Stopped or Error, and why when Error."""

    def start(self, engine: EngineSpec) -> None:
        """Make the host exist and start its engine; returns once the engine answers on its socket."""

    def restart_engine(self, engine: EngineSpec) -> None:
        """Stop and start only the engine (new certificates); containers keep running."""

    def provision(self, engine: EngineSpec) -> None:
        """Make the engine's set-up again on a running host (docker-machine's provisioner: host-side
        configuration, then the engine restarted with ``engine``); containers keep running."""

    def mount(self, path: str, mountpoint: str, unmount: bool) -> None:
        """Mount the machine's ``path`` (relative: from ``home``) on the local ``mountpoint``, or
        unmount it; a driver whose machines have no filesystem of their own raises MachineError
        saying so and where the path is."""

    def stop(self) -> None:
        """Stop the engine and everything on the machine gracefully, then release the host."""

    def kill(self) -> None:
        """Stop everything at once (pulling the plug), then release the host."""

    def remove(self) -> None:
        """Kill if running and delete what ``start`` and the engine left outside the machine's directory."""

    def shell(self) -> Shell:
        """How ``ssh`` enters the machine."""

    def home(self) -> str:
        """The directory relative ``scp`` paths and ``ssh`` start in."""
