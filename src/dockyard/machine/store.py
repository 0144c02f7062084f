"""The machine store: ``<storage>/certs`` (the CA and client pair every machine trusts) and
``<storage>/machines/<name>/`` (config.json, the machine's certificates, its engine's data root).

The default storage is under the host daemon's data root (``/var/lib/dockyard/machine``), like
docker-machine's ``~/.docker/machine``; ``--storage-path`` or ``MACHINE_STORAGE_PATH`` choose another.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator

from dockyard.machine.errors import HostAlreadyExists, HostDoesNotExist, MachineError
from dockyard.machine.model import VALID_NAME, Host
from dockyard.util.atomic import write_bytes

DEFAULT_STORAGE = "/var/lib/dockyard/machine"


class Store:
    def __init__(self, root: str | None = None) -> None:
        self.root = os.path.abspath(root or os.environ.get("MACHINE_STORAGE_PATH") or DEFAULT_STORAGE)
        self.certs = os.path.join(self.root, "certs")
        self.machines = os.path.join(self.root, "machines")

    def machine_dir(self, name: str) -> str:
        return os.path.join(self.machines, name)

    def config_path(self, name: str) -> str:
        return os.path.join(self.machine_dir(name), "config.json")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One command at a time changes what machines share (addresses, the underlay)."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def names(self) -> list[str]:
        try:
            entries = os.listdir(self.machines)
        except FileNotFoundError:
            return []
        return sorted(n for n in entries if os.path.exists(self.config_path(n)))

    def exists(self, name: str) -> bool:
        return os.path.exists(self.config_path(name))

    def load(self, name: str) -> Host:
        try:
            with open(self.config_path(name), "rb") as f:
                raw = json.loads(f.read())
        except FileNotFoundError:
            raise HostDoesNotExist(name) from None
        except ValueError as exc:
            raise MachineError(f"machine {name!r}: {self.config_path(name)} is not valid JSON ({exc}); remove the "
                               f"machine with `dockyard machine rm -f {name}`") from None
        return Host.from_json(raw)

    def save(self, host: Host) -> None:
        os.makedirs(self.machine_dir(host.name), mode=0o700, exist_ok=True)
        write_bytes(self.config_path(host.name), json.dumps(host.to_json(), indent=4).encode())

    def reserve(self, name: str) -> str:
        """The new machine's directory, made now so a second `create NAME` fails."""
        if not VALID_NAME.match(name):
            raise MachineError("Error creating machine: Invalid hostname specified. Allowed hostname chars are: "
                               "0-9a-zA-Z . -")
        path = self.machine_dir(name)
        os.makedirs(self.machines, mode=0o700, exist_ok=True)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if self.exists(name):
                raise HostAlreadyExists(name) from None
            shutil.rmtree(path)  # a create that died before saving its record: nothing ever ran there
            os.mkdir(path, 0o700)
        return path

    def remove(self, name: str) -> None:
        shutil.rmtree(self.machine_dir(name))
