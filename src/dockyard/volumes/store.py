"""Volumes of the `local` driver: a directory `<data-root>/volumes/<name>/_data`, or a filesystem
(`-o type=tmpfs|nfs|…,device=…,o=…`) mounted there while containers use it.

Which containers use which volume is not stored here: the container records say it, and the
container service hands each reference to `use`/`release` (also when it loads at start-up).
"""

from __future__ import annotations

import builtins
import logging
import os
import shutil
import threading

from dockyard.errors import Conflict, InvalidParameter, NotFound
from dockyard.util.atomic import read_json, sweep, write_json
from dockyard.util.ids import new_id
from dockyard.util.names import valid_name
from dockyard.util.timefmt import now_ns
from dockyard.volumes.records import LOCAL_DRIVER, Volume

log = logging.getLogger("dockyard.volumes")
_LOCAL_OPTIONS = {"type", "device", "o", "size"}

__all__ = ["LOCAL_DRIVER", "Volume", "VolumeStore", "validate_name", "validate_options"]


def validate_name(name: str) -> None:
    if not valid_name(name):
        raise InvalidParameter(f'create {name}: "{name}" includes invalid characters for a local volume name, only '
                               '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
                               "use absolute path")


def validate_options(driver: str, options: dict[str, str]) -> None:
    if driver != LOCAL_DRIVER:
        raise NotFound(f'error looking up volume plugin {driver}: plugin "{driver}" not found')
    for key in options:
        if key not in _LOCAL_OPTIONS:
            raise InvalidParameter(f'invalid option: "{key}"')
    if options and "type" not in options and "device" in options:
        raise InvalidParameter('missing required option: "type"')
    if "type" in options and "device" not in options:
        raise InvalidParameter('missing required option: "device"')


class VolumeStore:
    def __init__(self, data_root: str, idmap=None) -> None:
        self.root = os.path.join(data_root, "volumes")
        os.makedirs(self.root, mode=0o701, exist_ok=True)
        self._lock = threading.RLock()
        self._volumes: dict[str, Volume] = {}
        self._users: dict[str, set[str]] = {}  # volume name -> container IDs
        self.idmap = idmap  # a userns-remapped daemon's IdMap: its containers' root owns their volumes
        for name in os.listdir(self.root):
            directory = os.path.join(self.root, name)
            sweep(directory)
            meta = os.path.join(directory, "volume.json")
            if not os.path.exists(meta):
                self._remove_unrecorded(directory)
                continue
            try:
                self._volumes[name] = Volume.from_record(read_json(meta))
            except (OSError, ValueError, TypeError):
                log.warning("skipping unreadable volume record %s", meta)

    @staticmethod
    def _remove_unrecorded(directory: str) -> None:
        """A create killed before its record was written leaves a directory no volume owns: no
        container ever used it (a record comes first), so nothing of value is lost."""
        if not os.path.isdir(directory) or os.path.ismount(os.path.join(directory, "_data")):
            return
        log.info("removing %s: a volume directory without a record, left by an interrupted create", directory)
        shutil.rmtree(directory, ignore_errors=True)

    # -- paths -----------------------------------------------------------------------------
    def mountpoint(self, name: str) -> str:
        return os.path.join(self.root, name, "_data")

    # -- lookups -----------------------------------------------------------------------------
    def get(self, name: str) -> Volume:
        with self._lock:
            volume = self._volumes.get(name)
            if volume is None:
                raise NotFound(f"get {name}: no such volume")
            return volume

    def list(self) -> list[Volume]:
        with self._lock:
            return sorted(self._volumes.values(), key=lambda v: v.name)

    def users(self, name: str) -> builtins.list[str]:
        with self._lock:
            return sorted(self._users.get(name, ()))

    # -- changes -----------------------------------------------------------------------------
    def create(self, name: str = "", *, driver: str = "", options: dict | None = None,
               labels: dict | None = None, anonymous: bool = False) -> Volume:
        """Create a volume, or return the existing one of that name (as Docker does)."""
        driver = driver or LOCAL_DRIVER
        options = {str(k): str(v) for k, v in (options or {}).items()}
        labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else None
        if not name:
            name, anonymous = new_id(), True
        validate_name(name)
        with self._lock:
            existing = self._volumes.get(name)
            if existing is not None:
                if driver != existing.driver:
                    raise Conflict(f"create {name}: a volume with the name {name} already exists with driver "
                                   f'"{existing.driver}"')
                return existing
            validate_options(driver, options)
            volume = Volume(name, driver, labels, options, now_ns(), anonymous)
            directory = os.path.join(self.root, name)
            os.makedirs(os.path.join(directory, "_data"), mode=0o755, exist_ok=True)
            if self.idmap is not None:  # a remapped container's root owns its volumes
                os.chown(os.path.join(directory, "_data"), self.idmap.uid_base, self.idmap.gid_base)
            write_json(os.path.join(directory, "volume.json"), volume.to_record())
            self._volumes[name] = volume
            return volume

    def use(self, name: str, container_id: str) -> None:
        with self._lock:
            self._users.setdefault(name, set()).add(container_id)

    def release(self, name: str, container_id: str) -> None:
        with self._lock:
            users = self._users.get(name)
            if users is not None:
                users.discard(container_id)
                if not users:
                    del self._users[name]
                    self._unmount(name)

    def remove(self, name: str, *, force: bool = False) -> None:
        with self._lock:
            if name not in self._volumes:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self._users.get(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(sorted(users))}]")
            self._unmount(name)
            directory = os.path.join(self.root, name)
            os.unlink(os.path.join(directory, "volume.json"))  # the record first: a crash leaves only files
            del self._volumes[name]
        shutil.rmtree(directory, ignore_errors=True)

    # -- filesystems of volumes created with options ---------------------------------------------
    def activate(self, name: str) -> str:
        """The host path to bind into a container, mounting the volume's filesystem first when it
        was created with options. It stays mounted while any container refers to the volume."""
        with self._lock:
            volume = self.get(name)
            path = self.mountpoint(name)
            if volume.options and not os.path.ismount(path):
                _mount_local(volume.options, path)
            return path

    def _unmount(self, name: str) -> None:
        volume = self._volumes.get(name)
        if volume is not None and volume.options and os.path.ismount(self.mountpoint(name)):
            _unmount(self.mountpoint(name))

    # -- views -------------------------------------------------------------------------------------
    def view(self, volume: Volume) -> dict:
        """The Engine API's Volume object."""
        return volume.to_json(self.mountpoint(volume.name))


def _mount_local(options: dict[str, str], path: str) -> None:
    from dockyard.util import syscalls as sc
    from dockyard.util.mountopts import parse_options

    flags, _propagation, data = parse_options([o for o in options.get("o", "").split(",") if o])
    if options.get("size") and "size=" not in data:
        data = ",".join(filter(None, [data, f"size={options['size']}"]))
    device = options["device"]
    fstype: str | None = options["type"]
    if "bind" in options.get("o", "").split(","):
        flags |= sc.MS_BIND
        fstype = None
    try:
        sc.mount(device, path, fstype, flags, data or None)
    except OSError as exc:
        raise InvalidParameter(f"error while mounting volume '{path}': failed to mount local volume: mount "
                               f"{device}:{path}, flags: {flags:#x}, data: {data}: {exc.strerror}") from None


def _unmount(path: str) -> None:
    from dockyard.util import syscalls as sc

    try:
        sc.umount2(path, sc.MNT_DETACH)
    except OSError:
        pass
