"""The machine's engine: dockyardd flags from the record's engine options, checked before anything
is made (a typo in --engine-opt is an error at create, not a machine that never starts)."""

from __future__ import annotations

import contextlib
import io

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
    """Parse the flags as dockyardd will; raise with argparse's complaint if it would refuse them."""
    for item in options.env:
        if not item.partition("=")[0]:
            raise MachineError(f"--engine-env {item!r}: use KEY=VALUE")
    parse_args = _daemon_parser()
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parse_args(spec(options).flags)
    except SystemExit:
        message = errors.getvalue().strip().splitlines()
        raise MachineError("the machine's engine would refuse its options: "
                           + (message[-1] if message else "invalid --engine-opt")
                           + " (check --engine-opt, --engine-label, --engine-storage-driver)") from None


def _daemon_parser():
    """dockyardd's own flag parser, wherever the daemon's composition root lives."""
    import importlib

    for name in ("dockyard.daemon.main", "dockyard.engine.daemon_main"):
        try:
            return importlib.import_module(name).parse_args
        except ImportError:
            continue
    raise MachineError("dockyardd's flag parser was not found in this installation")
