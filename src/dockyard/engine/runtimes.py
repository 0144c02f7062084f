"""The runtimes a container can run with: Dockyard's own, and OCI runtimes (runc, crun) found on
the host or registered with `dockyardd --add-runtime name=path`."""

import os
import shutil

from dockyard.errors import InvalidParameter

BUILTIN = "dockyard"
_KNOWN_OCI = ("runc", "crun")


class Runtimes:
    def __init__(self, exec_root: str, added: list[str] | None = None, default: str = "") -> None:
        self.exec_root = exec_root
        self.paths: dict[str, str] = {}
        for name in _KNOWN_OCI:  # like Docker registering runc: present on the host, usable by name
            path = shutil.which(name)
            if path:
                self.paths[name] = path
        for entry in added or []:
            name, eq, path = entry.partition("=")
            if not eq or not name or not path:
                raise ValueError(f"invalid --add-runtime {entry!r}: use name=/path/to/runtime")
            if name == BUILTIN:
                raise ValueError(f"runtime name {BUILTIN!r} is reserved for Dockyard's own runtime")
            found = shutil.which(path)
            if not found:
                raise ValueError(f"--add-runtime {name}: {path} is not an executable")
            self.paths[name] = found
        self.default = default or BUILTIN
        if self.default != BUILTIN and self.default not in self.paths:
            raise ValueError(f"--default-runtime {self.default!r} is not a known runtime")

    def resolve(self, name: str | None) -> str:
        """The runtime a container asks for (or the default); Docker's error for unknown names."""
        name = name or self.default
        if name != BUILTIN and name not in self.paths:
            raise InvalidParameter(f"unknown or invalid runtime name: {name}")
        return name

    def oci_request(self, name: str | None) -> dict | None:
        """What the shim needs to drive an OCI runtime; None for the built-in one."""
        name = self.resolve(name)
        if name == BUILTIN:
            return None
        return {"name": name, "path": self.paths[name], "root": os.path.join(self.exec_root, "runtimes", name)}

    def info(self) -> dict:
        runtimes = {BUILTIN: {"path": "dockyard-builtin"}}
        runtimes.update({name: {"path": path} for name, path in sorted(self.paths.items())})
        return runtimes
