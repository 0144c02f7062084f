"""The container records: the index by ID and name, each container's files on disk, and what the
daemon holds in memory for each while it lives. What a container does (start, stop, remove) is the
container service's business; the network service reads and saves records through this store too,
which is why it stands apart from the service."""

from __future__ import annotations

import builtins
import logging
import os
from collections.abc import Iterator

from dockyard.engine.container import Container, Runtime
from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.util.atomic import read_json, sweep, write_json
from dockyard.util.names import valid_name

log = logging.getLogger("dockyard.containers")
RECORD = "config.v2.json"


class ContainerStore:
    def __init__(self, data_root: str, exec_root: str) -> None:
        self.root = os.path.join(data_root, "containers")
        self.exec_root = exec_root
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(exec_root, exist_ok=True)
        self._containers: dict[str, Container] = {}
        self._names: dict[str, str] = {}  # "/name" -> id
        self._runtime: dict[str, Runtime] = {}
        self._last_created = 0  # ns: the newest container's creation time

    # -- files ---------------------------------------------------------------------------------
    def container_dir(self, cid: str) -> str:
        """Where the container's record, log and name files (hostname, hosts, resolv.conf) live."""
        return os.path.join(self.root, cid)

    def state_dir(self, cid: str) -> str:
        """The shim's files while the container runs (pid.json, exit.json, its socket)."""
        return os.path.join(self.exec_root, cid)

    def log_path(self, cid: str) -> str:
        return os.path.join(self.container_dir(cid), f"{cid}-json.log")

    def save(self, c: Container) -> None:
        write_json(os.path.join(self.container_dir(c.id), RECORD), c.to_record())

    def delete_record(self, cid: str) -> None:
        """The record goes first when a container is deleted: a crash part-way leaves orphan
        files, never a record without its files."""
        try:
            os.unlink(os.path.join(self.container_dir(cid), RECORD))
        except FileNotFoundError:
            pass

    def scan(self) -> Iterator[tuple[str, Container | None]]:
        """Every container directory on disk with its record; None for a directory whose record
        is missing (a create or remove a crash interrupted). Unreadable records are skipped."""
        for cid in os.listdir(self.root):
            sweep(self.container_dir(cid))
            path = os.path.join(self.container_dir(cid), RECORD)
            if not os.path.exists(path):
                yield cid, None
                continue
            try:
                yield cid, Container.from_record(read_json(path))
            except (OSError, ValueError, TypeError):
                log.warning("skipping unreadable container record %s", path)

    # -- the index -----------------------------------------------------------------------------
    def add(self, c: Container) -> None:
        self._containers[c.id] = c
        self._names[c.name] = c.id
        self._runtime[c.id] = Runtime()
        self._last_created = max(self._last_created, c.created)

    def drop(self, c: Container) -> Runtime | None:
        """Forget a removed container; returns what the daemon held for it."""
        self._containers.pop(c.id, None)
        if self._names.get(c.name) == c.id:
            del self._names[c.name]
        return self._runtime.pop(c.id, None)

    def check_name(self, name: str) -> str:
        """A requested name in Docker's form ("/web"), or Docker's error for an invalid or taken one."""
        if not valid_name(name.removeprefix("/")):
            raise InvalidParameter(f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        name = "/" + name.lstrip("/")
        if name in self._names:
            raise Conflict(f'Conflict. The container name "{name}" is already in use by container '
                           f'"{self._names[name]}". You have to remove (or rename) that container to be able '
                           "to reuse that name.")
        return name

    def taken(self, name: str) -> bool:
        return name in self._names

    def reserve_name(self, name: str, cid: str) -> None:
        self._names[name] = cid

    def release_name(self, name: str) -> None:
        self._names.pop(name, None)

    def next_created(self, now: int) -> int:
        """Creation times strictly increase even within one clock tick or after the clock steps
        back: `ps -l` and the list order rely on it."""
        self._last_created = max(now, self._last_created + 1)
        return self._last_created

    # -- lookups -------------------------------------------------------------------------------
    def list(self) -> list[Container]:
        return sorted(self._containers.values(), key=lambda c: c.created, reverse=True)

    def get(self, ref: str) -> Container:
        """Full ID, then name, then a unique ID prefix, as Docker resolves them."""
        if ref in self._containers:
            return self._containers[ref]
        cid = self._names.get(ref if ref.startswith("/") else "/" + ref)
        if cid:
            return self._containers[cid]
        if ref:
            matches = [c for cid, c in self._containers.items() if cid.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidParameter(f"Multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def find(self, cid: str) -> Container | None:
        return self._containers.get(cid)

    def runtime(self, c: Container) -> Runtime:
        return self._runtime[c.id]

    def runtime_of(self, cid: str) -> Runtime | None:
        """What the daemon holds for the container; None once it is removed."""
        return self._runtime.get(cid)

    def linked(self, ref: str) -> tuple[Container, str, Container]:
        """A legacy link named `<parent>/<alias>`: (parent, its HostConfig.Links entry, target), as
        Docker's name registry resolves it; NotFound in Docker's words otherwise."""
        parent_name, _, alias = ("/" + ref.lstrip("/")).rpartition("/")
        try:
            parent = self.get(parent_name) if parent_name else None
        except NotFound:
            parent = None
        if parent is None:
            raise NotFound(f"No such container: {ref}")
        for entry in parent.host_config.links or []:
            target, _, link_alias = entry.rpartition(":")
            if link_alias.rsplit("/", 1)[-1] == alias:
                try:
                    return parent, entry, self.get(target)
                except NotFound:
                    break
        raise NotFound(f"No such container: {ref}")

    def link_names(self) -> dict[str, builtins.list[str]]:
        """Container ID -> the legacy link names that point at it ("/parent/alias"), which Docker
        lists among the container's names."""
        names: dict[str, builtins.list[str]] = {}
        for parent in self._containers.values():
            for entry in parent.host_config.links or []:
                target, _, alias = entry.partition(":")
                cid = self._names.get(target)
                if cid:
                    names.setdefault(cid, []).append(f"{parent.name}/{alias.rsplit('/', 1)[-1]}")
        return names

    def uses_image(self, image_id: str) -> builtins.list[Container]:
        return [c for c in self._containers.values() if c.image_id == image_id]
