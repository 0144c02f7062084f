"""The machine's engine: dockyardd flags from the record's engine options."""

from __future__ import annotations

from dockyard.machine.driver import EngineSpec
from dockyard.machine.errors import MachineError
from dockyard.machine.model import EngineOptions


def spec(options: EngineOptions) -> EngineSpec:
    flags: list[str] = []
    for label in options.labels:
        flags += ["--label", label]
    for registry in options.insecure_registry:
        flags += ["--insecure-registry", registry]
    for mirror in options.registry_mirror:
        flags += ["--registry-mirror", mirror]
    if options.storage_driver:
        flags += ["--storage-driver", options.storage_driver]
    flags += ["--" + flag.removeprefix("--") for flag in options.arbitrary_flags]
    env = {}
    for item in options.env:
        key, _, value = item.partition("=")
        env[key] = value
    return EngineSpec(flags, env)


def check(options: EngineOptions) -> None:
    """What can be refused before anything is made. The flags themselves are dockyardd's to judge
    (the Engine API is this package's only contract with the daemon): a flag it refuses ends the
    engine at its start, and create reports its words and undoes the machine."""
    for item in options.env:
        if not item.partition("=")[0]:
            raise MachineError(f"--engine-env {item!r}: use KEY=VALUE")
